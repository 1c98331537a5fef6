//! `bakrun run JOBSPEC`: what systemd runs for each job.

use std::path::PathBuf;
use std::process::ExitCode;

use bakrun::runner;

use super::LogArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job spec (`/etc/bakgen/jobs/<job>.json`).
    pub spec: PathBuf,
    /// Print every command it would run, shell-quoted, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub log: LogArgs,
    /// Overrides the spec's state folder (lock, status).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Overrides the spec's metrics folder.
    #[arg(long, value_name = "DIR")]
    pub metrics_dir: Option<PathBuf>,
}

pub fn main(args: Args) -> ExitCode {
    if let Err(code) = args.log.init() {
        return code;
    }
    ExitCode::from(runner::run(&runner::Options {
        spec: args.spec,
        dry_run: args.dry_run,
        state_dir: args.state_dir,
        metrics_dir: args.metrics_dir,
    }))
}
