//! One module per subcommand: argument types and the operation's wiring to the terminal.

pub mod build;
pub mod calendar;
pub mod check;
pub mod output;
pub mod schedule;
