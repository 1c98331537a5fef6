//! A folder tree that bakgen writes into (`apply --root`, `build --out`), reached only
//! through file descriptors and never through a symbolic link below its root.
//!
//! Others may be able to write inside such a tree. A link where one of bakgen's files or
//! folders belongs would make bakgen print, overwrite or chmod whatever the link points
//! to, so every path is walked one component at a time with `O_NOFOLLOW` (a link is
//! refused, never followed), and every read, write, rename, chmod and removal acts on
//! the descriptor of the folder or file it checked: a link swapped in after the check
//! redirects nothing. The root's own path is taken as given; it is the operator's choice.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use bakgen_spec::atomic::{self, Durability, FileMode};
use rustix::fs::{
    fchmod, fstat, fsync, futimens, mkdirat, openat, statat, unlinkat, AtFlags, Dir, FileType,
    Mode, OFlags, Timespec, Timestamps, UTIME_NOW,
};
use rustix::io::Errno;

/// What bakgen expects at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    File,
    Folder,
}

impl std::fmt::Display for Want {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Want::File => "file",
            Want::Folder => "folder",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// Following it could read, write or chmod anything on the system.
    #[error("{} is a symbolic link where a {want} of bakgen's belongs; bakgen never follows links under {}: replace the link with a real {want} (or remove it) and run again", path.display(), root.display())]
    Link {
        path: PathBuf,
        root: PathBuf,
        want: Want,
    },
    #[error("{} is not a {want}, but a {want} of bakgen's belongs there: move it away and run again", path.display())]
    NotA { path: PathBuf, want: Want },
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl TreeError {
    /// Something that is not bakgen's is in the way (a link, a folder where a file
    /// belongs): a refusal, not an I/O failure.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, TreeError::Io { .. })
    }
}

/// A file's contents and mode, read through one descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub contents: Vec<u8>,
    pub mode: u32,
}

/// What is at a path below a root, as `lstat` says: a link is a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub kind: FileType,
    pub mode: u32,
    pub size: u64,
    /// Last modification: seconds and nanoseconds since the epoch.
    pub modified: (i64, i64),
}

impl Entry {
    const UNKNOWN: Entry = Entry {
        kind: FileType::Unknown,
        mode: 0,
        size: 0,
        modified: (i64::MAX, 0),
    };
}

/// A relative path bakgen may use below a root: a manifest is data read from disk, never
/// let it point outside the root.
pub fn safe_relative(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

#[derive(Debug)]
pub struct Tree {
    root: PathBuf,
    dir: OwnedFd,
    /// fsync files and folders so a power cut loses nothing reported as done.
    durable: bool,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);
/// `NONBLOCK`: a FIFO put where a file belongs must not hang the open.
const FILE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY)
    .union(OFlags::CLOEXEC);

impl Tree {
    /// Opens the tree at `root`; `None` if `root` does not exist.
    pub fn open(root: &Path, durable: bool) -> Result<Option<Tree>, TreeError> {
        match openat(
            rustix::fs::CWD,
            root,
            DIR_FLAGS.difference(OFlags::NOFOLLOW),
            Mode::empty(),
        ) {
            Ok(dir) => Ok(Some(Tree {
                root: root.to_path_buf(),
                dir,
                durable,
            })),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io_error("open the folder", root, e)),
        }
    }

    /// Opens the tree at `root`, creating `root` first if needed.
    pub fn create(root: &Path, durable: bool) -> Result<Tree, TreeError> {
        std::fs::create_dir_all(root).map_err(|source| TreeError::Io {
            action: "create the folder",
            path: root.to_path_buf(),
            source,
        })?;
        Tree::open(root, durable)?.ok_or_else(|| io_error("open the folder", root, Errno::NOENT))
    }

    /// The sub-tree at `rel` (a folder, never a link), created if `create`; `None` if
    /// absent and not created.
    pub fn subtree(&self, rel: &str, create: bool) -> Result<Option<Tree>, TreeError> {
        let Some(dir) = self.folder(rel, create)? else {
            return Ok(None);
        };
        Ok(Some(Tree {
            root: self.path(rel),
            dir,
            durable: self.durable,
        }))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder descriptor (for `flock`).
    pub fn fd(&self) -> &OwnedFd {
        &self.dir
    }

    /// `rel` as a path, for messages.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The regular file at `rel`; `None` if absent (or a folder on its way is absent).
    pub fn read(&self, rel: &str) -> Result<Option<Found>, TreeError> {
        let Some((fd, mode)) = self.open_file(rel)? else {
            return Ok(None);
        };
        let mut contents = Vec::new();
        File::from(fd)
            .read_to_end(&mut contents)
            .map_err(|source| self.io("read", rel, source))?;
        Ok(Some(Found { contents, mode }))
    }

    /// Writes `rel` atomically with exactly `mode` ([`bakgen_spec::atomic::write_at`] in
    /// the folder descriptor walked to). Missing folders are created. A rename replaces a
    /// link at `rel` itself, never what it points to.
    pub fn write(&self, rel: &str, contents: &[u8], mode: u32) -> Result<(), TreeError> {
        let (parent, name) = self.parent(rel, true)?.ok_or_else(|| {
            // Unreachable: parent() creates the folders it is asked to.
            self.io("write", rel, ErrorKind::NotFound.into())
        })?;
        let durability = if self.durable {
            Durability::Synced
        } else {
            Durability::Unsynced
        };
        atomic::write_at(
            parent.as_fd(),
            name,
            contents,
            FileMode::Exact(mode),
            durability,
        )
        .map_err(|source| self.io("write", rel, source))
    }

    /// Sets the mode of the regular file at `rel` through its own descriptor.
    pub fn set_mode(&self, rel: &str, mode: u32) -> Result<(), TreeError> {
        let (fd, _) = self
            .open_file(rel)?
            .ok_or_else(|| self.io("set the mode of", rel, ErrorKind::NotFound.into()))?;
        fchmod(&fd, Mode::from_raw_mode(mode))
            .map_err(|e| self.io("set the mode of", rel, e.into()))?;
        if self.durable {
            fsync(&fd).map_err(|e| self.io("sync", rel, e.into()))?;
        }
        Ok(())
    }

    /// Sets the modification time of the regular file at `rel` to now, through its own
    /// descriptor.
    pub fn touch(&self, rel: &str) -> Result<(), TreeError> {
        let (fd, _) = self
            .open_file(rel)?
            .ok_or_else(|| self.io("touch", rel, ErrorKind::NotFound.into()))?;
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_NOW,
        };
        let times = Timestamps {
            last_access: now,
            last_modification: now,
        };
        futimens(&fd, &times).map_err(|e| self.io("touch", rel, e.into()))
    }

    /// Removes the entry at `rel` (a link is removed itself, never followed); `false` if
    /// it was already gone.
    pub fn remove(&self, rel: &str) -> Result<bool, TreeError> {
        let Some((parent, name)) = self.parent(rel, false)? else {
            return Ok(false);
        };
        match unlinkat(&parent, name, AtFlags::empty()) {
            Ok(()) => {}
            Err(Errno::NOENT) => return Ok(false),
            Err(Errno::ISDIR) => {
                return Err(TreeError::NotA {
                    path: self.path(rel),
                    want: Want::File,
                })
            }
            Err(e) => return Err(self.io("remove", rel, e.into())),
        }
        self.sync(&parent, rel)?;
        Ok(true)
    }

    /// Removes the folders holding `rel` that are empty, innermost first, up to (not
    /// including) the root.
    pub fn remove_empty_parents(&self, rel: &str) {
        let mut dir = rel;
        while let Some((parent, _)) = dir.rsplit_once('/') {
            if !self.remove_empty_folder(parent) {
                return;
            }
            dir = parent;
        }
    }

    /// Removes the folder at `rel` if it is empty (and a folder); whether it did.
    pub fn remove_empty_folder(&self, rel: &str) -> bool {
        let Ok(Some((parent, name))) = self.parent(rel, false) else {
            return false;
        };
        unlinkat(&parent, name, AtFlags::REMOVEDIR).is_ok() && self.sync(&parent, rel).is_ok()
    }

    /// The names in the folder `rel` (`""` for the root) with their types, sorted; links
    /// are listed as links, never followed.
    pub fn list(&self, rel: &str) -> Result<Vec<(String, FileType)>, TreeError> {
        let Some(dir) = self.folder(rel, false)? else {
            return Ok(Vec::new());
        };
        let listing = |e: Errno| self.io("list", rel, e.into());
        let mut out = Vec::new();
        for entry in Dir::read_from(&dir).map_err(listing)? {
            let entry = entry.map_err(listing)?;
            let Ok(name) = entry.file_name().to_str() else {
                // Not a name bakgen writes: report it under a lossy name, never follow it.
                out.push((
                    entry.file_name().to_string_lossy().into_owned(),
                    FileType::Unknown,
                ));
                continue;
            };
            if name == "." || name == ".." {
                continue;
            }
            let kind = match entry.file_type() {
                FileType::Unknown => statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map(|st| FileType::from_raw_mode(st.st_mode))
                    .unwrap_or(FileType::Unknown),
                k => k,
            };
            out.push((name.to_owned(), kind));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Every entry below the root that is not a folder (links included), relative, sorted.
    pub fn files(&self) -> Result<Vec<String>, TreeError> {
        let mut out = Vec::new();
        self.collect_files("", &mut out)?;
        out.sort();
        Ok(out)
    }

    fn collect_files(&self, rel: &str, out: &mut Vec<String>) -> Result<(), TreeError> {
        for (name, kind) in self.list(rel)? {
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if kind == FileType::Directory && safe_relative(&path) {
                self.collect_files(&path, out)?;
            } else {
                out.push(path);
            }
        }
        Ok(())
    }

    /// Every entry below the root that is not a folder (links included), keyed by its
    /// relative path, with what `lstat` says of it: one walk instead of a read per file.
    pub fn entries(&self) -> Result<BTreeMap<String, Entry>, TreeError> {
        let mut out = BTreeMap::new();
        let root = self
            .dir
            .try_clone()
            .map_err(|source| self.io("open the folder", "", source))?;
        self.collect_entries(root, "", &mut out)?;
        Ok(out)
    }

    fn collect_entries(
        &self,
        dir: OwnedFd,
        rel: &str,
        out: &mut BTreeMap<String, Entry>,
    ) -> Result<(), TreeError> {
        let listing = |e: Errno| self.io("list", rel, e.into());
        for entry in Dir::read_from(&dir).map_err(listing)? {
            let entry = entry.map_err(listing)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "." || name == ".." {
                continue;
            }
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let Ok(st) = statat(&dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW) else {
                // Gone meanwhile, or not ours to look at: reported, never followed.
                out.insert(path, Entry::UNKNOWN);
                continue;
            };
            let kind = FileType::from_raw_mode(st.st_mode);
            if kind == FileType::Directory && safe_relative(&path) {
                let sub = openat(&dir, entry.file_name(), DIR_FLAGS, Mode::empty())
                    .map_err(|e| self.io("open the folder", &path, e.into()))?;
                self.collect_entries(sub, &path, out)?;
            } else {
                out.insert(
                    path,
                    Entry {
                        kind,
                        mode: st.st_mode & 0o7777,
                        size: u64::try_from(st.st_size).unwrap_or(u64::MAX),
                        #[allow(
                            clippy::useless_conversion,
                            clippy::unnecessary_fallible_conversions
                        )]
                        modified: (
                            i64::try_from(st.st_mtime).unwrap_or(i64::MAX),
                            i64::try_from(st.st_mtime_nsec).unwrap_or(0),
                        ),
                    },
                );
            }
        }
        Ok(())
    }

    /// Opens the regular file at `rel` without following a link; its descriptor and mode.
    fn open_file(&self, rel: &str) -> Result<Option<(OwnedFd, u32)>, TreeError> {
        let Some((parent, name)) = self.parent(rel, false)? else {
            return Ok(None);
        };
        let fd = match openat(&parent, name, FILE_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(self.refusal(&parent, name, rel, Want::File, e, "open")),
        };
        let st = fstat(&fd).map_err(|e| self.io("stat", rel, e.into()))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(TreeError::NotA {
                path: self.path(rel),
                want: Want::File,
            });
        }
        Ok(Some((fd, st.st_mode & 0o7777)))
    }

    /// The folder holding `rel`, and `rel`'s last component.
    fn parent<'a>(
        &self,
        rel: &'a str,
        create: bool,
    ) -> Result<Option<(OwnedFd, &'a str)>, TreeError> {
        if !safe_relative(rel) {
            return Err(self.io("open", rel, ErrorKind::InvalidInput.into()));
        }
        let (dirs, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        Ok(self.folder(dirs, create)?.map(|d| (d, name)))
    }

    /// Walks to the folder `rel` (`""`: the root) one component at a time, refusing links
    /// and non-folders; creates missing folders if `create`.
    fn folder(&self, rel: &str, create: bool) -> Result<Option<OwnedFd>, TreeError> {
        if !rel.is_empty() && !safe_relative(rel) {
            return Err(self.io("open", rel, ErrorKind::InvalidInput.into()));
        }
        let mut dir = self
            .dir
            .try_clone()
            .map_err(|source| self.io("open the folder", "", source))?;
        let mut end = 0;
        for component in rel.split('/').filter(|c| !c.is_empty()) {
            end += component.len() + usize::from(end > 0);
            let walked = &rel[..end];
            let next = match openat(&dir, component, DIR_FLAGS, Mode::empty()) {
                Err(Errno::NOENT) if create => {
                    match mkdirat(&dir, component, Mode::from_raw_mode(0o777)) {
                        Ok(()) => self.sync(&dir, walked)?,
                        Err(Errno::EXIST) => {}
                        Err(e) => return Err(self.io("create the folder", walked, e.into())),
                    }
                    openat(&dir, component, DIR_FLAGS, Mode::empty())
                }
                other => other,
            };
            dir = match next {
                Ok(d) => d,
                Err(Errno::NOENT) => return Ok(None),
                Err(e) => {
                    let want = Want::Folder;
                    return Err(self.refusal(&dir, component, walked, want, e, "open the folder"));
                }
            };
        }
        Ok(Some(dir))
    }

    /// Why opening `name` in `dir` (`rel` below the root) failed. With `O_NOFOLLOW`,
    /// `ELOOP` means it is a link; with `O_DIRECTORY`, `ENOTDIR` means a link (Linux
    /// checks the type first) or something else that is not a folder.
    fn refusal(
        &self,
        dir: &OwnedFd,
        name: &str,
        rel: &str,
        want: Want,
        e: Errno,
        action: &'static str,
    ) -> TreeError {
        let is_link = || {
            statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
        };
        match e {
            e if e == Errno::LOOP || (e == Errno::NOTDIR && is_link()) => TreeError::Link {
                path: self.path(rel),
                root: self.root.clone(),
                want,
            },
            Errno::NOTDIR if want == Want::Folder => TreeError::NotA {
                path: self.path(rel),
                want,
            },
            e => self.io(action, rel, e.into()),
        }
    }

    /// Makes a change to `dir`'s entries durable (`rel` names it in messages).
    fn sync(&self, dir: &OwnedFd, rel: &str) -> Result<(), TreeError> {
        if self.durable {
            fsync(dir).map_err(|e| self.io("sync the folder of", rel, e.into()))?;
        }
        Ok(())
    }

    fn io(&self, action: &'static str, rel: &str, source: std::io::Error) -> TreeError {
        TreeError::Io {
            action,
            path: self.path(rel),
            source,
        }
    }
}

fn io_error(action: &'static str, path: &Path, e: Errno) -> TreeError {
    TreeError::Io {
        action,
        path: path.to_path_buf(),
        source: e.into(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    /// A root to write into and a folder outside it; removed when the first is dropped.
    pub(crate) fn scratch() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (root, outside) = (dir.path().join("root"), dir.path().join("outside"));
        std::fs::create_dir_all(&root).expect("root");
        std::fs::create_dir_all(&outside).expect("outside");
        (dir, root, outside)
    }

    /// The race an open tree must survive: a folder swapped for a link after the tree was
    /// opened (after `plan` read it) and before the write.
    #[test]
    fn a_folder_swapped_for_a_link_after_opening_redirects_nothing() {
        let (_dir, root, outside) = scratch();
        let tree = Tree::open(&root, true).expect("open").expect("exists");
        tree.write("a/b/f", b"one", 0o600).expect("write");
        std::fs::rename(root.join("a"), root.join("a.old")).expect("move away");
        symlink(&outside, root.join("a")).expect("link");
        for result in [
            tree.write("a/b/f", b"two", 0o600),
            tree.set_mode("a/b/f", 0o644),
            tree.remove("a/b/f").map(|_| ()),
        ] {
            assert!(
                matches!(result, Err(TreeError::Link { ref path, .. }) if path == &root.join("a")),
                "{result:?}"
            );
        }
        assert!(matches!(tree.read("a/b/f"), Err(TreeError::Link { .. })));
        assert_eq!(std::fs::read_dir(&outside).expect("ls").count(), 0);
        assert_eq!(std::fs::read(root.join("a.old/b/f")).expect("kept"), b"one");
    }

    #[test]
    fn a_link_at_the_file_itself_is_replaced_by_a_write_and_removed_by_remove() {
        let (_dir, root, outside) = scratch();
        let target = outside.join("t");
        std::fs::write(&target, "keep").expect("target");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let tree = Tree::open(&root, false).expect("open").expect("exists");
        symlink(&target, root.join("f")).expect("link");
        assert!(matches!(
            tree.set_mode("f", 0o644),
            Err(TreeError::Link { .. })
        ));
        tree.write("f", b"new", 0o640).expect("write");
        assert_eq!(std::fs::read(root.join("f")).expect("read"), b"new");
        symlink(&target, root.join("g")).expect("link");
        assert!(tree.remove("g").expect("remove"));
        assert_eq!(std::fs::read_to_string(&target).expect("target"), "keep");
        let mode = std::fs::metadata(&target)
            .expect("stat")
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn paths_that_leave_the_root_are_refused() {
        let (_dir, root, _) = scratch();
        let tree = Tree::open(&root, false).expect("open").expect("exists");
        for bad in ["../x", "a/../../x", "/etc/passwd", "a//b", "./x", "..", ""] {
            assert!(tree.write(bad, b"x", 0o644).is_err(), "{bad}");
            assert!(tree.read(bad).is_err(), "{bad}");
        }
    }
}
