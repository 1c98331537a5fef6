//! `bakrun watch` over a fleet's destinations against the least any reader must do,
//! alternating in the same process:
//! - snapshot folders: `BAKRUN_BENCH_WATCH_JOBS` jobs (default 1000, over 10 hosts) ×
//!   `BAKRUN_BENCH_WATCH_RUNS` runs (default 100), empty dated folders made directly (plus
//!   `latest` and one `.incomplete` per job), against `find DEST -mindepth 3 -maxdepth 3`
//!   (listing the same run folders). Target: < 5 s.
//! - one restic repository holding every job's runs: `BAKRUN_BENCH_WATCH_RESTIC_JOBS`
//!   (default 1000) × `BAKRUN_BENCH_WATCH_RESTIC_RUNS` (default 3) snapshots of a tiny
//!   file, tagged as bakrun tags a run, made by `restic backup` one by one (≈1.5 s each on
//!   two busy shared cores: 1,000 took 22 min, so the default takes over an hour; the
//!   repository is kept in the temp folder and reused by later runs of the same size), against one `restic snapshots
//!   --json` of that repository. Target: ≤ 1.2×.
//!
//! Each side's time and peak RSS (`wait4`: the largest of the process and the children it
//! waited for, so restic's own under `bakrun watch`), `BAKRUN_BENCH_ROUNDS` rounds
//! (default 4). `cargo bench -p bakrun --bench watch`, e.g.
//! `BAKRUN_BENCH_WATCH_RESTIC_JOBS=200 BAKRUN_BENCH_WATCH_RESTIC_RUNS=2 cargo bench -p bakrun --bench watch`.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use chrono::{Duration, FixedOffset, TimeZone};
use common::*;

use bakgen_spec::restic_tags;
use bakgen_spec::run_name::snapshot_name;

const HOSTS: u64 = 10;

/// Seconds and peak RSS (KiB) of `cmd`, which must succeed.
// The child is reaped by `wait4`, which also reports its peak RSS; `Child::wait` cannot.
#[allow(clippy::zombie_processes)]
fn measured(cmd: &mut Command) -> (f64, u64) {
    let started = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, status and usage are valid pointers.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(waited, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed ({status})"
    );
    (secs, usage.ru_maxrss as u64)
}

fn host_job(i: u64) -> (String, String) {
    (format!("host{:02}", i % HOSTS), format!("job{i:04}"))
}

/// The start of run `r` of a job: hourly runs going back from a fixed day.
fn run_time(r: u64) -> chrono::DateTime<FixedOffset> {
    let base = FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
        .unwrap();
    base - Duration::hours(r as i64)
}

fn watched(jobs: u64) -> Vec<serde_json::Value> {
    (0..jobs)
        .map(|i| {
            let (host, job) = host_job(i);
            serde_json::json!({"host": host, "job": job, "expected-within-seconds": 86400})
        })
        .collect()
}

fn write_watch(work: &Path, name: &str, store: serde_json::Value) -> PathBuf {
    let spec = serde_json::json!({
        "version": 1,
        "host": "watcher",
        "state-dir": work.join(format!("state-{name}")).to_string_lossy(),
        "metrics-dir": work.join(format!("metrics-{name}")).to_string_lossy(),
        "stores": [store],
    });
    let path = work.join(format!("watch-{name}.json"));
    fs::write(&path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    path
}

fn folders(work: &Path, jobs: u64, runs: u64) -> PathBuf {
    let dest = work.join("dest");
    let started = Instant::now();
    for i in 0..jobs {
        let (host, job) = host_job(i);
        let dir = dest.join(host).join(job);
        for r in 0..runs {
            fs::create_dir_all(dir.join(snapshot_name(&run_time(r)))).unwrap();
        }
        fs::create_dir_all(dir.join(format!(
            "{}.incomplete",
            snapshot_name(&(run_time(0) + Duration::hours(1)))
        )))
        .unwrap();
        std::os::unix::fs::symlink(snapshot_name(&run_time(0)), dir.join("latest")).unwrap();
    }
    println!(
        "made {} run folders of {jobs} jobs in {:.1} s",
        jobs * runs,
        started.elapsed().as_secs_f64()
    );
    dest
}

/// The repository of `jobs` × `runs` snapshots, made once into the temp folder and kept
/// (a `.complete` marker is written last).
fn repository(jobs: u64, runs: u64, password: &Path) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bakrun-bench-watch-repo-{jobs}j-{runs}r"));
    let repo = dir.join("repo");
    if dir.join(".complete").exists() {
        return repo;
    }
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tiny");
    fs::write(&file, "tiny\n").unwrap();
    let restic = || {
        let mut c = Command::new("restic");
        c.env("RESTIC_REPOSITORY", &repo)
            .env("RESTIC_PASSWORD_FILE", password)
            .arg("--cache-dir")
            .arg(dir.join("cache"))
            .arg("--quiet");
        c
    };
    timed(restic().arg("init"));
    let started = Instant::now();
    for i in 0..jobs {
        let (host, job) = host_job(i);
        for r in 0..runs {
            let at = run_time(r);
            let mut c = restic();
            c.args(["backup", "--host", &host, "--time"])
                .arg(at.format("%Y-%m-%d %H:%M:%S").to_string());
            for tag in restic_tags::run(&host, &job, &snapshot_name(&at), 1) {
                c.arg("--tag").arg(tag);
            }
            timed(c.arg(&file));
        }
        if i % 50 == 49 {
            println!(
                "  {} of {} snapshots, {:.0} s",
                (i + 1) * runs,
                jobs * runs,
                started.elapsed().as_secs_f64()
            );
        }
    }
    fs::write(dir.join(".complete"), "").unwrap();
    repo
}

/// Alternates `a` and `b` for `rounds` rounds; prints and returns the medians.
fn compare(
    what: &str,
    rounds: u64,
    a: &mut dyn FnMut() -> Command,
    b: &mut dyn FnMut() -> Command,
) -> (f64, f64) {
    let (mut at, mut bt, mut arss, mut brss) = (vec![], vec![], 0, 0);
    for round in 0..rounds {
        let one = |f: &mut dyn FnMut() -> Command, times: &mut Vec<f64>, rss: &mut u64| {
            let (s, r) = measured(&mut f());
            times.push(s);
            *rss = (*rss).max(r);
            s
        };
        let (x, y) = if round % 2 == 0 {
            let x = one(a, &mut at, &mut arss);
            (x, one(b, &mut bt, &mut brss))
        } else {
            let y = one(b, &mut bt, &mut brss);
            (one(a, &mut at, &mut arss), y)
        };
        println!("  {what} round {round}: bakrun watch {x:.3} s, baseline {y:.3} s");
    }
    let ratio = ratio_of_sums(&at, &bt);
    let (ma, mb) = (median(&mut at), median(&mut bt));
    println!(
        "{what}: bakrun watch median {ma:.3} s (peak RSS {:.1} MiB), baseline median {mb:.3} s (peak RSS {:.1} MiB), ratio of sums {ratio:.2}",
        arss as f64 / 1024.0,
        brss as f64 / 1024.0
    );
    (ma, ratio)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists; nothing to list here.
    }
    let rounds = env_number("BAKRUN_BENCH_ROUNDS", 4).max(1);
    let jobs = env_number("BAKRUN_BENCH_WATCH_JOBS", 1000);
    let runs = env_number("BAKRUN_BENCH_WATCH_RUNS", 100);
    let rjobs = env_number("BAKRUN_BENCH_WATCH_RESTIC_JOBS", 1000);
    let rruns = env_number("BAKRUN_BENCH_WATCH_RESTIC_RUNS", 3);
    let work = bench_work_dir("watch");
    let work = work.path().to_owned();
    let password = work.join("password");
    fs::write(&password, "correct horse battery staple\n").unwrap();
    fs::set_permissions(&password, fs::Permissions::from_mode(0o600)).unwrap();

    let dest = folders(&work, jobs, runs);
    let spec = write_watch(
        &work,
        "folders",
        serde_json::json!({"destination": "usb",
            "read": {"how": "snapshots", "path": dest.to_string_lossy()},
            "jobs": watched(jobs)}),
    );
    let watch = |spec: &Path| {
        let mut c = Command::new(BAKRUN);
        c.args([
            "watch",
            "--format",
            "json",
            "--at",
            "2026-06-01T00:30:00+01:00",
            "--spec",
        ])
        .arg(spec);
        c
    };
    let (folders_median, folders_ratio) = compare(
        &format!("folders ({jobs} jobs x {runs} runs)"),
        rounds,
        &mut || watch(&spec),
        &mut || {
            let mut c = Command::new("find");
            c.arg(&dest).args(["-mindepth", "3", "-maxdepth", "3"]);
            c
        },
    );

    let repo = repository(rjobs, rruns, &password);
    let cache = work.join("cache");
    let spec = write_watch(
        &work,
        "restic",
        serde_json::json!({"destination": "vault",
            "read": {"how": "restic", "repository": repo.to_string_lossy(),
                     "password": {"from": "file", "path": password.to_string_lossy()},
                     "cache-dir": cache.to_string_lossy()},
            "jobs": watched(rjobs)}),
    );
    // Both with the same warm cache: one listing first, outside the timings.
    let mut listing = || {
        let mut c = Command::new("restic");
        c.env("RESTIC_REPOSITORY", &repo)
            .env("RESTIC_PASSWORD_FILE", &password)
            .arg("--cache-dir")
            .arg(&cache)
            .args(["--no-lock", "snapshots", "--json"]);
        c
    };
    timed(&mut listing());
    let (_, restic_ratio) = compare(
        &format!(
            "restic ({rjobs} jobs x {rruns} runs = {} snapshots)",
            rjobs * rruns
        ),
        rounds,
        &mut || watch(&spec),
        &mut listing,
    );
    println!(
        "folders: {folders_median:.3} s (target < 5 s{}), {folders_ratio:.2}x a find of the run folders; restic: {restic_ratio:.2}x one `restic snapshots --json` (target <= 1.2{})",
        if folders_median < 5.0 { ", met" } else { ", MISSED" },
        if restic_ratio <= 1.2 { ", met" } else { ", MISSED" }
    );
    let _ = fs::remove_dir_all(&work);
}
