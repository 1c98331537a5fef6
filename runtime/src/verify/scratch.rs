//! A drill's private temporary folder, `<state_dir>/verify/.drill-<pid>-<job>` (0700):
//! restored files and throwaway database servers live there, and it is removed when the
//! drill ends, also on failure and after a stop signal (the drill returns, this drops). A
//! folder left by a drill that was killed outright (SIGKILL, power loss) is removed by the
//! next drill, once its process is gone.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::log;

const PREFIX: &str = ".drill-";

#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// Where a drill of `job` by this process works. Job names never start with `.`, so
    /// no drill record (`<job>.json`) can be mistaken for one.
    pub fn path_for(state_dir: &Path, job: &str) -> PathBuf {
        crate::installed::verify_status_file(state_dir, job)
            .with_file_name(format!("{PREFIX}{}-{job}", std::process::id()))
    }

    /// Makes the folder, after removing those of drills whose process is gone.
    pub fn create(state_dir: &Path, job: &str) -> std::io::Result<Scratch> {
        let path = Self::path_for(state_dir, job);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
            remove_abandoned(parent);
        }
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        // The mode asked for passes through the umask; this one does not.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))?;
        Ok(Scratch(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = remove(&self.0) {
            log::warn(format!(
                "cannot remove the drill's folder {}: {e}",
                self.0.display()
            ));
        }
    }
}

/// Removes `dir` and everything in it. Restored folders keep their modes, and a folder
/// restored read-only stops the removal of what is in it unless bakrun runs with
/// CAP_DAC_OVERRIDE: such folders are made writable (never through a symbolic link)
/// and the removal tried again.
fn remove(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            open_up(dir);
            std::fs::remove_dir_all(dir)
        }
    }
}

fn open_up(dir: &Path) {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700));
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
}

/// Drill folders in `dir` whose process no longer runs.
fn remove_abandoned(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            log::info(format!(
                "removing {}, left by a drill that did not finish",
                entry.path().display()
            ));
            if let Err(e) = remove(&entry.path()) {
                log::warn(format!("cannot remove {}: {e}", entry.path().display()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_is_private_and_gone_when_dropped_also_with_a_read_only_folder_inside() {
        let state = tempfile::tempdir().unwrap();
        let scratch = Scratch::create(state.path(), "etc").unwrap();
        let path = scratch.path().to_owned();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::create_dir_all(path.join("ro/inner")).unwrap();
        std::fs::write(path.join("ro/inner/f"), "x").unwrap();
        std::fs::set_permissions(path.join("ro"), std::fs::Permissions::from_mode(0o500)).unwrap();
        drop(scratch);
        assert!(!path.exists());
    }

    #[test]
    fn a_dead_drill_s_folder_is_removed_and_a_live_one_kept() {
        let state = tempfile::tempdir().unwrap();
        let verify = state.path().join("verify");
        // pid 4194304 is above the kernel's largest pid: never alive.
        let dead = verify.join(".drill-4194304-etc");
        std::fs::create_dir_all(dead.join("x")).unwrap();
        let live = verify.join(format!(".drill-{}-other", std::process::id()));
        std::fs::create_dir_all(&live).unwrap();
        let scratch = Scratch::create(state.path(), "etc").unwrap();
        assert!(!dead.exists());
        assert!(live.exists());
        drop(scratch);
    }
}
