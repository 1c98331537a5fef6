//! The `bakrun` subcommands, one module each, and what they share.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, FixedOffset};

use bakgen_spec::exit::Exit;
use bakrun::engine::{self, Engine};
use bakrun::spec::JobSpec;
use bakrun::{jobs, log};

pub mod command_line;
pub mod notify;
pub mod prune;
pub mod repository;
pub mod restore;
pub mod restore_script;
pub mod retention;
pub mod run;
pub mod snapshots;
pub mod status;
pub mod table;
pub mod verify;
pub mod watch;

/// Verbosity and log file options, shared by the commands that change things.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// More detail on standard error (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors on standard error.
    #[arg(short, long, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Also append every detail, with timestamps, to this file.
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
}

impl LogArgs {
    /// Sets up logging; exit 2 when the log file cannot be opened.
    pub fn init(&self) -> Result<(), ExitCode> {
        let level = i16::from(self.verbose) - i16::from(self.quiet);
        let level = i8::try_from(level.clamp(-8, 8)).unwrap_or(0);
        bakrun::progress::init(level);
        log::init(level, self.log_file.as_deref()).map_err(|e| {
            eprintln!(
                "error: cannot open log file {}: {e}",
                self.log_file.as_deref().unwrap_or(Path::new("")).display()
            );
            ExitCode::from(Exit::BadInput)
        })
    }
}

/// Where job names are looked up.
#[derive(Debug, Clone, clap::Args)]
pub struct JobsDirArg {
    /// Folder of installed job specs, for job names.
    #[arg(long, value_name = "DIR", default_value = bakrun::installed::JOBS_DIR)]
    pub jobs_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// Reads the spec named by `JOB` (a name in the jobs folder or a path) and its engine.
/// Errors are reported here; the caller exits 2.
pub fn load_job(job: &str, jobs_dir: &Path) -> Result<(JobSpec, Box<dyn Engine>), ExitCode> {
    let path = jobs::resolve(job, jobs_dir);
    let spec = JobSpec::read(&path.to_string_lossy()).map_err(|e| {
        log::error(e.to_string());
        ExitCode::from(Exit::BadInput)
    })?;
    let engine = engine::for_spec(&spec).map_err(|e| {
        log::error(format!("job spec {}: {e}", path.display()));
        ExitCode::from(Exit::BadInput)
    })?;
    Ok((spec, engine))
}

/// WHEN: an ISO date (the end of that local day, so a date means "as it was on that
/// day"), a date-time with or without offset (local time when none), or a duration back
/// from now (`3D12h`).
pub fn parse_when(text: &str, now: DateTime<FixedOffset>) -> Result<DateTime<FixedOffset>, String> {
    bakrun::when::parse_when(text, &now).map_err(|e| e.to_string())
}

/// `--at WHEN` read by [`parse_when`]; a bad one is reported here and the caller exits 2.
pub fn at_arg(text: &str, now: DateTime<FixedOffset>) -> Result<DateTime<FixedOffset>, ExitCode> {
    parse_when(text, now).map_err(|e| {
        log::error(format!("--at: {e}"));
        ExitCode::from(Exit::BadInput)
    })
}

/// The snapshot of the job that was current at `when` (the newest at or before it); when
/// there is none, that is reported here and the caller exits 1.
pub fn snapshot_at<'a>(
    spec: &JobSpec,
    snapshots: &'a [engine::Snapshot],
    when: &DateTime<FixedOffset>,
) -> Result<&'a engine::Snapshot, ExitCode> {
    engine::current_at(snapshots, when).ok_or_else(|| {
        log::error(format!(
            "no snapshot of job {} at or before {}",
            spec.job,
            when.to_rfc3339()
        ));
        ExitCode::from(Exit::Failed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_takes_dates_times_and_durations() {
        let now = DateTime::parse_from_rfc3339("2026-04-10T12:00:00+00:00").unwrap();
        assert_eq!(
            parse_when("2026-04-01T10:00:00+02:00", now).unwrap(),
            DateTime::parse_from_rfc3339("2026-04-01T10:00:00+02:00").unwrap()
        );
        assert_eq!(
            parse_when("3D12h", now).unwrap(),
            DateTime::parse_from_rfc3339("2026-04-07T00:00:00+00:00").unwrap()
        );
        let day = parse_when("2026-04-01", now).unwrap();
        assert_eq!(day.format("%H:%M:%S").to_string(), "23:59:59");
        assert!(parse_when("yesterday", now).is_err());
    }
}
