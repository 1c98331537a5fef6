//! The server programs a drill needs, found before any server starts so that a missing
//! package stops the drill with its name. PostgreSQL: the newest
//! `/usr/lib/postgresql/<major>/bin` holding `initdb`, `postgres` and `psql` (Debian's
//! layout; `initdb` is not on Debian's PATH), else all three on PATH. MariaDB:
//! `mariadb-install-db`, `mariadbd` and `mariadb` on PATH or in `/usr/sbin`, `/usr/bin`
//! (the older `mysql_install_db`, `mysqld`, `mysql` names too).

use std::path::{Path, PathBuf};

use super::DrillError;
use crate::dump::{Catalogued, DumpKind};

const PG_ROOT: &str = "/usr/lib/postgresql";

#[derive(Debug, Clone)]
pub(super) struct Postgres {
    pub initdb: PathBuf,
    pub postgres: PathBuf,
    pub psql: PathBuf,
}

#[derive(Debug, Clone)]
pub(super) struct Mariadb {
    pub install_db: PathBuf,
    pub server: PathBuf,
    pub client: PathBuf,
}

/// The programs for a job's dumps: only the engines it dumps are looked for.
#[derive(Debug, Clone, Default)]
pub(super) struct Binaries {
    postgres: Option<Postgres>,
    mariadb: Option<Mariadb>,
}

impl Binaries {
    pub(super) fn for_dumps(dumps: &[Catalogued]) -> Result<Self, DrillError> {
        let mut b = Binaries::default();
        if dumps.iter().any(|d| d.kind != DumpKind::Mysql) {
            b.postgres = Some(find_postgres(Path::new(PG_ROOT), &search_path())?);
        }
        if dumps.iter().any(|d| d.kind == DumpKind::Mysql) {
            b.mariadb = Some(find_mariadb(&search_path())?);
        }
        Ok(b)
    }

    /// Found when [`Binaries::for_dumps`] saw a PostgreSQL dump.
    pub(super) fn postgres(&self) -> Option<&Postgres> {
        self.postgres.as_ref()
    }

    /// Found when [`Binaries::for_dumps`] saw a MySQL dump.
    pub(super) fn mariadb(&self) -> Option<&Mariadb> {
        self.mariadb.as_ref()
    }

    pub(super) fn describe(&self, kind: &DumpKind) -> String {
        match (kind, &self.postgres, &self.mariadb) {
            (DumpKind::Mysql, _, Some(m)) => format!("mariadbd ({})", m.server.display()),
            (_, Some(p), _) => format!("postgres ({})", p.postgres.display()),
            _ => "server".into(),
        }
    }
}

/// PATH, then the folders Debian keeps servers in (a unit's PATH has them; a login shell's
/// may not have `/usr/sbin`).
fn search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        if !dirs.iter().any(|x| x == Path::new(d)) {
            dirs.push(d.into());
        }
    }
    dirs
}

fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(dirs: &[PathBuf], names: &[&str]) -> Option<PathBuf> {
    names.iter().find_map(|n| {
        dirs.iter()
            .map(|d| d.join(n))
            .find(|candidate| executable(candidate))
    })
}

fn find_postgres(root: &Path, dirs: &[PathBuf]) -> Result<Postgres, DrillError> {
    let in_dir = |bin: &Path| -> Option<Postgres> {
        let p = Postgres {
            initdb: bin.join("initdb"),
            postgres: bin.join("postgres"),
            psql: bin.join("psql"),
        };
        (executable(&p.initdb) && executable(&p.postgres) && executable(&p.psql)).then_some(p)
    };
    // Newest major version first: `15` before `9.6`, by number.
    let mut majors: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            let version = name
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    majors.sort();
    if let Some(found) = majors.iter().rev().find_map(|(_, bin)| in_dir(bin)) {
        return Ok(found);
    }
    let found = (
        on_path(dirs, &["initdb"]),
        on_path(dirs, &["postgres"]),
        on_path(dirs, &["psql"]),
    );
    match found {
        (Some(initdb), Some(postgres), Some(psql)) => Ok(Postgres {
            initdb,
            postgres,
            psql,
        }),
        _ => Err(DrillError::NotInstalled {
            what: "PostgreSQL's initdb, postgres and psql",
            looked: format!("{}/<version>/bin and PATH", root.display()),
            package: "postgresql",
        }),
    }
}

fn find_mariadb(dirs: &[PathBuf]) -> Result<Mariadb, DrillError> {
    let found = (
        on_path(dirs, &["mariadb-install-db", "mysql_install_db"]),
        on_path(dirs, &["mariadbd", "mysqld"]),
        on_path(dirs, &["mariadb", "mysql"]),
    );
    match found {
        (Some(install_db), Some(server), Some(client)) => Ok(Mariadb {
            install_db,
            server,
            client,
        }),
        _ => Err(DrillError::NotInstalled {
            what: "MariaDB's mariadb-install-db, mariadbd and mariadb",
            looked: "PATH, /usr/sbin and /usr/bin".into(),
            package: "mariadb-server",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bin(dir: &Path, names: &[&str]) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir).unwrap();
        for n in names {
            let p = dir.join(n);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn the_newest_complete_postgres_version_wins_and_a_missing_one_names_the_package() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("pg");
        fake_bin(&root.join("9.6/bin"), &["initdb", "postgres", "psql"]);
        fake_bin(&root.join("15/bin"), &["initdb", "postgres", "psql"]);
        // 16 lacks psql: not a usable installation.
        fake_bin(&root.join("16/bin"), &["initdb", "postgres"]);
        let found = find_postgres(&root, &[]).unwrap();
        assert_eq!(found.initdb, root.join("15/bin/initdb"));
        assert_eq!(found.psql, root.join("15/bin/psql"));

        let e = find_postgres(&t.path().join("none"), &[t.path().join("empty")]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("install the Debian package `postgresql`"),
            "{text}"
        );

        let path = t.path().join("path");
        fake_bin(&path, &["initdb", "postgres", "psql"]);
        let found = find_postgres(&t.path().join("none"), std::slice::from_ref(&path)).unwrap();
        assert_eq!(found.postgres, path.join("postgres"));
    }

    #[test]
    fn mariadb_is_found_by_either_name_and_a_missing_one_names_the_package() {
        let t = tempfile::tempdir().unwrap();
        let e = find_mariadb(&[t.path().to_owned()]).unwrap_err();
        assert!(e.to_string().contains("`mariadb-server`"), "{e}");
        fake_bin(t.path(), &["mysql_install_db", "mariadbd", "mysql"]);
        let found = find_mariadb(&[t.path().to_owned()]).unwrap();
        assert_eq!(found.install_db, t.path().join("mysql_install_db"));
        assert_eq!(found.client, t.path().join("mysql"));
    }
}
