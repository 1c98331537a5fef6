//! `bakgen calendar EXPR`: placeholder until the calendar parser lands.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CalendarArgs {
    /// A systemd calendar expression.
    pub expression: String,
}

pub fn run(_args: CalendarArgs) -> ExitCode {
    eprintln!("bakgen calendar: not implemented yet");
    ExitCode::from(2)
}
