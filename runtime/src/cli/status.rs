//! `bakrun status`: every installed job, its last success and whether it is late.
//! Exit 1 when any job failed its last run, is late, or never succeeded (a job that has
//! never made a backup is not protecting anything, so it counts as late). The last
//! restore drill is shown beside each job but changes no exit code: its own unit fails,
//! notifies and alerts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, FixedOffset, Local};
use serde::Serialize;

use bakrun::metrics::{self, Freshness};
use bakrun::spec::JobSpec;
use bakrun::status::{self, RunResult, Status};
use bakrun::verify::{self, record::DrillState};
use bakrun::{jobs, log};

use super::{table, JobsDirArg};
use bakgen_spec::exit::Exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    Human,
    Json,
    Prometheus,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value = "human")]
    pub format: StatusFormat,
    #[command(flatten)]
    pub jobs: JobsDirArg,
    /// State folder to read status from; each spec's own `state-dir` when absent.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct JobState {
    spec: PathBuf,
    host: String,
    job: String,
    /// `ok`, `late`, `failed`, `never` or `error` (the spec or status cannot be read).
    state: &'static str,
    late: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_success: Option<DateTime<FixedOffset>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    age_seconds: Option<i64>,
    late_after_seconds: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_result: Option<RunResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_exit_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_run_end: Option<DateTime<FixedOffset>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The last restore drill (`bakrun verify`); absent for a job without drills.
    #[serde(skip_serializing_if = "Option::is_none")]
    verify: Option<DrillState>,
    /// Why the last run's metrics were not written (its state stands).
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_error: Option<String>,
    #[serde(skip)]
    status: Option<Status>,
}

impl JobState {
    fn healthy(&self) -> bool {
        self.state == "ok"
    }
}

fn job_state(path: &Path, state_dir: Option<&Path>, now: DateTime<FixedOffset>) -> JobState {
    let mut js = JobState {
        spec: path.to_owned(),
        host: String::new(),
        job: path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        state: "error",
        late: true,
        last_success: None,
        age_seconds: None,
        late_after_seconds: 0,
        last_result: None,
        last_exit_code: None,
        last_run_end: None,
        snapshot: None,
        error: None,
        verify: None,
        metrics_error: None,
        status: None,
    };
    let spec = match JobSpec::read(&path.to_string_lossy()) {
        Ok(s) => s,
        Err(e) => {
            js.error = Some(e.to_string());
            return js;
        }
    };
    js.host = spec.host.clone();
    js.job = spec.job.clone();
    js.late_after_seconds = spec.schedule.late_after_seconds;
    let dir = state_dir.map_or_else(|| PathBuf::from(&spec.state_dir), Path::to_owned);
    // A drill record that cannot be read reads as no drill: `never` or nothing.
    let drill = verify::record::read(&dir, &spec.job).ok().flatten();
    js.verify = verify::record::judge(
        drill.as_ref(),
        spec.verify.as_ref().map(|v| v.within_seconds),
        now,
    );
    let st = match status::read(&dir, &spec.job) {
        Ok(s) => s,
        Err(e) => {
            js.error = Some(e.to_string());
            return js;
        }
    };
    if let Some(last) = st.as_ref().and_then(|s| s.last_success.as_ref()) {
        let age = (now - last.end).num_seconds();
        js.last_success = Some(last.end);
        js.age_seconds = Some(age);
        js.snapshot = last.snapshot.clone();
        js.late = age > i64::try_from(spec.schedule.late_after_seconds).unwrap_or(i64::MAX);
    }
    if let Some(s) = &st {
        js.last_result = Some(s.result);
        js.last_exit_code = Some(s.exit_code);
        js.last_run_end = Some(s.end);
        js.metrics_error = s.metrics_error.clone();
    }
    js.state = match (&st, js.last_success) {
        (Some(s), _) if s.result != RunResult::Success => "failed",
        (_, None) => "never",
        _ if js.late => "late",
        _ => "ok",
    };
    js.status = st;
    js
}

pub fn main(args: Args) -> ExitCode {
    let specs = match jobs::installed(&args.jobs.jobs_dir) {
        Ok(s) => s,
        Err(e) => {
            log::error(format!(
                "cannot list job specs in {}: {e}",
                args.jobs.jobs_dir.display()
            ));
            return ExitCode::from(Exit::BadInput);
        }
    };
    let now = Local::now().fixed_offset();
    let states: Vec<JobState> = specs
        .iter()
        .map(|p| job_state(p, args.state_dir.as_deref(), now))
        .collect();
    match args.format {
        StatusFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&states).unwrap_or_default()
            );
        }
        StatusFormat::Prometheus => {
            let figures: Vec<_> = states
                .iter()
                .filter(|s| s.error.is_none())
                .map(|s| {
                    (
                        s.host.clone(),
                        s.job.clone(),
                        s.status.clone(),
                        s.late_after_seconds,
                        Some(Freshness { late: s.late }),
                    )
                })
                .collect();
            print!("{}", metrics::render_many(&figures));
        }
        StatusFormat::Human => {
            let rows: Vec<[String; 7]> = states
                .iter()
                .map(|s| {
                    [
                        s.job.clone(),
                        s.host.clone(),
                        s.state.to_owned(),
                        s.last_success.map_or_else(
                            || "never".to_owned(),
                            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                        ),
                        s.age_seconds
                            .map_or_else(|| "-".to_owned(), table::age_text),
                        match (&s.error, s.last_result) {
                            (Some(e), _) => e.clone(),
                            (None, Some(r)) => {
                                let mut text = format!(
                                    "last run {} (exit {})",
                                    r.as_str(),
                                    s.last_exit_code.unwrap_or(0)
                                );
                                if let Some(why) = &s.metrics_error {
                                    text.push_str(&format!(", {why}"));
                                }
                                text
                            }
                            (None, None) => "never ran".to_owned(),
                        },
                        s.verify
                            .as_ref()
                            .map_or_else(|| "-".to_owned(), |v| v.words(table::age_text)),
                    ]
                })
                .collect();
            table::print(
                [
                    "JOB",
                    "HOST",
                    "STATE",
                    "LAST SUCCESS",
                    "AGE",
                    "LAST RUN",
                    "DRILL",
                ],
                &rows,
            );
        }
    }
    if states.iter().all(JobState::healthy) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(Exit::Failed)
    }
}
