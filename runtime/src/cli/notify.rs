//! `bakrun notify JOB`: run by `bakgen-notify@<job>.service` when a job's service fails.
//! Finds the job whose spec's unit is `bakgen-<job>.service` and runs its `on-failure`: a
//! command (with the failed unit's name appended) or an HTTP POST of the job's status file
//! (through curl). A failed restore drill (systemd names `bakgen-verify-<job>.service` in
//! `MONITOR_UNIT`) is told with its drill record instead of the run status.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bakrun::command::Command;

use bakrun::spec::{JobSpec, Notify};
use bakrun::{http, jobs, log, status};

use super::JobsDirArg;
use bakgen_spec::exit::Exit;

/// A notification POST: one attempt of at most 30 s.
const NOTIFY_BOUNDS: http::Bounds = http::Bounds {
    max_time_seconds: 30,
    retries: 0,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The failed job, as systemd passes the instance (`web1` for `bakgen-web1.service`;
    /// a name with other characters than letters, digits and `:_.-` comes escaped as in
    /// its unit name).
    pub job: String,
    /// Overrides the spec's state folder (where the status file is).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print what would be run and do nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub jobs: JobsDirArg,
}

/// The installed spec the instance names: first the one whose `unit` is
/// `bakgen-<instance>.service` (the instance is the job's name as its unit name carries
/// it, so no unescaping is needed to match); else, for units written before the instance
/// was the job name (`OnFailure=bakgen-notify@%n.service`, whose instance is the whole unit
/// name `bakgen-<job>.service`), the one whose `unit` is the instance; else the one whose
/// job is named so (by hand: `bakrun notify "db dump"`).
fn find(instance: &str, jobs_dir: &Path) -> Result<JobSpec, String> {
    let unit = format!("bakgen-{instance}.service");
    let paths = jobs::installed(jobs_dir)
        .map_err(|e| format!("cannot list {}: {e}", jobs_dir.display()))?;
    // Values unchecked: a run that failed on a bad value still gets its notification.
    let specs: Vec<JobSpec> = paths
        .iter()
        .filter_map(|p| JobSpec::read_shape(&p.to_string_lossy()).ok())
        .collect();
    let by_unit = |name: &str| specs.iter().find(|s| s.unit == name);
    let found = by_unit(&unit)
        .or_else(|| {
            instance
                .ends_with(".service")
                .then(|| by_unit(instance))
                .flatten()
        })
        .or_else(|| specs.iter().find(|s| s.job == instance));
    found.cloned().ok_or_else(|| {
        format!(
            "no job spec in {} belongs to job {instance} (unit {unit})",
            jobs_dir.display()
        )
    })
}

pub fn main(args: Args) -> ExitCode {
    let spec = match find(&args.job, &args.jobs.jobs_dir) {
        Ok(s) => s,
        Err(e) => {
            log::error(e);
            return ExitCode::from(Exit::BadInput);
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
    // systemd names the failed unit to an OnFailure= unit: a failed restore drill
    // (`bakgen-verify-<job>.service`) is told with its own record.
    let drill_unit = bakrun::verify::unit_name(&spec);
    let drill = std::env::var("MONITOR_UNIT").is_ok_and(|u| u == drill_unit);
    let (unit, status_file) = if drill {
        let file = bakrun::installed::verify_status_file(&state_dir, &spec.job);
        (drill_unit, file)
    } else {
        (
            spec.unit.clone(),
            status::status_path(&state_dir, &spec.job),
        )
    };
    let body = if status_file.exists() {
        Body::File(&status_file)
    } else {
        Body::Text(format!(
            "{{\"host\":{:?},\"job\":{:?},\"result\":\"failed\"}}",
            spec.host, spec.job
        ))
    };
    let Some(cmd) = command(notify, &unit, body) else {
        log::error(format!("job {}: on-failure command is empty", spec.job));
        return ExitCode::from(Exit::BadInput);
    };
    let cmd = cmd
        .env("BAKGEN_HOST", &spec.host)
        .env("BAKGEN_JOB", &spec.job)
        .env("BAKGEN_UNIT", &unit)
        .env("BAKGEN_STATUS_FILE", &status_file);
    if args.dry_run {
        println!("{}", cmd.display());
        return ExitCode::SUCCESS;
    }
    match send(&cmd) {
        Ok(()) => {
            log::info(format!("notified the failure of {unit}"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::error(format!(
                "the on-failure notification of job {}: {e}",
                spec.job
            ));
            ExitCode::from(Exit::Failed)
        }
    }
}

/// What a URL notification posts.
pub enum Body<'a> {
    /// The contents of this file (a status file).
    File(&'a Path),
    /// This JSON text.
    Text(String),
}

/// The command that tells: the notification's own command with `unit` appended, or curl
/// posting `body` as JSON to its URL. `None` for an empty command.
pub fn command(notify: &Notify, unit: &str, body: Body<'_>) -> Option<Command> {
    match notify {
        Notify::Command { argv } => {
            let (program, rest) = argv.split_first()?;
            Some(Command::new(program).args(rest).arg(unit))
        }
        Notify::Url { url } => {
            let data = match &body {
                Body::File(path) => http::Body::File(path),
                Body::Text(text) => http::Body::Text(text),
            };
            Some(http::post(
                http::Url::Arg(url),
                data,
                &["Content-Type: application/json".to_owned()],
                NOTIFY_BOUNDS,
            ))
        }
    }
}

/// Runs a notification's command. Started like every child of bakrun
/// (`command::process`): a notifier outlives no bakrun stopped or killed, as it gets
/// SIGTERM when bakrun dies. Its output goes where bakrun's does, the journal.
pub fn send(cmd: &Command) -> Result<(), String> {
    match bakrun::command::process(cmd).status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("failed: {s}")),
        Err(e) => Err(format!("cannot be run: {e}")),
    }
}
