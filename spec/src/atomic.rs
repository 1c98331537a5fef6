//! Writing a file so that readers (node_exporter, `bakrun status`, systemd, a monitoring
//! script) never see it half written, and a power cut never leaves a file reported as
//! written empty or missing. One rule for both binaries: write a temporary file beside
//! the target, fsync it, rename it over the target, fsync the folder.
//!
//! The work is done on a folder descriptor, so the compiler's trees, which never follow a
//! link below their root, write through the descriptor they checked.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use rustix::fs::{fchmod, fsync, openat, renameat, unlinkat, AtFlags, Mode, OFlags, CWD};

/// The permissions of the written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// Exactly these bits, whatever the umask: the file is created with them (a 0600 file
    /// is never readable by others, not even for a moment) and set again after.
    Exact(u32),
    /// `0666` less the process umask, as `File::create` makes it.
    Umask,
}

/// Whether the write must survive a power cut once it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the file before the rename and the folder after it.
    Synced,
    /// Only atomic: for output that is rebuilt whenever it is lost (`bakgen build --out`).
    Unsynced,
}

/// The temporary name for `name`: hidden by the leading dot, never ending in `.prom` (the
/// textfile collector reads only those), unique to this process so that two writers of
/// one file never take each other's temporary file.
fn temporary(name: &str) -> String {
    format!(".{name}.{}.bakgen-tmp", std::process::id())
}

/// How many bytes the temporary name adds to a file's at most (a process id has at most 7
/// digits: Linux's `pid_max` is at most 4,194,304): a file whose name is longer than 255
/// bytes less this cannot be written.
pub const TEMPORARY_EXTRA: usize = ".".len() + ".".len() + 7 + ".bakgen-tmp".len();

/// Writes `name` (one path component) in the folder `dir` atomically. A link at `name` is
/// replaced, never followed.
pub fn write_at(
    dir: BorrowedFd<'_>,
    name: &str,
    contents: &[u8],
    mode: FileMode,
    durability: Durability,
) -> std::io::Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(ErrorKind::InvalidInput.into());
    }
    let tmp = temporary(name);
    let result = (|| -> std::io::Result<()> {
        // A temporary file with this process's name is left from a crash of an earlier
        // process with the same id: it is ours, replace it.
        let _ = unlinkat(dir, &tmp, AtFlags::empty());
        let create = match mode {
            FileMode::Exact(bits) => bits,
            FileMode::Umask => 0o666,
        };
        let fd = openat(
            dir,
            &tmp,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(create),
        )?;
        if let FileMode::Exact(bits) = mode {
            // The umask may have cleared some of the bits: set them exactly.
            fchmod(&fd, Mode::from_raw_mode(bits))?;
        }
        let mut f = File::from(fd);
        f.write_all(contents)?;
        if durability == Durability::Synced {
            f.sync_all()?;
        }
        renameat(dir, &tmp, dir, name)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = unlinkat(dir, &tmp, AtFlags::empty());
    }
    result?;
    if durability == Durability::Synced {
        fsync(dir)?;
    }
    Ok(())
}

/// [`write_at`] by path, durable, mode by the umask; creates the missing folders.
pub fn write(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    write_with_mode(path, contents, FileMode::Umask)
}

/// [`write`] with the file's mode given: metrics files are `0644` whatever the umask of
/// the unit (`UMask=0077`), so that node_exporter, running as another user, reads them.
pub fn write_with_mode(path: &Path, contents: &[u8], mode: FileMode) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or(ErrorKind::InvalidInput)?;
    let folder = openat(
        CWD,
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    write_at(folder.as_fd(), name, contents, mode, Durability::Synced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn the_temporary_name_adds_at_most_its_extra() {
        assert!(temporary("x").len() <= 1 + TEMPORARY_EXTRA);
        assert_eq!(TEMPORARY_EXTRA, 20);
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(dir)
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("new/sub/bakgen_x.prom");
        write(&path, b"one").expect("first");
        write(&path, b"two").expect("second");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert_eq!(names(path.parent().expect("parent")), ["bakgen_x.prom"]);
    }

    #[test]
    fn an_exact_mode_is_kept_whatever_the_umask_and_a_link_is_replaced_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").expect("target");
        symlink(&target, dir.path().join("f")).expect("link");
        let folder = File::open(dir.path()).expect("open folder");
        for mode in [0o600, 0o644, 0o4755] {
            write_at(
                folder.as_fd(),
                "f",
                b"new",
                FileMode::Exact(mode),
                Durability::Synced,
            )
            .expect("write");
            let meta = std::fs::symlink_metadata(dir.path().join("f")).expect("stat");
            assert!(meta.is_file());
            assert_eq!(meta.permissions().mode() & 0o7777, mode);
        }
        assert_eq!(std::fs::read_to_string(&target).expect("target"), "keep");
        assert_eq!(names(dir.path()), ["f", "target"]);
    }

    #[test]
    fn a_name_that_is_not_one_component_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = File::open(dir.path()).expect("open folder");
        for bad in ["", ".", "..", "a/b", "../x"] {
            let e = write_at(
                folder.as_fd(),
                bad,
                b"x",
                FileMode::Umask,
                Durability::Unsynced,
            );
            assert_eq!(
                e.map_err(|e| e.kind()),
                Err(ErrorKind::InvalidInput),
                "{bad}"
            );
        }
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("d")).expect("folder in the way");
        std::fs::write(dir.path().join("d/inside"), "x").expect("fill it");
        let e = write(&dir.path().join("d"), b"file");
        assert!(e.is_err(), "a non-empty folder cannot be renamed over");
        assert_eq!(names(dir.path()), ["d"]);
    }
}
