//! bakrun's own memory while it streams a large PostgreSQL dump into restic: a private
//! PostgreSQL 15 (the tests' support code) holding a ~1 GiB database of random text, and
//! `bakrun run` of a restic job whose postgres dump step pipes `pg_dump` into
//! `restic backup --stdin`. The dump's bytes go from pg_dump to restic without passing
//! through bakrun, so bakrun's peak RSS must not grow with the database. Target: ≤ 20 MB.
//!
//! The peak is bakrun's own `VmHWM` (/proc/<pid>/status), read every 20 ms while it runs
//! (the high-water mark only grows, so the last value read is the peak); not
//! `RUSAGE_CHILDREN`, which would count restic. The children's peaks (restic, pg_dump) are
//! read the same way, for comparison, and the dump size is restic's own count from the
//! run's status file.
//!
//! `cargo bench -p bakrun --bench dump_rss`, sized by `BAKRUN_BENCH_DUMP_MIB` (default
//! 1024: the database's size on disk), e.g.
//! `BAKRUN_BENCH_DUMP_MIB=100 cargo bench -p bakrun --bench dump_rss`. Needs root (the
//! cluster runs as user `postgres`), PostgreSQL 15 and restic.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{TempDir, BAKRUN};
use support::{restic_spec, secret_file, write_spec_named, Postgres, PASSWORD};

/// Bytes a row of the table takes on disk, roughly: heap tuple header, a bigint and 128
/// characters of hex (four md5s of random numbers), and its line pointer.
const ROW_BYTES: u64 = 170;
/// Rows per INSERT, so that the filling shows progress.
const BATCH: u64 = 1_000_000;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `VmHWM` and `Name` of a process, from /proc/<pid>/status (None once it is gone).
fn peak_kib(pid: u32) -> Option<(String, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_owned())
    };
    let name = field("Name:")?;
    let kib = field("VmHWM:")?
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((name, kib))
}

/// The children of `pid`, from every thread's `children` list.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists; nothing to list here.
    }
    let target_mib = env_number("BAKRUN_BENCH_DUMP_MIB", 1024).max(1);
    let t = TempDir::new("bench-dump-rss");
    let root = t.path();

    let started = Instant::now();
    let pg = Postgres::start();
    pg.psql("postgres", "CREATE DATABASE bench");
    // Unlogged: no WAL to write while filling (pg_dump dumps its rows all the same).
    pg.psql(
        "bench",
        "CREATE UNLOGGED TABLE ledger (id bigint, note text)",
    );
    let rows = target_mib * 1024 * 1024 / ROW_BYTES;
    let mut done = 0;
    while done < rows {
        let n = BATCH.min(rows - done);
        pg.psql(
            "bench",
            &format!(
                "INSERT INTO ledger SELECT i, md5(random()::text) || md5(random()::text) \
                 || md5(random()::text) || md5(random()::text) \
                 FROM generate_series({}, {}) AS i",
                done + 1,
                done + n
            ),
        );
        done += n;
    }
    let db_bytes: u64 = pg
        .psql("bench", "SELECT pg_database_size('bench')")
        .trim()
        .parse()
        .unwrap();
    println!(
        "database: {rows} rows, {:.0} MiB on disk, made in {:.1} s",
        db_bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );

    let pw = secret_file(root, "password", PASSWORD);
    let pgpw = secret_file(root, "pg-password", "unused:trust");
    let repo = root.join("repo").to_string_lossy().into_owned();
    let mut spec = restic_spec(root, "db", &repo, &pw, &[]);
    spec["steps"] = json!([{
        "step": "postgres", "databases": ["bench"], "host": "127.0.0.1", "port": pg.port,
        "user": "postgres", "password": {"from": "file", "path": pgpw.to_string_lossy()}
    }]);
    let spec_path = write_spec_named(root, "db", &spec);
    let init = Command::new(BAKRUN)
        .args(["init", "-q"])
        .arg(&spec_path)
        .status()
        .unwrap();
    assert!(init.success());

    let run_started = Instant::now();
    let mut child = Command::new(BAKRUN)
        .args(["run", "-q"])
        .arg(&spec_path)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut own_kib = 0;
    let mut samples = 0u64;
    // Each child's peak, by process id (a name may run more than once: restic lists
    // snapshots before and after its backup).
    let mut child_peaks: BTreeMap<u32, (String, u64)> = BTreeMap::new();
    let status = loop {
        if let Some((_, kib)) = peak_kib(pid) {
            own_kib = own_kib.max(kib);
            samples += 1;
        }
        for c in children(pid) {
            if let Some((name, kib)) = peak_kib(c) {
                let e = child_peaks.entry(c).or_insert((name, 0));
                e.1 = e.1.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let secs = run_started.elapsed().as_secs_f64();
    assert!(status.success(), "bakrun run failed: {status}");

    let st: Value =
        serde_json::from_str(&fs::read_to_string(root.join("state/status/db.json")).unwrap())
            .unwrap();
    let stat = |k: &str| st[k].as_u64().unwrap_or(0);
    let dump_bytes = stat("bytes_total");
    let added = stat("bytes_transferred");
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    for (name, kib) in child_peaks.into_values() {
        let e = by_name.entry(name).or_default();
        *e = (*e).max(kib);
    }
    println!(
        "dump: {:.0} MiB streamed pg_dump | restic backup --stdin ({:.0} MiB added to the repository) in {secs:.1} s ({:.0} MiB/s)",
        dump_bytes as f64 / 1048576.0,
        added as f64 / 1048576.0,
        dump_bytes as f64 / 1048576.0 / secs
    );
    println!(
        "bakrun peak RSS (VmHWM, {samples} samples every 20 ms): {:.1} MiB = {:.1} MB   (target <= 20 MB)",
        mib(own_kib),
        own_kib as f64 * 1024.0 / 1e6
    );
    for (name, kib) in &by_name {
        println!("  child {name}: peak RSS {:.1} MiB", mib(*kib));
    }
    drop(pg); // stops the server before its folder goes
    drop(t);
}
