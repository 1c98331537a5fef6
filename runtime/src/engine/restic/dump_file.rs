//! A dump of a run read back into a file: the member snapshot tagged `dump=<file>`, read
//! with `restic dump` at the path the backup gave it (`/<host>/<job>/<file>`, see
//! `backup.rs`), as the restore script does.

use std::path::Path;

use super::failure::{Exit, Said};
use super::{tags, Restic};
use crate::command::Exec;
use crate::engine::{EngineError, Snapshot};

impl Restic {
    /// [`crate::engine::Engine::dump_to_file`]. A dump cut short is removed, never left as
    /// if whole.
    pub(super) fn dump_into(
        &self,
        exec: &Exec,
        snapshot: &Snapshot,
        file_name: &str,
        to: &Path,
    ) -> Result<(), EngineError> {
        self.note_env(exec);
        let path = format!("/{}/{}/{file_name}", self.spec.host, self.spec.job);
        let tag = tags::dump(file_name);
        let members = self.members(snapshot)?;
        let Some(member) = members.iter().find(|m| m.tags.contains(&tag)) else {
            return Err(EngineError::NotInSnapshot {
                path,
                snapshot: snapshot.id.clone(),
            });
        };
        let cmd = self
            .restic()?
            .args(["--no-lock", "dump"])
            .arg(&member.id)
            .arg(&path);
        let (finished, said) = exec.run_into_file(&cmd, to)?;
        if finished.success() {
            return Ok(());
        }
        let _ = std::fs::remove_file(to);
        if finished.interrupted {
            return Err(EngineError::Interrupted);
        }
        let exit = Exit::Code(finished.code.unwrap_or(-1));
        Err(self.failure(exit, &Said::from_text(&said.join("\n"))))
    }
}
