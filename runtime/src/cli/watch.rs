//! `bakrun watch`: reads the destinations of the watch spec (never the hosts), judges
//! every job by its newest complete run, writes the metrics and the report, tells the
//! watch's `on-late` once per change and prints the fleet's table. Exit 13 when any job
//! is late, never ran or its destination is unreadable.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Local;

use bakgen_spec::exit::Exit;
use bakgen_spec::watch::{WatchSpec, WATCH_SPEC, WATCH_UNIT};
use bakrun::watch::told::{Event, Told};
use bakrun::watch::{self, report, JobReport, Report};
use bakrun::{atomic_file, log};

use super::notify::{self, Body};
use super::table;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WatchFormat {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The watch spec.
    #[arg(long, value_name = "PATH", default_value = WATCH_SPEC)]
    pub spec: PathBuf,
    /// Judge ages as at WHEN instead of now (a date, a date-time, or a duration back).
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: WatchFormat,
}

fn load(path: &Path) -> Result<WatchSpec, String> {
    let shown = path.to_string_lossy();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read watch spec {shown}: {e}"))?;
    WatchSpec::from_json(&shown, &text).map_err(|e| e.to_string())
}

pub fn main(args: Args) -> ExitCode {
    let spec = match load(&args.spec) {
        Ok(s) => s,
        Err(e) => {
            log::error(e);
            return ExitCode::from(Exit::BadInput);
        }
    };
    let now = Local::now().fixed_offset();
    let at = match &args.at {
        Some(text) => match super::parse_when(text, now) {
            Ok(t) => t,
            Err(e) => {
                log::error(format!("--at {text}: {e}"));
                return ExitCode::from(Exit::BadInput);
            }
        },
        None => now,
    };
    let report = watch::watch(&spec, at);
    let state_dir = Path::new(&spec.state_dir);
    let mut written = true;
    let mut write = |path: PathBuf, text: String, metrics: bool| {
        let done = if metrics {
            bakrun::metrics::write_file(&path, &text)
        } else {
            atomic_file::write(&path, text.as_bytes())
        };
        if let Err(e) = done {
            log::error(format!("cannot write {}: {e}", path.display()));
            written = false;
        }
    };
    write(
        report::report_path(state_dir),
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        false,
    );
    if let Some(dir) = &spec.metrics_dir {
        write(
            report::metrics_path(Path::new(dir)),
            report::metrics(&report),
            true,
        );
    }
    match args.format {
        WatchFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        WatchFormat::Table => {
            let rows: Vec<_> = report
                .jobs
                .iter()
                .map(|j| report::row(j, table::age_text))
                .collect();
            table::print(report::HEADER, &rows);
        }
    }
    if !tell(&spec, &report, state_dir) {
        written = false;
    }
    if !report.all_ok() {
        ExitCode::from(Exit::Late)
    } else if !written {
        ExitCode::from(Exit::Failed)
    } else {
        ExitCode::SUCCESS
    }
}

/// Tells `on-late` about each job that turned bad or recovered since the last watch and
/// records what was told; a notification that fails is not recorded, so the next watch
/// tells it again. False when the state could not be kept.
fn tell(spec: &WatchSpec, report: &Report, state_dir: &Path) -> bool {
    let mut told = Told::read(state_dir).unwrap_or_else(|e| {
        log::warn(format!("{e}; starting as if nothing was told"));
        Told::default()
    });
    for job in &report.jobs {
        let Some(event) = told.event(job) else {
            continue;
        };
        let delivered = match &spec.on_late {
            None => true,
            Some(on_late) => match notify_one(on_late, event, job, state_dir) {
                Ok(()) => {
                    log::info(format!(
                        "told that {}/{} on {} is {} ({})",
                        job.host,
                        job.job,
                        job.destination,
                        event.as_str(),
                        job.state.as_str()
                    ));
                    true
                }
                Err(e) => {
                    log::error(format!(
                        "the on-late notification for {}/{} on {}: {e}",
                        job.host, job.job, job.destination
                    ));
                    false
                }
            },
        };
        if delivered {
            told.told(job);
        }
    }
    told.keep_only(report);
    match told.write(state_dir) {
        Ok(()) => true,
        Err(e) => {
            log::error(format!(
                "cannot write {}: {e}",
                bakrun::watch::told::path(state_dir).display()
            ));
            false
        }
    }
}

/// One notification: the command gets the watch's unit appended and the job in its
/// environment; a URL gets the job's line of the report and the event as JSON.
fn notify_one(
    on_late: &bakrun::spec::Notify,
    event: Event,
    job: &JobReport,
    state_dir: &Path,
) -> Result<(), String> {
    let mut body = serde_json::to_value(job).map_err(|e| e.to_string())?;
    if let Some(fields) = body.as_object_mut() {
        fields.insert("event".into(), event.as_str().into());
    }
    let cmd = notify::command(on_late, WATCH_UNIT, Body::Text(body.to_string()))
        .ok_or("the on-late command is empty")?
        .env("BAKGEN_UNIT", WATCH_UNIT)
        .env("BAKGEN_HOST", &job.host)
        .env("BAKGEN_JOB", &job.job)
        .env("BAKGEN_DESTINATION", &job.destination)
        .env("BAKGEN_WATCH_EVENT", event.as_str())
        .env("BAKGEN_WATCH_STATE", job.state.as_str())
        .env("BAKGEN_WATCH_REPORT", report::report_path(state_dir));
    notify::send(&cmd)
}
