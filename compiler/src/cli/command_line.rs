//! The `bakgen` command line: the clap definition of every subcommand, in the library so
//! that the man pages and shell completions (the `dist` crate) are made from it.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cli;

/// Compile backup policies written in KDL into systemd units and job specs.
#[derive(Parser)]
#[command(name = "bakgen", version, about, propagate_version = true)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Parse and validate a policy; report every problem with its place.
    Check(cli::check::CheckArgs),
    /// Write each host's units, job specs and manifest under DIR/<host>/.
    Build(cli::build::BuildArgs),
    /// Show each job's schedule and its next runs.
    Schedule(cli::schedule::ScheduleArgs),
    /// Show a host's jobs as resolved: each setting and where it came from, the next runs,
    /// the units and the job spec.
    Explain(cli::explain::ExplainArgs),
    /// Show a systemd calendar expression's normalized form and next elapses.
    Calendar(cli::calendar::CalendarArgs),
    /// Show what `apply` would change under a root: plan and unified diffs (exit 3 if any).
    Diff(cli::diff::DiffArgs),
    /// Install a host's bundle under a root atomically and tell systemd.
    Apply(cli::apply::ApplyArgs),
}

/// Parses the process's arguments and runs the subcommand.
pub fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            // clap's own exit code for --help/--version is 0; usage errors are 2 by contract.
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match args.command {
        Command::Check(a) => cli::check::run(a),
        Command::Build(a) => cli::build::run(a),
        Command::Calendar(a) => cli::calendar::run(a),
        Command::Schedule(a) => cli::schedule::run(a),
        Command::Explain(a) => cli::explain::run(a),
        Command::Diff(a) => cli::diff::run(a),
        Command::Apply(a) => cli::apply::run(a),
    }
}
