//! Reading the secrets a job spec points at ([`SecretRef`]). A secret value only ever
//! lives in memory on its way into a child's environment or a private file; it is never
//! printed, logged, put in an argument or written to the status file. Errors name where a
//! secret was looked for, never what it holds.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::spec::SecretRef;

/// The folder systemd fills from `LoadCredential=`/`LoadCredentialEncrypted=`.
pub const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret `{name}` is a systemd credential, but CREDENTIALS_DIRECTORY is not set: run the job through its unit (systemctl start), or set CREDENTIALS_DIRECTORY to a folder holding `{name}`")]
    NoCredentialsDirectory { name: String },
    #[error("cannot read secret file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secret file {} is readable by {who} (mode {mode:04o}); refusing to use it: run `chmod 600 {}` (or 400) and keep it owned by root", path.display(), path.display())]
    Exposed {
        path: PathBuf,
        mode: u32,
        who: &'static str,
    },
    #[error("secret command `{command}` failed with {status}")]
    CommandFailed { command: String, status: String },
    #[error("cannot run secret command `{command}`: {source}")]
    CommandSpawn {
        command: String,
        source: std::io::Error,
    },
    #[error("secret from {0} is empty")]
    Empty(String),
}

/// A secret value. Its `Debug` never shows the value, so it cannot leak through `{:?}`.
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// Where a secret comes from, for messages and dry runs; never its value.
pub fn describe(r: &SecretRef) -> String {
    match r {
        SecretRef::Credential { name } => format!("credential {name}"),
        SecretRef::File { path } => format!("file {path}"),
        SecretRef::Command { command } => format!("command `{command}`"),
    }
}

/// The file holding a file-backed secret (credential or file), checked for its mode;
/// `None` for a command secret.
pub fn file_of(r: &SecretRef) -> Result<Option<PathBuf>, SecretError> {
    let path = match r {
        SecretRef::Credential { name } => {
            let dir = std::env::var_os(CREDENTIALS_DIRECTORY)
                .ok_or_else(|| SecretError::NoCredentialsDirectory { name: name.clone() })?;
            PathBuf::from(dir).join(name)
        }
        SecretRef::File { path } => PathBuf::from(path),
        SecretRef::Command { .. } => return Ok(None),
    };
    check_file(&path)?;
    Ok(Some(path))
}

/// Refuses a secret file that group or others may read: a password that every local user
/// can read protects nothing, and quietly using it would hide the mistake.
pub fn check_file(path: &std::path::Path) -> Result<(), SecretError> {
    let meta = std::fs::metadata(path).map_err(|source| SecretError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    let who = match (mode & 0o040 != 0, mode & 0o004 != 0) {
        (_, true) => "everyone",
        (true, false) => "its group",
        (false, false) => return Ok(()),
    };
    Err(SecretError::Exposed {
        path: path.to_owned(),
        mode,
        who,
    })
}

/// Reads a secret's value: the file's content or the command's standard output, without
/// its final newline.
pub fn read(r: &SecretRef) -> Result<Secret, SecretError> {
    let mut value = match file_of(r)? {
        Some(path) => {
            std::fs::read_to_string(&path).map_err(|source| SecretError::Read { path, source })?
        }
        None => {
            let SecretRef::Command { command } = r else {
                return Err(SecretError::Empty(describe(r)));
            };
            // Started like every child (parent-death signal, the job's lock inherited), and
            // stopped like one: a password manager waiting for a touch cannot hold a
            // stopped run.
            let cmd = crate::command::Command::new("/bin/sh")
                .arg("-c")
                .arg(command);
            let out = crate::command::output_stoppable(crate::command::process(&cmd), &cmd)
                .map_err(|source| SecretError::CommandSpawn {
                    command: command.clone(),
                    source,
                })?;
            // What it says on standard error (a prompt, why it failed) is no secret.
            for line in String::from_utf8_lossy(&out.stderr).lines() {
                crate::log::warn(format!("password command: {line}"));
            }
            if !out.status.success() {
                return Err(SecretError::CommandFailed {
                    command: command.clone(),
                    status: out.status.to_string(),
                });
            }
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    while value.ends_with('\n') || value.ends_with('\r') {
        value.pop();
    }
    if value.is_empty() {
        return Err(SecretError::Empty(describe(r)));
    }
    Ok(Secret(value))
}

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
    fn refuses_group_or_world_readable_files() {
        let file = PrivateFile::new("secret-test", "hunter2\n").unwrap();
        let path = file.path();
        let r = SecretRef::File {
            path: path.to_string_lossy().into_owned(),
        };
        assert_eq!(read(&r).unwrap().expose(), "hunter2");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = read(&r).unwrap_err().to_string();
        assert!(e.contains("readable by its group"), "{e}");
        assert!(!e.contains("hunter2"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o604)).unwrap();
        assert!(read(&r).unwrap_err().to_string().contains("everyone"));
    }

    #[test]
    fn commands_and_debug_never_show_the_value() {
        let r = SecretRef::Command {
            command: "printf 'a b\\n'".into(),
        };
        let s = read(&r).unwrap();
        assert_eq!(s.expose(), "a b");
        assert_eq!(format!("{s:?}"), "Secret(<hidden>)");
    }

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
