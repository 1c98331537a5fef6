//! Comparing files of a snapshot with the live files of a pulled job (a restore drill):
//! the live side is on the remote host, so it is read the way the pull reads it, through
//! the job's own ssh (same options, user and key) with the remote rsync as the sender,
//! and `--dry-run`: nothing is written on either side.

use std::ffi::OsString;
use std::path::Path;

use super::backup::remote_path;
use super::Rsync;
use crate::command::Command;
use crate::engine::EngineError;

impl Rsync {
    /// `rsync --dry-run --checksum --itemize-changes` of the files listed (NUL-separated,
    /// relative to `/`) in `files_from`, from the job's remote host to their copies under
    /// `snapshot_dir`: a line for every file present on the host, saying whether its
    /// content, size or time differs (rsync's `%i`).
    pub fn compare_command(
        &self,
        files_from: &Path,
        snapshot_dir: &Path,
    ) -> Result<Command, EngineError> {
        let Some(remote) = &self.spec.remote else {
            return Err(EngineError::Invalid(format!(
                "job {} is not pulled from another machine",
                self.spec.job
            )));
        };
        let mut list = OsString::from("--files-from=");
        list.push(files_from);
        let mut dest = snapshot_dir.as_os_str().to_owned();
        dest.push("/");
        Ok(Command::new("rsync")
            .args([
                "--dry-run",
                "--checksum",
                "--links",
                "--times",
                // To the nanosecond, as the pull compares times (RSYNC_FLAGS).
                "--modify-window=-1",
                "--from0",
                // Every file gets a line, equal ones too; a file gone from the host gets
                // none and is no error.
                "--itemize-changes",
                "--itemize-changes",
                "--ignore-missing-args",
                // Names as they are (only control characters escaped), one per line.
                "--8-bit-output",
                "--out-format=%i %n",
            ])
            .arg(list)
            .arg("-e")
            .arg(Self::ssh_command(remote))
            .arg(remote_path(remote, "/"))
            .arg(dest))
    }
}
