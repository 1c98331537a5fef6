//! Loading a dump into its throwaway server and the checks after it: the load exits 0
//! (psql with `ON_ERROR_STOP=1`, the mariadb client in batch mode: the first error stops
//! it), each dumped database exists, its tables are counted, and each `verify-query` on
//! it returns, in the first column of its first row, an integer of at least `at-least`.

use std::path::Path;
use std::process::Stdio;

use super::scan::{Scanned, DRILL_SUPERUSER};
use super::server::Client;
use super::{DrillError, DumpDrill};
use crate::command::{Command, Exec};
use crate::process::{self, output, Stop};
use crate::signals;
use bakgen_spec::verify::VerifyQuery;

/// Lines of a failed load's standard error that go into the failure.
const LOAD_ERROR_LINES: usize = 3;

/// The checks of one dump as they are made.
#[derive(Debug)]
pub(super) struct Report {
    file_name: String,
    checks: Vec<String>,
    failures: Vec<String>,
}

impl Report {
    pub(super) fn new(file_name: &str) -> Self {
        Report {
            file_name: file_name.to_owned(),
            checks: Vec::new(),
            failures: Vec::new(),
        }
    }

    pub(super) fn ok(&mut self, check: impl Into<String>) {
        self.checks.push(check.into());
    }

    pub(super) fn fail(&mut self, why: impl Into<String>) {
        self.failures.push(why.into());
    }

    /// Ends the drill of this dump on a failure that leaves nothing more to check.
    pub(super) fn failed(mut self, why: impl Into<String>) -> DumpDrill {
        self.fail(why);
        self.finish()
    }

    pub(super) fn finish(self) -> DumpDrill {
        DumpDrill {
            file_name: self.file_name,
            passed: self.failures.is_empty(),
            checks: self.checks,
            failure: (!self.failures.is_empty()).then(|| self.failures.join("; ")),
        }
    }
}

/// Loads `file` and checks the result; stops early only on a stop signal.
pub(super) fn run<'a>(
    client: &Client,
    file: &Path,
    scanned: &Scanned,
    expected: &[String],
    queries: impl Iterator<Item = &'a VerifyQuery>,
    report: &mut Report,
) -> Result<(), DrillError> {
    if !scanned.roles.is_empty() {
        let names: Vec<&str> = scanned.roles.iter().map(String::as_str).collect();
        let sql: String = names
            .iter()
            .map(|r| format!("CREATE ROLE {r} NOLOGIN;"))
            .collect();
        match sql_rows(client, None, &sql)? {
            Ok(_) => report.ok(format!(
                "created the {} role(s) the dump names: {}",
                names.len(),
                names.join(", ")
            )),
            Err(e) => report.fail(format!("cannot create the roles the dump names: {e}")),
        }
    }
    match load(client, file)? {
        Ok(()) => report.ok(format!("loaded: {} exited 0", client.program_name())),
        Err(why) => {
            report.fail(why);
            return Ok(());
        }
    }
    let present = match sql_rows(client, None, client.list_databases())? {
        Ok(rows) => rows,
        Err(e) => {
            report.fail(format!("cannot list the databases: {e}"));
            return Ok(());
        }
    };
    let mut loaded: Vec<&str> = Vec::new();
    for db in expected {
        if present.iter().any(|p| p == db) {
            loaded.push(db);
        } else {
            report.fail(format!("database {db} is missing after the load"));
        }
    }
    if !loaded.is_empty() {
        report.ok(format!("databases present: {}", loaded.join(", ")));
    }
    for db in &loaded {
        match table_count(client, db)? {
            Ok(n) => report.ok(format!("{db}: {n} tables")),
            Err(e) => report.fail(format!("cannot count the tables of {db}: {e}")),
        }
    }
    for q in queries {
        if !loaded.contains(&q.database.as_str()) {
            report.fail(format!(
                "verify-query on {}: the database is not in this dump",
                q.database
            ));
            continue;
        }
        let shown = format!("verify-query on {} `{}`", q.database, q.sql);
        match sql_rows(client, Some(&q.database), &q.sql)? {
            Err(e) => report.fail(format!("{shown} failed: {e}")),
            Ok(rows) => match judge(rows.first(), q.at_least) {
                Ok(value) => report.ok(format!("{shown}: {value} ≥ {}", q.at_least)),
                Err(why) => report.fail(format!("{shown}: {why}")),
            },
        }
    }
    Ok(())
}

/// The first column of the first row must be an integer of at least `at_least`.
fn judge(first_row: Option<&String>, at_least: i64) -> Result<i64, String> {
    let Some(row) = first_row else {
        return Err("returned no row".into());
    };
    let first = row.split(['\t', '\u{1f}']).next().unwrap_or("").trim();
    let value: i64 = first
        .parse()
        .map_err(|_| format!("returned `{first}`, not an integer"))?;
    if value < at_least {
        return Err(format!("returned {value}, less than {at_least}"));
    }
    Ok(value)
}

impl Client {
    fn program_name(&self) -> &'static str {
        match self {
            Client::Postgres { .. } => "psql",
            Client::Mariadb { .. } => "mariadb",
        }
    }

    fn list_databases(&self) -> &'static str {
        match self {
            Client::Postgres { .. } => "SELECT datname FROM pg_catalog.pg_database",
            Client::Mariadb { .. } => "SELECT schema_name FROM information_schema.schemata",
        }
    }

    /// The client on database `db` (the server's default one when `None`), printing rows
    /// unaligned and without headers, stopping at the first error.
    fn command(&self, db: Option<&str>) -> Command {
        match self {
            Client::Postgres {
                psql, socket_dir, ..
            } => {
                // A connection string, so that no database name is read as one.
                let db = db.unwrap_or("postgres");
                let dbname = format!("dbname='{}'", db.replace('\\', "\\\\").replace('\'', "\\'"));
                Command::new(psql)
                    .args(["-X", "-q", "-A", "-t", "-F", "\u{1f}"])
                    .args(["-v", "ON_ERROR_STOP=1"])
                    .arg("-h")
                    .arg(socket_dir)
                    .args(["-p", super::server::PG_PORT])
                    .arg(format!("--username={DRILL_SUPERUSER}"))
                    .arg(format!("--dbname={dbname}"))
            }
            Client::Mariadb { client, socket, .. } => {
                let mut c = Command::new(client)
                    .arg("--no-defaults")
                    .arg(format!("--socket={}", socket.display()))
                    .args([
                        "--user=root",
                        "--batch",
                        "--skip-column-names",
                        "--max-allowed-packet=1G",
                    ]);
                if let Some(db) = db {
                    c = c.arg(format!("--database={db}"));
                }
                c
            }
        }
    }
}

/// Runs `sql`; the rows it printed, or what the client said when it failed. A stop signal
/// stops the whole drill.
fn sql_rows(
    client: &Client,
    db: Option<&str>,
    sql: &str,
) -> Result<Result<Vec<String>, String>, DrillError> {
    let flag = match client {
        Client::Postgres { .. } => "-c",
        Client::Mariadb { .. } => "--execute",
    };
    let cmd = client.command(db).arg(flag).arg(sql);
    let ran = Exec { dry_run: false }.run_explained(&cmd);
    if signals::stop_requested() {
        return Err(DrillError::Interrupted);
    }
    Ok(match ran {
        Ok((finished, _)) if finished.success() => Ok(finished.stdout),
        Ok((finished, stderr)) => Err(said(
            client.program_name(),
            finished.code,
            &stderr,
            LOAD_ERROR_LINES,
        )),
        Err(e) => Err(e.to_string()),
    })
}

fn table_count(client: &Client, db: &str) -> Result<Result<i64, String>, DrillError> {
    let (on, sql) = match client {
        Client::Postgres { .. } => (
            Some(db),
            "SELECT count(*) FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') \
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND n.nspname NOT LIKE 'pg\\_toast%'"
                .to_owned(),
        ),
        Client::Mariadb { .. } => (
            None,
            format!(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_type = 'BASE TABLE' AND table_schema = '{}'",
                db.replace('\\', "\\\\").replace('\'', "''")
            ),
        ),
    };
    Ok(sql_rows(client, on, &sql)?
        .and_then(|rows| judge(rows.first(), 0).map_err(|e| e.to_string())))
}

/// Feeds `file` to the client's standard input.
fn load(client: &Client, file: &Path) -> Result<Result<(), String>, DrillError> {
    let cmd = client.command(None);
    let program = client.program_name();
    let input = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) => return Ok(Err(format!("cannot read {}: {e}", file.display()))),
    };
    crate::log::debug(format!("running: {} < {}", cmd.display(), file.display()));
    let mut child = match process::start(&cmd, Stdio::from(input), Stdio::null(), Stop::Forward) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let err = output::lines(
        child.stderr(),
        output::Stderr::new(Some(program.to_owned()), LOAD_ERROR_LINES),
    );
    let status = child.finish();
    let stderr = output::joined(err).into_lines();
    if signals::stop_requested() {
        return Err(DrillError::Interrupted);
    }
    Ok(match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!(
            "the load failed: {}",
            said(program, s.code(), &stderr, LOAD_ERROR_LINES)
        )),
        Err(e) => Err(e.to_string()),
    })
}

/// `psql exited with 3: <its last lines>`.
fn said(program: &str, code: Option<i32>, stderr: &[String], lines: usize) -> String {
    let status = code.map_or("was killed by a signal".into(), |c| {
        format!("exited with {c}")
    });
    let last = &stderr[stderr.len().saturating_sub(lines)..];
    if last.is_empty() {
        format!("{program} {status}")
    } else {
        format!("{program} {status}: {}", last.join(" | "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_passes_only_with_an_integer_of_at_least_its_bound() {
        let row = |s: &str| s.to_owned();
        assert_eq!(judge(Some(&row("3")), 1), Ok(3));
        assert_eq!(judge(Some(&row("1\u{1f}x")), 1), Ok(1));
        assert_eq!(judge(Some(&row("7\tname")), 1), Ok(7));
        assert_eq!(
            judge(Some(&row("0")), 1),
            Err("returned 0, less than 1".into())
        );
        assert_eq!(judge(None, 1), Err("returned no row".into()));
        assert_eq!(
            judge(Some(&row("NULL")), 0),
            Err("returned `NULL`, not an integer".into())
        );
        assert_eq!(
            judge(Some(&row("")), 0),
            Err("returned ``, not an integer".into())
        );
    }

    #[test]
    fn a_report_fails_with_every_failure_and_keeps_its_checks() {
        let mut r = Report::new("shop.sql");
        r.ok("shop: 3 tables");
        r.fail("a");
        let d = r.failed("b");
        assert!(!d.passed);
        assert_eq!(d.failure.as_deref(), Some("a; b"));
        assert_eq!(d.checks, ["shop: 3 tables"]);
        assert!(Report::new("x.sql").finish().passed);
    }
}
