//! How many files a run made now would hold (a drill's `count`): `rsync --list-only` of the
//! job's sources with its excludes, read as the run reads them (on the remote host through
//! the job's own ssh, for a pulled job), counted as a drill counts a snapshot's files:
//! everything but folders.

use std::path::Path;

use super::{rsync_failed, Rsync};
use crate::command::{Command, Exec};
use crate::engine::EngineError;
use crate::log;
use crate::source_view::SourceView;

/// rsync's "vanished while read": the listing is still a count of what was there, as a
/// run's would be. Any other failure, "some files could not be read" (23) too, fails the
/// run, and so the count: a count of what could be read would hide what cannot.
const VANISHED: i32 = 24;

impl Rsync {
    /// The listing: `-a --relative` for the tree the run copies. rsync takes the last of
    /// several sources for the destination unless one is given, so `empty` (an empty
    /// private folder) is; `--dry-run` makes sure nothing is written there.
    pub fn live_files_command(&self, empty: &Path) -> Command {
        let cmd = Command::new("rsync").args(["-a", "--relative", "--dry-run", "--list-only"]);
        let mut dest = empty.as_os_str().to_owned();
        dest.push("/");
        self.selection(cmd, &SourceView::live()).arg(dest)
    }

    /// [`crate::engine::Engine::count_live_files`]: files and links, not folders.
    pub(super) fn count_live(&self, exec: &Exec, empty: &Path) -> Result<Option<u64>, EngineError> {
        let cmd = self.live_files_command(empty);
        let Some((finished, count, stderr)) = exec.run_counting(&cmd, is_file)? else {
            return Ok(None);
        };
        if finished.interrupted || crate::signals::stop_requested() {
            return Err(EngineError::Interrupted);
        }
        match finished.code {
            Some(0) => {}
            Some(VANISHED) => log::warn(
                "counting the live files: some vanished while rsync read them; the count holds what it read",
            ),
            code => return Err(rsync_failed(code, &stderr)),
        }
        Ok(Some(count))
    }
}

/// A `--list-only` line of anything but a folder: its first column is the file's mode
/// (`drwxr-xr-x`, `-rw-r--r--`, `lrwxrwxrwx`…). Names cannot break a line: rsync escapes
/// control characters in them (`\#012`).
fn is_file(line: &str) -> bool {
    !line.is_empty() && !line.starts_with('d')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_not_counted() {
        assert!(!is_file(
            "drwxr-xr-x          4,096 2026/12/01 10:00:00 srv/data"
        ));
        assert!(is_file(
            "-rw-r--r--              6 2026/12/01 10:00:00 srv/data/d file"
        ));
        assert!(is_file(
            "lrwxrwxrwx              4 2026/12/01 10:00:00 srv/data/link -> file"
        ));
        assert!(is_file(
            "crw-r--r--          1,  3 2026/12/01 10:00:00 srv/data/null"
        ));
        assert!(!is_file(""));
    }
}
