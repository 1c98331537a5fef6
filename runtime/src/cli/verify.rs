//! `bakrun verify JOB [--dry-run] [--sample N] [--seed S]`: the job's restore drill (what
//! `bakgen-verify-<job>.service` runs); see `bakrun::verify`.

use std::process::ExitCode;

use bakrun::verify::{self, Options};

use super::{load_job, JobsDirArg, LogArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Job name (looked up in --jobs-dir) or path to its spec.
    pub job: String,
    /// Print the plan (run, sample, seed, commands) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Draw N files at random instead of the spec's `sample` (critical paths are always
    /// checked too); also verifies a job whose spec has no `verify`.
    #[arg(long, value_name = "N")]
    pub sample: Option<u64>,
    /// Seed of the random draw (the seed a drill logged draws the same files again).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub jobs: JobsDirArg,
    #[command(flatten)]
    pub log: LogArgs,
}

pub fn main(args: Args) -> ExitCode {
    if let Err(code) = args.log.init() {
        return code;
    }
    let (spec, engine) = match load_job(&args.job, &args.jobs.jobs_dir) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let options = Options {
        dry_run: args.dry_run,
        sample: args.sample,
        seed: args.seed,
    };
    ExitCode::from(verify::run(&spec, engine.as_ref(), &options))
}
