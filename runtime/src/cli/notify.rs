//! `bakrun notify UNIT`: run by `bakgen-notify@<unit>.service` when a job's service fails.
//! Finds the job whose spec names that unit and runs its `on-failure`: a command (with the
//! unit's name appended) or an HTTP POST of the job's status file (through curl).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use bakrun::spec::{JobSpec, Notify};
use bakrun::{jobs, log, status};

use super::JobsDirArg;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The failed unit, as systemd passes it (`bakgen-web1.service`).
    pub unit: String,
    /// Overrides the spec's state folder (where the status file is).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print what would be run and do nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub jobs: JobsDirArg,
}

/// The installed spec whose `unit` is `unit`.
fn find(unit: &str, jobs_dir: &Path) -> Result<JobSpec, String> {
    let paths = jobs::installed(jobs_dir)
        .map_err(|e| format!("cannot list {}: {e}", jobs_dir.display()))?;
    for path in paths {
        // Values unchecked: a run that failed on a bad value still gets its notification.
        if let Ok(spec) = JobSpec::read_shape(&path.to_string_lossy()) {
            if spec.unit == unit {
                return Ok(spec);
            }
        }
    }
    Err(format!(
        "no job spec in {} belongs to unit {unit}",
        jobs_dir.display()
    ))
}

pub fn main(args: Args) -> ExitCode {
    let spec = match find(&args.unit, &args.jobs.jobs_dir) {
        Ok(s) => s,
        Err(e) => {
            log::error(e);
            return ExitCode::from(2);
        }
    };
    let Some(notify) = &spec.on_failure else {
        log::info(format!("job {} has no on-failure notification", spec.job));
        return ExitCode::SUCCESS;
    };
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&spec.state_dir));
    let status_file = status::status_path(&state_dir, &spec.job);
    let mut cmd = match notify {
        Notify::Command { argv } => {
            let Some((program, rest)) = argv.split_first() else {
                log::error(format!("job {}: on-failure command is empty", spec.job));
                return ExitCode::from(2);
            };
            let mut c = Command::new(program);
            c.args(rest).arg(&args.unit);
            c
        }
        Notify::Url { url } => {
            let mut c = Command::new("curl");
            c.args([
                "--fail",
                "--silent",
                "--show-error",
                "--max-time",
                "30",
                "--header",
                "Content-Type: application/json",
            ]);
            if status_file.exists() {
                let mut data = std::ffi::OsString::from("@");
                data.push(&status_file);
                c.arg("--data-binary").arg(data);
            } else {
                c.arg("--data-binary").arg(format!(
                    "{{\"host\":{:?},\"job\":{:?},\"result\":\"failed\"}}",
                    spec.host, spec.job
                ));
            }
            c.arg("--").arg(url);
            c
        }
    };
    cmd.env("BAKGEN_HOST", &spec.host)
        .env("BAKGEN_JOB", &spec.job)
        .env("BAKGEN_UNIT", &args.unit)
        .env("BAKGEN_STATUS_FILE", &status_file);
    if args.dry_run {
        let words: Vec<String> = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(bakrun::command::shell_quote)
            .collect();
        println!("{}", words.join(" "));
        return ExitCode::SUCCESS;
    }
    match cmd.status() {
        Ok(s) if s.success() => {
            log::info(format!("notified the failure of {}", args.unit));
            ExitCode::SUCCESS
        }
        Ok(s) => {
            log::error(format!(
                "the on-failure notification of job {} failed: {s}",
                spec.job
            ));
            ExitCode::from(1)
        }
        Err(e) => {
            log::error(format!(
                "cannot run the on-failure notification of job {}: {e}",
                spec.job
            ));
            ExitCode::from(1)
        }
    }
}
