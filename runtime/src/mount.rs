//! Is the destination really there? A backup disk that failed to mount leaves an empty
//! folder on the root file system; writing snapshots into it would fill `/` and hide the
//! problem. Two guards, both checked before anything is written (exit 11):
//! - `mount_point`: that path must be a mount point (listed in `/proc/self/mountinfo`, or,
//!   when that cannot be read, on another device than its parent);
//! - `sentinel`: a `NOT_MOUNTED` file, created in the empty folder under the mount, must
//!   not be visible (the mounted file system hides it).

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub const SENTINEL: &str = "NOT_MOUNTED";

#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error("destination {} should be a mount point and is not: is the backup disk mounted?", path.display())]
    NotMountPoint { path: PathBuf },
    #[error("destination {} does not exist: is the backup disk mounted?", path.display())]
    Missing { path: PathBuf },
    #[error("{} is visible, so the backup disk is not mounted over {}", path.join(SENTINEL).display(), path.display())]
    Sentinel { path: PathBuf },
    #[error("cannot check destination {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Checks both guards; writes nothing.
pub fn check_destination(
    path: &Path,
    mount_point: Option<&Path>,
    sentinel: bool,
) -> Result<(), DestinationError> {
    if let Some(mp) = mount_point {
        match is_mount_point(mp) {
            Ok(true) => {}
            Ok(false) => {
                return Err(DestinationError::NotMountPoint {
                    path: mp.to_owned(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DestinationError::Missing {
                    path: mp.to_owned(),
                })
            }
            Err(source) => {
                return Err(DestinationError::Io {
                    path: mp.to_owned(),
                    source,
                })
            }
        }
    }
    if sentinel {
        match std::fs::symlink_metadata(path.join(SENTINEL)) {
            Ok(_) => {
                return Err(DestinationError::Sentinel {
                    path: path.to_owned(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(DestinationError::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        }
    }
    Ok(())
}

/// True when `path` is the root of a mounted file system in this mount namespace.
pub fn is_mount_point(path: &Path) -> std::io::Result<bool> {
    let real = std::fs::canonicalize(path)?;
    if real == Path::new("/") {
        return Ok(true);
    }
    match std::fs::read("/proc/self/mountinfo") {
        Ok(info) => Ok(mountinfo_lists(&info, &real)),
        Err(_) => {
            // No /proc: a mount point sits on another device than its parent. This misses
            // bind mounts of the same file system, which mountinfo would catch.
            let parent = real.parent().unwrap_or(Path::new("/"));
            Ok(std::fs::metadata(&real)?.dev() != std::fs::metadata(parent)?.dev())
        }
    }
}

/// Whether `mountinfo` (the kernel's format, see proc(5)) has a mount at `target`.
fn mountinfo_lists(mountinfo: &[u8], target: &Path) -> bool {
    let target = target.as_os_str().as_bytes();
    mountinfo.split(|&b| b == b'\n').any(|line| {
        line.split(|&b| b == b' ')
            .nth(4)
            .is_some_and(|field| unescape_octal(field) == target)
    })
}

/// mountinfo writes space, tab, newline and backslash in paths as `\040`-style escapes.
pub(crate) fn unescape_octal(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\' && i + 3 < field.len() {
            let digits = &field[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(field[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_escaped_mount_points() {
        let info = b"22 1 8:1 / / rw - ext4 /dev/vda rw\n\
                     40 22 0:5 / /mnt/usb\\040disk rw - tmpfs tmpfs rw\n";
        assert!(mountinfo_lists(info, Path::new("/mnt/usb disk")));
        assert!(!mountinfo_lists(info, Path::new("/mnt/usb")));
        assert!(mountinfo_lists(info, Path::new("/")));
    }

    #[test]
    fn root_is_a_mount_point_and_a_plain_folder_is_not() {
        assert!(is_mount_point(Path::new("/")).unwrap());
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_mount_point(dir.path()).unwrap());
    }
}
