//! How many files a run made now would hold (a drill's `count`): `restic backup --dry-run
//! -vv` of the job's sources with its excludes. restic names each file it would save as it
//! does in a real run, so the count is of the files a run records ([`super::run_files`]):
//! regular files. A dry run stores nothing; it reads only what changed since the newest
//! run of these sources, as a backup would.

use super::failure::{self, Exit};
use super::run_files::names_saved_file;
use super::Restic;
use crate::command::Exec;
use crate::engine::EngineError;
use crate::log;

impl Restic {
    /// [`crate::engine::Engine::count_live_files`]: regular files.
    pub(super) fn count_live(&self, exec: &Exec) -> Result<Option<u64>, EngineError> {
        let cmd = self.selection(
            self.restic()?
                .args(["backup", "--dry-run", "--json", "-vv", "--host"])
                .arg(&self.spec.host),
        );
        if exec.dry_run {
            println!("{}", cmd.display());
            return Ok(None);
        }
        let (ran, count) = self.run_counting(&cmd, names_saved_file)?;
        if ran.finished.interrupted || crate::signals::stop_requested() {
            return Err(EngineError::Interrupted);
        }
        match ran.exit {
            Exit::Code(0) => {}
            Exit::Code(failure::PARTIAL) => log::warn(format!(
                "counting the live files: {}; the count holds what restic read",
                failure::unreadable(&ran.said)
            )),
            exit => return Err(self.failure(exit, &ran.said)),
        }
        Ok(Some(count))
    }
}
