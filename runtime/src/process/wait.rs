//! Waiting for a child: a stop signal ends the wait promptly (a child deaf to it is killed
//! after [`STOP_GRACE`]), and the child is reaped before it stops being tracked, so a
//! forwarded signal never reaches a recycled pid.

use std::process::{Child, ExitStatus, Stdio};

use super::output;
use super::spawn::{Running, Stop};
use super::{Command, CommandError};
use crate::{log, signals};

/// How long a child may take to end after a stop signal was passed on to it.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits for `child`, to which the signal handler passes stop signals: one that ignores
/// its stop signal is killed after [`STOP_GRACE`], so that a stop always ends the run.
pub fn wait_stoppable(child: &mut Child, program: &str) -> std::io::Result<ExitStatus> {
    let mut stop_seen: Option<std::time::Instant> = None;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if signals::stop_requested() {
            let since = *stop_seen.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() > STOP_GRACE {
                log::warn(format!(
                    "{program} ignored the stop signal for {} s: killing it",
                    STOP_GRACE.as_secs()
                ));
                // Not reaped yet (try_wait said so): the pid is still this child's.
                let _ = child.kill();
                return child.wait();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

impl Running {
    /// Waits for the child to end (stoppable when it was started with [`Stop::Forward`])
    /// and reaps it; only then is it forgotten by the signal handler.
    pub fn wait(mut self) -> std::io::Result<ExitStatus> {
        let status = if self.tracked.is_some() {
            wait_stoppable(&mut self.child, &self.program)
        } else {
            self.child.wait()
        };
        drop(self.tracked.take());
        status
    }

    /// [`Running::wait`], its failure named for the program.
    pub fn finish(self) -> Result<ExitStatus, CommandError> {
        let program = self.program.clone();
        self.wait()
            .map_err(|source| CommandError::Wait { program, source })
    }

    /// Kills the child at once if a stop was requested: a pipe's producer, once its
    /// consumer has ended, has no one left to clean up for.
    pub fn kill_if_stopped(&mut self) {
        if signals::stop_requested() {
            // Not waited for yet: the pid is still this child's.
            let _ = self.child.kill();
        }
    }

    /// Kills and reaps a child that is no longer wanted (its pipe's other end could not
    /// start).
    pub fn abandon(mut self) {
        let _ = self.child.kill();
        let _ = self.wait();
    }
}

/// What [`run`] returns: how the child ended and what its two line sinks gathered.
#[derive(Debug)]
pub struct Ran<O, E> {
    pub status: ExitStatus,
    pub stdout: O,
    pub stderr: E,
}

/// Runs `cmd` to its end with no standard input and its standard output to `stdout`;
/// what it prints there (when piped) goes line by line to `out`, its standard error to
/// `err`, each read in a thread of its own so that waiting never depends on them.
pub fn run<O: output::LineSink, E: output::LineSink>(
    cmd: &Command,
    stdout: Stdio,
    stop: Stop,
    out: O,
    err: E,
) -> Result<Ran<O, E>, CommandError> {
    let mut child = super::start(cmd, Stdio::null(), stdout, stop)?;
    let out = output::lines(child.stdout(), out);
    let err = output::lines(child.stderr(), err);
    let status = child.finish();
    Ok(Ran {
        status: status?,
        stdout: output::joined(out),
        stderr: output::joined(err),
    })
}

/// Runs `p` (built by [`super::process`] from `cmd`) to its end and collects both outputs,
/// as `std::process::Command::output` does, but a stop signal reaches it as
/// `cmd.stop_signal` and one that ignores it is killed after [`STOP_GRACE`]: for queries
/// (listings, password commands) that bakrun runs beside or between its steps.
pub fn output_stoppable(
    mut p: std::process::Command,
    cmd: &Command,
) -> std::io::Result<std::process::Output> {
    p.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Running::spawn(p, cmd, Stop::Forward)?;
    let stdout = output::bytes(child.stdout());
    let stderr = output::bytes(child.stderr());
    let status = child.wait();
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(std::process::Output {
        status: status?,
        stdout,
        stderr,
    })
}
