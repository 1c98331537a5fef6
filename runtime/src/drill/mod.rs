//! The dump drill of `bakrun verify` (docs/operations.md, "The dump drill"): every
//! PostgreSQL/MySQL dump of a run is read back from the backup, loaded into a throwaway
//! server of its own in a private folder (Unix socket only, never a TCP port) and checked:
//! the dump is whole, the load succeeds, each dumped database exists, its tables are
//! counted, and the job's `verify-query` checks hold.
//!
//! The files: `binaries.rs` (finding the server programs), `account.rs` (whom the server
//! runs as: never root), `server.rs` (the throwaway server, stopped and its folder removed
//! by its Drop, also on failure and on a stop signal), `scan.rs` (what a dump file says of
//! itself: complete or cut, its databases, the roles it needs), `checks.rs` (loading and
//! the checks against the loaded server).

use std::path::{Path, PathBuf};

use crate::command::Exec;
use crate::dump::{self, Catalogued, DumpError, DumpKind};
use crate::engine::{Engine, EngineError, Snapshot};
use bakgen_spec::verify::{QueryEngine, VerifyQuery};

use crate::spec::JobSpec;
use crate::{log, signals};

mod account;
mod binaries;
mod checks;
mod scan;
mod server;

use account::Account;
use binaries::Binaries;
use server::Throwaway;

/// What the drill found for one dump of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpDrill {
    /// The dump's file name, as [`dump::catalogue`] names it (`shop.sql`).
    pub file_name: String,
    pub passed: bool,
    /// What was checked and found, in order (`shop: 3 tables`).
    pub checks: Vec<String>,
    /// Why it failed (every failed check, `; `-separated); `None` when it passed.
    pub failure: Option<String>,
}

/// What stops the whole drill (a dump that fails its checks is a [`DumpDrill`] instead).
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error(transparent)]
    Dump(#[from] DumpError),
    #[error(
        "the dump drill needs {what} (looked for {looked}); install the Debian package `{package}`"
    )]
    NotInstalled {
        what: &'static str,
        looked: String,
        package: &'static str,
    },
    #[error("the dump drill runs its throwaway servers as an unprivileged user when bakrun runs as root, and neither `bakgen` nor `nobody` exists; create the system user `bakgen` (bakgen's sysusers file does)")]
    NoUnprivilegedUser,
    #[error("verify-query on {engine} database `{database}` matches no dump of job {job} (its dumps: {dumps}); name a database the job's {engine} step dumps")]
    QueryWithoutDump {
        engine: &'static str,
        database: String,
        job: String,
        dumps: String,
    },
    #[error("cannot prepare the drill's folder {}: {source}", path.display())]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("stopped by a signal; every throwaway server was stopped and its folder removed")]
    Interrupted,
}

/// Drills every dump of `snapshot` (catalogue order), each in its own server in a private
/// folder under `scratch` (a private folder the caller owns and removes; each server's
/// folder is removed here, whatever happens). In a dry run, prints what it would do and
/// returns no result.
pub fn drill_dumps(
    exec: &Exec,
    spec: &JobSpec,
    engine: &dyn Engine,
    snapshot: &Snapshot,
    scratch: &Path,
) -> Result<Vec<DumpDrill>, DrillError> {
    let dumps = dump::catalogue(spec)?;
    let queries: &[VerifyQuery] = spec.verify.as_ref().map_or(&[], |v| &v.queries);
    every_query_has_a_dump(spec, &dumps, queries)?;
    if dumps.is_empty() {
        return Ok(Vec::new());
    }
    let binaries = Binaries::for_dumps(&dumps)?;
    if exec.dry_run {
        for d in &dumps {
            println!(
                "# dump drill: {} of run {}: load into a throwaway {} under {}, check it and {} verify-query(s)",
                d.file_name,
                snapshot.id,
                binaries.describe(&d.kind),
                scratch.display(),
                queries_for(queries, d).count()
            );
        }
        return Ok(Vec::new());
    }
    let account = Account::for_servers()?;
    account.can_reach(scratch)?;
    let mut out = Vec::new();
    for (index, d) in dumps.iter().enumerate() {
        let folder = scratch.join(format!("dump-{index}"));
        let result = drill_one(
            exec, engine, snapshot, &folder, d, &binaries, &account, queries,
        );
        if signals::stop_requested() {
            return Err(DrillError::Interrupted);
        }
        let drill = result?;
        match &drill.failure {
            None => log::info(format!("dump drill {}: passed", d.file_name)),
            Some(why) => log::warn(format!("dump drill {}: FAILED: {why}", d.file_name)),
        }
        out.push(drill);
    }
    Ok(out)
}

fn engine_of(kind: &DumpKind) -> QueryEngine {
    match kind {
        DumpKind::Postgres | DumpKind::PostgresAll => QueryEngine::Postgres,
        DumpKind::Mysql => QueryEngine::Mysql,
    }
}

fn engine_name(engine: QueryEngine) -> &'static str {
    match engine {
        QueryEngine::Postgres => "postgres",
        QueryEngine::Mysql => "mysql",
    }
}

/// The queries that run against `dump`: its engine's, on its database (any database of
/// an all-database dump).
fn queries_for<'a>(
    queries: &'a [VerifyQuery],
    dump: &'a Catalogued,
) -> impl Iterator<Item = &'a VerifyQuery> + 'a {
    queries.iter().filter(move |q| {
        q.engine == engine_of(&dump.kind)
            && dump.database.as_ref().is_none_or(|db| *db == q.database)
    })
}

/// A query no dump would run is a mistake in the policy: said before any server starts.
fn every_query_has_a_dump(
    spec: &JobSpec,
    dumps: &[Catalogued],
    queries: &[VerifyQuery],
) -> Result<(), DrillError> {
    for q in queries {
        if !dumps
            .iter()
            .any(|d| queries_for(std::slice::from_ref(q), d).count() > 0)
        {
            return Err(DrillError::QueryWithoutDump {
                engine: engine_name(q.engine),
                database: q.database.clone(),
                job: spec.job.clone(),
                dumps: if dumps.is_empty() {
                    "none".into()
                } else {
                    dumps
                        .iter()
                        .map(|d| d.file_name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            });
        }
    }
    Ok(())
}

/// One dump: read it back, start its server, load, check. The server and its folder go
/// when `throwaway` is dropped, on every way out of here.
#[allow(clippy::too_many_arguments)]
fn drill_one(
    exec: &Exec,
    engine: &dyn Engine,
    snapshot: &Snapshot,
    folder: &Path,
    d: &Catalogued,
    binaries: &Binaries,
    account: &Account,
    queries: &[VerifyQuery],
) -> Result<DumpDrill, DrillError> {
    let mut report = checks::Report::new(&d.file_name);
    let mut throwaway = Throwaway::new(folder, account)?;
    let file = throwaway.dump_file();
    match engine.dump_to_file(exec, snapshot, &d.file_name, &file) {
        Ok(()) => report.ok(format!("read from run {} of the backup", snapshot.id)),
        Err(EngineError::Interrupted) => return Err(DrillError::Interrupted),
        Err(e) => return Ok(report.failed(format!("cannot read the dump from the backup: {e}"))),
    }
    let scanned = match scan::scan(&file, &d.kind) {
        Ok(s) => s,
        Err(e) => return Ok(report.failed(format!("cannot read {}: {e}", file.display()))),
    };
    if !scanned.complete {
        report.fail(format!(
            "the dump is cut short: it does not end with {}'s last line `{}`",
            scan::dumper(&d.kind),
            scan::completion_line(&d.kind)
        ));
    } else {
        report.ok("the dump ends with its completion line");
    }
    let started = match (&d.kind, binaries.postgres(), binaries.mariadb()) {
        (DumpKind::Postgres | DumpKind::PostgresAll, Some(bins), _) => {
            throwaway.start_postgres(bins)
        }
        (DumpKind::Mysql, _, Some(bins)) => throwaway.start_mariadb(bins),
        _ => Err(server::StartError::Failed(format!(
            "no server programs were looked up for {}",
            d.file_name
        ))),
    };
    let server = match started {
        Ok(server) => server,
        Err(server::StartError::Interrupted) => return Err(DrillError::Interrupted),
        Err(server::StartError::Failed(why)) => return Ok(report.failed(why)),
    };
    report.ok(server.describe());
    let expected: Vec<String> = match &d.database {
        Some(db) => vec![db.clone()],
        None => scanned.databases.clone(),
    };
    checks::run(
        &server,
        &file,
        &scanned,
        &expected,
        queries_for(queries, d),
        &mut report,
    )?;
    drop(throwaway);
    Ok(report.finish())
}
