//! Reading the secrets a job spec points at ([`SecretRef`]). A secret value only ever
//! lives in memory on its way into a child's environment or a private file; it is never
//! printed, logged, put in an argument or written to the status file. Errors name where a
//! secret was looked for, never what it holds.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

pub use crate::private_file::{named_by, PrivateFile};
use crate::spec::SecretRef;

/// The folder systemd fills from `LoadCredential=`/`LoadCredentialEncrypted=`.
pub const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{}", no_credentials_directory(name, encrypted.as_deref()))]
    NoCredentialsDirectory {
        name: String,
        encrypted: Option<String>,
    },
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

/// What to do when a credential is needed outside its unit: for an encrypted one, the
/// exact `systemd-run` or `systemd-creds` command.
fn no_credentials_directory(name: &str, encrypted: Option<&str>) -> String {
    let head =
        format!("secret `{name}` is a systemd credential, but {CREDENTIALS_DIRECTORY} is not set");
    match encrypted {
        Some(file) => format!(
            "{head}: it is encrypted with systemd-creds, so run bakrun by hand through systemd: \
             `systemd-run --pty --collect -p LoadCredentialEncrypted={name}:{file} bakrun …` \
             (one -p per credential the job uses), or decrypt it into a private folder: \
             `install -d -m 700 /run/bakgen-creds && systemd-creds decrypt --name={name} {file} /run/bakgen-creds/{name}` \
             and run with {CREDENTIALS_DIRECTORY}=/run/bakgen-creds (remove the folder after)"
        ),
        None => format!(
            "{head}: run the job through its unit (systemctl start), or set {CREDENTIALS_DIRECTORY} to a folder holding `{name}`"
        ),
    }
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
        SecretRef::Credential { name, .. } => format!("credential {name}"),
        SecretRef::File { path } => format!("file {path}"),
        SecretRef::Command { command } => format!("command `{command}`"),
    }
}

/// The file holding a file-backed secret (credential or file), checked for its mode;
/// `None` for a command secret.
pub fn file_of(r: &SecretRef) -> Result<Option<PathBuf>, SecretError> {
    let path = match r {
        SecretRef::Credential {
            name,
            file,
            encrypted,
        } => match (std::env::var_os(CREDENTIALS_DIRECTORY), file) {
            (Some(dir), _) => PathBuf::from(dir).join(name),
            // Outside the unit (root running bakrun by hand): the file `LoadCredential=`
            // reads, checked like any secret file.
            (None, Some(file)) if file.starts_with('/') => PathBuf::from(file),
            (None, _) => {
                return Err(SecretError::NoCredentialsDirectory {
                    name: name.clone(),
                    encrypted: encrypted.clone(),
                })
            }
        },
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
}
