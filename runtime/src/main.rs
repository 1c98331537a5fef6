use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run one bakgen backup job and inspect its snapshots.
#[derive(Parser)]
#[command(name = "bakrun", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {}

fn main() -> ExitCode {
    match Args::try_parse() {
        Ok(args) => match args.command {},
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
