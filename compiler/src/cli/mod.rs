//! One module per subcommand: argument types and the operation's wiring to the terminal.

pub mod apply;
pub mod build;
pub mod calendar;
pub mod check;
pub mod command_line;
pub mod diff;
pub mod explain;
pub mod output;
pub mod schedule;
