//! Carrying out a plan. Order (see `plan.rs` for why it makes any interruption
//! recoverable by the next apply):
//!
//! 1. refuse, writing nothing, if a change would touch a file that is not bakgen's or was
//!    edited since the last apply (unless forced);
//! 2. stop and disable stale timers and automounts, stop stale mounts;
//! 3. write new and changed files atomically, fix modes;
//! 4. remove stale files (only those the previous manifest lists with a matching hash);
//!
//! Every file is reached through the root's descriptor without following links
//! (`ops::tree`), so nothing outside the root is ever written, chmodded or removed.
//! 5. `systemd-sysusers`, `daemon-reload`, enable new units, restart changed timers;
//! 6. write the manifest, last.

use std::path::PathBuf;

use super::plan::{Change, FileChange, Plan};
use super::systemctl::{after_files, before_files, Argv, CommandError};
use crate::emit::paths::MANIFEST;
use crate::ops::tree::{Tree, TreeError};

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
    /// Also a link met while writing: one swapped in after the plan was made.
    #[error(transparent)]
    Write(#[from] TreeError),
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
    let created;
    let tree = match &plan.tree {
        Some(t) => t,
        None => {
            created = Tree::create(&plan.root, true)?;
            &created
        }
    };
    commands(before_files(&plan.units), &mut report)?;
    for f in plan.files.iter().filter(|f| f.change != Change::Remove) {
        install(tree, f, &mut report)?;
    }
    for f in plan.files.iter().filter(|f| f.change == Change::Remove) {
        tree.remove(&f.path)?;
        report.removed.push(tree.path(&f.path));
    }
    commands(after_files(&plan.units, &plan.root), &mut report)?;
    if let Some(bytes) = &plan.manifest {
        tree.write(MANIFEST, bytes, 0o644)?;
        report.written.push(tree.path(MANIFEST));
    }
    Ok(report)
}

fn install(tree: &Tree, f: &FileChange, report: &mut ApplyReport) -> Result<(), TreeError> {
    match (&f.change, &f.after) {
        (Change::Mode, _) => tree.set_mode(&f.path, f.mode)?,
        (_, Some(bytes)) => tree.write(&f.path, bytes, f.mode)?,
        (_, None) => return Ok(()),
    }
    report.written.push(tree.path(&f.path));
    Ok(())
}
