//! A secret for a child process as an anonymous memory file, and which of them a child's
//! command names. Below both `secret` (which fills them) and `process` (which hands them to
//! exactly the child that names them), so neither has to know the other.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// A secret a child process reads by path (an S3 credentials file, a `PGPASSFILE`, a MySQL
/// option file), kept in memory rather than on disk: an anonymous memory file (memfd,
/// mode 0600) whose path is `/proc/self/fd/N`. The kernel frees it once bakrun and the
/// children holding it are gone, however they end: a SIGKILL leaves nothing behind,
/// where a file in `/tmp` would stay for good. The descriptor is close-on-exec, so a
/// child gets it only when its command names the path ([`named_by`], applied to every
/// child bakrun starts for restic and the dumps).
#[derive(Debug)]
pub struct PrivateFile {
    file: std::fs::File,
}

/// The descriptors of the live [`PrivateFile`]s: only these are ever handed to a child.
static OPEN: std::sync::Mutex<Vec<std::os::fd::RawFd>> = std::sync::Mutex::new(Vec::new());

/// How a child's command names a private file.
const FD_PATH: &str = "/proc/self/fd/";

impl PrivateFile {
    pub fn new(name: &str, contents: &str) -> std::io::Result<Self> {
        use std::io::Write;
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        let name = std::ffi::CString::new(format!("bakrun-{name}"))?;
        // SAFETY: name is a valid C string; the returned descriptor is owned below.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: memfd_create returned a new descriptor nothing else owns.
        let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        // A memfd starts 0777; libpq and MySQL refuse a password file others may read.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(contents.as_bytes())?;
        open_fds().push(file.as_raw_fd());
        Ok(Self { file })
    }

    /// Its descriptor, the same number in bakrun and in the child that inherits it.
    pub fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.file.as_raw_fd()
    }

    /// `/proc/self/fd/N`: the same file in bakrun and in the child that inherits it.
    pub fn path(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!("{FD_PATH}{}", self.file.as_raw_fd()))
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        let fd = self.file.as_raw_fd();
        open_fds().retain(|f| *f != fd);
    }
}

fn open_fds() -> std::sync::MutexGuard<'static, Vec<std::os::fd::RawFd>> {
    OPEN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The descriptors of the live private files that `words` (a command's arguments and
/// environment values) name as `/proc/self/fd/N`, alone or after `=`
/// (`--defaults-extra-file=/proc/self/fd/5`): the ones that child must inherit.
pub fn named_by<'a>(
    words: impl IntoIterator<Item = &'a std::ffi::OsStr>,
) -> Vec<std::os::fd::RawFd> {
    let open = open_fds();
    let mut fds: Vec<std::os::fd::RawFd> = words
        .into_iter()
        .filter_map(|w| {
            let w = w.to_str()?;
            let at = w.find(FD_PATH)?;
            if at != 0 && !w[..at].ends_with('=') {
                return None;
            }
            w[at + FD_PATH.len()..].parse().ok()
        })
        .filter(|fd| open.contains(fd))
        .collect();
    fds.sort_unstable();
    fds.dedup();
    fds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_live_in_memory_and_only_named_ones_are_handed_on() {
        let a = PrivateFile::new("a", "key = value\n").unwrap();
        let b = PrivateFile::new("b", "other\n").unwrap();
        let path = a.path();
        assert!(path.starts_with(FD_PATH), "{path:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "key = value\n");
        // Twice: each open starts at the beginning.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "key = value\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
        let arg = format!("--defaults-extra-file={}", path.display());
        let fd: i32 = path.to_str().unwrap()[FD_PATH.len()..].parse().unwrap();
        let named = |words: &[&str]| named_by(words.iter().map(std::ffi::OsStr::new));
        assert_eq!(named(&[&arg, "--all-databases"]), vec![fd]);
        assert_eq!(named(&[path.to_str().unwrap()]), vec![fd]);
        // Not a private file: an fd bakrun did not make, or a path merely containing it.
        assert_eq!(
            named(&["/proc/self/fd/0", "x/proc/self/fd/1"]),
            Vec::<i32>::new()
        );
        drop(a);
        assert_eq!(std::fs::read_to_string(b.path()).unwrap(), "other\n");
    }
}
