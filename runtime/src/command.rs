//! External commands: running them (output streamed to the log, stop signals forwarded)
//! and, for `--dry-run`, printing them shell-quoted instead.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};

use crate::{log, signals};

/// A program and its arguments, kept apart from execution so it can be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Extra environment variables. Never printed: they may hold secrets (restic's S3 keys).
    pub env: Vec<(OsString, OsString)>,
    /// The signal that asks the program to stop and clean up: passed on when bakrun is
    /// stopped, and sent when bakrun dies. SIGTERM, except for restic (see
    /// [`Command::stop_with`]).
    pub stop_signal: libc::c_int,
}

impl Command {
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            stop_signal: libc::SIGTERM,
        }
    }

    /// The program cleans up on `signal` rather than SIGTERM (restic 0.14 removes its
    /// repository lock only on SIGINT, and dies holding it on SIGTERM).
    pub fn stop_with(mut self, signal: libc::c_int) -> Self {
        self.stop_signal = signal;
        self
    }

    /// Adds an environment variable for the child only; [`Command::display`] leaves it out.
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The command as a shell would need it typed: every word quoted where needed.
    pub fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Quotes one word for a POSIX shell: plain words stay as they are, anything else goes in
/// single quotes. Bytes that are not UTF-8 are written as `$'\xNN'` so the line stays exact.
pub fn shell_quote(word: &OsStr) -> String {
    let bytes = word.as_bytes();
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(b);
    if !bytes.is_empty() && bytes.iter().all(plain) {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => format!("'{}'", text.replace('\'', "'\\''")),
        Err(_) => {
            let mut out = String::from("$'");
            for &b in bytes {
                match b {
                    b'\'' | b'\\' => {
                        out.push('\\');
                        out.push(b as char);
                    }
                    0x20..=0x7e => out.push(b as char),
                    _ => out.push_str(&format!("\\x{b:02x}")),
                }
            }
            out.push('\'');
            out
        }
    }
}

/// Lines of standard error kept for explaining a failure (the cause is near the end).
const STDERR_KEPT: usize = 50;

/// Descriptors every child inherits: the job's locks (see [`share_with_children`]).
static SHARED_FDS: [AtomicI32; 4] = [const { AtomicI32::new(-1) }; 4];

/// Makes every process bakrun starts from now on inherit `fd` (an `flock`ed lock), so that
/// the kernel frees the lock only when the last of them has exited: a killed bakrun's
/// rsync, still writing for a moment, keeps the next run out. Returns the slot to give
/// to [`stop_sharing`] before `fd` is closed; `None` when all slots are taken.
pub(crate) fn share_with_children(fd: RawFd) -> Option<usize> {
    SHARED_FDS.iter().position(|slot| {
        slot.compare_exchange(-1, fd, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    })
}

pub(crate) fn stop_sharing(slot: usize) {
    if let Some(s) = SHARED_FDS.get(slot) {
        s.store(-1, Ordering::SeqCst);
    }
}

/// The one way bakrun starts a process (every module builds its children here):
/// - the child gets its stop signal ([`Command::stop_signal`]) when bakrun dies, even by
///   SIGKILL (`PR_SET_PDEATHSIG`). The
///   kernel sends it when the *thread* that forked exits, so a child must be waited for by
///   the thread that started it (all of bakrun's are). It reaches only the direct child;
///   its own children (rsync's receiver, ssh) end when their pipes to it close, and
/// - the job's lock descriptors are inherited by the child and everything it starts, so
///   the lock stays taken until all of them are gone, and
/// - the in-memory secret files the command names (`/proc/self/fd/N`, see
///   [`crate::secret::named_by`]) are inherited by this child alone.
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
    let secrets = crate::secret::named_by(words);
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

/// How long a child may take to end after a stop signal was passed on to it.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits for `child`, to which the signal handler passes stop signals: one that ignores
/// SIGTERM is killed after [`STOP_GRACE`], so that a stop always ends the run.
pub(crate) fn wait_stoppable(child: &mut Child, program: &str) -> std::io::Result<ExitStatus> {
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

/// Reads a child's standard output line by line in a thread of its own, logging each at
/// debug level, so that waiting for the child never depends on it.
pub(crate) fn stdout_lines(
    stdout: Option<std::process::ChildStdout>,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        if let Some(stdout) = stdout {
            for line in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
                let line = String::from_utf8_lossy(&line).into_owned();
                log::debug(&line);
                lines.push(line);
            }
        }
        lines
    })
}

/// Runs `p` (built by [`process`] from `cmd`) to its end and collects both outputs, as
/// `std::process::Command::output` does, but a stop signal reaches it as
/// `cmd.stop_signal` and one that ignores it is killed after [`STOP_GRACE`]: for queries
/// (listings, `lvs`) that bakrun runs beside or between its steps.
pub(crate) fn output_stoppable(
    mut p: std::process::Command,
    cmd: &Command,
) -> std::io::Result<std::process::Output> {
    use std::io::Read;
    fn read_all<R: Read + Send + 'static>(stream: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut s) = stream {
                let _ = s.read_to_end(&mut buf);
            }
            buf
        })
    }
    p.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = p.spawn()?;
    let tracked = signals::track(child.id(), cmd.stop_signal);
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let status = wait_stoppable(&mut child, &cmd.program.to_string_lossy());
    drop(tracked);
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(std::process::Output {
        status: status?,
        stdout,
        stderr,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("waiting for {program} failed: {source}")]
    Wait {
        program: String,
        source: std::io::Error,
    },
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The exit code, or `None` when a signal ended it.
    pub code: Option<i32>,
    /// A stop signal reached bakrun while the command ran.
    pub interrupted: bool,
    /// Standard output, line by line (rsync's `--stats`).
    pub stdout: Vec<String>,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.interrupted
    }
}

/// Runs commands, or in dry-run mode prints them on standard output and runs nothing.
#[derive(Debug, Clone, Copy)]
pub struct Exec {
    pub dry_run: bool,
}

impl Exec {
    /// Runs `cmd`; its standard output is collected and logged at debug level, its standard
    /// error logged as warnings (what rsync prints there is a problem worth seeing).
    pub fn run(&self, cmd: &Command) -> Result<Finished, CommandError> {
        Ok(self.run_with(cmd, true)?.0)
    }

    /// Like [`Exec::run`], also returning the last lines of standard error, which say why
    /// a command failed better than its exit code (see `engine::exit_reason`).
    pub fn run_explained(&self, cmd: &Command) -> Result<(Finished, Vec<String>), CommandError> {
        self.run_with(cmd, true)
    }

    /// Like [`Exec::run`], but a stop signal is not passed on to the command: for short
    /// commands that must finish once started (lvcreate, umount, lvremove — a snapshot
    /// half-made or half-removed is worse than a second's wait). The caller checks
    /// [`signals::stop_requested`] between them.
    pub fn run_to_end(&self, cmd: &Command) -> Result<Finished, CommandError> {
        Ok(self.run_with(cmd, false)?.0)
    }

    fn run_with(
        &self,
        cmd: &Command,
        forward_stop: bool,
    ) -> Result<(Finished, Vec<String>), CommandError> {
        if self.dry_run {
            println!("{}", cmd.display());
            let done = Finished {
                code: Some(0),
                interrupted: false,
                stdout: Vec::new(),
            };
            return Ok((done, Vec::new()));
        }
        log::debug(format!("running: {}", cmd.display()));
        let program = cmd.program.to_string_lossy().into_owned();
        let mut process = process(cmd);
        process
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = process.spawn().map_err(|source| CommandError::Spawn {
            program: program.clone(),
            source,
        })?;
        let tracked = forward_stop.then(|| signals::track(child.id(), cmd.stop_signal));
        let stderr = child.stderr.take();
        let err_thread = std::thread::spawn(move || {
            let mut tail = std::collections::VecDeque::new();
            if let Some(stderr) = stderr {
                for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
                    let line = String::from_utf8_lossy(&line).into_owned();
                    log::warn(&line);
                    if tail.len() == STDERR_KEPT {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            }
            Vec::from(tail)
        });
        let out_thread = stdout_lines(child.stdout.take());
        let status = if forward_stop {
            wait_stoppable(&mut child, &program)
        } else {
            child.wait()
        };
        drop(tracked);
        let stdout_lines = out_thread.join().unwrap_or_default();
        let stderr = err_thread.join().unwrap_or_default();
        let status = status.map_err(|source| CommandError::Wait {
            program: program.clone(),
            source,
        })?;
        log::debug(format!("{program} exited: {status}"));
        Ok((
            Finished {
                code: status.code(),
                interrupted: signals::stop_requested(),
                stdout: stdout_lines,
            },
            stderr,
        ))
    }

    /// In dry-run mode, prints a file-system action bakrun would take itself, as a comment.
    pub fn note(&self, action: impl AsRef<str>) {
        if self.dry_run {
            println!("# {}", action.as_ref());
        } else {
            log::debug(action.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_a_shell_would_split() {
        let c = Command::new("rsync").args([
            "-a",
            "/plain/path",
            "with space",
            "it's",
            "",
            "--exclude=*.tmp",
            "ünï",
        ]);
        assert_eq!(
            c.display(),
            "rsync -a /plain/path 'with space' 'it'\\''s' '' '--exclude=*.tmp' 'ünï'"
        );
        let raw = OsStr::from_bytes(b"a\xffb");
        assert_eq!(shell_quote(raw), "$'a\\xffb'");
    }
}
