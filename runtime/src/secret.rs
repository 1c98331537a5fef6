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
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(command)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit())
                .output()
                .map_err(|source| SecretError::CommandSpawn {
                    command: command.clone(),
                    source,
                })?;
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

/// A private folder for files that hold secrets for a child process (a MySQL option
/// file): mode 0700 under `$RUNTIME_DIRECTORY`/`$TMPDIR`, removed with everything in it
/// when dropped, also when the run fails.
#[derive(Debug)]
pub struct PrivateDir(PathBuf);

impl PrivateDir {
    pub fn new(tag: &str) -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::var_os("RUNTIME_DIRECTORY")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = base.join(format!("bakrun-{tag}-{}-{n}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(Self(dir))
    }

    /// Writes `contents` to a new 0600 file in the folder.
    pub fn write(&self, name: &str, contents: &str) -> std::io::Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.0.join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(contents.as_bytes())?;
        Ok(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_group_or_world_readable_files() {
        let dir = PrivateDir::new("secret-test").unwrap();
        let path = dir.write("pw", "hunter2\n").unwrap();
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
}
