//! Starting a child the one way bakrun does: the parent-death signal, the job's lock
//! descriptors and the command's own in-memory secret files inherited, and the child
//! recorded for stop signals until it has been waited for.

use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdout, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};

use super::{Command, CommandError};
use crate::signals::{self, Tracked};

/// Descriptors every child inherits: the job's locks (see [`share_with_children`]).
static SHARED_FDS: [AtomicI32; 4] = [const { AtomicI32::new(-1) }; 4];

/// Makes every process bakrun starts from now on inherit `fd` (an `flock`ed lock), so that
/// the kernel frees the lock only when the last of them has exited: a killed bakrun's
/// rsync, still writing for a moment, keeps the next run out. Returns the slot to give
/// to [`stop_sharing`] before `fd` is closed; `None` when all slots are taken.
pub fn share_with_children(fd: RawFd) -> Option<usize> {
    SHARED_FDS.iter().position(|slot| {
        slot.compare_exchange(-1, fd, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    })
}

pub fn stop_sharing(slot: usize) {
    if let Some(s) = SHARED_FDS.get(slot) {
        s.store(-1, Ordering::SeqCst);
    }
}

/// The builder every child of bakrun comes from (callers that need more than
/// [`start`] offers add to it, and start it with [`Running::spawn`]):
/// - the child gets its stop signal ([`Command::stop_signal`]) when bakrun dies, even by
///   SIGKILL (`PR_SET_PDEATHSIG`). The kernel sends it when the *thread* that forked
///   exits, so a child must be waited for by the thread that started it (all of bakrun's
///   are). It reaches only the direct child; its own children (rsync's receiver, ssh) end
///   when their pipes to it close, and
/// - the job's lock descriptors are inherited by the child and everything it starts, so
///   the lock stays taken until all of them are gone, and
/// - the in-memory secret files the command names (`/proc/self/fd/N`, see
///   [`crate::private_file::named_by`]) are inherited by this child alone.
///
/// A bakrun that died between fork and `prctl` would never send the signal: the child
/// checks its parent and gives up.
pub fn process(cmd: &Command) -> std::process::Command {
    let mut p = std::process::Command::new(&cmd.program);
    p.args(&cmd.args).envs(cmd.env.iter().map(|(k, v)| (k, v)));
    // The in-memory secret files (`/proc/self/fd/N`) this command names, and no others.
    let words = cmd
        .args
        .iter()
        .chain(cmd.env.iter().map(|(_, v)| v))
        .map(|w| w.as_os_str());
    let secrets = crate::private_file::named_by(words);
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    let death_signal = cmd.stop_signal as libc::c_ulong;
    // SAFETY: prctl, getppid and fcntl are async-signal-safe and the closure only reads
    // atomics; nothing allocates between fork and exec.
    unsafe {
        p.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, death_signal, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            // Clearing close-on-exec between fork and exec affects this child alone.
            for fd in &secrets {
                if libc::fcntl(*fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for slot in &SHARED_FDS {
                let fd = slot.load(Ordering::SeqCst);
                if fd >= 0 {
                    libc::fcntl(fd, libc::F_SETFD, 0);
                }
            }
            Ok(())
        });
    }
    p
}

/// Whether a stop signal reaching bakrun is passed on to a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Passed on as the command's [`Command::stop_signal`]; a child deaf to it is killed
    /// after the grace period.
    Forward,
    /// Not passed on: short commands that must finish once started (lvcreate, umount), so
    /// that a snapshot is never left half-made; the caller checks for a stop between them.
    RunToEnd,
}

/// A child bakrun started, with its standard error piped: a stop signal reaches it (with
/// [`Stop::Forward`]) until it has been waited for, which also reaps it.
#[derive(Debug)]
#[must_use = "a started child must be waited for"]
pub struct Running {
    pub(super) child: Child,
    pub(super) program: String,
    pub(super) tracked: Option<Tracked>,
    /// The signal that asks it to stop ([`Command::stop_signal`]).
    pub(super) stop_signal: libc::c_int,
}

/// Starts `cmd` with the given standard input and output; standard error is piped, to be
/// read with [`Running::stderr`].
pub fn start(
    cmd: &Command,
    stdin: Stdio,
    stdout: Stdio,
    stop: Stop,
) -> Result<Running, CommandError> {
    let mut p = process(cmd);
    p.stdin(stdin).stdout(stdout).stderr(Stdio::piped());
    Running::spawn(p, cmd, stop).map_err(|source| CommandError::Spawn {
        program: cmd.program.to_string_lossy().into_owned(),
        source,
    })
}

impl Running {
    /// Spawns `p`, built by [`process`] from `cmd`, and records it for stop signals. If a
    /// stop came before, the child is told at once (see [`signals::track`]).
    pub fn spawn(mut p: std::process::Command, cmd: &Command, stop: Stop) -> std::io::Result<Self> {
        let child = p.spawn()?;
        let tracked = (stop == Stop::Forward).then(|| signals::track(child.id(), cmd.stop_signal));
        Ok(Self {
            child,
            program: cmd.program.to_string_lossy().into_owned(),
            tracked,
            stop_signal: cmd.stop_signal,
        })
    }

    pub fn stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    pub fn stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    pub fn program(&self) -> &str {
        &self.program
    }
}
