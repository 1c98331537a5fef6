//! Durable file operations under the install root: a reader (systemd, `bakrun`) sees a
//! file's old or new contents, never half of one, and a power cut after `apply` returns
//! loses nothing it reported as done.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}: {source}", path.display())]
pub struct WriteError {
    pub action: &'static str,
    pub path: PathBuf,
    pub source: std::io::Error,
}

fn err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> WriteError + 'a {
    move |source| WriteError {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Temporary file in the target's folder (so the rename stays on one file system), created
/// with the final mode so a 0600 job spec is never readable by others, fsynced, renamed
/// over the target, then the folder fsynced so the rename itself is durable.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), WriteError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    create_dirs(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.bakgen-tmp"));
    let result = (|| {
        // A temporary file left by a crash is ours (its name says so): replace it.
        let _ = std::fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have cleared bits of `mode`: set it exactly.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(source) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(WriteError {
            action: "write",
            path: path.to_path_buf(),
            source,
        });
    }
    sync_dir(dir)
}

/// Only the mode differs: change it in place (no content changes hands).
pub fn set_mode(path: &Path, mode: u32) -> Result<(), WriteError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(err("set the mode of", path))?;
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(err("sync", path))
}

/// Removes a file and makes the removal durable. A file already gone is fine: that is
/// what a previous, interrupted apply leaves behind.
pub fn remove_file(path: &Path) -> Result<(), WriteError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(err("remove", path)(e)),
    }
    sync_dir(path.parent().unwrap_or(Path::new("/")))
}

/// Like `create_dir_all`, but each new folder's parent is fsynced so the folder survives
/// a crash together with the files renamed into it.
fn create_dirs(dir: &Path) -> Result<(), WriteError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(err("create the folder", dir)(e)),
    }
    sync_dir(dir.parent().unwrap_or(Path::new("/")))
}

fn sync_dir(dir: &Path) -> Result<(), WriteError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err("sync the folder", dir))
}
