//! The one way bakrun runs a process. Every engine, dump, step and query starts its
//! children here ([`spawn`]: parent-death signal, the job's locks and its own secrets
//! inherited), so that each is recorded for stop signals until it is reaped ([`wait`]: a
//! stop forwarded as the program's own stop signal, a child deaf to it killed after a
//! grace period), its output streamed to the log ([`output`]), and two children joined by
//! a pipe with no byte through bakrun ([`pipe`]). Printing instead of running, for
//! `--dry-run`, is [`crate::command::Exec`]'s.

mod command;
pub mod output;
pub mod pipe;
pub mod spawn;
pub mod wait;

pub use command::{shell_quote, Command};
pub use spawn::{process, share_with_children, start, stop_sharing, Running, Stop};
pub use wait::{output_stoppable, run, wait_stoppable, Ran};

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

impl Finished {
    /// How a child that ran ended; `interrupted` when a stop signal reached bakrun by then.
    pub fn of(status: &std::process::ExitStatus, stdout: Vec<String>) -> Self {
        Self {
            code: status.code(),
            interrupted: crate::signals::stop_requested(),
            stdout,
        }
    }

    /// A command printed by a dry run instead of run.
    pub fn printed() -> Self {
        Self {
            code: Some(0),
            interrupted: false,
            stdout: Vec::new(),
        }
    }
}
