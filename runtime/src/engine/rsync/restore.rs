//! Restoring from a snapshot folder with rsync.

use super::{rsync_failed, Rsync};
use crate::command::{shell_quote, Command, Exec};
use crate::engine::restore::Restore;
use crate::engine::EngineError;

impl Rsync {
    /// [`crate::engine::Engine::restore`].
    pub(super) fn restore_into(&self, exec: &Exec, what: &Restore<'_>) -> Result<(), EngineError> {
        let rel = what.relative()?;
        let source = self.snapshot_dir(what.snapshot).join(&rel);
        what.check_found(&source)?;
        // `rsync SRC TO/` puts SRC's last component inside TO; the whole snapshot ("/")
        // is restored as TO itself.
        let mut src_arg = source.as_os_str().to_owned();
        if rel.file_name().is_none() {
            src_arg.push("/");
        }
        what.refuse_overwrite(&source, &what.target(&rel))?;
        let (to, force) = (what.to, what.force);
        if !exec.dry_run {
            std::fs::create_dir_all(to)
                .map_err(EngineError::io(format!("cannot create {}", to.display())))?;
        } else if !to.exists() {
            exec.note(format!("mkdir -p {}", shell_quote(to.as_os_str())));
        }
        let mut cmd = Command::new("rsync").args(["-aHAXS", "--numeric-ids"]);
        cmd = cmd.arg(if force {
            // Size and time may match while content differs (two edits in one second):
            // an overwrite asked for must really copy.
            "--ignore-times"
        } else {
            // Belt and braces: a file that appears after the check is still not replaced.
            "--ignore-existing"
        });
        if crate::progress::wanted() {
            cmd = cmd
                .arg("--info=progress2")
                .progress(crate::progress::Format::Rsync);
        }
        let mut dest = to.as_os_str().to_owned();
        dest.push("/");
        let cmd = cmd.arg(src_arg).arg(dest);
        let (finished, stderr) = exec.run_explained(&cmd)?;
        if finished.interrupted {
            return Err(EngineError::Interrupted);
        }
        match finished.code {
            Some(0) => Ok(()),
            code => Err(rsync_failed(code, &stderr)),
        }
    }
}
