//! What restoring means for every engine: `bakrun restore JOB PATH --to TO` puts PATH (as it
//! was on the backed-up machine) at `TO/<last component of PATH>` (the whole snapshot, `/`,
//! as TO itself), and replaces nothing that exists unless forced.

use std::path::{Component, Path, PathBuf};

use super::{EngineError, Snapshot};

/// What `bakrun restore` asks an engine for ([`super::Engine::restore`]).
#[derive(Debug, Clone, Copy)]
pub struct Restore<'a> {
    pub snapshot: &'a Snapshot,
    /// Absolute, as on the backed-up machine.
    pub path: &'a str,
    /// The folder that gets `<last component of path>`.
    pub to: &'a Path,
    /// Replace what exists.
    pub force: bool,
}

impl Restore<'_> {
    /// `path` inside the snapshot (see [`relative`]).
    pub fn relative(&self) -> Result<PathBuf, EngineError> {
        relative(self.path)
    }

    /// Where the restored `rel` (from [`Restore::relative`]) lands under `to`.
    pub fn target(&self, rel: &Path) -> PathBuf {
        match rel.file_name() {
            Some(last) => self.to.join(last),
            None => self.to.to_owned(),
        }
    }

    /// Fails with [`EngineError::NotInSnapshot`] unless `found`, where the engine put
    /// `path`, exists.
    pub fn check_found(&self, found: &Path) -> Result<(), EngineError> {
        if std::fs::symlink_metadata(found).is_err() {
            return Err(EngineError::NotInSnapshot {
                path: self.path.to_owned(),
                snapshot: self.snapshot.id.clone(),
            });
        }
        Ok(())
    }

    /// Unless forced, refuses (with [`EngineError::WouldOverwrite`]) when putting `source`
    /// at `target` would replace anything there.
    pub fn refuse_overwrite(&self, source: &Path, target: &Path) -> Result<(), EngineError> {
        if self.force {
            return Ok(());
        }
        let clashes = clashes(source, target)?;
        match clashes.first() {
            Some(first) => Err(EngineError::WouldOverwrite {
                count: clashes.len(),
                first: first.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// `/etc/hosts` → `etc/hosts`; refuses relative paths and `..`, which could leave the
/// snapshot.
fn relative(path: &str) -> Result<PathBuf, EngineError> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(EngineError::Invalid(format!(
            "restore path `{path}` must be absolute, as on the backed-up machine"
        )));
    }
    let mut rel = PathBuf::new();
    for c in p.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => rel.push(part),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(EngineError::Invalid(format!(
                    "restore path `{path}` must not contain `..`"
                )))
            }
        }
    }
    Ok(rel)
}

/// Paths under `target` that restoring `source` there would replace: every non-folder
/// in the source whose counterpart exists, and folders whose counterpart is not a folder.
fn clashes(source: &Path, target: &Path) -> Result<Vec<PathBuf>, EngineError> {
    let mut out = Vec::new();
    let mut stack = vec![(source.to_owned(), target.to_owned())];
    while let Some((src, dst)) = stack.pop() {
        let src_meta = std::fs::symlink_metadata(&src)
            .map_err(EngineError::io(format!("cannot read {}", src.display())))?;
        let Ok(dst_meta) = std::fs::symlink_metadata(&dst) else {
            continue;
        };
        if src_meta.is_dir() && dst_meta.is_dir() {
            let entries = std::fs::read_dir(&src)
                .map_err(EngineError::io(format!("cannot list {}", src.display())))?;
            for entry in entries {
                let entry =
                    entry.map_err(EngineError::io(format!("cannot list {}", src.display())))?;
                stack.push((entry.path(), dst.join(entry.file_name())));
            }
        } else {
            out.push(dst);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_paths_stay_inside_the_snapshot() {
        assert_eq!(relative("/etc/hosts").unwrap(), PathBuf::from("etc/hosts"));
        assert!(relative("etc").is_err());
        assert!(relative("/etc/../../x").is_err());
        assert_eq!(relative("/").unwrap(), PathBuf::new());
        let snapshot = Snapshot {
            id: "s".into(),
            time: chrono::DateTime::parse_from_rfc3339("2026-04-01T02:30:00+02:00").unwrap(),
            path: None,
        };
        let what = Restore {
            snapshot: &snapshot,
            path: "/etc/hosts",
            to: Path::new("/r"),
            force: false,
        };
        assert_eq!(
            what.target(Path::new("etc/hosts")),
            PathBuf::from("/r/hosts")
        );
        assert_eq!(what.target(Path::new("")), PathBuf::from("/r"));
    }
}
