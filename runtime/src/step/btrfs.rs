//! `btrfs-snapshot`: a read-only snapshot of a btrfs subvolume,
//! `btrfs subvolume snapshot -r <subvolume> <subvolume>/.bakgen-<job>`.
//!
//! Why inside the subvolume: a snapshot must be on the same file system, and the
//! subvolume is the one folder of it the job is sure to know and be allowed to write; a
//! snapshot does not contain itself (a nested subvolume shows as an empty folder), so the
//! backup never sees it. It is bind-mounted read-only into the private tree at the
//! subvolume's own path (see `source_view`), so the backup records the original paths.
//!
//! A leftover `.bakgen-<job>` is removed only when it is provably bakgen's snapshot of this
//! subvolume: a read-only subvolume whose parent UUID is the subvolume's UUID.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{query, run_ok, StepError};
use crate::command::{Command, Exec};
use crate::log;

/// The inode number of every btrfs subvolume's root folder.
const SUBVOLUME_ROOT_INODE: u64 = 256;
/// statfs(2) `f_type` of btrfs.
const BTRFS_SUPER_MAGIC: i64 = 0x9123_683E;

#[derive(Debug, Clone)]
pub struct BtrfsSnapshot {
    subvolume: PathBuf,
    origin_path: String,
    /// `<subvolume>/.bakgen-<job>`.
    snapshot: PathBuf,
    job: String,
}

impl BtrfsSnapshot {
    pub fn new(job: &str, subvolume: &str, origin_path: &str) -> Result<Self, StepError> {
        for (what, p) in [("subvolume", subvolume), ("origin path", origin_path)] {
            if !p.starts_with('/') {
                return Err(StepError::Invalid(format!(
                    "btrfs-snapshot {what} `{p}` is not absolute"
                )));
            }
        }
        let subvolume = PathBuf::from(subvolume);
        Ok(Self {
            snapshot: subvolume.join(format!(".bakgen-{job}")),
            subvolume,
            origin_path: origin_path.to_owned(),
            job: job.to_owned(),
        })
    }

    pub fn origin_path(&self) -> &str {
        &self.origin_path
    }

    pub fn snapshot_dir(&self) -> &Path {
        &self.snapshot
    }

    fn check_subvolume(&self) -> Result<(), StepError> {
        let s = &self.subvolume;
        let meta =
            std::fs::metadata(s).map_err(StepError::io(format!("cannot read {}", s.display())))?;
        if !is_btrfs(s)? || meta.ino() != SUBVOLUME_ROOT_INODE {
            return Err(StepError::Invalid(format!(
                "{} is not a btrfs subvolume",
                s.display()
            )));
        }
        Ok(())
    }

    pub fn create(&self, exec: &Exec) -> Result<(), StepError> {
        if !exec.dry_run {
            self.check_subvolume()?;
        }
        log::info(format!(
            "creating btrfs snapshot {}",
            self.snapshot.display()
        ));
        let cmd = Command::new("btrfs")
            .args(["-q", "subvolume", "snapshot", "-r"])
            .arg(self.subvolume.as_os_str())
            .arg(self.snapshot.as_os_str());
        run_ok(exec, &cmd)
    }

    /// A read-only bind mount of the snapshot (itself read-only already; the mount makes
    /// that visible to every reader of the tree).
    pub fn mount_command(&self, at: &Path) -> Command {
        Command::new("mount")
            .args(["--bind", "-o", "ro"])
            .arg(self.snapshot.as_os_str())
            .arg(at.as_os_str())
    }

    /// Why `.bakgen-<job>` is not bakgen's snapshot of the subvolume, or `None` when it is.
    fn not_ours(&self) -> Result<Option<String>, StepError> {
        let meta = std::fs::symlink_metadata(&self.snapshot).map_err(StepError::io(format!(
            "cannot read {}",
            self.snapshot.display()
        )))?;
        if !meta.is_dir() || meta.ino() != SUBVOLUME_ROOT_INODE {
            return Ok(Some("it is not a subvolume".into()));
        }
        let show = |p: &Path| {
            query(
                &Command::new("btrfs")
                    .args(["subvolume", "show"])
                    .arg(p.as_os_str()),
            )
        };
        let snap = match show(&self.snapshot)? {
            Ok(out) => out,
            Err(why) => return Ok(Some(why)),
        };
        let origin = show(&self.subvolume)?.map_err(StepError::Invalid)?;
        let uuid = field(&origin, "UUID");
        if uuid.is_none() || field(&snap, "Parent UUID") != uuid {
            return Ok(Some("it is not a snapshot of the subvolume".into()));
        }
        if !field(&snap, "Flags").is_some_and(|f| f.contains("readonly")) {
            return Ok(Some("it is not read-only".into()));
        }
        Ok(None)
    }

    /// Deletes a `.bakgen-<job>` left by a killed run, after checking it is bakgen's.
    pub fn remove_leftover(&self, exec: &Exec) -> Result<bool, StepError> {
        if std::fs::symlink_metadata(&self.snapshot).is_err() {
            return Ok(false);
        }
        if let Some(why) = self.not_ours()? {
            return Err(StepError::NotOurs {
                path: self.snapshot.display().to_string(),
                job: self.job.clone(),
                why,
            });
        }
        log::warn(format!(
            "found leftover btrfs snapshot {}",
            self.snapshot.display()
        ));
        self.delete(exec)?;
        Ok(true)
    }

    /// Deletes the snapshot this run made; nothing to do if creating it failed.
    pub fn remove(&self, exec: &Exec) -> Result<(), StepError> {
        if !exec.dry_run && std::fs::symlink_metadata(&self.snapshot).is_err() {
            return Ok(());
        }
        log::info(format!(
            "removing btrfs snapshot {}",
            self.snapshot.display()
        ));
        self.delete(exec)
    }

    fn delete(&self, exec: &Exec) -> Result<(), StepError> {
        let cmd = Command::new("btrfs")
            .args(["-q", "subvolume", "delete"])
            .arg(self.snapshot.as_os_str());
        run_ok(exec, &cmd)
    }
}

/// A `Key: value` line of `btrfs subvolume show`.
fn field<'a>(show: &'a str, key: &str) -> Option<&'a str> {
    show.lines().find_map(|l| {
        let (k, v) = l.trim().split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

fn is_btrfs(path: &Path) -> Result<bool, StepError> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| StepError::Invalid(format!("{} contains a NUL byte", path.display())))?;
    // SAFETY: a zeroed statfs is a valid out-parameter; `c` is a valid C string.
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut buf) } != 0 {
        return Err(StepError::io(format!("cannot statfs {}", path.display()))(
            std::io::Error::last_os_error(),
        ));
    }
    #[allow(clippy::unnecessary_cast)] // f_type's type differs between libcs
    Ok(buf.f_type as i64 == BTRFS_SUPER_MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_subvolume_show_fields() {
        let show = "/x\n\tName: \t\t.bakgen-j\n\tUUID: \t\t01d3\n\tParent UUID: \t\tad58\n\tFlags: \t\t\treadonly\n";
        assert_eq!(field(show, "UUID"), Some("01d3"));
        assert_eq!(field(show, "Parent UUID"), Some("ad58"));
        assert_eq!(field(show, "Flags"), Some("readonly"));
        assert_eq!(field(show, "Received UUID"), None);
    }
}
