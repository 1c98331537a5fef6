//! Commands for a job's restic repository: `bakrun init JOB` (idempotent),
//! `bakrun check JOB [--read-data SUBSET]` and `bakrun prune JOB --repository-only`.

use std::process::ExitCode;

use bakrun::command::Exec;
use bakrun::engine::restic::Restic;
use bakrun::runner::exit;
use bakrun::spec::JobSpec;
use bakrun::{jobs, log, signals};

use super::{JobsDirArg, LogArgs};

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Job name (looked up in --jobs-dir) or path to its spec.
    pub job: String,
    /// Print the command and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub jobs: JobsDirArg,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Job names or spec paths; each distinct repository is checked once.
    #[arg(required = true)]
    pub job: Vec<String>,
    /// Also read and verify this part of the data (`5%`, `1/10`), restic's
    /// `--read-data-subset`.
    #[arg(long, value_name = "SUBSET")]
    pub read_data: Option<String>,
    /// Print the commands and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub jobs: JobsDirArg,
    #[command(flatten)]
    pub log: LogArgs,
}

/// The restic engine of a job; exit 2 when the job is not a restic job.
pub fn load_restic(job: &str, jobs_dir: &std::path::Path) -> Result<Restic, ExitCode> {
    let path = jobs::resolve(job, jobs_dir);
    let spec = JobSpec::read(&path.to_string_lossy()).map_err(|e| {
        log::error(e.to_string());
        ExitCode::from(exit::BAD_SPEC)
    })?;
    Restic::new(&spec).map_err(|e| {
        log::error(format!(
            "job spec {}: {e}; init and check only apply to restic destinations",
            path.display()
        ));
        ExitCode::from(exit::BAD_SPEC)
    })
}

pub fn init(args: InitArgs) -> ExitCode {
    if let Err(code) = args.log.init() {
        return code;
    }
    let restic = match load_restic(&args.job, &args.jobs.jobs_dir) {
        Ok(r) => r,
        Err(code) => return code,
    };
    signals::install();
    let exec = Exec {
        dry_run: args.dry_run,
    };
    match restic.init(&exec) {
        Ok(true) => {
            log::info(format!("initialised repository {}", restic.repository()));
            ExitCode::SUCCESS
        }
        Ok(false) => ExitCode::SUCCESS,
        Err(e) => {
            log::error(e.to_string());
            ExitCode::from(exit::FAILED)
        }
    }
}

/// Runs `each` once per distinct repository among `jobs`.
fn per_repository(
    jobs: &[String],
    jobs_dir: &std::path::Path,
    mut each: impl FnMut(&Restic) -> Result<(), bakrun::engine::EngineError>,
) -> ExitCode {
    let mut done: Vec<String> = Vec::new();
    let mut failed = false;
    for job in jobs {
        let restic = match load_restic(job, jobs_dir) {
            Ok(r) => r,
            Err(code) => return code,
        };
        if done.iter().any(|r| r == restic.repository()) {
            continue;
        }
        done.push(restic.repository().to_owned());
        if let Err(e) = each(&restic) {
            log::error(format!("{}: {e}", restic.repository()));
            failed = true;
        }
    }
    if failed {
        ExitCode::from(exit::FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn check(args: CheckArgs) -> ExitCode {
    if let Err(code) = args.log.init() {
        return code;
    }
    signals::install();
    let exec = Exec {
        dry_run: args.dry_run,
    };
    per_repository(&args.job, &args.jobs.jobs_dir, |r| {
        r.check(&exec, args.read_data.as_deref())
    })
}

/// `bakrun prune JOB… --repository-only`: `restic prune` of each distinct repository.
pub fn prune(jobs: &[String], jobs_dir: &std::path::Path, dry_run: bool) -> ExitCode {
    signals::install();
    let exec = Exec { dry_run };
    per_repository(jobs, jobs_dir, |r| r.prune(&exec))
}
