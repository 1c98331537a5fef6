//! `bakrun verify` of a job with a PostgreSQL dump, end to end through the command line:
//! the drill loads the run's dump into a throwaway server, judges the verify-queries, and
//! records the dump's result in the drill's status file; a query that does not hold fails
//! the drill (exit 1) and says which.

mod common;
mod drill_harness;
mod support;

use std::fs;

use bakgen_spec::verify::QueryEngine::Postgres as Pg;
use serde_json::{json, Value};

use common::{assert_code, bakrun, TempDir};
use drill_harness::{backup, read_spec, with_queries};
use support::{secret_file, write_spec_named, Postgres};

#[test]
#[ignore = "tier: system — needs root and a PostgreSQL 15 server; run by scripts/test"]
fn bakrun_verify_drills_the_dump_and_records_it() {
    common::require_root();
    let t = TempDir::new("verify-dumps");
    let root = t.path();
    let pg = Postgres::start();
    pg.psql("postgres", "CREATE DATABASE shop");
    pg.psql(
        "shop",
        "CREATE TABLE orders (id int PRIMARY KEY); \
         INSERT INTO orders SELECT generate_series(1, 25)",
    );
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
    let record = || -> Value {
        serde_json::from_str(&fs::read_to_string(root.join("state/verify/shop.json")).unwrap())
            .unwrap()
    };

    let holds = with_queries(&job, &[(Pg, "shop", "SELECT count(*) FROM orders", 25)]);
    fs::write(&path, holds.to_json()).unwrap();
    let out = bakrun(&["verify", path.to_str().unwrap()]);
    assert_code(&out, 0);
    let r = record();
    assert_eq!(r["result"], "passed", "{r}");
    let dump = &r["dumps"][0];
    assert_eq!(dump["file_name"], "shop.sql", "{r}");
    assert_eq!(dump["passed"], true, "{r}");
    let checks = dump["checks"].to_string();
    assert!(checks.contains("25 ≥ 25"), "{checks}");

    let fails = with_queries(&job, &[(Pg, "shop", "SELECT count(*) FROM orders", 26)]);
    fs::write(&path, fails.to_json()).unwrap();
    let out = bakrun(&["verify", path.to_str().unwrap()]);
    assert_code(&out, 1);
    let r = record();
    assert_eq!(r["result"], "failed", "{r}");
    assert_eq!(r["dumps"][0]["passed"], false, "{r}");
    let failure = r["dumps"][0]["failure"].to_string();
    assert!(failure.contains("returned 25, less than 26"), "{failure}");
    // The last pass is carried over the failed drill.
    assert!(r["last_success"]["end"].is_string(), "{r}");
    // Only the record is left: the drill's folder and its server are gone.
    let left: Vec<_> = fs::read_dir(root.join("state/verify"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, vec!["shop.json"]);
}
