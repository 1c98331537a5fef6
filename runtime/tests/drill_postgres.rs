//! The dump drill against real PostgreSQL 15 dumps, taken by `bakrun run` from the tests'
//! own PostgreSQL server (the "host's server", which must come through untouched): a
//! pg_dump in an rsync snapshot and a pg_dumpall in a restic repository, each loaded into a
//! throwaway server on a Unix socket only; a good dump passes with its tables counted, a
//! dump cut short fails (also when cut where the load itself succeeds), verify-queries
//! pass or fail by their bound, and no process, socket or folder remains either way.

mod common;
mod drill_harness;
mod support;

use std::fs;

use bakgen_spec::verify::QueryEngine::{Mysql, Postgres as Pg};
use bakrun::drill::DrillError;
use serde_json::json;

use common::TempDir;
use drill_harness::*;
use support::{restic_spec, secret_file, write_spec_named, Postgres, PASSWORD};

/// The host's server: a database `shop` with three tables, one of them empty, objects owned
/// by a role of their own and granted to another (roles a one-database dump does not hold).
fn host_server() -> Postgres {
    let pg = Postgres::start();
    pg.psql("postgres", "CREATE ROLE shopowner");
    pg.psql("postgres", "CREATE ROLE \"Report Reader\"");
    pg.psql("postgres", "CREATE DATABASE shop OWNER shopowner");
    pg.psql(
        "shop",
        "CREATE TABLE customers (id int PRIMARY KEY, name text); \
         CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers, total numeric); \
         CREATE TABLE returns (id int); \
         INSERT INTO customers SELECT i, 'customer ' || i FROM generate_series(1, 50) i; \
         INSERT INTO orders SELECT i, 1 + i % 50, i * 1.5 FROM generate_series(1, 2000) i; \
         ALTER TABLE orders OWNER TO shopowner; \
         GRANT SELECT ON orders TO \"Report Reader\"",
    );
    pg
}

/// What shows the host's server is the one it was, with its data.
fn fingerprint(pg: &Postgres) -> String {
    pg.psql(
        "shop",
        "SELECT pg_postmaster_start_time(), (SELECT count(*) FROM orders), \
         (SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database)",
    )
}

#[test]
#[ignore = "tier: system — needs root and a PostgreSQL 15 server; run by scripts/test"]
fn a_pg_dump_in_an_rsync_snapshot_passes_and_fails_as_it_should() {
    common::require_root();
    let t = TempDir::new("drill-pg-rsync");
    let root = t.path();
    let pg = host_server();
    let before = fingerprint(&pg);
    let pgpw = secret_file(root, "pg-password", "unused:trust");
    let mut spec = common::spec(root, &[]);
    spec["job"] = json!("shop");
    spec["sources"] = json!([]);
    spec["steps"] = json!([{
        "step": "postgres", "databases": ["shop"], "host": "127.0.0.1", "port": pg.port,
        "user": "postgres", "password": {"from": "file", "path": pgpw.to_string_lossy()}
    }]);
    let path = write_spec_named(root, "shop", &spec);
    backup(&path);
    let job = read_spec(&path);

    // A good dump with a query that holds: passes, tables counted, queries judged.
    let good = with_queries(
        &job,
        &[
            (Pg, "shop", "SELECT count(*) FROM orders", 1),
            // Another engine's query is not this dump's.
            (Mysql, "other", "SELECT 1", 1),
        ],
    );
    let err = match drill_dumps_of(&good) {
        Err(e) => e,
        Ok(d) => panic!("a query without a dump must stop the drill: {d:?}"),
    };
    assert!(matches!(err, DrillError::QueryWithoutDump { .. }), "{err}");
    assert!(err.to_string().contains("mysql database `other`"), "{err}");
    let good = with_queries(&job, &[(Pg, "shop", "SELECT count(*) FROM orders", 1)]);
    let (s, scratch) = scratch();

    // A dry run says what it would do and starts nothing.
    let (engine, snapshot) = newest(&good);
    let planned = bakrun::drill::drill_dumps(
        &bakrun::command::Exec { dry_run: true },
        &good,
        engine.as_ref(),
        &snapshot,
        &scratch,
    )
    .unwrap();
    assert!(planned.is_empty(), "{planned:?}");
    assert_eq!(fs::read_dir(&scratch).unwrap().count(), 0);

    let (result, seen) = drill(&good, &scratch);
    let d = only(result);
    assert!(d.passed, "{d:?}");
    assert_eq!(d.file_name, "shop.sql");
    assert_eq!(d.failure, None);
    let checks = d.checks.join("\n");
    for want in [
        "the dump ends with its completion line",
        "throwaway PostgreSQL 15.",
        "created the 3 role(s) the dump names: \"Report Reader\", postgres, shopowner",
        "loaded: psql exited 0",
        "databases present: shop",
        "shop: 3 tables",
        "verify-query on shop `SELECT count(*) FROM orders`: 2000 ≥ 1",
    ] {
        assert!(checks.contains(want), "no `{want}` in:\n{checks}");
    }
    assert_ran_privately_and_left_nothing(&seen, &scratch, &["postgres"]);

    // Queries that return 0, no row, NULL, or fail: each fails the drill, named.
    let bad = with_queries(
        &job,
        &[
            (Pg, "shop", "SELECT count(*) FROM returns", 1),
            (Pg, "shop", "SELECT id FROM orders WHERE false", 1),
            (Pg, "shop", "SELECT NULL", 0),
            (Pg, "shop", "SELECT no_such_column FROM orders", 1),
            (Pg, "shop", "SELECT count(*) FROM customers", 50),
        ],
    );
    let (result, seen) = drill(&bad, &scratch);
    let d = only(result);
    assert!(!d.passed, "{d:?}");
    let failure = d.failure.clone().unwrap();
    for want in [
        "verify-query on shop `SELECT count(*) FROM returns`: returned 0, less than 1",
        "verify-query on shop `SELECT id FROM orders WHERE false`: returned no row",
        "verify-query on shop `SELECT NULL`: returned ``, not an integer",
        "verify-query on shop `SELECT no_such_column FROM orders` failed: psql exited with 1",
        "no_such_column",
    ] {
        assert!(failure.contains(want), "no `{want}` in: {failure}");
    }
    assert!(
        d.checks
            .iter()
            .any(|c| c == "verify-query on shop `SELECT count(*) FROM customers`: 50 ≥ 50"),
        "{d:?}"
    );
    assert_ran_privately_and_left_nothing(&seen, &scratch, &["postgres"]);

    // The dump cut in the middle of the orders' rows (psql ends the COPY at the end of
    // its input and may well load a shortened last row): the drill fails.
    let snapshot = newest(&job).1;
    let file = snapshot.path.clone().unwrap().join("dumps/shop.sql");
    let whole = fs::read(&file).unwrap();
    fs::write(&file, &whole[..whole.len() / 2]).unwrap();
    let (result, seen) = drill(&good, &scratch);
    let d = only(result);
    assert!(!d.passed, "{d:?}");
    let failure = d.failure.clone().unwrap();
    assert!(
        failure.contains("the dump is cut short: it does not end with pg_dump's last line `-- PostgreSQL database dump complete`"),
        "{failure}"
    );
    assert_ran_privately_and_left_nothing(&seen, &scratch, &["postgres"]);

    // Cut inside a statement: the load itself fails (psql sends the rest at the end of
    // its input and stops at the error).
    let text = String::from_utf8(whole.clone()).unwrap();
    let at = text
        .find("CREATE TABLE public.orders")
        .expect("orders in the dump")
        + 20;
    fs::write(&file, &whole[..at]).unwrap();
    let (result, seen) = drill(&good, &scratch);
    let d = only(result);
    let failure = d.failure.clone().unwrap();
    assert!(failure.contains("the dump is cut short"), "{failure}");
    assert!(
        failure
            .contains("the load failed: psql exited with 3: ERROR:  syntax error at end of input"),
        "{failure}"
    );
    assert!(!d.checks.iter().any(|c| c.starts_with("loaded")), "{d:?}");
    assert_ran_privately_and_left_nothing(&seen, &scratch, &["postgres"]);

    // Cut just before the data: every statement loads, the tables are there (empty), and
    // the drill still fails.
    let at = text.find("\nCOPY public.").expect("a COPY in the dump") + 1;
    fs::write(&file, &whole[..at]).unwrap();
    let (result, seen) = drill(&job, &scratch);
    let d = only(result);
    assert!(!d.passed, "{d:?}");
    assert!(
        d.checks.iter().any(|c| c == "loaded: psql exited 0"),
        "{d:?}"
    );
    assert!(
        d.failure
            .as_deref()
            .unwrap()
            .starts_with("the dump is cut short"),
        "{d:?}"
    );
    assert_ran_privately_and_left_nothing(&seen, &scratch, &["postgres"]);

    // A snapshot without the dump file: failed, saying so, nothing started.
    fs::remove_file(&file).unwrap();
    let (result, seen) = drill(&job, &scratch);
    let d = only(result);
    assert!(
        d.failure
            .as_deref()
            .unwrap()
            .contains("cannot read the dump from the backup: dumps/shop.sql is not in snapshot"),
        "{d:?}"
    );
    assert!(seen.servers.is_empty(), "{seen:?}");
    assert_left_nothing(&seen, &scratch);

    assert_eq!(fingerprint(&pg), before, "the host's server changed");
    drop(s);
}

fn drill_dumps_of(
    spec: &bakrun::spec::JobSpec,
) -> Result<Vec<bakrun::drill::DumpDrill>, DrillError> {
    let (_s, scratch) = scratch();
    drill(spec, &scratch).0
}

#[test]
#[ignore = "tier: system — needs root, restic and a PostgreSQL 15 server; run by scripts/test"]
fn a_pg_dumpall_in_a_restic_run_passes_with_every_database() {
    common::require_root();
    let t = TempDir::new("drill-pg-restic");
    let root = t.path();
    let pg = host_server();
    pg.psql("postgres", "CREATE DATABASE \"odd name\"");
    pg.psql(
        "odd name",
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('x')",
    );
    let before = fingerprint(&pg);
    let pw = secret_file(root, "password", PASSWORD);
    let pgpw = secret_file(root, "pg-password", "unused:trust");
    let repo = root.join("repo").to_string_lossy().into_owned();
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("file"), "files beside the dump\n").unwrap();
    let mut spec = restic_spec(root, "all", &repo, &pw, &[&src]);
    spec["steps"] = json!([{
        "step": "postgres", "databases": [], "host": "127.0.0.1", "port": pg.port,
        "user": "postgres", "password": {"from": "file", "path": pgpw.to_string_lossy()}
    }]);
    let path = write_spec_named(root, "all", &spec);
    common::assert_code(&common::bakrun(&["init", path.to_str().unwrap()]), 0);
    backup(&path);
    let job = with_queries(
        &read_spec(&path),
        &[
            (Pg, "shop", "SELECT count(*) FROM orders", 2000),
            (Pg, "odd name", "SELECT count(*) FROM t", 1),
        ],
    );
    let (s, scratch) = scratch();
    let (result, seen) = drill(&job, &scratch);
    let d = only(result);
    assert!(d.passed, "{d:?}");
    assert_eq!(d.file_name, "postgres-all.sql");
    let checks = d.checks.join("\n");
    for want in [
        "read from run ",
        "databases present: template1, odd name, postgres, shop",
        "shop: 3 tables",
        "odd name: 1 tables",
        "verify-query on shop `SELECT count(*) FROM orders`: 2000 ≥ 2000",
        "verify-query on odd name `SELECT count(*) FROM t`: 1 ≥ 1",
    ] {
        assert!(checks.contains(want), "no `{want}` in:\n{checks}");
    }
    assert_ran_privately_and_left_nothing(&seen, &scratch, &["postgres"]);
    assert_eq!(fingerprint(&pg), before, "the host's server changed");
    drop(s);
}
