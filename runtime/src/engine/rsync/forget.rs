//! Removing snapshots: renamed to `….deleting` first, so that a removal cut short never
//! leaves a half-empty tree that looks complete; the next run removes such leftovers.

use super::listing::Scan;
use super::{Rsync, DELETING};
use crate::command::{shell_quote, Exec};
use crate::engine::{EngineError, Snapshot};

impl Rsync {
    /// Removes snapshots ([`crate::engine::Engine::forget`]).
    pub(super) fn forget_snapshots(
        &self,
        exec: &Exec,
        snapshots: &[Snapshot],
    ) -> Result<(), EngineError> {
        for snapshot in snapshots {
            let dir = self.snapshot_dir(snapshot);
            let doomed = self.job_dir.join(format!("{}{DELETING}", snapshot.id));
            exec.note(format!("rm -rf {}", shell_quote(dir.as_os_str())));
            if exec.dry_run {
                continue;
            }
            std::fs::rename(&dir, &doomed)
                .map_err(EngineError::io(format!("cannot rename {}", dir.display())))?;
            std::fs::remove_dir_all(&doomed).map_err(EngineError::io(format!(
                "cannot remove {}",
                doomed.display()
            )))?;
        }
        Ok(())
    }

    /// Removes leftovers of removals that were cut short.
    pub(super) fn clear_deleting(&self, exec: &Exec, scan: &Scan) -> Result<(), EngineError> {
        for name in &scan.deleting {
            let dir = self.job_dir.join(name);
            exec.note(format!("rm -rf {}", shell_quote(dir.as_os_str())));
            if !exec.dry_run {
                std::fs::remove_dir_all(&dir)
                    .map_err(EngineError::io(format!("cannot remove {}", dir.display())))?;
            }
        }
        Ok(())
    }
}
