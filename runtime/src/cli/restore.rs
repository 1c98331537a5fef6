//! `bakrun restore JOB PATH [--at WHEN] --to DIR`: a file or folder as it was at WHEN
//! (the newest snapshot when no WHEN), copied into DIR. Never overwrites without --force.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Local;

use bakrun::command::Exec;
use bakrun::engine::restore::Restore;
use bakrun::{lock, log};

use super::{at_arg, load_job, snapshot_at, JobsDirArg, LogArgs};
use bakgen_spec::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Job name (looked up in --jobs-dir) or path to its spec.
    pub job: String,
    /// The path as it was on the backed-up machine (`/etc/hosts`).
    pub path: String,
    /// Restore from the snapshot current at WHEN (date, date-time, or `3D12h` ago).
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,
    /// Folder to restore into; PATH's last component is created inside it.
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// Overwrite files that already exist in DIR.
    #[arg(long)]
    pub force: bool,
    /// Print the commands and change nothing.
    #[arg(long)]
    pub dry_run: bool,
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
    // Keeps retention and prune from removing the snapshot while it is read. Reading is
    // never refused for want of this lock (a spec copied to another machine, no state
    // folder there): it is a safety net, not a permission.
    let _readers = if args.dry_run {
        None
    } else {
        match lock::read_snapshots(Path::new(&spec.state_dir), &spec.job) {
            Ok(l) => Some(l),
            Err(e) => {
                log::warn(format!("{e}; restoring without holding off retention"));
                None
            }
        }
    };
    let now = Local::now().fixed_offset();
    let when = match args.at.as_deref().map(|at| at_arg(at, now)).transpose() {
        Ok(t) => t.unwrap_or(now),
        Err(code) => return code,
    };
    let snapshots = match engine.snapshots() {
        Ok(s) => s,
        Err(e) => {
            log::error(e.to_string());
            return ExitCode::from(Exit::Failed);
        }
    };
    let snapshot = match snapshot_at(&spec, &snapshots, &when) {
        Ok(s) => s,
        Err(code) => return code,
    };
    log::info(format!(
        "restoring {} from snapshot {} into {}",
        args.path,
        snapshot.id,
        args.to.display()
    ));
    let exec = Exec {
        dry_run: args.dry_run,
    };
    bakrun::signals::install();
    let what = Restore {
        snapshot,
        path: &args.path,
        to: &args.to,
        force: args.force,
    };
    match engine.restore(&exec, &what) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error(e.to_string());
            ExitCode::from(Exit::Failed)
        }
    }
}
