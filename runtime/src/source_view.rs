//! Where the engine reads the sources: the live file system, or a snapshot mounted in a
//! private tree that mirrors the original paths.
//!
//! Layout: `<state-dir>/snapshots/<job>/` (mode 0700, so no other user can walk into the
//! snapshot) holds `root/`, and the snapshot is mounted at `root<origin-path>`. A source
//! `/etc/fstab` on a snapshot of `/` is read as `<…>/root/etc/fstab`; a source
//! `/srv/data/x` on a snapshot of `/srv/data` as `<…>/root/srv/data/x`. Because the tree
//! repeats the original path, rsync's `--relative` with a `/./` anchor after `root` records
//! `etc/fstab` and `srv/data/x`: the backup looks exactly as if the live system had been
//! read, so listings and restores use the original paths.
//!
//! This is the whole interface between snapshot steps (`step/`, which make views and run
//! the engine through one) and engines (`engine/`, which read through them): it depends
//! on neither, so neither depends on the other.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Checks, just before an engine declares its backup complete, that the snapshot it read
/// stayed valid (an LVM snapshot can overflow half-way).
pub type IntactCheck<'a> = &'a dyn Fn() -> Result<(), NotIntact>;

/// Why the sources read through a view can no longer be trusted (an overflowed LVM
/// snapshot), or why that could not be checked: the snapshot step's own error, shown as
/// it says it.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct NotIntact(Box<dyn std::error::Error + Send + Sync>);

impl NotIntact {
    pub fn new(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Box::new(cause))
    }
}

/// What a snapshot step needs to know of the error an engine ended with: whether a stop
/// signal ended it (the step then does not ask whether the snapshot was to blame).
pub trait EngineFailure: std::error::Error {
    fn interrupted(&self) -> bool;
}

/// How an engine reaches the job's sources.
pub struct SourceView<'a> {
    /// The private tree (`…/root`); `None` reads the live file system.
    root: Option<PathBuf>,
    check: Option<IntactCheck<'a>>,
}

impl std::fmt::Debug for SourceView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceView")
            .field("root", &self.root)
            .field("check", &self.check.is_some())
            .finish()
    }
}

impl<'a> SourceView<'a> {
    /// The sources as they are, no snapshot.
    pub fn live() -> Self {
        Self {
            root: None,
            check: None,
        }
    }

    pub fn snapshot(root: PathBuf, check: Option<IntactCheck<'a>>) -> Self {
        Self {
            root: Some(root),
            check,
        }
    }

    pub fn is_live(&self) -> bool {
        self.root.is_none()
    }

    /// The private tree's root, when reading from a snapshot.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Where the original path `origin` is read now.
    pub fn path_of(&self, origin: &str) -> PathBuf {
        match &self.root {
            Some(root) => snapshot_path(root, origin),
            None => PathBuf::from(origin),
        }
    }

    /// The source argument for `rsync --relative`: the original path when live, else
    /// `<root>/./<origin without its leading />`, so rsync records the original path.
    pub fn rsync_source(&self, origin: &str) -> OsString {
        match &self.root {
            None => OsString::from(origin),
            Some(root) => {
                let mut arg = root.as_os_str().to_owned();
                arg.push("/./");
                arg.push(origin.trim_start_matches('/'));
                arg
            }
        }
    }

    /// Fails when the snapshot stopped being a faithful copy; always Ok when live.
    pub fn check_intact(&self) -> Result<(), NotIntact> {
        match self.check {
            Some(check) => check(),
            None => Ok(()),
        }
    }
}

/// Maps an original (absolute) path to where it is read inside a snapshot tree rooted at
/// `root`: `snapshot_path("/var/lib/bakgen/snapshots/j/root", "/etc/fstab")` is
/// `/var/lib/bakgen/snapshots/j/root/etc/fstab`.
///
/// For restic (which, up to 0.17, has no way to rewrite paths it records), each source's
/// `snapshot_path` is bind-mounted over the source itself in a mount namespace of restic's
/// own (engine/restic/namespace.rs), so restic records the original paths.
pub fn snapshot_path(root: &Path, origin: &str) -> PathBuf {
    root.join(origin.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_paths_map_into_the_tree() {
        let root = PathBuf::from("/s/root");
        let v = SourceView::snapshot(root.clone(), None);
        assert_eq!(v.path_of("/etc/fstab"), PathBuf::from("/s/root/etc/fstab"));
        assert_eq!(v.path_of("/"), PathBuf::from("/s/root"));
        assert_eq!(v.rsync_source("/etc"), OsString::from("/s/root/./etc"));
        assert_eq!(v.rsync_source("/"), OsString::from("/s/root/./"));
        let live = SourceView::live();
        assert_eq!(live.rsync_source("/etc"), OsString::from("/etc"));
        assert!(live.check_intact().is_ok());
    }
}
