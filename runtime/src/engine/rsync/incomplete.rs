//! Making a reused `.incomplete` tree safe for rsync to finish: what the policy no longer
//! backs up goes, and nothing stays hard-linked into the previous snapshot.

use std::path::{Component, Path, PathBuf};

use crate::engine::EngineError;

/// In a reused `.incomplete` tree, removes what lies outside every source path. rsync's
/// `--delete` only works inside each source folder, so a source dropped from the policy
/// since the interrupted run would otherwise linger in the new snapshot.
pub(super) fn remove_outside_sources(tree: &Path, sources: &[String]) -> Result<(), EngineError> {
    let wanted: Vec<Vec<&std::ffi::OsStr>> = sources
        .iter()
        .map(|s| {
            Path::new(s)
                .components()
                .filter_map(|c| match c {
                    Component::Normal(part) => Some(part),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let mut stack: Vec<(PathBuf, usize)> = vec![(tree.to_owned(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        // The sources passing through this folder (all of them at the top).
        let prefix: Vec<&std::ffi::OsStr> = dir
            .strip_prefix(tree)
            .unwrap_or(Path::new(""))
            .iter()
            .collect();
        let through: Vec<&Vec<&std::ffi::OsStr>> = wanted
            .iter()
            .filter(|w| w.len() > depth && w[..depth] == prefix[..])
            .collect();
        let entries = std::fs::read_dir(&dir)
            .map_err(EngineError::io(format!("cannot list {}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(EngineError::io(format!("cannot list {}", dir.display())))?;
            let name = entry.file_name();
            let matching: Vec<_> = through.iter().filter(|w| w[depth] == name).collect();
            let path = entry.path();
            if matching.is_empty() {
                let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
                let removed = if is_dir {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.map_err(EngineError::io(format!("cannot remove {}", path.display())))?;
            } else if matching.iter().all(|w| w.len() > depth + 1)
                && entry.file_type().map(|t| t.is_dir()).unwrap_or(false)
            {
                // Only an ancestor of sources: look inside. A source itself is rsync's.
                stack.push((path, depth + 1));
            }
        }
    }
    Ok(())
}

/// In a reused `.incomplete` tree, unlinks every file that is a hard link into the previous
/// snapshot. rsync would otherwise update a changed mode, owner, ACL or xattr in place on
/// the shared inode, silently rewriting the previous snapshot; after the unlink it links
/// the file again from `--link-dest` (no data sent) or makes a new copy.
pub(super) fn unlink_shared_with(tree: &Path, previous: &Path) -> Result<(), EngineError> {
    use std::os::unix::fs::MetadataExt;
    let mut stack = vec![tree.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(EngineError::io(format!("cannot list {}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(EngineError::io(format!("cannot list {}", dir.display())))?;
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path)
                .map_err(EngineError::io(format!("cannot read {}", path.display())))?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            if meta.nlink() < 2 {
                continue;
            }
            let rel = path.strip_prefix(tree).unwrap_or(&path);
            let shared = std::fs::symlink_metadata(previous.join(rel))
                .is_ok_and(|old| old.dev() == meta.dev() && old.ino() == meta.ino());
            if shared {
                std::fs::remove_file(&path)
                    .map_err(EngineError::io(format!("cannot remove {}", path.display())))?;
            }
        }
    }
    Ok(())
}
