//! Running the restic commands that change a repository, past other restics' locks:
//! restic 0.14 fails at once on a locked repository, so bakrun waits out a lock that may be
//! live and clears a stale one (see [`super::lock`]) with `restic unlock`, then tries again.

use super::failure::{self, Exit, ResticFailure, Said};
use super::lock;
use super::run_files::{Recorder, Recording};
use super::Restic;
use crate::command::{Command, Exec, Finished};
use crate::engine::EngineError;
use crate::process::{self, output};
use crate::{log, signals};

impl Restic {
    /// Runs a restic command that changes the repository (or prints it in a dry run),
    /// like [`Exec::run`], through [`Restic::until_unlocked`].
    pub(super) fn run(&self, exec: &Exec, cmd: &Command) -> Result<Ran, EngineError> {
        if exec.dry_run {
            return Ok(Ran {
                finished: exec.run(cmd)?,
                exit: Exit::Code(0),
                said: Said::default(),
            });
        }
        self.until_unlocked(|| {
            let ran = run_capturing(cmd)?;
            let failed = !ran.finished.success() && !ran.finished.interrupted;
            let said = failed.then(|| ran.said.text());
            Ok((ran, said))
        })
    }

    /// [`Restic::run`] of a `restic backup -vv` whose named files go into a record at
    /// `target` (see [`super::run_files`]), started afresh by each attempt; the record is
    /// returned unfinished, for the caller to finish once the run is made.
    pub(super) fn run_recording(
        &self,
        cmd: &Command,
        target: &std::path::Path,
    ) -> Result<(Ran, Option<Recorder>), EngineError> {
        self.until_unlocked(|| {
            let sink = Recording {
                stdout: output::Stdout::of(cmd),
                recorder: Recorder::create(target),
            };
            let (ran, sink) = run_into(cmd, sink, |s| std::mem::take(&mut s.stdout.0))?;
            let failed = !ran.finished.success() && !ran.finished.interrupted;
            let said = failed.then(|| ran.said.text());
            Ok(((ran, sink.recorder), said))
        })
    }

    /// [`Restic::run`] counting the lines of standard output `counts` accepts, none kept
    /// (a `restic backup --dry-run -vv` names every file of the sources).
    pub(super) fn run_counting(
        &self,
        cmd: &Command,
        counts: fn(&str) -> bool,
    ) -> Result<(Ran, u64), EngineError> {
        self.until_unlocked(|| {
            let (ran, sink) = run_into(cmd, output::Counted::of(counts), |_| Vec::new())?;
            let failed = !ran.finished.success() && !ran.finished.interrupted;
            let said = failed.then(|| ran.said.text());
            Ok(((ran, sink.lines), said))
        })
    }

    /// Runs `attempt` (which returns what restic said when it failed) until restic is not
    /// stopped by another's lock. restic 0.14 fails at once on a locked repository: a lock
    /// that may be live (a prune, another job sharing the repository) is waited for, with
    /// backoff, for up to [`lock_wait`], and the run then fails naming the holder; a stale
    /// one (see [`lock`]) is removed with `restic unlock` and the attempt made again at
    /// once. So the unlock costs a restic call only when a lock stopped restic.
    pub(super) fn until_unlocked<T>(
        &self,
        mut attempt: impl FnMut() -> Result<(T, Option<String>), EngineError>,
    ) -> Result<T, EngineError> {
        let started = std::time::Instant::now();
        let mut delay = std::time::Duration::from_secs(1);
        // The locks (storage ids) already unlocked: restic may disagree that one is stale.
        let mut unlocked: Vec<Option<String>> = Vec::new();
        loop {
            let (result, said) = attempt()?;
            let Some(said) = said.filter(|text| text.contains(lock::LOCKED)) else {
                return Ok(result);
            };
            let holder = lock::Holder::parse(&said);
            let key = holder.as_ref().and_then(|h| h.storage_id.clone());
            let shown = holder
                .as_ref()
                .map_or_else(|| failure::restic_reason(&said), ToString::to_string);
            let verdict = match &holder {
                Some(h) => h.judge(&lock::this_host()),
                None => lock::Verdict::Stale(
                    "restic named no holder bakrun can read; `restic unlock` applies restic's own rule".into(),
                ),
            };
            let why = match verdict {
                lock::Verdict::Stale(why) if !unlocked.contains(&key) => {
                    log::warn(format!(
                        "removing the stale restic lock of {shown} ({why}): restic unlock"
                    ));
                    self.unlock()?;
                    unlocked.push(key);
                    continue;
                }
                lock::Verdict::Stale(_) => "`restic unlock` did not remove it".to_owned(),
                lock::Verdict::Live(why) => why,
            };
            if started.elapsed() + delay > lock_wait() {
                return Err(ResticFailure::Locked {
                    repository: self.repository.clone(),
                    holder: shown,
                    waited_seconds: started.elapsed().as_secs(),
                    why,
                }
                .into());
            }
            log::info(format!(
                "repository locked by {shown} ({why}); retrying in {}s",
                delay.as_secs()
            ));
            sleep_unless_stopped(delay)?;
            delay = (delay * 2).min(std::time::Duration::from_secs(30));
        }
    }

    /// `restic unlock`: removes the locks restic itself counts as stale, never live ones
    /// (no `--remove-all`). Its failure is logged; the retried command then says more.
    fn unlock(&self) -> Result<(), EngineError> {
        let ran = run_capturing(&self.restic()?.arg("unlock"))?;
        if ran.finished.interrupted {
            return Err(EngineError::Interrupted);
        }
        if !ran.finished.success() {
            log::warn(format!(
                "restic unlock failed: {}",
                self.failure(ran.exit, &ran.said)
            ));
        }
        Ok(())
    }
}

/// How long a restic command waits for a locked repository: 30 minutes (a prune of a
/// large repository), or `BAKRUN_RESTIC_LOCK_WAIT` seconds.
fn lock_wait() -> std::time::Duration {
    let secs = std::env::var("BAKRUN_RESTIC_LOCK_WAIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1800);
    std::time::Duration::from_secs(secs)
}

/// How a restic command ended and what it said on standard error.
pub(super) struct Ran {
    pub finished: Finished,
    pub exit: Exit,
    pub said: Said,
}

/// Runs `cmd` like [`Exec::run`] (standard output collected, standard error logged, stop
/// signals passed on as SIGINT, a restic deaf to it killed after the grace period) and
/// keeps what restic said on standard error.
pub(super) fn run_capturing(cmd: &Command) -> Result<Ran, EngineError> {
    Ok(run_into(cmd, output::Stdout::of(cmd), |s| std::mem::take(&mut s.0))?.0)
}

/// [`run_capturing`] with standard output into `sink`, whose kept lines `lines` takes out;
/// the sink is returned too.
fn run_into<S: output::LineSink>(
    cmd: &Command,
    sink: S,
    lines: impl FnOnce(&mut S) -> Vec<String>,
) -> Result<(Ran, S), EngineError> {
    log::debug(format!("running: {}", cmd.display()));
    let mut ran = process::run(
        cmd,
        std::process::Stdio::piped(),
        process::Stop::Forward,
        sink,
        Logged::default(),
    )?;
    let ran_lines = lines(&mut ran.stdout);
    Ok((
        Ran {
            finished: Finished::of(&ran.status, ran_lines),
            exit: Exit::of(&ran.status),
            said: ran.stderr.0,
        },
        ran.stdout,
    ))
}

/// restic's standard error: logged as warnings, and kept as [`Said`].
#[derive(Default)]
struct Logged(Said);

impl output::LineSink for Logged {
    fn line(&mut self, line: String) {
        log::warn(&line);
        self.0.push(line);
    }
}

/// Sleeps `delay`, waking early (with [`EngineError::Interrupted`]) on a stop signal.
fn sleep_unless_stopped(delay: std::time::Duration) -> Result<(), EngineError> {
    signals::sleep(delay).map_err(|signals::Stopped| EngineError::Interrupted)
}
