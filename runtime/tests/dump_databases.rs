//! Database dumps against real PostgreSQL 15 and MariaDB servers: streamed into restic
//! (no bytes through bakrun), written into rsync snapshots, and a dump that dies half way
//! failing the job without leaving a snapshot of its truncated stream.

mod common;
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};

use common::{assert_code, bakrun, TempDir, BAKRUN};
use support::*;

fn run_with_path(spec: &Path, extra_path: Option<&Path>) -> Output {
    let mut cmd = Command::new(BAKRUN);
    cmd.args(["run", spec.to_str().unwrap(), "-v"]);
    if let Some(dir) = extra_path {
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", dir.display()));
    }
    cmd.output().unwrap()
}

fn restic_json(repo: &str, pw: &Path) -> Vec<Value> {
    serde_json::from_str(&restic(repo, pw, &["snapshots", "--json"], &[])).unwrap()
}

/// A `NAME` wrapper on PATH that sends the first 300 bytes of the real dump and then
/// dies by SIGKILL: a dump cut off half way.
fn dying_wrapper(dir: &Path, name: &str, real: &str) {
    fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    fs::write(
        &path,
        format!("#!/bin/sh\n{real} \"$@\" | head -c 300\nkill -9 $$\n"),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
#[ignore = "tier: system — needs root and PostgreSQL and MariaDB servers; run by scripts/test"]
fn postgres_dumps_stream_into_restic_and_a_dying_dump_leaves_nothing() {
    let t = TempDir::new("dump-pg");
    let root = t.path();
    let pg = timed("postgres start", Postgres::start);
    pg.psql("postgres", "CREATE DATABASE app");
    pg.psql(
        "app",
        "CREATE TABLE invoices (id int primary key, who text); INSERT INTO invoices VALUES (1, 'alice'), (2, 'bob')",
    );
    let pw = secret_file(root, "password", PASSWORD);
    let pgpw = secret_file(root, "pg-password", "pg:pass\\word");
    let repo = root.join("repo").to_string_lossy().into_owned();
    let mut spec = restic_spec(root, "db", &repo, &pw, &[]);
    spec["steps"] = json!([{
        "step": "postgres", "databases": ["app"], "host": "127.0.0.1", "port": pg.port,
        "user": "postgres", "password": {"from": "file", "path": pgpw.to_string_lossy()}
    }]);
    let path = write_spec_named(root, "db", &spec);
    assert_code(&bakrun(&["init", path.to_str().unwrap()]), 0);

    // Dry run shows the pipe, never the password.
    let out = bakrun(&["run", path.to_str().unwrap(), "--dry-run"]);
    assert_code(&out, 0);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("pg_dump --no-password --host=127.0.0.1")
            && printed.contains("| restic")
            && printed.contains("--stdin-filename h1/db/app.sql"),
        "{printed}"
    );
    assert!(!printed.contains("pass\\word"));

    let out = timed("pg_dump | restic backup --stdin", || {
        run_with_path(&path, None)
    });
    assert_code(&out, 0);
    let snaps = restic_json(&repo, &pw);
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0]["paths"], json!(["/h1/db/app.sql"]));
    let dump = restic(&repo, &pw, &["dump", "latest", "/h1/db/app.sql"], &[]);
    assert!(dump.contains("CREATE TABLE public.invoices"), "{dump}");
    assert!(dump.contains("alice"));
    // Through bakrun's own restore as well.
    let out = bakrun(&[
        "restore",
        path.to_str().unwrap(),
        "/h1/db/app.sql",
        "--to",
        root.join("out").to_str().unwrap(),
    ]);
    assert_code(&out, 0);
    assert!(fs::read_to_string(root.join("out/app.sql"))
        .unwrap()
        .contains("bob"));

    // pg_dumpall when no database is named.
    spec["steps"][0]["databases"] = json!([]);
    let path_all = write_spec_named(root, "db-all", &spec);
    assert_code(&timed("pg_dumpall", || run_with_path(&path_all, None)), 0);
    let all = restic(
        &repo,
        &pw,
        &["dump", "latest", "/h1/db/postgres-all.sql"],
        &[],
    );
    assert!(
        all.contains("CREATE ROLE postgres") || all.contains("ALTER ROLE postgres"),
        "{}",
        &all[..all.len().min(400)]
    );

    // A dump that dies half way: the job fails, its truncated stream is gone.
    let before = restic_json(&repo, &pw).len();
    let wrappers = root.join("bin");
    dying_wrapper(&wrappers, "pg_dump", "/usr/lib/postgresql/15/bin/pg_dump");
    let out = timed("dying pg_dump", || run_with_path(&path, Some(&wrappers)));
    assert_code(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dump app.sql"), "{err}");
    // restic did store the truncated stream; bakrun removed it.
    assert!(
        err.contains("removing the 1 snapshot(s) of the failed run"),
        "{err}"
    );
    assert_eq!(
        restic_json(&repo, &pw).len(),
        before,
        "no snapshot of a truncated dump"
    );
    let st: Value =
        serde_json::from_str(&fs::read_to_string(root.join("state/status/db.json")).unwrap())
            .unwrap();
    assert_eq!(st["result"], "failed");
    assert!(!fs::read_to_string(root.join("state/status/db.json"))
        .unwrap()
        .contains("pass\\word"));
}

#[test]
#[ignore = "tier: system — needs root and PostgreSQL and MariaDB servers; run by scripts/test"]
fn mysql_dumps_into_restic_beside_files_and_into_rsync_snapshots() {
    let t = TempDir::new("dump-maria");
    let root = t.path();
    let db = timed("mariadb start", Mariadb::start);
    db.sql("CREATE DATABASE shop; CREATE TABLE shop.items (id int primary key, name text) ENGINE=InnoDB; INSERT INTO shop.items VALUES (1, 'widget');");
    let pw = secret_file(root, "password", PASSWORD);
    let mypw = secret_file(root, "mysql-password", MYSQL_ROOT_PASSWORD);
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("config"), "files too\n").unwrap();
    let step = json!([{
        "step": "mysql", "databases": ["shop"], "host": "127.0.0.1", "port": db.port,
        "user": "backup", "password": {"from": "file", "path": mypw.to_string_lossy()}
    }]);

    // restic: one run = the files snapshot and the dump snapshot.
    let repo = root.join("repo").to_string_lossy().into_owned();
    let mut spec = restic_spec(root, "shop", &repo, &pw, &[&src]);
    spec["steps"] = step.clone();
    let path = write_spec_named(root, "shop", &spec);
    assert_code(&bakrun(&["init", path.to_str().unwrap()]), 0);
    let out = timed("mysqldump | restic + files", || run_with_path(&path, None));
    assert_code(&out, 0);
    assert_eq!(restic_json(&repo, &pw).len(), 2);
    let out = bakrun(&["snapshots", path.to_str().unwrap(), "--format", "json"]);
    assert_code(&out, 0);
    let runs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs.len(), 1, "one run: {runs:?}");
    let out = bakrun(&[
        "snapshots",
        path.to_str().unwrap(),
        "--at",
        runs[0]["time"].as_str().unwrap(),
    ]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("/h1/shop/shop.sql") && listing.contains("/config"),
        "{listing}"
    );
    let dump = restic(
        &repo,
        &pw,
        &[
            "dump",
            "latest",
            "--path",
            "/h1/shop/shop.sql",
            "/h1/shop/shop.sql",
        ],
        &[],
    );
    assert!(
        dump.contains("CREATE DATABASE") && dump.contains("widget"),
        "{dump}"
    );

    // A dying mysqldump: the run fails and neither the dump nor the files survive.
    let wrappers = root.join("bin");
    dying_wrapper(&wrappers, "mysqldump", "/usr/bin/mysqldump");
    let out = timed("dying mysqldump", || run_with_path(&path, Some(&wrappers)));
    assert_code(&out, 1);
    assert_eq!(
        restic_json(&repo, &pw).len(),
        2,
        "only the first run's snapshots"
    );

    // rsync snapshots: the dump is a file of the snapshot.
    let mut rs = common::spec(root, &[&src]);
    rs["job"] = json!("shop");
    rs["steps"] = step;
    let rs_path = write_spec_named(root, "rsync-shop", &rs);
    let out = timed("mysqldump into an rsync snapshot", || {
        run_with_path(&rs_path, None)
    });
    assert_code(&out, 0);
    let job_dir = root.join("dest/h1/shop");
    let snaps = common::entries(&job_dir);
    let snap = snaps
        .iter()
        .find(|n| n.len() == 20)
        .expect("a complete snapshot");
    let file = job_dir.join(snap).join("dumps/shop.sql");
    assert!(fs::read_to_string(&file).unwrap().contains("widget"));
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Dying dump: no new complete snapshot.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = run_with_path(&rs_path, Some(&wrappers));
    assert_code(&out, 1);
    let complete: Vec<_> = common::entries(&job_dir)
        .into_iter()
        .filter(|n| n.len() == 20)
        .collect();
    assert_eq!(complete.len(), 1, "{complete:?}");
}

#[test]
#[ignore = "tier: system — needs root and PostgreSQL and MariaDB servers; run by scripts/test"]
fn postgres_over_the_local_socket_runs_as_the_postgres_user() {
    let t = TempDir::new("dump-pg-peer");
    let root = t.path();
    let pg = timed("postgres start (socket in /var/run/postgresql)", || {
        Postgres::start_with_socket(Some(Path::new("/var/run/postgresql")))
    });
    pg.psql("postgres", "CREATE DATABASE local_app");
    pg.psql(
        "local_app",
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('peer-ok')",
    );
    let pw = secret_file(root, "password", PASSWORD);
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    // rsync snapshot job: no host, so pg_dump goes through the socket as `postgres`
    // (as root it would log in as the missing role `root`).
    let mut spec = common::spec(root, &[&src]);
    spec["steps"] = json!([{"step": "postgres", "databases": ["local_app"], "port": pg.port}]);
    let path = write_spec_named(root, "peer", &spec);
    let out = bakrun(&["run", path.to_str().unwrap(), "--dry-run"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("setpriv --reuid="));
    let out = timed("pg_dump over the local socket", || {
        run_with_path(&path, None)
    });
    assert_code(&out, 0);
    let snap = common::snapshots(root).pop().expect("a snapshot");
    let dump =
        fs::read_to_string(common::job_dir(root).join(snap).join("dumps/local_app.sql")).unwrap();
    assert!(dump.contains("peer-ok"));
    let _ = pw;
}
