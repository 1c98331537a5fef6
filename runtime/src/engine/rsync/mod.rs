//! Hard-linked rsync snapshots: `<path>/<host>/<job>/<timestamp>`, each a full tree in which
//! files unchanged since the previous snapshot are hard links to it (`--link-dest`).
//!
//! Folder names in the job folder:
//! - `20260401T023000+0200`: a complete snapshot ([`super::run_name`]);
//! - `….incomplete`: a transfer that has not finished (interrupted, killed, power loss).
//!   Never listed, restored from or counted by retention; the next run renames it to its own
//!   name and lets rsync finish it, so little is sent again;
//! - `….deleting`: a snapshot being removed (renamed first, so that a removal cut short
//!   never leaves a half-empty tree that looks complete); removed by the next run;
//! - `latest`: a symbolic link to the newest complete snapshot, replaced atomically.
//!
//! The files: `backup.rs` (the transfer and how it becomes complete), `incomplete.rs`
//! (making a reused `.incomplete` tree safe to finish), `dumps.rs` (database dumps as
//! files of the snapshot), `listing.rs` (the job folder by kind of name, and a snapshot's
//! files), `restore.rs`, `forget.rs`.

use std::path::{Path, PathBuf};

use super::restore::Restore;
use super::{BackupOutcome, Engine, EngineError, Snapshot};
use crate::command::Exec;
use crate::source_view::SourceView;
use crate::spec::{Destination, JobSpec};

mod backup;
mod compare;
mod dumps;
mod forget;
mod incomplete;
mod listing;
mod live_files;
mod restore;

pub use backup::parse_stats;

const INCOMPLETE: &str = ".incomplete";
const DELETING: &str = ".deleting";
const LATEST: &str = "latest";

/// rsync's options for a snapshot: archive mode plus hard links (-H), ACLs (-A), extended
/// attributes (-X), sparse files (-S) and numeric owners (a restore onto a rescue system
/// must not remap ids by name). `--relative` keeps each source's full path inside the
/// snapshot, so several sources never collide. `--delete`/`--delete-excluded` only matter
/// when finishing a reused `.incomplete` tree: files gone from the source must go.
/// `--modify-window=-1` compares modification times to the nanosecond: by default rsync
/// compares whole seconds, so a file rewritten with the same size within the second of
/// the last snapshot would be hard-linked to the old content.
pub const RSYNC_FLAGS: &[&str] = &[
    "-aHAXS",
    "--numeric-ids",
    "--modify-window=-1",
    "--relative",
    "--delete",
    "--delete-excluded",
    "--stats",
];

#[derive(Debug)]
pub struct Rsync {
    spec: JobSpec,
    /// `<path>/<host>/<job>`.
    job_dir: PathBuf,
}

impl Rsync {
    pub fn new(spec: &JobSpec) -> Result<Self, EngineError> {
        let Destination::Snapshots { path, .. } = &spec.destination else {
            return Err(EngineError::Invalid(
                "the rsync engine needs a snapshots destination".into(),
            ));
        };
        Ok(Self {
            spec: spec.clone(),
            job_dir: Path::new(path).join(&spec.host).join(&spec.job),
        })
    }

    pub fn job_dir(&self) -> &Path {
        &self.job_dir
    }

    fn snapshot_dir(&self, snapshot: &Snapshot) -> PathBuf {
        snapshot
            .path
            .clone()
            .unwrap_or_else(|| self.job_dir.join(&snapshot.id))
    }
}

impl Engine for Rsync {
    fn name(&self) -> &'static str {
        "rsync"
    }

    fn backup_from(
        &self,
        exec: &Exec,
        view: &SourceView<'_>,
    ) -> Result<BackupOutcome, EngineError> {
        self.backup_into(exec, view)
    }

    fn snapshots(&self) -> Result<Vec<Snapshot>, EngineError> {
        Ok(self.scan()?.complete)
    }

    fn files(&self, snapshot: &Snapshot) -> Result<Vec<String>, EngineError> {
        self.files_of(snapshot)
    }

    fn restore(&self, exec: &Exec, what: &Restore<'_>) -> Result<(), EngineError> {
        self.restore_into(exec, what)
    }

    fn forget(&self, exec: &Exec, snapshots: &[Snapshot]) -> Result<(), EngineError> {
        self.forget_snapshots(exec, snapshots)
    }

    fn count_live_files(&self, exec: &Exec, empty: &Path) -> Result<Option<u64>, EngineError> {
        self.count_live(exec, empty)
    }

    fn dump_to_file(
        &self,
        exec: &Exec,
        snapshot: &Snapshot,
        file_name: &str,
        to: &Path,
    ) -> Result<(), EngineError> {
        self.copy_dump(exec, snapshot, file_name, to)
    }
}

/// rsync's failure in words (see [`crate::engine::exit_reason::RSYNC`]).
fn rsync_failed(code: Option<i32>, stderr: &[String]) -> EngineError {
    EngineError::Failed {
        program: "rsync".into(),
        status: crate::engine::exit_reason::RSYNC.explain(code, stderr),
    }
}
