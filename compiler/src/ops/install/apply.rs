//! Carrying out a plan. Order (see `plan.rs` for why it makes any interruption
//! recoverable by the next apply):
//!
//! 1. refuse, writing nothing, if a change would touch a file that is not bakgen's or was
//!    edited since the last apply (unless forced);
//! 2. stop and disable stale timers and automounts, stop stale mounts;
//! 3. write new and changed files atomically, fix modes;
//! 4. remove stale files (only those the previous manifest lists with a matching hash);
//! 5. `systemd-sysusers`, `daemon-reload`, enable new units, restart changed timers;
//! 6. write the manifest, last.

use std::path::PathBuf;

use super::plan::{Change, FileChange, Plan};
use super::systemctl::{after_files, before_files, Argv, CommandError};
use super::write::{remove_file, set_mode, write_file, WriteError};
use crate::emit::paths::MANIFEST;

#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Overwrite or remove files that are not bakgen's or were edited by hand.
    pub force: bool,
    /// Run the systemd commands (otherwise they are only reported).
    pub systemctl: bool,
}

#[derive(Debug, Default)]
pub struct ApplyReport {
    pub written: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
    /// Commands run, in order.
    pub ran: Vec<Argv>,
    /// Commands planned but not run because systemctl was not asked for.
    pub skipped: Vec<Argv>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("refused: {count} file{} that bakgen does not own or that was edited by hand would be overwritten or removed", if *count == 1 { "" } else { "s" })]
    Refused { count: usize },
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The manifest is not written, so the next apply plans the same commands again.
    #[error("{0}; the manifest was not updated, so the next apply retries")]
    Command(#[from] CommandError),
}

/// Applies `plan`; `run` executes one command (injected so tests can record instead).
pub fn apply(
    plan: &Plan,
    opts: ApplyOptions,
    mut run: impl FnMut(&Argv) -> Result<(), CommandError>,
) -> Result<ApplyReport, ApplyError> {
    let conflicts = plan.conflicts().count();
    if conflicts > 0 && !opts.force {
        return Err(ApplyError::Refused { count: conflicts });
    }
    let mut report = ApplyReport::default();
    let mut commands = |list: Vec<Argv>, report: &mut ApplyReport| -> Result<(), ApplyError> {
        for argv in list {
            if opts.systemctl {
                run(&argv)?;
                report.ran.push(argv);
            } else {
                report.skipped.push(argv);
            }
        }
        Ok(())
    };
    commands(before_files(&plan.units), &mut report)?;
    for f in plan.files.iter().filter(|f| f.change != Change::Remove) {
        install(plan, f, &mut report)?;
    }
    for f in plan.files.iter().filter(|f| f.change == Change::Remove) {
        let path = plan.root.join(&f.path);
        remove_file(&path)?;
        report.removed.push(path);
    }
    commands(after_files(&plan.units, &plan.root), &mut report)?;
    if let Some(bytes) = &plan.manifest {
        let path = plan.root.join(MANIFEST);
        write_file(&path, bytes, 0o644)?;
        report.written.push(path);
    }
    Ok(report)
}

fn install(plan: &Plan, f: &FileChange, report: &mut ApplyReport) -> Result<(), WriteError> {
    let path = plan.root.join(&f.path);
    match (&f.change, &f.after) {
        (Change::Mode, _) => set_mode(&path, f.mode)?,
        (_, Some(bytes)) => write_file(&path, bytes, f.mode)?,
        (_, None) => return Ok(()),
    }
    report.written.push(path);
    Ok(())
}
