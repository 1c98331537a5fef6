//! One apply at a time per root: two interleaved applies could each plan against the
//! other's half-written state. The lock is `flock` on the root folder itself, so it leaves
//! no file behind and is released when the process ends, however it ends.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another bakgen apply is running on {}; try again when it is done", root.display())]
    Busy { root: PathBuf },
    #[error("cannot lock {}: {source}", root.display())]
    Io {
        root: PathBuf,
        source: std::io::Error,
    },
}

/// Holds the root's lock until dropped. Creates the root if it does not exist yet.
#[derive(Debug)]
pub struct RootLock {
    _dir: File,
}

pub fn lock_root(root: &Path) -> Result<RootLock, LockError> {
    let io = |source| LockError::Io {
        root: root.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(root).map_err(io)?;
    let dir = File::open(root).map_err(io)?;
    match dir.try_lock() {
        Ok(()) => Ok(RootLock { _dir: dir }),
        Err(TryLockError::WouldBlock) => Err(LockError::Busy {
            root: root.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(io(e)),
    }
}
