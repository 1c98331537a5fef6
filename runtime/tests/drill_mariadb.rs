//! The dump drill against real MariaDB dumps, taken by `bakrun run` from the tests' own
//! MariaDB server (the "host's server", which must come through untouched): a
//! `mysqldump --databases` in an rsync snapshot and a `mysqldump --all-databases` in a
//! restic repository, each loaded into a throwaway `mariadbd --skip-networking`; a
//! mysqldump that silently stops half way (exit 0) makes a restic run whose dump the
//! drill fails; no process, socket or folder remains either way.

mod common;
mod drill_harness;
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use bakgen_spec::verify::QueryEngine::Mysql;
use serde_json::{json, Value};

use common::TempDir;
use drill_harness::*;
use support::{restic_spec, secret_file, write_spec_named, Mariadb, MYSQL_ROOT_PASSWORD, PASSWORD};

fn host_server() -> Mariadb {
    let db = Mariadb::start();
    db.sql(
        "CREATE DATABASE shop; \
         CREATE TABLE shop.items (id int PRIMARY KEY, name text) ENGINE=InnoDB; \
         CREATE TABLE shop.returns (id int) ENGINE=InnoDB; \
         INSERT INTO shop.items SELECT seq, concat('item ', seq) FROM mysql.seq_1_to_500;",
    );
    db
}

fn fingerprint(db: &Mariadb) -> String {
    db.sql(
        "SELECT (SELECT count(*) FROM shop.items), \
         (SELECT group_concat(schema_name ORDER BY schema_name) FROM information_schema.schemata)",
    )
}

fn mysql_step(db: &Mariadb, root: &Path, databases: &[&str]) -> Value {
    let mypw = secret_file(root, "mysql-password", MYSQL_ROOT_PASSWORD);
    json!([{
        "step": "mysql", "databases": databases, "host": "127.0.0.1", "port": db.port,
        "user": "backup", "password": {"from": "file", "path": mypw.to_string_lossy()}
    }])
}

#[test]
#[ignore = "tier: system — needs root and a MariaDB server; run by scripts/test"]
fn a_mysqldump_in_an_rsync_snapshot_passes_and_fails_as_it_should() {
    common::require_root();
    let t = TempDir::new("drill-maria-rsync");
    let root = t.path();
    let db = host_server();
    let before = fingerprint(&db);
    let mut spec = common::spec(root, &[]);
    spec["job"] = json!("shop");
    spec["steps"] = mysql_step(&db, root, &["shop"]);
    let path = write_spec_named(root, "shop", &spec);
    backup(&path);
    let job = read_spec(&path);

    let good = with_queries(&job, &[(Mysql, "shop", "SELECT count(*) FROM items", 1)]);
    let (s, scratch) = scratch();
    let (result, seen) = drill(&good, &scratch);
    let d = only(result);
    assert!(d.passed, "{d:?}");
    let checks = d.checks.join("\n");
    for want in [
        "the dump ends with its completion line",
        "throwaway MariaDB 10.",
        "loaded: mariadb exited 0",
        "databases present: shop",
        "shop: 2 tables",
        "verify-query on shop `SELECT count(*) FROM items`: 500 ≥ 1",
    ] {
        assert!(checks.contains(want), "no `{want}` in:\n{checks}");
    }
    assert_ran_privately_and_left_nothing(&seen, &scratch, &["mariadbd"]);

    let bad = with_queries(
        &job,
        &[
            (Mysql, "shop", "SELECT count(*) FROM returns", 1),
            (Mysql, "shop", "SELECT id FROM items WHERE id < 0", 1),
            (Mysql, "shop", "SELECT nothing FROM items", 1),
        ],
    );
    let (result, seen) = drill(&bad, &scratch);
    let d = only(result);
    assert!(!d.passed, "{d:?}");
    let failure = d.failure.clone().unwrap();
    for want in [
        "verify-query on shop `SELECT count(*) FROM returns`: returned 0, less than 1",
        "verify-query on shop `SELECT id FROM items WHERE id < 0`: returned no row",
        "verify-query on shop `SELECT nothing FROM items` failed: mariadb exited with 1",
        "Unknown column 'nothing'",
    ] {
        assert!(failure.contains(want), "no `{want}` in: {failure}");
    }
    assert_ran_privately_and_left_nothing(&seen, &scratch, &["mariadbd"]);

    // Cut inside the rows: the load stops at the broken statement.
    let snapshot = newest(&job).1;
    let file = snapshot.path.clone().unwrap().join("dumps/shop.sql");
    let whole = fs::read(&file).unwrap();
    let text = String::from_utf8(whole.clone()).unwrap();
    let at = text.find("INSERT INTO `items`").expect("rows in the dump") + 100;
    fs::write(&file, &whole[..at]).unwrap();
    let (result, seen) = drill(&good, &scratch);
    let d = only(result);
    let failure = d.failure.clone().unwrap();
    assert!(
        failure.contains(
            "the dump is cut short: it does not end with mysqldump's last line `-- Dump completed`"
        ),
        "{failure}"
    );
    assert!(
        failure.contains("the load failed: mariadb exited with 1"),
        "{failure}"
    );
    assert_ran_privately_and_left_nothing(&seen, &scratch, &["mariadbd"]);

    assert_eq!(fingerprint(&db), before, "the host's server changed");
    drop(s);
}

/// A `mysqldump` on PATH that passes on only the first `bytes` of the real dump and
/// exits 0: a dump that stops half way without saying so.
fn silently_short_mysqldump(dir: &Path, bytes: usize) {
    fs::create_dir_all(dir).unwrap();
    let path = dir.join("mysqldump");
    fs::write(
        &path,
        format!("#!/bin/sh\n/usr/bin/mysqldump \"$@\" > \"$0.out\" || exit $?\nhead -c {bytes} \"$0.out\"\n"),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
#[ignore = "tier: system — needs root, restic and a MariaDB server; run by scripts/test"]
fn an_all_databases_mysqldump_in_restic_passes_and_a_short_one_fails() {
    common::require_root();
    let t = TempDir::new("drill-maria-restic");
    let root = t.path();
    let db = host_server();
    let before = fingerprint(&db);
    let pw = secret_file(root, "password", PASSWORD);
    let repo = root.join("repo").to_string_lossy().into_owned();
    let mut spec = restic_spec(root, "all", &repo, &pw, &[]);
    spec["steps"] = mysql_step(&db, root, &[]);
    let path = write_spec_named(root, "all", &spec);
    common::assert_code(&common::bakrun(&["init", path.to_str().unwrap()]), 0);
    backup(&path);
    let job = with_queries(
        &read_spec(&path),
        &[(Mysql, "shop", "SELECT count(*) FROM items", 500)],
    );
    let (s, scratch) = scratch();
    let (result, seen) = drill(&job, &scratch);
    let d = only(result);
    assert!(d.passed, "{d:?}");
    assert_eq!(d.file_name, "mysql-all.sql");
    let checks = d.checks.join("\n");
    for want in [
        "databases present: mysql, shop",
        "shop: 2 tables",
        "verify-query on shop `SELECT count(*) FROM items`: 500 ≥ 500",
    ] {
        assert!(checks.contains(want), "no `{want}` in:\n{checks}");
    }
    assert_ran_privately_and_left_nothing(&seen, &scratch, &["mariadbd"]);

    // A run whose mysqldump stopped half way yet exited 0: restic keeps it as a whole
    // run, and the drill of that run fails.
    let bin = root.join("bin");
    let full = restic_dump_size(&job, &scratch);
    silently_short_mysqldump(&bin, full / 2);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = std::process::Command::new(common::BAKRUN)
        .args(["run", path.to_str().unwrap()])
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .unwrap();
    common::assert_code(&out, 0);
    let (result, seen) = drill(&job, &scratch);
    let d = only(result);
    assert!(!d.passed, "{d:?}");
    assert!(
        d.failure
            .as_deref()
            .unwrap()
            .contains("the dump is cut short"),
        "{d:?}"
    );
    assert_ran_privately_and_left_nothing(&seen, &scratch, &["mariadbd"]);
    assert_eq!(fingerprint(&db), before, "the host's server changed");
    drop(s);
}

/// The size of the newest run's dump, read back as the drill reads it.
fn restic_dump_size(job: &bakrun::spec::JobSpec, scratch: &Path) -> usize {
    let (engine, snapshot) = newest(job);
    let file = scratch.join("size-probe.sql");
    engine
        .dump_to_file(
            &bakrun::command::Exec { dry_run: false },
            &snapshot,
            "mysql-all.sql",
            &file,
        )
        .unwrap();
    let size = fs::metadata(&file).unwrap().len() as usize;
    fs::remove_file(&file).unwrap();
    size
}
