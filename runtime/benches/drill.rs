//! The dump drill of a ~100 MB PostgreSQL database against doing the same by hand, in
//! interleaved rounds (each side goes first equally often).
//!
//! A private PostgreSQL 15 (the tests' support code) holds a database of
//! `BAKRUN_BENCH_DRILL_MIB` MiB on disk (default 100: one table with a primary key, a bigint
//! and 128 characters of hex per row); `bakrun run` dumps it into an rsync snapshot once.
//! Then, per round:
//! - **drill**: a child process of this bench (so that its peak RSS is the drill's alone)
//!   calls `bakrun::drill::drill_dumps` on the newest run: copy the dump out of the
//!   snapshot, scan it, initdb, start postgres on a socket, create the roles, load with
//!   psql, list databases, count tables, run one verify-query, stop, remove;
//! - **by hand**: `initdb`, `pg_ctl start` (the same server settings: socket only,
//!   fsync off), `psql -v ON_ERROR_STOP=1 -f` of the dump in the snapshot, `pg_ctl stop`,
//!   `rm -rf`; the servers run as `nobody` on both sides (this runs as root).
//!
//! Reported: the median seconds of each, their ratio, and the drill process's peak RSS
//! (`VmHWM` of its own, and `RUSAGE_CHILDREN` ru_maxrss: the largest of its children, the
//! server or psql).
//!
//! `cargo bench -p bakrun --bench drill`, sized by `BAKRUN_BENCH_DRILL_MIB` and
//! `BAKRUN_BENCH_ROUNDS` (default 3). Needs root, PostgreSQL 15.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use bakgen_spec::verify::{QueryEngine, Sample, Verify, VerifyQuery};
use serde_json::{json, Value};

use common::TempDir;
use support::{secret_file, write_spec_named, Postgres, PG_BIN};

/// Bytes a row takes on disk, roughly (heap tuple, bigint, 128 hex characters, line
/// pointer, its primary-key entry).
const ROW_BYTES: u64 = 200;
const BATCH: u64 = 500_000;
/// The environment variables that make this bench its own child: the spec and the scratch
/// folder of one drill.
const CHILD_SPEC: &str = "BAKRUN_BENCH_DRILL_CHILD_SPEC";
const CHILD_SCRATCH: &str = "BAKRUN_BENCH_DRILL_CHILD_SCRATCH";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let (Some(spec), Some(scratch)) = (
        std::env::var_os(CHILD_SPEC),
        std::env::var_os(CHILD_SCRATCH),
    ) {
        child(Path::new(&spec), Path::new(&scratch));
        return;
    }
    common::require_root();
    let mib = env_number("BAKRUN_BENCH_DRILL_MIB", 100).max(1);
    let rounds = env_number("BAKRUN_BENCH_ROUNDS", 3).max(1);
    let t = TempDir::new("bench-drill");
    let root = t.path();

    let started = Instant::now();
    let pg = Postgres::start();
    pg.psql("postgres", "CREATE DATABASE bench");
    pg.psql(
        "bench",
        "CREATE TABLE ledger (id bigint PRIMARY KEY, note text)",
    );
    let rows = mib * 1024 * 1024 / ROW_BYTES;
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

    let pgpw = secret_file(root, "pg-password", "unused:trust");
    let mut spec = common::spec(root, &[]);
    spec["job"] = json!("bench");
    spec["steps"] = json!([{
        "step": "postgres", "databases": ["bench"], "host": "127.0.0.1", "port": pg.port,
        "user": "postgres", "password": {"from": "file", "path": pgpw.to_string_lossy()}
    }]);
    let spec_path = write_spec_named(root, "bench", &spec);
    let out = common::bakrun(&["run", spec_path.to_str().unwrap()]);
    common::assert_code(&out, 0);
    let job_dir = root.join("dest/h1/bench");
    let snapshot = common::entries(&job_dir)
        .into_iter()
        .rfind(|n| n.len() == 20)
        .expect("a snapshot");
    let dump = job_dir.join(snapshot).join("dumps/bench.sql");
    println!(
        "dump: {:.0} MiB ({})",
        fs::metadata(&dump).unwrap().len() as f64 / 1048576.0,
        dump.display()
    );

    let mut drill_secs = Vec::new();
    let mut hand_secs = Vec::new();
    let mut own_peak = 0u64;
    let mut children_peak = 0u64;
    for round in 0..rounds {
        let mut run_drill = || {
            let scratch = root.join(format!("scratch-{round}"));
            fs::create_dir(&scratch).unwrap();
            let started = Instant::now();
            let out = Command::new(std::env::current_exe().unwrap())
                .env(CHILD_SPEC, &spec_path)
                .env(CHILD_SCRATCH, &scratch)
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .unwrap();
            let secs = started.elapsed().as_secs_f64();
            assert!(out.status.success(), "the drill's child failed");
            let report: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(report["passed"], true, "{report}");
            own_peak = own_peak.max(report["vmhwm_kib"].as_u64().unwrap());
            children_peak = children_peak.max(report["children_maxrss_kib"].as_u64().unwrap());
            fs::remove_dir(&scratch).unwrap();
            drill_secs.push(secs);
            println!("round {round}: drill {secs:.2} s ({})", report["checks"]);
        };
        let mut by_hand = || {
            let secs = by_hand(root, round, &dump);
            hand_secs.push(secs);
            println!("round {round}: by hand {secs:.2} s");
        };
        if round % 2 == 0 {
            run_drill();
            by_hand();
        } else {
            by_hand();
            run_drill();
        }
    }
    let (d, h) = (median(&mut drill_secs), median(&mut hand_secs));
    println!(
        "dump drill of a {:.0} MiB database, {rounds} round(s), medians:",
        db_bytes as f64 / 1048576.0
    );
    println!("  drill_dumps: {d:.2} s");
    println!("  by hand (initdb + pg_ctl start + psql -f + stop + rm): {h:.2} s");
    println!("  ratio drill / by hand: {:.2}", d / h);
    println!(
        "  peak RSS of the drill's process: {:.1} MiB (VmHWM); largest child: {:.1} MiB (RUSAGE_CHILDREN)",
        own_peak as f64 / 1024.0,
        children_peak as f64 / 1024.0
    );
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The drill alone, in this child process: prints a JSON report on standard output.
fn child(spec_path: &Path, scratch: &Path) {
    let spec = bakrun::spec::JobSpec::read(spec_path.to_str().unwrap()).unwrap();
    let mut spec = spec;
    spec.verify = Some(Verify {
        calendar: "Sun *-*-* 05:00:00".into(),
        jitter_seconds: 0,
        sample: Sample::default(),
        critical: Vec::new(),
        queries: vec![VerifyQuery {
            engine: QueryEngine::Postgres,
            database: "bench".into(),
            sql: "SELECT count(*) FROM ledger".into(),
            at_least: 1,
        }],
        within_seconds: 86400,
        count: None,
    });
    let engine = bakrun::engine::for_spec(&spec).unwrap();
    let snapshot = engine.snapshots().unwrap().pop().unwrap();
    let drills = bakrun::drill::drill_dumps(
        &bakrun::command::Exec { dry_run: false },
        &spec,
        engine.as_ref(),
        &snapshot,
        scratch,
    )
    .unwrap();
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let vmhwm: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    // SAFETY: getrusage fills the struct it is given.
    let children = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage.ru_maxrss as u64
    };
    let passed = drills.iter().all(|d| d.passed);
    let checks: Vec<String> = drills.iter().flat_map(|d| d.checks.clone()).collect();
    let failures: Vec<String> = drills.iter().filter_map(|d| d.failure.clone()).collect();
    println!(
        "{}",
        json!({"passed": passed, "vmhwm_kib": vmhwm, "children_maxrss_kib": children,
               "checks": checks.join("; "), "failures": failures})
    );
}

fn sh(script: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "`{script}` failed");
}

/// The same by hand, as `nobody`, in a folder of its own.
fn by_hand(root: &Path, round: u64, dump: &Path) -> f64 {
    let dir = root.join(format!("hand-{round}"));
    let started = Instant::now();
    sh(&format!(
        "mkdir -m 0700 '{d}' && chown nobody: '{d}' && cd '{d}' && \
         setpriv --reuid=nobody --regid=nogroup --clear-groups {PG_BIN}/initdb -D '{d}/data' -A trust -N -U postgres >/dev/null && \
         setpriv --reuid=nobody --regid=nogroup --clear-groups {PG_BIN}/pg_ctl -D '{d}/data' -l '{d}/log' \
           -o \"-k {d} -c listen_addresses= -c fsync=off -c full_page_writes=off -c synchronous_commit=off\" -w start >/dev/null && \
         {PG_BIN}/psql -X -q -v ON_ERROR_STOP=1 -o /dev/null -h '{d}' -U postgres -d postgres -f '{dump}' && \
         setpriv --reuid=nobody --regid=nogroup --clear-groups {PG_BIN}/pg_ctl -D '{d}/data' -m fast -w stop >/dev/null && \
         cd / && rm -rf '{d}'",
        d = dir.display(),
        dump = dump.display()
    ));
    started.elapsed().as_secs_f64()
}
