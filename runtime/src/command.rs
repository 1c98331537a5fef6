//! External commands as the engines and steps use them: run (through [`crate::process`],
//! output streamed to the log, stop signals forwarded) or, for `--dry-run`, printed
//! shell-quoted instead. The process API is re-exported here under its old names.

use std::path::Path;
use std::process::Stdio;

use crate::log;
use crate::process::{output, Stop};
pub use crate::process::{
    output_stoppable, process, share_with_children, shell_quote, stop_sharing, wait_stoppable,
    Command, CommandError, Finished,
};

/// Lines of standard error kept for explaining a failure (the cause is near the end).
const STDERR_KEPT: usize = 50;

/// Runs commands, or in dry-run mode prints them on standard output and runs nothing.
#[derive(Debug, Clone, Copy)]
pub struct Exec {
    pub dry_run: bool,
}

impl Exec {
    /// Runs `cmd`; its standard output is collected and logged at debug level, its standard
    /// error logged as warnings (what rsync prints there is a problem worth seeing).
    pub fn run(&self, cmd: &Command) -> Result<Finished, CommandError> {
        Ok(self.run_with(cmd, Stop::Forward)?.0)
    }

    /// Like [`Exec::run`], also returning the last lines of standard error, which say why
    /// a command failed better than its exit code (see `engine::exit_reason`).
    pub fn run_explained(&self, cmd: &Command) -> Result<(Finished, Vec<String>), CommandError> {
        self.run_with(cmd, Stop::Forward)
    }

    /// Like [`Exec::run`], but a stop signal is not passed on to the command: for short
    /// commands that must finish once started (lvcreate, umount, lvremove — a snapshot
    /// half-made or half-removed is worse than a second's wait). The caller checks
    /// [`crate::signals::stop_requested`] between them.
    pub fn run_to_end(&self, cmd: &Command) -> Result<Finished, CommandError> {
        Ok(self.run_with(cmd, Stop::RunToEnd)?.0)
    }

    fn run_with(&self, cmd: &Command, stop: Stop) -> Result<(Finished, Vec<String>), CommandError> {
        if self.dry_run {
            println!("{}", cmd.display());
            return Ok((Finished::printed(), Vec::new()));
        }
        log::debug(format!("running: {}", cmd.display()));
        let ran = crate::process::run(
            cmd,
            Stdio::piped(),
            stop,
            output::Stdout::of(cmd),
            output::Stderr::new(None, STDERR_KEPT),
        )?;
        log::debug(format!(
            "{} exited: {}",
            cmd.program.to_string_lossy(),
            ran.status
        ));
        Ok((
            Finished::of(&ran.status, ran.stdout.0),
            ran.stderr.into_lines(),
        ))
    }

    /// Runs `cmd` counting the lines of its standard output that `counts` accepts (none is
    /// kept), with the last lines of standard error; `None` in a dry run (the command is
    /// printed).
    pub fn run_counting(
        &self,
        cmd: &Command,
        counts: fn(&str) -> bool,
    ) -> Result<Option<(Finished, u64, Vec<String>)>, CommandError> {
        if self.dry_run {
            println!("{}", cmd.display());
            return Ok(None);
        }
        log::debug(format!("running: {}", cmd.display()));
        let ran = crate::process::run(
            cmd,
            Stdio::piped(),
            Stop::Forward,
            output::Counted::of(counts),
            output::Stderr::new(None, STDERR_KEPT),
        )?;
        Ok(Some((
            Finished::of(&ran.status, Vec::new()),
            ran.stdout.lines,
            ran.stderr.into_lines(),
        )))
    }

    /// Runs `cmd` with its standard output into a new file `path` (created 0600: a
    /// database dump, or one read back from a backup), its standard error logged as
    /// warnings prefixed with the program, and the last lines of it returned. In dry-run
    /// mode prints `cmd > path`.
    pub fn run_into_file(
        &self,
        cmd: &Command,
        path: &Path,
    ) -> Result<(Finished, Vec<String>), CommandError> {
        if self.dry_run {
            println!("{} > {}", cmd.display(), shell_quote(path.as_os_str()));
            return Ok((Finished::printed(), Vec::new()));
        }
        use std::os::unix::fs::OpenOptionsExt;
        let program = cmd.program.to_string_lossy().into_owned();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| CommandError::Spawn {
                program: program.clone(),
                source,
            })?;
        log::debug(format!("running: {} > {}", cmd.display(), path.display()));
        let ran = crate::process::run(
            cmd,
            Stdio::from(file),
            Stop::Forward,
            output::Stdout::default(),
            output::Stderr::new(Some(program), STDERR_KEPT),
        )?;
        Ok((
            Finished::of(&ran.status, Vec::new()),
            ran.stderr.into_lines(),
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
