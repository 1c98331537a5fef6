//! Encrypted backups into a restic repository (a local path, `sftp:`, `rest:`, `s3:`…).
//!
//! One run of a job may make several restic snapshots: one per database dump (restic
//! 0.14 reads one stream per `backup --stdin`) and one of the sources. All of them carry
//! the tags of [`tags`] (`bakgen`, `host=`, `job=`, `run=<start>` with the start as
//! [`super::run_name`] writes it), and `--host <host>`. bakrun's [`Snapshot`] is a *run*:
//! the group of restic snapshots sharing a `run=` tag, named by the short id of its
//! sources snapshot (or of its first dump when the job has no sources). Retention, restore
//! and forget work on runs, so a run is kept or removed whole, and a run whose dump failed
//! is removed whole before the job reports the failure.
//!
//! Every restic command is scoped to `--host <host>` and `--tag bakgen,job=<job>`, so jobs
//! sharing one repository never see, let alone forget, each other's snapshots.
//!
//! Secrets reach restic through its environment only (see `repository.rs`). The
//! environment is never printed (see [`Command::display`](crate::command::Command::display)).
//!
//! The files: `repository.rs` (restic's command line, environment and secrets; init,
//! check, prune), `sftp.rs` (an sftp repository's ssh), `listing.rs` (runs as restic lists
//! them, and the run cache), `backup.rs`, `restore.rs`, `dump_file.rs` (a run's dump read
//! back into a file), `forget.rs` (removing runs), `run_files.rs` (the files of the last run, recorded for
//! drills while restic saves them), `restore_files.rs` (a drill's sample restored at once),
//! `namespace.rs` (reading a snapshot step's sources at their original paths), `locked.rs`
//! and `lock.rs` (restic's locks), `failure.rs` (restic's failures in words).

use std::cell::{OnceCell, RefCell};
use std::ffi::OsString;
use std::path::Path;

use super::restore::Restore;
use super::{BackupOutcome, Engine, EngineError, Snapshot};
use crate::command::Exec;
use crate::secret::PrivateFile;
use crate::source_view::SourceView;
use crate::spec::{Destination, JobSpec, SecretRef};

mod backup;
mod dump_file;
mod failure;
mod forget;
mod listing;
mod live_files;
mod lock;
mod locked;
mod namespace;
mod repository;
mod restore;
mod restore_files;
mod run_files;
mod sftp;
pub use bakgen_spec::restic_tags as tags;

pub use backup::{parse_summary, Summary};
pub use failure::ResticFailure;
pub use listing::{newest_complete_runs, Beside, ResticSnapshot};
pub use restore_files::Unrestored;
pub use run_files::RecordedRun;

#[derive(Debug)]
pub struct Restic {
    spec: JobSpec,
    repository: String,
    password: SecretRef,
    environment: Vec<(String, SecretRef)>,
    cache_dir: String,
    /// restic's `-o sftp.command=…` for an `sftp:` repository: the ssh bakrun wants run.
    sftp_command: Option<String>,
    /// The environment restic gets, read once per bakrun process (a password manager
    /// behind a command secret is asked once, not per restic call).
    env: OnceCell<Vec<(OsString, OsString)>>,
    /// The S3 credentials file (in memory, see [`PrivateFile`]), closed with the engine.
    aws_file: OnceCell<PrivateFile>,
    /// The job's restic snapshots as this process last listed them, kept up to date with
    /// the snapshots it makes and forgets itself: a run lists the repository once, not
    /// before the backup, for retention and for the status file again (each restic
    /// command pays for opening the repository, half a second of key derivation). Only
    /// this job's snapshots on this host are listed, and every bakrun command that changes
    /// them (run, prune) holds the job's lock. `None` until listed, and again after a
    /// change this process cannot account for (a failed step, a restic without summary).
    listed: RefCell<Option<Vec<ResticSnapshot>>>,
    /// The snapshots this process made, and whether restic named every one (a summary
    /// without an id leaves a snapshot this process cannot account for).
    made: RefCell<(Vec<ResticSnapshot>, bool)>,
}

impl Restic {
    pub fn new(spec: &JobSpec) -> Result<Self, EngineError> {
        let Destination::Restic {
            repository,
            password,
            environment,
            cache_dir,
            ssh,
        } = &spec.destination
        else {
            return Err(EngineError::Invalid(
                "the restic engine needs a restic destination".into(),
            ));
        };
        repository::check_environment(environment)?;
        if spec.remote.is_some() {
            return Err(EngineError::Invalid(
                "restic backs up the machine bakrun runs on: `remote` (pulling the sources over ssh) is for snapshot destinations; an sftp repository's port, key and known_hosts go in the destination's `ssh`".into(),
            ));
        }
        let sftp_command = match (sftp::sftp_target(repository)?, ssh) {
            (Some(target), ssh) => Some(sftp::sftp_command(&target, ssh.as_ref())?),
            (None, Some(_)) => {
                return Err(EngineError::Invalid(format!(
                    "the destination's `ssh` applies to sftp: repositories, not to {repository}"
                )))
            }
            (None, None) => None,
        };
        Ok(Self {
            spec: spec.clone(),
            repository: repository.clone(),
            password: password.clone(),
            environment: environment
                .iter()
                .map(|e| (e.variable.clone(), e.secret.clone()))
                .collect(),
            cache_dir: cache_dir.clone(),
            sftp_command,
            env: OnceCell::new(),
            aws_file: OnceCell::new(),
            listed: RefCell::new(None),
            made: RefCell::new((Vec::new(), true)),
        })
    }

    /// A repository as a whole, to list the runs of every host and job in it at once
    /// ([`Restic::bakgen_snapshots`], for `bakrun watch`). `job` is the job named in
    /// messages (the one whose host can `bakrun init` a missing repository). Reads nothing
    /// yet: secrets are read by the first restic call.
    pub fn for_repository(
        host: &str,
        job: &str,
        state_dir: &str,
        destination: Destination,
    ) -> Result<Self, EngineError> {
        let spec = JobSpec {
            version: crate::spec::SPEC_VERSION,
            host: host.to_owned(),
            job: job.to_owned(),
            unit: String::new(),
            remote: None,
            sources: Vec::new(),
            excludes: Vec::new(),
            destination,
            schedule: crate::spec::Schedule {
                calendar: String::new(),
                jitter_seconds: 0,
                late_after_seconds: 0,
            },
            retention: crate::spec::Retention::default(),
            steps: Vec::new(),
            limits: crate::spec::Limits::default(),
            on_failure: None,
            verify: None,
            ping: None,
            state_dir: state_dir.to_owned(),
            metrics_dir: None,
        };
        Self::new(&spec)
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// restic's `sftp.command` for an `sftp:` repository (what `-o sftp.command=` gets).
    pub fn sftp_command(&self) -> Option<&str> {
        self.sftp_command.as_deref()
    }
}

impl Engine for Restic {
    fn name(&self) -> &'static str {
        "restic"
    }

    /// From a snapshot step, restic reads the sources at their original paths: each is
    /// bind-mounted (read-only) from the snapshot over itself in a mount namespace of
    /// restic's own (see `namespace.rs`), so the repository records the paths a restore
    /// expects and nothing outside restic ever sees the bind mounts.
    fn backup_from(
        &self,
        exec: &Exec,
        view: &SourceView<'_>,
    ) -> Result<BackupOutcome, EngineError> {
        self.backup_through(exec, view)
    }

    fn snapshots(&self) -> Result<Vec<Snapshot>, EngineError> {
        self.complete_runs()
    }

    fn files(&self, snapshot: &Snapshot) -> Result<Vec<String>, EngineError> {
        self.files_of(snapshot)
    }

    fn restore(&self, exec: &Exec, what: &Restore<'_>) -> Result<(), EngineError> {
        self.restore_into(exec, what)
    }

    fn forget(&self, exec: &Exec, snapshots: &[Snapshot]) -> Result<(), EngineError> {
        self.forget_runs(exec, snapshots)
    }

    fn count_live_files(&self, exec: &Exec, _empty: &Path) -> Result<Option<u64>, EngineError> {
        self.count_live(exec)
    }

    fn dump_to_file(
        &self,
        exec: &Exec,
        snapshot: &Snapshot,
        file_name: &str,
        to: &Path,
    ) -> Result<(), EngineError> {
        self.dump_into(exec, snapshot, file_name, to)
    }
}
