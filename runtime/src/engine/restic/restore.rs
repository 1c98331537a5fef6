//! Restoring from a run: restic restores full paths, so each member is restored into a
//! private folder beside the target and PATH then moved into place.

use std::path::{Path, PathBuf};

use super::Restic;
use crate::command::{shell_quote, Exec};
use crate::engine::restore::Restore;
use crate::engine::EngineError;

impl Restic {
    /// [`crate::engine::Engine::restore`].
    pub(super) fn restore_into(&self, exec: &Exec, what: &Restore<'_>) -> Result<(), EngineError> {
        self.note_env(exec);
        let rel = what.relative()?;
        let members = self.members(what.snapshot)?;
        let to = what.to;
        // restic restores full paths; restore into a private folder beside the target,
        // then move PATH into place, so that `to` gets `to/<last component>` as rsync
        // restores do, and a failed restore leaves `to` untouched.
        if !exec.dry_run {
            std::fs::create_dir_all(to)
                .map_err(EngineError::io(format!("cannot create {}", to.display())))?;
        }
        let staging = to.join(format!(".bakrun-restore-{}", std::process::id()));
        let _cleanup = StagingDir(staging.clone());
        for member in &members {
            let include = if rel.as_os_str().is_empty() {
                "/".to_owned()
            } else {
                format!("/{}", rel.display())
            };
            let cmd = self
                .restic()?
                .arg("restore")
                .arg(&member.id)
                .arg("--target")
                .arg(&staging)
                .arg("--include")
                .arg(include)
                .progress(crate::progress::Format::Restic);
            self.succeeded(self.run(exec, &cmd)?)?;
        }
        if exec.dry_run {
            exec.note(format!(
                "mv {} {}",
                shell_quote(staging.join(&rel).as_os_str()),
                shell_quote(to.as_os_str())
            ));
            return Ok(());
        }
        let restored = staging.join(&rel);
        what.check_found(&restored)?;
        let target = what.target(&rel);
        what.refuse_overwrite(&restored, &target)?;
        move_into(&restored, &target)
    }
}

/// Removes the staging folder of a restore, also when it fails.
struct StagingDir(PathBuf);

impl Drop for StagingDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Moves `source` to `target`, merging into existing folders and replacing what clashes
/// (the caller has refused clashes unless forced). Renames within one file system.
fn move_into(source: &Path, target: &Path) -> Result<(), EngineError> {
    let src_meta = std::fs::symlink_metadata(source)
        .map_err(EngineError::io(format!("cannot read {}", source.display())))?;
    match std::fs::symlink_metadata(target) {
        Err(_) => std::fs::rename(source, target).map_err(EngineError::io(format!(
            "cannot move into {}",
            target.display()
        ))),
        Ok(dst) if dst.is_dir() && src_meta.is_dir() => {
            for entry in std::fs::read_dir(source)
                .map_err(EngineError::io(format!("cannot list {}", source.display())))?
            {
                let entry =
                    entry.map_err(EngineError::io(format!("cannot list {}", source.display())))?;
                move_into(&entry.path(), &target.join(entry.file_name()))?;
            }
            // The folder's own owner, mode and times come from the snapshot.
            let perms = src_meta.permissions();
            std::fs::set_permissions(target, perms).map_err(EngineError::io(format!(
                "cannot set mode of {}",
                target.display()
            )))
        }
        Ok(dst) => {
            let removed = if dst.is_dir() {
                std::fs::remove_dir_all(target)
            } else {
                std::fs::remove_file(target)
            };
            removed.map_err(EngineError::io(format!(
                "cannot replace {}",
                target.display()
            )))?;
            std::fs::rename(source, target).map_err(EngineError::io(format!(
                "cannot move into {}",
                target.display()
            )))
        }
    }
}
