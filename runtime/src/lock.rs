//! The per-job lock: `flock` on `<state_dir>/lock/<job>.lock`, taken without waiting so a
//! second run of the same job (a timer firing while a slow run goes on, or a manual run)
//! stops at once with exit 12 instead of writing into the same snapshot folder.
//!
//! The kernel drops the lock when the process dies, whatever the cause, so a stale lock
//! file never blocks later runs.
//!
//! A second lock, `<job>.readers`, keeps snapshots from being removed while they are
//! read: `bakrun restore` holds it shared for as long as it reads; removing snapshots
//! (retention after a run, `bakrun prune`) needs it exclusive and never waits for it, so a
//! long restore postpones retention instead of losing the snapshot it reads.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another run of job {job} holds the lock {}", path.display())]
    Held { job: String, path: PathBuf },
    #[error("cannot take the lock {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held for as long as the value lives, and by every process bakrun starts meanwhile:
/// they inherit the descriptor (see [`crate::command::share_with_children`]), so a killed
/// bakrun's children keep the next run out until they too are gone.
#[derive(Debug)]
pub struct JobLock {
    _file: Shared,
    pub path: PathBuf,
}

/// A locked file whose descriptor children inherit while it is held.
#[derive(Debug)]
struct Shared {
    _file: File,
    slot: Option<usize>,
}

impl Shared {
    fn new(file: File) -> Self {
        use std::os::fd::AsRawFd;
        let slot = crate::command::share_with_children(file.as_raw_fd());
        Self { _file: file, slot }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Before the descriptor closes and its number is reused.
        if let Some(slot) = self.slot {
            crate::command::stop_sharing(slot);
        }
    }
}

pub use crate::installed::lock_file as lock_path;

/// Takes the job's lock, creating the lock folder and file when needed.
pub fn acquire(state_dir: &Path, job: &str) -> Result<JobLock, LockError> {
    let path = lock_path(state_dir, job);
    let file = open_read_only(&path)?;
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    match file.try_lock() {
        Ok(()) => Ok(JobLock {
            _file: Shared::new(file),
            path,
        }),
        Err(TryLockError::WouldBlock) => Err(LockError::Held {
            job: job.to_owned(),
            path,
        }),
        Err(TryLockError::Error(source)) => Err(io(source)),
    }
}

pub use crate::installed::readers_file as readers_path;

/// Held while snapshots are read (shared) or removed (exclusive).
#[derive(Debug)]
pub struct ReadersLock {
    _file: Shared,
}

fn open_readers(state_dir: &Path, job: &str) -> Result<(File, PathBuf), LockError> {
    let path = readers_path(state_dir, job);
    Ok((open_read_only(&path)?, path))
}

/// A lock file, created when missing, opened read-only: flock needs no write access, the
/// file may have been made by root's restore and be used by the job's user (or the other
/// way round), and the children that inherit the descriptor cannot write through it.
fn open_read_only(path: &Path) -> Result<File, LockError> {
    let io = |source| LockError::Io {
        path: path.to_owned(),
        source,
    };
    match File::open(path) {
        Ok(file) => return Ok(file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(io(source)),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io)?;
    File::open(path).map_err(io)
}

/// For a restore: shared, waiting only for a removal in progress (which takes moments).
pub fn read_snapshots(state_dir: &Path, job: &str) -> Result<ReadersLock, LockError> {
    let (file, path) = open_readers(state_dir, job)?;
    file.lock_shared()
        .map_err(|source| LockError::Io { path, source })?;
    Ok(ReadersLock {
        _file: Shared::new(file),
    })
}

/// For removing snapshots: exclusive, `None` at once when a restore is reading.
pub fn remove_snapshots(state_dir: &Path, job: &str) -> Result<Option<ReadersLock>, LockError> {
    let (file, path) = open_readers(state_dir, job)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ReadersLock {
            _file: Shared::new(file),
        })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(source)) => Err(LockError::Io { path, source }),
    }
}

/// For `--dry-run`: tells whether another run holds the lock without creating anything.
pub fn is_held(state_dir: &Path, job: &str) -> Result<bool, LockError> {
    let path = lock_path(state_dir, job);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => return Err(LockError::Io { path, source }),
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(source)) => Err(LockError::Io { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = acquire(dir, "etc").unwrap();
        assert!(matches!(acquire(dir, "etc"), Err(LockError::Held { .. })));
        assert!(is_held(dir, "etc").unwrap());
        drop(first);
        assert!(!is_held(dir, "etc").unwrap());
        assert!(acquire(dir, "etc").is_ok());
    }

    #[test]
    fn readers_postpone_removal_and_share_with_each_other() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = read_snapshots(dir, "etc").unwrap();
        let second = read_snapshots(dir, "etc").unwrap();
        assert!(remove_snapshots(dir, "etc").unwrap().is_none());
        drop(first);
        assert!(remove_snapshots(dir, "etc").unwrap().is_none());
        drop(second);
        let removing = remove_snapshots(dir, "etc").unwrap();
        assert!(removing.is_some());
    }
}
