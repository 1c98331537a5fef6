//! The job folder by kind of name (complete, `.incomplete`, `.deleting`), and the files of
//! a snapshot.

use super::{Rsync, DELETING, INCOMPLETE};
use crate::engine::run_name::parse_snapshot_name;
use crate::engine::{EngineError, Snapshot};

/// The job folder's snapshot folders by kind; names sorted, complete ones oldest first.
#[derive(Debug, Default)]
pub(super) struct Scan {
    pub complete: Vec<Snapshot>,
    pub incomplete: Vec<String>,
    pub deleting: Vec<String>,
}

impl Rsync {
    /// Sorted folder names of the job folder, split by kind.
    pub(super) fn scan(&self) -> Result<Scan, EngineError> {
        let mut scan = Scan::default();
        let entries = match std::fs::read_dir(&self.job_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(scan),
            Err(source) => {
                return Err(EngineError::Io {
                    context: format!("cannot list {}", self.job_dir.display()),
                    source,
                })
            }
        };
        for entry in entries {
            let entry = entry.map_err(EngineError::io(format!(
                "cannot list {}",
                self.job_dir.display()
            )))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if !is_dir {
                continue;
            }
            if let Some(stem) = name.strip_suffix(INCOMPLETE) {
                if parse_snapshot_name(stem).is_some() {
                    scan.incomplete.push(name);
                }
            } else if let Some(stem) = name.strip_suffix(DELETING) {
                if parse_snapshot_name(stem).is_some() {
                    scan.deleting.push(name);
                }
            } else if let Some(time) = parse_snapshot_name(&name) {
                scan.complete.push(Snapshot {
                    path: Some(self.job_dir.join(&name)),
                    id: name,
                    time,
                });
            }
        }
        scan.complete.sort_by_key(|s| s.time);
        scan.incomplete.sort();
        Ok(scan)
    }

    /// The files of a snapshot ([`crate::engine::Engine::files`]).
    pub(super) fn files_of(&self, snapshot: &Snapshot) -> Result<Vec<String>, EngineError> {
        let root = self.snapshot_dir(snapshot);
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir)
                .map_err(EngineError::io(format!("cannot list {}", dir.display())))?;
            for entry in entries {
                let entry =
                    entry.map_err(EngineError::io(format!("cannot list {}", dir.display())))?;
                let path = entry.path();
                let rel = path.strip_prefix(&root).unwrap_or(&path);
                let mut shown = format!("/{}", rel.to_string_lossy());
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    shown.push('/');
                    stack.push(path);
                }
                out.push(shown);
            }
        }
        out.sort();
        Ok(out)
    }
}
