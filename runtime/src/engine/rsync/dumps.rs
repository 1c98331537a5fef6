//! Database dumps as files of the snapshot (`dumps/<db>.sql`), written into the
//! `.incomplete` tree before its name says complete: a failed dump leaves only the
//! `.incomplete` tree.

use std::path::Path;

use crate::command::{shell_quote, Exec};
use crate::dump::{plan, to_file};
use crate::engine::EngineError;
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
