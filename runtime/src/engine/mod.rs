//! The engine interface: what the runner and the CLI need from a backup program, so that
//! restic can sit beside rsync without the runner knowing which one it drives.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::command::{CommandError, Exec};
use crate::source_view::{EngineFailure, NotIntact, SourceView};
use crate::spec::{Destination, JobSpec};
use restore::Restore;

pub mod clock;
pub mod exit_reason;
pub mod restic;
pub mod restore;
pub mod rsync;
pub use bakgen_spec::run_name;

/// One complete snapshot. Engines never report interrupted or half-deleted ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The engine's name for it (for rsync the folder name, see [`run_name::snapshot_name`]).
    pub id: String,
    /// When the run that made it started, with the local UTC offset of that moment.
    pub time: DateTime<FixedOffset>,
    /// Where its files can be read directly, when the engine stores plain files.
    pub path: Option<PathBuf>,
}

/// What a transfer moved, as the engine reports it. Zero when the engine did not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferStats {
    pub files_total: u64,
    pub files_transferred: u64,
    /// Size of all files in the snapshot.
    pub bytes_total: u64,
    /// Size of the files whose content had to be sent (not hard-linked from the last one).
    pub bytes_transferred: u64,
    /// Bytes on the wire, both directions.
    pub bytes_wire: u64,
    /// New and changed files, when the engine tells them apart (restic's summary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_new: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_changed: Option<u64>,
}

#[derive(Debug)]
pub struct BackupOutcome {
    pub snapshot: Snapshot,
    pub stats: TransferStats,
    /// Non-fatal problems (rsync's "some files vanished").
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("stopped by a signal; the partial snapshot is kept as .incomplete and reused by the next run")]
    Interrupted,
    #[error("{program} failed with {status}")]
    Failed { program: String, status: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("no snapshot of job {job} at or before {at}")]
    NoSnapshot { job: String, at: String },
    #[error("{} is not in snapshot {snapshot}", path)]
    NotInSnapshot { path: String, snapshot: String },
    #[error("restore would overwrite {count} existing file(s), e.g. {}; pass --force to overwrite", first.display())]
    WouldOverwrite { count: usize, first: PathBuf },
    #[error("{0}")]
    Invalid(String),
    #[error("there is no restic repository at {repository} (restic: {reason}); create it once with `bakrun init {job}` (bakrun run never initialises a repository by itself)")]
    NoRepository {
        repository: String,
        job: String,
        reason: String,
    },
    #[error("the password from {password} does not open the restic repository {repository} (restic: wrong password or no key found)")]
    WrongPassword {
        repository: String,
        password: String,
    },
    #[error("cannot reach the restic repository {repository}: {reason}")]
    Unreachable { repository: String, reason: String },
    /// restic failed; what happened, in words (engine/restic/failure.rs).
    #[error(transparent)]
    Restic(#[from] restic::ResticFailure),
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    #[error("the {0} engine is not supported by this bakrun yet")]
    Unsupported(&'static str),
    /// The snapshot the sources were read from became unusable (an overflowed LVM snapshot).
    #[error(transparent)]
    Source(#[from] NotIntact),
}

impl EngineFailure for EngineError {
    fn interrupted(&self) -> bool {
        matches!(self, EngineError::Interrupted)
    }
}

impl EngineError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EngineError {
        let context = context.into();
        move |source| EngineError::Io { context, source }
    }
}

/// A backup program bakrun drives. Every method honours `exec.dry_run` by printing what it
/// would do and changing nothing.
pub trait Engine {
    fn name(&self) -> &'static str;

    /// Makes a new snapshot of the job's sources, read live. Only a complete transfer
    /// becomes a snapshot; an interrupted one must never be listed by
    /// [`Engine::snapshots`].
    fn backup(&self, exec: &Exec) -> Result<BackupOutcome, EngineError> {
        self.backup_from(exec, &SourceView::live())
    }

    /// [`Engine::backup`] reading the sources through `view` (live, or a snapshot step's
    /// mount) while recording their original paths, and calling
    /// [`SourceView::check_intact`] before the snapshot counts as complete.
    fn backup_from(&self, exec: &Exec, view: &SourceView<'_>)
        -> Result<BackupOutcome, EngineError>;

    /// Complete snapshots, oldest first.
    fn snapshots(&self) -> Result<Vec<Snapshot>, EngineError>;

    /// Paths (as they were on the source) of the files in a snapshot; folders end in `/`.
    fn files(&self, snapshot: &Snapshot) -> Result<Vec<String>, EngineError>;

    /// Copies `what.path` (absolute, as on the source) from `what.snapshot` into folder
    /// `what.to`, as `to/<last component of path>`. Refuses to overwrite anything unless
    /// `what.force`.
    fn restore(&self, exec: &Exec, what: &Restore<'_>) -> Result<(), EngineError>;

    /// Removes snapshots. Callers make sure the newest is never among them.
    fn forget(&self, exec: &Exec, snapshots: &[Snapshot]) -> Result<(), EngineError>;

    /// How many files a run made now would hold: the live sources read as a run reads them
    /// (the job's excludes applied), counted as a drill counts a run's files (a drill's
    /// `count`). `empty` is an empty private folder the engine may name as a destination.
    /// `None` in a dry run, which prints the command.
    fn count_live_files(&self, exec: &Exec, empty: &Path) -> Result<Option<u64>, EngineError>;

    /// Writes the database dump `file_name` (as [`crate::dump::catalogue`] names it) of
    /// `snapshot` into a new private (0600) file `to`, as the run stored it: the dump drill
    /// reads dumps this way. A run without that dump is [`EngineError::NotInSnapshot`].
    fn dump_to_file(
        &self,
        exec: &Exec,
        snapshot: &Snapshot,
        file_name: &str,
        to: &Path,
    ) -> Result<(), EngineError>;
}

/// The ssh options every ssh bakrun starts gets (an rsync pull, restic's sftp backend):
/// never a password prompt, host keys always checked (against `known_hosts` when given),
/// only the given key offered.
pub fn ssh_options(
    port: Option<u16>,
    identity: Option<&str>,
    known_hosts: Option<&str>,
) -> Vec<String> {
    let mut words: Vec<String> = vec![
        "-o".into(),
        "BatchMode=yes".into(),
        // The host key is always checked; a job never trusts an unknown host.
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
    ];
    if let Some(known) = known_hosts {
        words.push("-o".into());
        words.push(format!("UserKnownHostsFile={known}"));
    }
    if let Some(identity) = identity {
        words.extend(["-o".into(), "IdentitiesOnly=yes".into(), "-i".into()]);
        words.push(identity.to_owned());
    }
    if let Some(port) = port {
        words.push("-p".into());
        words.push(port.to_string());
    }
    words
}

/// The engine for a job spec's destination.
pub fn for_spec(spec: &JobSpec) -> Result<Box<dyn Engine>, EngineError> {
    match &spec.destination {
        Destination::Snapshots { .. } => Ok(Box::new(rsync::Rsync::new(spec)?)),
        Destination::Restic { .. } => Ok(Box::new(restic::Restic::new(spec)?)),
    }
}

/// The snapshot current at `at`: the newest that started at or before it.
pub fn current_at<'a>(
    snapshots: &'a [Snapshot],
    at: &DateTime<FixedOffset>,
) -> Option<&'a Snapshot> {
    snapshots
        .iter()
        .filter(|s| s.time <= *at)
        .max_by_key(|s| s.time)
}
