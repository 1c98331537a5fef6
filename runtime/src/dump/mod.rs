//! Database dumps, the `postgres` and `mysql` steps of a job spec.
//!
//! The engine decides where a dump's bytes go, because that is where atomicity lives:
//! restic streams each dump straight into `restic backup --stdin` (a pipe between the two
//! child processes; bakrun never holds the bytes), rsync snapshots get each dump as a file
//! inside the `.incomplete` tree before it is renamed complete. Either way a dump that
//! fails or dies half way fails the run and leaves no snapshot behind.
//!
//! Passwords never reach an argument: PostgreSQL reads them from a 0600 `PGPASSFILE`,
//! MySQL/MariaDB from a 0600 `--defaults-extra-file`, both [`PrivateFile`]s: in memory,
//! gone when the [`Dump`] is dropped or bakrun dies.

use std::path::Path;

use crate::command::{Command, CommandError, Exec, Finished};
use crate::secret::{self, PrivateFile, SecretError};
use crate::spec::{JobSpec, SecretRef, Step};

pub mod pipe;

/// One dump to take: the command that writes it on standard output and the name of the
/// file it becomes (`app.sql`).
#[derive(Debug)]
pub struct Dump {
    /// `app.sql`, `postgres-all.sql`, `mysql-all.sql`.
    pub file_name: String,
    pub command: Command,
    /// Holds the password file; closed on drop.
    _private: Option<PrivateFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("cannot prepare the {what} password file: {source}")]
    PasswordFile {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("database name `{0}` cannot be a file name (empty, `/`, or starting with `.`)")]
    BadName(String),
}

/// What a dump restores into, for the restore script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpKind {
    /// One PostgreSQL database (`pg_dump --create`: the file creates the database).
    Postgres,
    /// Every PostgreSQL database and role (`pg_dumpall`).
    PostgresAll,
    /// One or all MySQL/MariaDB databases (`mysqldump --databases`/`--all-databases`:
    /// the file creates them).
    Mysql,
}

/// A dump as the job names it, without its command: known without reading any secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogued {
    /// `app.sql`, `postgres-all.sql`, `mysql-all.sql`.
    pub file_name: String,
    pub kind: DumpKind,
    /// The database a one-database dump holds; `None` for a dump of all of them.
    pub database: Option<String>,
}

/// The file names and kinds of a job's dumps, in order, the same as [`plan`] makes.
pub fn catalogue(spec: &JobSpec) -> Result<Vec<Catalogued>, DumpError> {
    let mut out: Vec<Catalogued> = Vec::new();
    for step in &spec.steps {
        let (databases, one, all, prefix, all_name) = match step {
            Step::Postgres { databases, .. } => (
                databases,
                DumpKind::Postgres,
                DumpKind::PostgresAll,
                "postgres",
                "postgres-all.sql",
            ),
            Step::Mysql { databases, .. } => (
                databases,
                DumpKind::Mysql,
                DumpKind::Mysql,
                "mysql",
                "mysql-all.sql",
            ),
            Step::LvmSnapshot { .. } | Step::BtrfsSnapshot { .. } => continue,
        };
        let mut dumps = if databases.is_empty() {
            vec![Catalogued {
                file_name: all_name.into(),
                kind: all,
                database: None,
            }]
        } else {
            databases
                .iter()
                .map(|db| {
                    Ok(Catalogued {
                        file_name: file_name(db)?,
                        kind: one.clone(),
                        database: Some(db.clone()),
                    })
                })
                .collect::<Result<Vec<_>, DumpError>>()?
        };
        // The same database name in PostgreSQL and MySQL must not make one file.
        for d in &mut dumps {
            if out.iter().any(|o| o.file_name == d.file_name) {
                d.file_name = format!("{prefix}-{}", d.file_name);
            }
        }
        out.extend(dumps);
    }
    Ok(out)
}

/// The dumps of a job's steps, in order. Secrets are read here, so a missing or exposed
/// one stops the run before anything is written.
pub fn plan(spec: &JobSpec) -> Result<Vec<Dump>, DumpError> {
    let mut out: Vec<Dump> = Vec::new();
    for step in &spec.steps {
        let dumps = match step {
            Step::Postgres {
                databases,
                host,
                port,
                user,
                password,
            } => postgres(databases, host.as_deref(), *port, user.as_deref(), password)?,
            Step::Mysql {
                databases,
                host,
                port,
                user,
                password,
            } => mysql(databases, host.as_deref(), *port, user.as_deref(), password)?,
            Step::LvmSnapshot { .. } | Step::BtrfsSnapshot { .. } => continue,
        };
        out.extend(dumps);
    }
    // One naming rule for the run and the restore script.
    for (dump, named) in out.iter_mut().zip(catalogue(spec)?) {
        dump.file_name = named.file_name;
    }
    Ok(out)
}

fn file_name(db: &str) -> Result<String, DumpError> {
    if db.is_empty() || db.contains('/') || db.starts_with('.') || db.contains('\0') {
        return Err(DumpError::BadName(db.to_owned()));
    }
    Ok(format!("{db}.sql"))
}

fn postgres(
    databases: &[String],
    host: Option<&str>,
    port: Option<u16>,
    user: Option<&str>,
    password: &Option<SecretRef>,
) -> Result<Vec<Dump>, DumpError> {
    // Without a host, pg_dump uses the local socket, where PostgreSQL's default peer
    // authentication wants the OS user `postgres`: switch to it with setpriv (the unit
    // grants CAP_SETUID/CAP_SETGID for exactly this; runuser would insist on uid 0).
    let switch_to = host.is_none().then(postgres_user).flatten();
    let connection = |program: &str| {
        let mut c = match switch_to {
            Some((uid, gid)) => Command::new("setpriv").args([
                format!("--reuid={uid}"),
                format!("--regid={gid}"),
                "--init-groups".to_owned(),
                "--".to_owned(),
                program.to_owned(),
            ]),
            None => Command::new(program),
        };
        // Never prompt: a job has no terminal, a prompt would hang it until its timeout.
        c = c.arg("--no-password");
        if let Some(h) = host {
            c = c.arg(format!("--host={h}"));
        }
        if let Some(p) = port {
            c = c.arg(format!("--port={p}"));
        }
        if let Some(u) = user {
            c = c.arg(format!("--username={u}"));
        }
        c
    };
    let private =
        |password: &Option<SecretRef>| -> Result<Option<(PrivateFile, String)>, DumpError> {
            let Some(r) = password else { return Ok(None) };
            let value = secret::read(r)?;
            let io = |source| DumpError::PasswordFile {
                what: "PostgreSQL",
                source,
            };
            // .pgpass fields escape `:` and `\`; libpq ignores the file unless it is 0600.
            let escaped = value.expose().replace('\\', "\\\\").replace(':', "\\:");
            let file = PrivateFile::new("pgpass", &format!("*:*:*:*:{escaped}\n")).map_err(io)?;
            let path = file.path().to_string_lossy().into_owned();
            Ok(Some((file, path)))
        };
    let with_password = |mut c: Command| -> Result<(Command, Option<PrivateFile>), DumpError> {
        match private(password)? {
            Some((dir, path)) => {
                c = c.env("PGPASSFILE", path);
                Ok((c, Some(dir)))
            }
            None => Ok((c, None)),
        }
    };
    if databases.is_empty() {
        let (command, dir) = with_password(connection("pg_dumpall"))?;
        return Ok(vec![Dump {
            file_name: "postgres-all.sql".into(),
            command,
            _private: dir,
        }]);
    }
    databases
        .iter()
        .map(|db| {
            // --create: the file makes its database, so it restores on a fresh server.
            let c = connection("pg_dump")
                .arg("--create")
                .arg(format!("--dbname={db}"));
            let (command, dir) = with_password(c)?;
            Ok(Dump {
                file_name: file_name(db)?,
                command,
                _private: dir,
            })
        })
        .collect()
}

/// The uid and gid of the `postgres` OS user, when it exists and is not who we are.
fn postgres_user() -> Option<(u32, u32)> {
    // SAFETY: getpwnam returns a pointer into static storage, or null; read at once.
    let (uid, gid) = unsafe {
        let pw = libc::getpwnam(c"postgres".as_ptr());
        if pw.is_null() {
            return None;
        }
        ((*pw).pw_uid, (*pw).pw_gid)
    };
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == uid {
        return None;
    }
    Some((uid, gid))
}

fn mysql(
    databases: &[String],
    host: Option<&str>,
    port: Option<u16>,
    user: Option<&str>,
    password: &Option<SecretRef>,
) -> Result<Vec<Dump>, DumpError> {
    let base = || -> Result<(Command, Option<PrivateFile>), DumpError> {
        let mut c = Command::new("mysqldump");
        let mut dir = None;
        if let Some(r) = password {
            let value = secret::read(r)?;
            let io = |source| DumpError::PasswordFile {
                what: "MySQL",
                source,
            };
            // Option-file values in double quotes take backslash escapes.
            let quoted = value.expose().replace('\\', "\\\\").replace('"', "\\\"");
            let d = PrivateFile::new(
                "mysql-client.cnf",
                &format!("[client]\npassword=\"{quoted}\"\n"),
            )
            .map_err(io)?;
            let path = d.path();
            // mysqldump only honours --defaults-extra-file as its very first option.
            c = c.arg(format!("--defaults-extra-file={}", path.display()));
            dir = Some(d);
        }
        match host {
            Some(h) if h.starts_with('/') => c = c.arg(format!("--socket={h}")),
            Some(h) => c = c.arg(format!("--host={h}")).arg("--protocol=tcp"),
            None => {}
        }
        if let Some(p) = port {
            c = c.arg(format!("--port={p}"));
        }
        if let Some(u) = user {
            c = c.arg(format!("--user={u}"));
        }
        // A consistent InnoDB snapshot without locking the tables for the whole dump.
        c = c.args([
            "--single-transaction",
            "--routines",
            "--events",
            "--triggers",
            "--hex-blob",
        ]);
        Ok((c, dir))
    };
    if databases.is_empty() {
        let (c, dir) = base()?;
        return Ok(vec![Dump {
            file_name: "mysql-all.sql".into(),
            command: c.arg("--all-databases"),
            _private: dir,
        }]);
    }
    databases
        .iter()
        .map(|db| {
            let (c, dir) = base()?;
            Ok(Dump {
                file_name: file_name(db)?,
                // --databases adds CREATE DATABASE/USE, so the file restores on its own.
                command: c.arg("--databases").arg(db),
                _private: dir,
            })
        })
        .collect()
}

/// Runs a dump into a new file `path` (created 0600: it holds the database). Returns how
/// the dump ended; the caller fails the run unless it succeeded.
pub fn to_file(exec: &Exec, dump: &Dump, path: &Path) -> Result<Finished, CommandError> {
    Ok(exec.run_into_file(&dump.command, path)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_file(value: &str) -> (PrivateFile, SecretRef) {
        let file = PrivateFile::new("dump-test", value).unwrap();
        let r = SecretRef::File {
            path: file.path().to_string_lossy().into_owned(),
        };
        (file, r)
    }

    #[test]
    fn passwords_go_to_private_files_never_to_arguments() {
        let (_d, r) = secret_file("pa:ss\\w\"rd");
        let pg = postgres(
            &["app".into()],
            Some("db"),
            Some(5433),
            Some("u"),
            &Some(r.clone()),
        )
        .unwrap();
        let cmd = &pg[0].command;
        assert!(!cmd.display().contains("pa:ss"));
        let (_, file) = cmd.env.iter().find(|(k, _)| k == "PGPASSFILE").unwrap();
        let text = std::fs::read_to_string(file).unwrap();
        assert_eq!(text, "*:*:*:*:pa\\:ss\\\\w\"rd\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(pg[0].file_name, "app.sql");

        let my = mysql(
            &[],
            Some("/run/mysqld/mysqld.sock"),
            None,
            Some("backup"),
            &Some(r),
        )
        .unwrap();
        let args: Vec<String> = my[0]
            .command
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(args[0].starts_with("--defaults-extra-file="), "{args:?}");
        assert!(args.contains(&"--socket=/run/mysqld/mysqld.sock".to_owned()));
        assert!(args.contains(&"--single-transaction".to_owned()));
        assert!(args.contains(&"--all-databases".to_owned()));
        assert!(!my[0].command.display().contains("pa:ss"));
        let cnf = args[0].trim_start_matches("--defaults-extra-file=");
        assert_eq!(
            std::fs::read_to_string(cnf).unwrap(),
            "[client]\npassword=\"pa:ss\\\\w\\\"rd\"\n"
        );
        assert_eq!(my[0].file_name, "mysql-all.sql");
        // Only the dump's own child gets the file.
        let words = my[0].command.args.iter().map(|a| a.as_os_str());
        assert_eq!(secret::named_by(words).len(), 1);
        let words = pg[0].command.env.iter().map(|(_, v)| v.as_os_str());
        assert_eq!(secret::named_by(words).len(), 1);
    }

    #[test]
    fn database_names_must_be_file_names() {
        assert!(file_name("../etc").is_err());
        assert!(file_name(".hidden").is_err());
        assert!(file_name("").is_err());
        assert_eq!(file_name("billing").unwrap(), "billing.sql");
    }
}
