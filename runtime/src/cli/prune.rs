//! `bakrun prune JOB [--older-than DURATION] [--dry-run]`: apply the job's retention now,
//! or remove the snapshots older than DURATION. The newest snapshot always stays.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Local;

use bakrun::command::Exec;
use bakrun::duration::Duration;
use bakrun::runner::{self, exit};
use bakrun::spec::Destination;
use bakrun::{lock, log, mount, signals};

use super::{load_job, JobsDirArg, LogArgs};
use bakgen_spec::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Job name (looked up in --jobs-dir) or path to its spec.
    pub job: String,
    /// Remove snapshots older than this (`30D`, `6M`) instead of applying retention.
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,
    /// Only reclaim space in a restic job's repository (`restic prune`), for every job
    /// sharing it; no snapshot is removed. Further jobs may follow JOB: each distinct
    /// repository is pruned once.
    #[arg(long, conflicts_with = "older_than")]
    pub repository_only: bool,
    /// More jobs, with --repository-only.
    #[arg(requires = "repository_only", hide = true)]
    pub more: Vec<String>,
    /// Print what would be removed and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Overrides the spec's state folder (where the job's lock is).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(flatten)]
    pub jobs: JobsDirArg,
    #[command(flatten)]
    pub log: LogArgs,
}

pub fn main(args: Args) -> ExitCode {
    if let Err(code) = args.log.init() {
        return code;
    }
    if args.repository_only {
        let jobs: Vec<String> = std::iter::once(args.job.clone())
            .chain(args.more.iter().cloned())
            .collect();
        return super::repository::prune(&jobs, &args.jobs.jobs_dir, args.dry_run);
    }
    let (spec, engine) = match load_job(&args.job, &args.jobs.jobs_dir) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let older_than = match args.older_than.as_deref().map(Duration::parse).transpose() {
        Ok(d) => d,
        Err(e) => {
            log::error(format!("--older-than: {e}"));
            return ExitCode::from(Exit::BadInput);
        }
    };
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&spec.state_dir));
    let exec = Exec {
        dry_run: args.dry_run,
    };
    signals::install();
    // A run's retention and a prune must not remove snapshots under each other.
    let _lock = if exec.dry_run {
        None
    } else {
        match lock::acquire(&state_dir, &spec.job) {
            Ok(l) => Some(l),
            Err(e) => {
                log::error(e.to_string());
                return ExitCode::from(match e {
                    lock::LockError::Held { .. } => exit::LOCKED,
                    lock::LockError::Io { .. } => exit::FAILED,
                });
            }
        }
    };
    // A restore reading this job's snapshots: remove nothing now (exit 12, try later).
    let _readers = if exec.dry_run {
        None
    } else {
        match lock::remove_snapshots(&state_dir, &spec.job) {
            Ok(Some(l)) => Some(l),
            Ok(None) => {
                log::error(format!(
                    "a restore is reading the snapshots of job {}; nothing removed, try again when it is done",
                    spec.job
                ));
                return ExitCode::from(exit::LOCKED);
            }
            Err(e) => {
                log::error(e.to_string());
                return ExitCode::from(exit::FAILED);
            }
        }
    };
    if let Destination::Snapshots {
        path,
        mount_point,
        sentinel,
    } = &spec.destination
    {
        if let Err(e) = mount::check_destination(
            Path::new(path),
            mount_point.as_deref().map(Path::new),
            *sentinel,
        ) {
            log::error(e.to_string());
            return ExitCode::from(exit::NOT_MOUNTED);
        }
    }
    let snapshots = match engine.snapshots() {
        Ok(s) => s,
        Err(e) => {
            log::error(e.to_string());
            return ExitCode::from(exit::FAILED);
        }
    };
    // Retention judges every snapshot against the newest: not while one is misdated.
    let future = bakrun::engine::clock::in_the_future(&snapshots);
    let (victims, why) = match older_than {
        Some(d) => {
            let now = Local::now().fixed_offset();
            let Some(cutoff) = d.before(&now) else {
                log::error(format!("--older-than {d} reaches back too far"));
                return ExitCode::from(Exit::BadInput);
            };
            let newest = snapshots.iter().map(|s| s.time).max();
            let victims: Vec<_> = snapshots
                .iter()
                .filter(|s| s.time < cutoff && Some(s.time) != newest)
                .cloned()
                .collect();
            (victims, format!("older than {d}"))
        }
        None if future.is_some() => {
            let future = future.map(|s| s.id.as_str()).unwrap_or_default();
            log::error(format!(
                "snapshot {future} is dated in the future of this machine's clock: retention would judge every snapshot against it. Check the clock; remove that snapshot by hand, or prune with --older-than"
            ));
            return ExitCode::from(exit::FAILED);
        }
        None => match runner::retention_victims(&snapshots, &spec.retention) {
            Ok(v) => (v, "retention".to_owned()),
            Err(e) => {
                log::error(format!("retention: {e}"));
                return ExitCode::from(exit::BAD_SPEC);
            }
        },
    };
    if victims.is_empty() {
        log::info("nothing to remove");
    }
    match runner::forget_logged(engine.as_ref(), &exec, &victims, &why) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error(e.to_string());
            ExitCode::from(exit::FAILED)
        }
    }
}
