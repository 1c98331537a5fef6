//! The `bakrun` command line: the clap definition of every subcommand, in the library so
//! that the man pages and shell completions (the `dist` crate) are made from it.

use std::process::ExitCode;

use bakgen_spec::exit::Exit;
use clap::{Parser, Subcommand};

use crate::cli;

/// Run one bakgen backup job and inspect its snapshots.
#[derive(Parser)]
#[command(name = "bakrun", version, about)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Preview retention: which of the snapshot times on standard input (one RFC 3339
    /// timestamp per line) the rules keep, and why.
    Retention(cli::retention::RetentionArgs),
    /// Run one job from its spec (what systemd runs).
    Run(cli::run::Args),
    /// Every installed job: last success, age, whether it is late.
    Status(cli::status::Args),
    /// A job's snapshots, or the files of the one current at WHEN.
    Snapshots(cli::snapshots::Args),
    /// Restore a file or folder as it was at WHEN.
    Restore(cli::restore::Args),
    /// Apply retention now, or remove snapshots older than DURATION.
    Prune(cli::prune::Args),
    /// Initialise a restic job's repository, unless it exists already.
    Init(cli::repository::InitArgs),
    /// Check restic repositories (`restic check`, optionally reading part of the data).
    Check(cli::repository::CheckArgs),
    /// Print a shell script that rebuilds HOST from the newest run of each of its jobs on a
    /// fresh machine with only restic (and psql/mysql for the databases).
    RestoreScript(cli::restore_script::Args),
    /// Run the on-failure notification of the job whose unit failed (from bakgen-notify@.service).
    Notify(cli::notify::Args),
    /// The job's restore drill: restore a seeded sample of the newest run's files (and
    /// every file under its critical paths), compare each with the live file, load its
    /// database dumps into throwaway servers, record it.
    Verify(cli::verify::Args),
    /// Judge every job of the watch spec by the newest complete run in its destination;
    /// write metrics and a report; tell `on-late` once when a job turns late or recovers.
    Watch(cli::watch::Args),
}

/// Parses the process's arguments and runs the subcommand.
pub fn main() -> ExitCode {
    match Args::try_parse() {
        Ok(args) => match args.command {
            Command::Retention(a) => cli::retention::run(a),
            Command::Run(a) => cli::run::main(a),
            Command::Status(a) => cli::status::main(a),
            Command::Snapshots(a) => cli::snapshots::main(a),
            Command::Restore(a) => cli::restore::main(a),
            Command::Prune(a) => cli::prune::main(a),
            Command::Init(a) => cli::repository::init(a),
            Command::Check(a) => cli::repository::check(a),
            Command::RestoreScript(a) => cli::restore_script::main(a),
            Command::Notify(a) => cli::notify::main(a),
            Command::Verify(a) => cli::verify::main(a),
            Command::Watch(a) => cli::watch::main(a),
        },
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(Exit::BadInput)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
