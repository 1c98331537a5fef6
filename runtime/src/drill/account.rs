//! Whom a throwaway server runs as. PostgreSQL and MariaDB refuse to run as root, so a
//! bakrun running as root starts them (and `initdb`, `mariadb-install-db`) as the system
//! user `bakgen`, or `nobody` where that does not exist, owning the server's folder. Under
//! its unit bakrun already runs as `bakgen`, and nothing is switched.

use std::os::unix::process::CommandExt;
use std::path::Path;

use super::DrillError;

/// The user servers run as: `None` is bakrun's own.
#[derive(Debug, Clone)]
pub(super) struct Account {
    switch: Option<User>,
}

#[derive(Debug, Clone)]
struct User {
    name: &'static str,
    uid: u32,
    gid: u32,
}

impl Account {
    pub(super) fn for_servers() -> Result<Self, DrillError> {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(Account { switch: None });
        }
        let user = ["bakgen", "nobody"]
            .into_iter()
            .find_map(lookup)
            .ok_or(DrillError::NoUnprivilegedUser)?;
        Ok(Account { switch: Some(user) })
    }

    /// The server user must be able to pass through `scratch` to its own folder: a
    /// private (0700) scratch folder of root's gets search permission for others (0711),
    /// never read permission, so its names stay unlisted.
    pub(super) fn can_reach(&self, scratch: &Path) -> Result<(), DrillError> {
        if self.switch.is_none() {
            return Ok(());
        }
        use std::os::unix::fs::PermissionsExt;
        let io = |source| DrillError::Folder {
            path: scratch.to_owned(),
            source,
        };
        let mode = std::fs::metadata(scratch).map_err(io)?.permissions().mode();
        if mode & 0o001 == 0 {
            std::fs::set_permissions(
                scratch,
                std::fs::Permissions::from_mode((mode & 0o7777) | 0o001),
            )
            .map_err(io)?;
        }
        Ok(())
    }

    /// Hands `path` to the server user.
    pub(super) fn own(&self, path: &Path) -> std::io::Result<()> {
        match &self.switch {
            Some(u) => std::os::unix::fs::chown(path, Some(u.uid), Some(u.gid)),
            None => Ok(()),
        }
    }

    /// Makes `p` run as the server user. The standard library changes the ids (and drops
    /// root's supplementary groups) before the parent-death signal is set up by
    /// [`crate::process::process`]'s own pre-exec step, so that signal survives the switch.
    pub(super) fn apply(&self, p: &mut std::process::Command) {
        if let Some(u) = &self.switch {
            p.uid(u.uid).gid(u.gid);
        }
    }

    /// ` as user nobody`, or nothing.
    pub(super) fn describe(&self) -> String {
        self.switch
            .as_ref()
            .map_or_else(String::new, |u| format!(" as user {}", u.name))
    }

    /// Whether folders the server must pass through need search permission for others.
    pub(super) fn switches(&self) -> bool {
        self.switch.is_some()
    }
}

fn lookup(name: &'static str) -> Option<User> {
    let c_name = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam returns a pointer into static storage, or null; read at once.
    unsafe {
        let pw = libc::getpwnam(c_name.as_ptr());
        if pw.is_null() {
            return None;
        }
        Some(User {
            name,
            uid: (*pw).pw_uid,
            gid: (*pw).pw_gid,
        })
    }
}
