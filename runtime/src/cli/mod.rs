//! One module per subcommand: argument types and the operation's wiring to the terminal.

pub mod retention;
