//! `bakrun run`: one job from spec to status, in this order (docs/operations.md describes
//! each stage, and the exit codes below):
//! spec → lock → destination check → (steps) → engine → retention → status and metrics.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Local};

use crate::command::Exec;
use crate::engine::{self, BackupOutcome, Engine, EngineError, Snapshot};
use crate::ping::{Ending, Pinger};
use crate::retention::{self, RetentionError};
use crate::spec::{Destination, JobSpec, Retention};
use crate::status::{LastSuccess, RunResult, Status};
use crate::{lock, log, metrics, mount, signals, status, step};

/// Exit codes of `bakrun run` (part of the command-line contract).
/// Codes of [`bakgen_spec::exit::Exit`], as the `u8` a run returns.
pub mod exit {
    use bakgen_spec::exit::Exit;

    pub const OK: u8 = Exit::Ok.code();
    pub const FAILED: u8 = Exit::Failed.code();
    pub const BAD_SPEC: u8 = Exit::BadInput.code();
    pub const NOT_MOUNTED: u8 = Exit::NotMounted.code();
    pub const LOCKED: u8 = Exit::Locked.code();
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub spec: PathBuf,
    pub dry_run: bool,
    /// Overrides the spec's `state-dir`.
    pub state_dir: Option<PathBuf>,
    /// Overrides the spec's `metrics-dir`.
    pub metrics_dir: Option<PathBuf>,
}

/// Runs the job and returns the process exit code.
pub fn run(options: &Options) -> u8 {
    let path = options.spec.to_string_lossy().into_owned();
    let spec = match JobSpec::read(&path) {
        Ok(s) => s,
        Err(e) => {
            log::error(e.to_string());
            return exit::BAD_SPEC;
        }
    };
    let engine = match engine::for_spec(&spec) {
        Ok(e) => e,
        Err(e) => {
            log::error(format!("job spec {path}: {e}"));
            return exit::BAD_SPEC;
        }
    };
    let state_dir = options
        .state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&spec.state_dir));
    let metrics_dir = options
        .metrics_dir
        .clone()
        .or_else(|| spec.metrics_dir.as_ref().map(PathBuf::from));
    let exec = Exec {
        dry_run: options.dry_run,
    };
    signals::install();

    // Held until this function returns, through retention and the status write.
    let _lock = if exec.dry_run {
        match lock::is_held(&state_dir, &spec.job) {
            Ok(false) => None,
            Ok(true) => {
                log::error(format!("another run of job {} holds its lock", spec.job));
                return exit::LOCKED;
            }
            Err(e) => {
                log::error(e.to_string());
                return exit::FAILED;
            }
        }
    } else {
        match lock::acquire(&state_dir, &spec.job) {
            Ok(l) => Some(l),
            Err(e @ lock::LockError::Held { .. }) => {
                log::error(e.to_string());
                return exit::LOCKED;
            }
            Err(e) => {
                log::error(e.to_string());
                return exit::FAILED;
            }
        }
    };

    // Read once, before the run: a dry run changes nothing, and tells no one either.
    let ping = if exec.dry_run {
        None
    } else {
        Pinger::for_spec(&spec)
    };
    let mut run = Run {
        ping: ping.as_ref(),
        spec: &spec,
        engine: engine.as_ref(),
        exec,
        state_dir: &state_dir,
        metrics_dir: metrics_dir.as_deref(),
        start: Local::now().fixed_offset(),
    };
    let (result, code, outcome, message) = run.body();
    run.record(result, code, outcome.as_ref(), message);
    if let Some(p) = &ping {
        p.finish(ending(result, code), &log::tail());
    }
    code
}

/// What a ping says of a run. An absent destination (exit 11) says nothing: a quiet skip
/// (docs/operations.md, "Exit 11: a quiet skip").
fn ending(result: RunResult, code: u8) -> Ending {
    match result {
        RunResult::Success => Ending::Success,
        RunResult::NotMounted => Ending::Skip,
        RunResult::Failed | RunResult::Interrupted => Ending::Failure(code),
    }
}

struct Run<'a> {
    ping: Option<&'a Pinger>,
    spec: &'a JobSpec,
    engine: &'a dyn Engine,
    exec: Exec,
    state_dir: &'a Path,
    metrics_dir: Option<&'a Path>,
    start: DateTime<FixedOffset>,
}

type BodyResult = (RunResult, u8, Option<BackupOutcome>, Option<String>);

impl Run<'_> {
    fn body(&mut self) -> BodyResult {
        if let Destination::Snapshots {
            path,
            mount_point,
            sentinel,
        } = &self.spec.destination
        {
            if let Err(e) = mount::check_destination(
                Path::new(path),
                mount_point.as_deref().map(Path::new),
                *sentinel,
            ) {
                log::error(e.to_string());
                let code = match e {
                    mount::DestinationError::Io { .. } => exit::FAILED,
                    _ => exit::NOT_MOUNTED,
                };
                let result = if code == exit::FAILED {
                    RunResult::Failed
                } else {
                    RunResult::NotMounted
                };
                return (result, code, None, Some(e.to_string()));
            }
        }
        // Only now: a healthchecks check that got `/start` goes down when no end follows
        // within its grace time, which an absent disk must not cause.
        if let Some(p) = self.ping {
            p.start();
        }
        // Every kind of step runs: snapshot steps around the engine (`step`), database
        // dumps inside it (streamed into restic, or files of the new rsync snapshot).
        // Snapshot steps (LVM, btrfs) wrap the engine: created before, removed after, always.
        let engine_run = step::around_engine(self.spec, &self.exec, self.state_dir, |view| {
            self.engine.backup_from(&self.exec, view)
        });
        let outcome = match engine_run {
            Ok((outcome, step_warnings)) => {
                let mut outcome: BackupOutcome = outcome;
                outcome.warnings.extend(step_warnings);
                outcome
            }
            Err(e) if e.interrupted() => {
                let msg = e.to_string();
                log::error(&msg);
                return (RunResult::Interrupted, exit::FAILED, None, Some(msg));
            }
            Err(e) => {
                log::error(e.to_string());
                return (RunResult::Failed, exit::FAILED, None, Some(e.to_string()));
            }
        };
        for w in &outcome.warnings {
            log::warn(w);
        }
        if self.exec.dry_run {
            log::info("dry run: nothing was changed");
        } else {
            log::info(format!(
                "snapshot {} complete: {} files, {} transferred ({} bytes of {})",
                outcome.snapshot.id,
                outcome.stats.files_total,
                outcome.stats.files_transferred,
                outcome.stats.bytes_transferred,
                outcome.stats.bytes_total
            ));
        }
        // A restore reading the job's snapshots postpones retention to the next run.
        let _readers = if self.exec.dry_run {
            None
        } else {
            match lock::remove_snapshots(self.state_dir, &self.spec.job) {
                Ok(Some(l)) => Some(l),
                Ok(None) => {
                    let why = "a restore is reading the job's snapshots: retention postponed to the next run";
                    log::warn(why);
                    let mut outcome = outcome;
                    outcome.warnings.push(why.to_owned());
                    let message = Some(outcome.warnings.join("; "));
                    return (RunResult::Success, exit::OK, Some(outcome), message);
                }
                Err(e) => {
                    let msg = format!("retention: {e}");
                    log::error(&msg);
                    return (RunResult::Failed, exit::FAILED, Some(outcome), Some(msg));
                }
            }
        };
        let retained = apply_retention(
            self.engine,
            &self.exec,
            &self.spec.retention,
            Some(&outcome.snapshot),
        );
        let mut outcome = outcome;
        if let Ok(Retained::Postponed(why)) = &retained {
            log::warn(why);
            outcome.warnings.push(why.clone());
        }
        let message = (!outcome.warnings.is_empty()).then(|| outcome.warnings.join("; "));
        if let Err(e) = retained {
            // The snapshot itself is good; the run still fails so that someone looks.
            log::error(format!("retention: {e}"));
            if signals::stop_requested() {
                let msg = format!("retention: {e}");
                return (
                    RunResult::Interrupted,
                    exit::FAILED,
                    Some(outcome),
                    Some(msg),
                );
            }
            return (
                RunResult::Failed,
                exit::FAILED,
                Some(outcome),
                Some(format!("retention: {e}")),
            );
        }
        (RunResult::Success, exit::OK, Some(outcome), message)
    }

    /// Writes the status file and the metrics; never in a dry run.
    fn record(
        &self,
        result: RunResult,
        code: u8,
        outcome: Option<&BackupOutcome>,
        message: Option<String>,
    ) {
        if self.exec.dry_run {
            return;
        }
        let end = Local::now().fixed_offset();
        let previous = status::read(self.state_dir, &self.spec.job).unwrap_or_else(|e| {
            log::warn(format!("ignoring the previous status: {e}"));
            None
        });
        let made_snapshot = outcome.map(|o| o.snapshot.id.clone());
        let last_success = if made_snapshot.is_some() {
            Some(LastSuccess {
                end,
                snapshot: made_snapshot.clone(),
            })
        } else {
            previous.and_then(|p| p.last_success)
        };
        let mut st = Status {
            host: self.spec.host.clone(),
            job: self.spec.job.clone(),
            result,
            exit_code: code,
            start: self.start,
            end,
            duration_seconds: (end - self.start).num_milliseconds() as f64 / 1000.0,
            snapshot: made_snapshot,
            files_total: 0,
            files_transferred: 0,
            bytes_total: 0,
            bytes_transferred: 0,
            files_new: None,
            files_changed: None,
            snapshots: self.engine.snapshots().ok().map(|s| s.len() as u64),
            message,
            last_success,
            metrics_error: None,
        };
        if let Some(o) = outcome {
            st.set_stats(&o.stats);
        }
        // Metrics first, so that the status can say they were not written.
        if let Some(dir) = self.metrics_dir {
            let text = metrics::render(
                &self.spec.host,
                &self.spec.job,
                Some(&st),
                self.spec.schedule.late_after_seconds,
                None,
            );
            if let Err(e) = metrics::write(dir, &self.spec.job, &text) {
                let why = metrics::not_written(&e, &metrics::metrics_path(dir, &self.spec.job));
                log::error(&why);
                st.metrics_not_written(why);
            }
        }
        if let Err(e) = status::write(self.state_dir, &st) {
            log::error(e.to_string());
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ForgetError {
    #[error(transparent)]
    Retention(#[from] RetentionError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The snapshots that `rules` would remove. The newest is always kept, whatever the rules
/// say. In a dry run `pending` is the snapshot the run would have made.
pub fn retention_victims(
    snapshots: &[Snapshot],
    rules: &Retention,
) -> Result<Vec<Snapshot>, RetentionError> {
    let times: Vec<_> = snapshots.iter().map(|s| s.time).collect();
    let decisions = retention::decide(&times, rules)?;
    let newest = snapshots.iter().map(|s| s.time).max();
    Ok(snapshots
        .iter()
        .zip(decisions)
        .filter(|(s, d)| !d.keep && Some(s.time) != newest)
        .map(|(s, _)| s.clone())
        .collect())
}

/// What retention did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retained {
    /// This many snapshots were removed.
    Removed(usize),
    /// Nothing was judged, for the reason given: a snapshot is dated in the future, so
    /// every bucket and `keep-within` would be measured from a wrong "newest" (see
    /// [`engine::clock`]).
    Postponed(String),
}

/// Applies the job's retention to its complete snapshots, logging every removal.
pub fn apply_retention(
    engine: &dyn Engine,
    exec: &Exec,
    rules: &Retention,
    made: Option<&Snapshot>,
) -> Result<Retained, ForgetError> {
    let mut snapshots = engine.snapshots()?;
    if let Some(made) = made {
        // In a dry run the new snapshot does not exist; count it as retention would.
        if !snapshots.iter().any(|s| s.id == made.id) {
            snapshots.push(made.clone());
        }
    }
    if let Some(future) = engine::clock::in_the_future(&snapshots) {
        return Ok(Retained::Postponed(format!(
            "retention postponed: snapshot {} is dated in the future of this machine's clock",
            future.id
        )));
    }
    let victims = retention_victims(&snapshots, rules)?;
    forget_logged(engine, exec, &victims, "retention")?;
    Ok(Retained::Removed(victims.len()))
}

/// Removes snapshots one at a time, logging each; stops early on a stop signal.
pub fn forget_logged(
    engine: &dyn Engine,
    exec: &Exec,
    victims: &[Snapshot],
    why: &str,
) -> Result<(), EngineError> {
    for victim in victims {
        if signals::stop_requested() {
            return Err(EngineError::Interrupted);
        }
        if exec.dry_run {
            log::info(format!("would remove snapshot {} ({why})", victim.id));
        } else {
            log::info(format!("removing snapshot {} ({why})", victim.id));
        }
        engine.forget(exec, std::slice::from_ref(victim))?;
    }
    Ok(())
}
