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
                kill_tree(child);
                return child.wait();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Kills `child` and every process below it. A child killed alone leaves its own children
/// (restic's ssh, rsync's receiver, a script's background commands) running when they hold
/// no pipe to it; the parent-death signal reaches only the direct child. The descendants
/// are found before the child dies, while they still hang below it. A descendant that
/// ends and whose pid is reused in the few microseconds between reading `/proc` and the
/// kill is the one race left; the unit's control-group kill covers jobs under systemd.
pub fn kill_tree(child: &mut Child) {
    let below = descendants(child.id());
    let _ = child.kill();
    for pid in below {
        // SAFETY: kill has no memory preconditions.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// The pids of every process below `pid` (children, theirs, …), read from `/proc`.
fn descendants(pid: u32) -> Vec<libc::pid_t> {
    let Ok(parent) = libc::pid_t::try_from(pid) else {
        return Vec::new();
    };
    let mut links: Vec<(libc::pid_t, libc::pid_t)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(ppid) = parent_in_stat(&stat) {
            links.push((p, ppid));
        }
    }
    let mut found = vec![parent];
    let mut next = 0;
    while let Some(&above) = found.get(next) {
        for &(p, ppid) in &links {
            if ppid == above && !found.contains(&p) {
                found.push(p);
            }
        }
        next += 1;
    }
    found.remove(0);
    found
}

/// The parent pid in a `/proc/<pid>/stat` line: `pid (comm) state ppid …`, where the
/// command name may hold spaces and parentheses, so fields are read after the last `)`.
fn parent_in_stat(stat: &str) -> Option<libc::pid_t> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
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

    /// Stops a child that runs until told to (a throwaway database server): its stop
    /// signal, then, if it has not ended within `grace`, a kill of it and of everything
    /// below it. Reaped before it stops being tracked, also when it had ended already.
    pub fn stop(mut self, grace: std::time::Duration) -> std::io::Result<ExitStatus> {
        if self.child.try_wait()?.is_none() {
            if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
                // SAFETY: kill has no memory preconditions; not reaped, so the pid is ours.
                unsafe { libc::kill(pid, self.stop_signal) };
            }
            let deadline = std::time::Instant::now() + grace;
            while self.child.try_wait()?.is_none() {
                if std::time::Instant::now() >= deadline {
                    log::warn(format!(
                        "{} did not stop within {} s: killing it",
                        self.program,
                        grace.as_secs()
                    ));
                    kill_tree(&mut self.child);
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let status = self.child.wait();
        drop(self.tracked.take());
        status
    }

    /// Whether the child has ended (then reaped; [`Running::stop`] still untracks it).
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Kills the child at once if a stop was requested: a pipe's producer, once its
    /// consumer has ended, has no one left to clean up for.
    pub fn kill_if_stopped(&mut self) {
        if signals::stop_requested() {
            // Not waited for yet: the pid is still this child's.
            kill_tree(&mut self.child);
        }
    }

    /// Kills and reaps a child that is no longer wanted (its pipe's other end could not
    /// start).
    pub fn abandon(mut self) {
        kill_tree(&mut self.child);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_is_read_after_the_command_name() {
        assert_eq!(parent_in_stat("42 (sleep) S 7 42 42 0 -1"), Some(7));
        assert_eq!(parent_in_stat("42 (a) b) (c) R 9 1 1"), Some(9));
        assert_eq!(parent_in_stat("garbage"), None);
    }

    #[test]
    fn a_killed_child_takes_its_children_with_it() {
        // A shell whose background sleep ignores SIGTERM and holds no pipe to it.
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "trap '' TERM; sleep 300 </dev/null >/dev/null 2>&1 & echo $!; wait",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let grandchild: libc::pid_t = line.trim().parse().unwrap();
        assert!(descendants(child.id()).contains(&grandchild));
        kill_tree(&mut child);
        child.wait().unwrap();
        // Dead and, once its new parent reaps it, gone; a zombie counts as dead.
        let gone = (0..100).any(|_| {
            let state = std::fs::read_to_string(format!("/proc/{grandchild}/stat"));
            let dead = state.map_or(true, |s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            });
            if !dead {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            dead
        });
        assert!(
            gone,
            "the grandchild {grandchild} outlived its killed parent"
        );
    }
}
