use std::process::ExitCode;

use clap::{Parser, Subcommand};

use bakrun::cli;

/// Run one bakgen backup job and inspect its snapshots.
#[derive(Parser)]
#[command(name = "bakrun", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Preview retention: which of the snapshot times on standard input (one RFC 3339
    /// timestamp per line) the rules keep, and why.
    Retention(cli::retention::RetentionArgs),
}

fn main() -> ExitCode {
    match Args::try_parse() {
        Ok(args) => match args.command {
            Command::Retention(a) => cli::retention::run(a),
        },
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
