//! External commands: running them (output streamed to the log, stop signals forwarded)
//! and, for `--dry-run`, printing them shell-quoted instead.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use crate::{log, signals};

/// A program and its arguments, kept apart from execution so it can be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Extra environment variables. Never printed: they may hold secrets (restic's S3 keys).
    pub env: Vec<(OsString, OsString)>,
}

impl Command {
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
        }
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
        self.run_with(cmd, true)
    }

    /// Like [`Exec::run`], but a stop signal is not passed on to the command: for short
    /// commands that must finish once started (lvcreate, umount, lvremove — a snapshot
    /// half-made or half-removed is worse than a second's wait). The caller checks
    /// [`signals::stop_requested`] between them.
    pub fn run_to_end(&self, cmd: &Command) -> Result<Finished, CommandError> {
        self.run_with(cmd, false)
    }

    fn run_with(&self, cmd: &Command, forward_stop: bool) -> Result<Finished, CommandError> {
        if self.dry_run {
            println!("{}", cmd.display());
            return Ok(Finished {
                code: Some(0),
                interrupted: false,
                stdout: Vec::new(),
            });
        }
        log::debug(format!("running: {}", cmd.display()));
        let program = cmd.program.to_string_lossy().into_owned();
        let mut process = std::process::Command::new(&cmd.program);
        process
            .args(&cmd.args)
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: prctl is async-signal-safe. If bakrun itself is killed with SIGKILL, the
        // engine gets SIGTERM rather than running on unsupervised.
        unsafe {
            process.pre_exec(|| {
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGTERM as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                Ok(())
            });
        }
        let mut child = process.spawn().map_err(|source| CommandError::Spawn {
            program: program.clone(),
            source,
        })?;
        if forward_stop {
            signals::set_child(child.id());
        }
        let stderr = child.stderr.take();
        let err_thread = std::thread::spawn(move || {
            if let Some(stderr) = stderr {
                for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
                    log::warn(String::from_utf8_lossy(&line));
                }
            }
        });
        let mut stdout_lines = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            for line in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
                let line = String::from_utf8_lossy(&line).into_owned();
                log::debug(&line);
                stdout_lines.push(line);
            }
        }
        let status = child.wait();
        if forward_stop {
            signals::clear_child();
        }
        let _ = err_thread.join();
        let status = status.map_err(|source| CommandError::Wait {
            program: program.clone(),
            source,
        })?;
        log::debug(format!("{program} exited: {status}"));
        Ok(Finished {
            code: status.code(),
            interrupted: signals::stop_requested(),
            stdout: stdout_lines,
        })
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
