//! What a restic command that failed means, in words for the status file: restic 0.14's
//! exit codes (0 done, 1 fatal error and no snapshot, 3 a snapshot without some source
//! files, 130 interrupted) or the signal that killed it, read with what it printed on
//! standard error. "restic failed with exit code 1" alone tells nobody what to do.

use std::os::unix::process::ExitStatusExt;

use super::lock::{Holder, LOCKED};
use crate::engine::EngineError;
use crate::secret;
use crate::spec::SecretRef;

/// restic's exit code when some source files could not be read: the snapshot exists but
/// lacks them, like rsync's "files vanished".
pub const PARTIAL: i32 = 3;

/// How a restic process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    pub fn of(status: &std::process::ExitStatus) -> Exit {
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        }
    }
}

/// restic's standard error as bakrun keeps it: the first lines (where restic names a lock
/// holder) and the last ones (its `Fatal:`), so that thousands of unreadable files cost
/// no memory.
#[derive(Debug, Clone, Default)]
pub struct Said {
    head: Vec<String>,
    tail: std::collections::VecDeque<String>,
    /// Lines not kept.
    dropped: usize,
    /// `error: …` lines: files restic could not read.
    pub errors: usize,
    pub first_error: Option<String>,
}

const KEEP: usize = 40;

impl Said {
    pub fn push(&mut self, line: String) {
        if let Some(e) = line.strip_prefix("error: ") {
            self.errors += 1;
            if self.first_error.is_none() {
                self.first_error = Some(e.to_owned());
            }
        }
        if self.head.len() < KEEP {
            self.head.push(line);
            return;
        }
        self.tail.push_back(line);
        if self.tail.len() > KEEP {
            self.tail.pop_front();
            self.dropped += 1;
        }
    }

    pub fn text(&self) -> String {
        let mut out = self.head.join("\n");
        if self.dropped > 0 {
            out.push_str(&format!("\n… {} more lines …", self.dropped));
        }
        for line in &self.tail {
            out.push('\n');
            out.push_str(line);
        }
        out
    }

    pub fn from_text(text: &str) -> Said {
        let mut said = Said::default();
        for line in text.lines() {
            said.push(line.to_owned());
        }
        said
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResticFailure {
    #[error("the restic repository {repository} is locked by {holder}; bakrun waited {waited_seconds}s and left the lock because {why}. If that restic is gone, run `restic unlock` (or, once sure no restic uses the repository, `restic unlock --remove-all`)")]
    Locked {
        repository: String,
        holder: String,
        waited_seconds: u64,
        why: String,
    },
    #[error("restic ran out of disk space (no space left on device): {reason}")]
    DiskFull { reason: String },
    #[error("restic was killed by {signal}{hint}")]
    Killed { signal: String, hint: &'static str },
    #[error("restic was interrupted (exit code 130): {reason}")]
    Interrupted { reason: String },
    #[error("restic failed with exit code {code}: {reason}")]
    Exit { code: i32, reason: String },
}

/// Who asked restic: names the repository and the password's source in messages.
pub struct Context<'a> {
    pub repository: &'a str,
    pub password: &'a SecretRef,
    pub job: &'a str,
}

/// What went wrong, from how restic ended and what it said. Names the failures to open a
/// repository ("wrong password", "cannot reach", "run `bakrun init`") apart, since restic
/// prints "Is there a repository at the following location?" for a missing repository
/// and an unreachable server alike.
pub fn classify(ctx: &Context<'_>, exit: Exit, said: &Said) -> EngineError {
    let stderr = said.text();
    let reason = restic_reason(&stderr);
    let repository = ctx.repository.to_owned();
    let lower = stderr.to_lowercase();
    let code = match exit {
        Exit::Code(code) => code,
        Exit::Signal(signal) => {
            return ResticFailure::Killed {
                signal: signal_name(signal),
                hint: if signal == libc::SIGKILL {
                    " (often the kernel's out-of-memory killer: see `journalctl -k`)"
                } else {
                    ""
                },
            }
            .into()
        }
    };
    if lower.contains("wrong password or no key found") {
        EngineError::WrongPassword {
            repository,
            password: secret::describe(ctx.password),
        }
    } else if stderr.contains(LOCKED) {
        ResticFailure::Locked {
            repository,
            holder: Holder::parse(&stderr).map_or_else(|| reason.clone(), |h| h.to_string()),
            waited_seconds: 0,
            why: "this command does not wait".into(),
        }
        .into()
    } else if lower.contains("no space left on device") {
        ResticFailure::DiskFull { reason }.into()
    } else if looks_unreachable(&lower) {
        EngineError::Unreachable { repository, reason }
    } else if stderr.contains(NO_REPOSITORY) {
        EngineError::NoRepository {
            repository,
            job: ctx.job.to_owned(),
            reason,
        }
    } else if code == 130 {
        ResticFailure::Interrupted { reason }.into()
    } else {
        ResticFailure::Exit { code, reason }.into()
    }
}

/// The warning of a snapshot restic made without some files (exit code 3).
pub fn unreadable(said: &Said) -> String {
    match (&said.first_error, said.errors) {
        (Some(first), n) => format!(
            "restic could not read {n} source file(s) (first: {first}); the snapshot lacks them"
        ),
        (None, _) => "restic could not read some source files; the snapshot lacks them".into(),
    }
}

/// `SIGKILL`, `SIGTERM`… or the number.
fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGBUS => "SIGBUS",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}

/// What restic prints under a repository it cannot open, missing or unreachable.
pub const NO_REPOSITORY: &str = "Is there a repository at the following location?";

/// restic's complaint without its "Is there a repository…" hint and the location after
/// it (said by bakrun's own message), one line.
pub fn restic_reason(stderr: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut lines = stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    while let Some(line) = lines.next() {
        if line == NO_REPOSITORY {
            // The next line is the repository's location.
            lines.next();
            continue;
        }
        out.push(line.strip_prefix("Fatal: ").unwrap_or(line));
    }
    if out.is_empty() {
        "no reason given".into()
    } else {
        out.join("; ")
    }
}

/// Whether restic's (lower-cased) standard error says the server could not be reached,
/// as opposed to reached and found without a repository.
pub fn looks_unreachable(lower: &str) -> bool {
    [
        "connection refused",
        "dial tcp",
        "no such host",
        "i/o timeout",
        "network is unreachable",
        "no route to host",
        "connection reset",
        "tls handshake",
        "x509:",
        "subprocess ssh",
        "unable to start the sftp session",
    ]
    .iter()
    .any(|m| lower.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(text: &str) -> Said {
        Said::from_text(text)
    }

    fn ctx() -> Context<'static> {
        static PW: std::sync::OnceLock<SecretRef> = std::sync::OnceLock::new();
        Context {
            repository: "/r",
            password: PW.get_or_init(|| SecretRef::File {
                path: "/etc/pw".into(),
            }),
            job: "files",
        }
    }

    #[test]
    fn says_what_restics_exit_codes_and_words_mean() {
        let c = ctx();
        let text = |exit, stderr: &str| classify(&c, exit, &said(stderr)).to_string();
        assert_eq!(
            text(Exit::Code(1), "Fatal: unable to save snapshot: write /r/data/d5/x-tmp: no space left on device\n"),
            "restic ran out of disk space (no space left on device): unable to save snapshot: write /r/data/d5/x-tmp: no space left on device"
        );
        assert!(
            text(Exit::Code(1), "Fatal: wrong password or no key found\n")
                .contains("the password from file /etc/pw does not open")
        );
        let locked = text(
            Exit::Code(1),
            "unable to create lock in backend: repository is already locked by PID 7 on h by root (UID 0, GID 0)\nlock was created at 2026-12-01 10:14:16 (1s ago)\nstorage ID 10a5bb52\n",
        );
        assert!(
            locked.starts_with("the restic repository /r is locked by PID 7 on host h by root"),
            "{locked}"
        );
        let killed = text(Exit::Signal(libc::SIGKILL), "");
        assert!(
            killed.starts_with(
                "restic was killed by SIGKILL (often the kernel's out-of-memory killer"
            ),
            "{killed}"
        );
        assert_eq!(
            text(Exit::Signal(libc::SIGTERM), ""),
            "restic was killed by SIGTERM"
        );
        assert_eq!(
            text(
                Exit::Code(1),
                "Fatal: unable to open repository: something odd\n"
            ),
            "restic failed with exit code 1: unable to open repository: something odd"
        );
        assert_eq!(
            text(Exit::Code(130), "signal interrupt received, cleaning up\n"),
            "restic was interrupted (exit code 130): signal interrupt received, cleaning up"
        );
    }

    #[test]
    fn counts_unreadable_files_and_keeps_stderr_bounded() {
        let mut s = Said::default();
        for i in 0..1000 {
            s.push(format!("error: open /src/f{i}: permission denied"));
        }
        s.push("Warning: at least one source file could not be read".into());
        assert_eq!(
            unreadable(&s),
            "restic could not read 1000 source file(s) (first: open /src/f0: permission denied); the snapshot lacks them"
        );
        let text = s.text();
        assert!(text.lines().count() <= 2 * KEEP + 1, "{text}");
        assert!(text.ends_with("could not be read"));
        assert!(text.contains("… 921 more lines …"), "{text}");
    }

    #[test]
    fn names_restics_failure_to_open_a_repository() {
        let missing = "Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?\n/r\n";
        assert_eq!(
            restic_reason(missing),
            "unable to open config file: stat /r/config: no such file or directory"
        );
        assert!(!looks_unreachable(&missing.to_lowercase()));
        let refused = "Fatal: unable to open config file: client.Head: Head \"http://127.0.0.1:1/x/config\": dial tcp 127.0.0.1:1: connect: connection refused\nIs there a repository at the following location?\nrest:http://127.0.0.1:1/x/\n";
        assert!(looks_unreachable(&refused.to_lowercase()));
        let ssh = "subprocess ssh: Host key verification failed.\nFatal: unable to open repository at sftp:h:/r: unable to start the sftp session, error: EOF\n";
        assert!(looks_unreachable(&ssh.to_lowercase()));
        assert_eq!(
            restic_reason(ssh),
            "subprocess ssh: Host key verification failed.; unable to open repository at sftp:h:/r: unable to start the sftp session, error: EOF"
        );
    }
}
