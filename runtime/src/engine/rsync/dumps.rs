//! Database dumps as files of the snapshot (`dumps/<db>.sql`), written into the
//! `.incomplete` tree before its name says complete: a failed dump leaves only the
//! `.incomplete` tree.

use std::path::Path;

use crate::command::{shell_quote, Exec};
use crate::dump::{plan, to_file};
use crate::engine::{EngineError, Snapshot};
use crate::log;
use crate::spec::JobSpec;

/// The folder of a snapshot tree that holds its dumps.
const SNAPSHOT_DUMPS: &str = "dumps";

/// Writes every dump of the job as `<tree>/dumps/<name>` (rsync snapshots). The first
/// failure stops and removes that dump's partial file.
pub(super) fn into_snapshot(exec: &Exec, spec: &JobSpec, tree: &Path) -> Result<(), EngineError> {
    let dumps = plan(spec).map_err(|e| EngineError::Invalid(e.to_string()))?;
    if dumps.is_empty() {
        return Ok(());
    }
    let dir = tree.join(SNAPSHOT_DUMPS);
    exec.note(format!("mkdir -m 0700 {}", shell_quote(dir.as_os_str())));
    if !exec.dry_run {
        use std::os::unix::fs::DirBuilderExt;
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(EngineError::Io {
                    context: format!("cannot create {}", dir.display()),
                    source: e,
                })
            }
        }
    }
    for d in &dumps {
        let path = dir.join(&d.file_name);
        let finished = to_file(exec, d, &path)?;
        if !finished.success() {
            let _ = std::fs::remove_file(&path);
            if finished.interrupted {
                return Err(EngineError::Interrupted);
            }
            return Err(EngineError::Failed {
                program: format!(
                    "dump {} ({})",
                    d.file_name,
                    d.command.program.to_string_lossy()
                ),
                status: finished
                    .code
                    .map_or("a signal".into(), |c| format!("exit code {c}")),
            });
        }
        log::info(format!("dump {} written", d.file_name));
    }
    Ok(())
}

impl super::Rsync {
    /// [`crate::engine::Engine::dump_to_file`]: a copy of `<snapshot>/dumps/<file_name>`,
    /// so that nothing reading it can change the snapshot.
    pub(super) fn copy_dump(
        &self,
        exec: &Exec,
        snapshot: &Snapshot,
        file_name: &str,
        to: &Path,
    ) -> Result<(), EngineError> {
        let from = self
            .snapshot_dir(snapshot)
            .join(SNAPSHOT_DUMPS)
            .join(file_name);
        exec.note(format!(
            "cp {} {}",
            shell_quote(from.as_os_str()),
            shell_quote(to.as_os_str())
        ));
        if exec.dry_run {
            return Ok(());
        }
        let mut source = match std::fs::File::open(&from) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(EngineError::NotInSnapshot {
                    path: format!("{SNAPSHOT_DUMPS}/{file_name}"),
                    snapshot: snapshot.id.clone(),
                })
            }
            Err(e) => {
                return Err(EngineError::io(format!("cannot read {}", from.display()))(
                    e,
                ))
            }
        };
        use std::os::unix::fs::OpenOptionsExt;
        let mut target = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(to)
            .map_err(EngineError::io(format!("cannot create {}", to.display())))?;
        std::io::copy(&mut source, &mut target).map_err(EngineError::io(format!(
            "cannot copy {} to {}",
            from.display(),
            to.display()
        )))?;
        Ok(())
    }
}
