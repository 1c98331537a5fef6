//! Fault injection, restic side: a seeded loop that kills restic (SIGKILL or SIGTERM)
//! during the dump's backup, the sources' backup, retention's forget and the repository's
//! prune, and bakrun itself at random moments, on a local repository with a PostgreSQL
//! dump step (so a run has two parts and can be cut short between them) and S3 keys (so a
//! credentials file exists to be left behind). After each fault:
//!
//! - no cut-short run is listed by `bakrun snapshots` (every listed run has all its parts);
//! - the newest complete run from before the fault is still listed (retention never
//!   removes the last complete run);
//! - no secret file is left: nothing in the test's `TMPDIR`/`RUNTIME_DIRECTORY`, no
//!   process holding one of bakrun's memfds;
//! - the next run succeeds (stale locks cleared), leaves no lock, keeps exactly keep-last 2
//!   runs and no snapshot of a cut-short run; after a prune fault the next prune and a
//!   `restic check` succeed.
//!
//! The first pass strikes each restic fault once restic holds its lock, so stale locks
//! are surely left; later rounds strike at random moments. The seed is printed. `BAKRUN_FAULT_SEED=N` replays a seed's choices (process timing
//! still varies), `BAKRUN_FAULT_ROUNDS=N` runs more rounds (default 10, about a minute and
//! a half on 2 cores).

mod common;
mod support;

use std::collections::BTreeMap;
use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{assert_code, TempDir};
use support::*;

/// Where a fault strikes.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// restic with these words on its command line, during `bakrun run`.
    Restic(&'static str),
    /// restic's prune, during `bakrun prune --repository-only`.
    Prune,
    /// bakrun itself, this many milliseconds into `bakrun run`.
    Bakrun(u64),
}

const FAULTS: &[Fault] = &[
    Fault::Restic("--stdin"),
    // The sources' backup: `--` then the sources.
    Fault::Restic(" -- /"),
    Fault::Restic("forget"),
    Fault::Prune,
    Fault::Bakrun(0),
];

/// A [`LocalJob`] whose bakrun gets its own `TMPDIR`, where no secret may be left.
struct Job {
    base: LocalJob,
    tmp: PathBuf,
}

impl std::ops::Deref for Job {
    type Target = LocalJob;
    fn deref(&self) -> &LocalJob {
        &self.base
    }
}

impl Job {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(common::BAKRUN);
        c.args(args)
            .env("TMPDIR", &self.tmp)
            .env("RUNTIME_DIRECTORY", &self.tmp)
            // A lock bakrun wrongly left would fail the next run in seconds, not 30 min.
            .env("BAKRUN_RESTIC_LOCK_WAIT", "20");
        c
    }
    fn spawn(&self, args: &[&str]) -> Child {
        let log = fs::File::create(self.root.join("faulty.log")).unwrap();
        self.command(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }
    fn run_ok(&self, args: &[&str], what: &str) {
        let started = Instant::now();
        let out = self.command(args).output().unwrap();
        if out.status.code() != Some(0) {
            let faulty = fs::read_to_string(self.root.join("faulty.log")).unwrap_or_default();
            panic!(
                "{what}: `bakrun {args:?}` failed ({:?})\nits stderr:\n{}\nthe faulty run's stderr:\n{faulty}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}: `bakrun {args:?}` took {:?}",
            started.elapsed()
        );
    }
    /// The job's restic snapshots grouped by run, with the parts each run should have.
    fn restic_runs(&self) -> BTreeMap<String, (usize, Vec<String>)> {
        let text = restic(
            self.repo.to_str().unwrap(),
            &self.pw,
            &["--no-lock", "snapshots", "--json"],
            &[],
        );
        let list: Vec<Value> = serde_json::from_str::<Option<Vec<Value>>>(&text)
            .unwrap()
            .unwrap_or_default();
        let mut runs: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
        for s in list {
            let tags: Vec<&str> = s["tags"]
                .as_array()
                .map(|t| t.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let tag = |k: &str| {
                tags.iter()
                    .find_map(|t| t.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
                    .map(str::to_owned)
            };
            let run = tag("run").unwrap_or_default();
            let parts = tag("parts").and_then(|p| p.parse().ok()).unwrap_or(1);
            let entry = runs.entry(run).or_insert((parts, Vec::new()));
            entry.1.push(s["short_id"].as_str().unwrap().to_owned());
        }
        runs
    }
}

fn setup(pg: &Postgres) -> Job {
    let base = LocalJob::new("fault-restic", |root, spec| {
        let pgpw = secret_file(root, "pg-password", "pg secret");
        let key_id = secret_file(root, "s3-id", "AKIDFAULT");
        let key = secret_file(root, "s3-key", "s3 fault secret");
        spec["steps"] = json!([{
            "step": "postgres", "databases": ["app"], "host": "127.0.0.1", "port": pg.port,
            "user": "postgres", "password": {"from": "file", "path": pgpw.to_string_lossy()}
        }]);
        // A local repository ignores S3 keys, but bakrun still makes their credentials
        // file.
        spec["destination"]["environment"] = json!([
            {"variable": "AWS_ACCESS_KEY_ID", "secret": {"from": "file", "path": key_id.to_string_lossy()}},
            {"variable": "AWS_SECRET_ACCESS_KEY", "secret": {"from": "file", "path": key.to_string_lossy()}},
        ]);
    });
    let tmp = base.root.join("tmp");
    fs::create_dir_all(&tmp).unwrap();
    let job = Job { base, tmp };
    job.run_ok(&["init", job.p()], "init");
    job
}

/// Processes started with `TMPDIR=tmp` (bakrun and its children) that hold one of
/// bakrun's private files (memfds named `bakrun-…`).
fn memfd_holders(tmp: &Path) -> Vec<String> {
    let marker = format!("TMPDIR={}\0", tmp.display());
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() {
            continue;
        }
        let environ = fs::read(e.path().join("environ")).unwrap_or_default();
        if !String::from_utf8_lossy(&environ).contains(&marker) {
            continue;
        }
        let Ok(fds) = fs::read_dir(e.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = fs::read_link(fd.path()) {
                if target.to_string_lossy().starts_with("/memfd:bakrun-") {
                    out.push(format!("{name}: {}", target.display()));
                }
            }
        }
    }
    out
}

/// Waits until no process of `tmp`'s bakrun holds a private file.
fn assert_private_files_gone(tmp: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let holders = memfd_holders(tmp);
        if holders.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: bakrun's private files are still open: {holders:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill(pid: u32, signal: i32) {
    // SAFETY: kill(2); at worst the process is already gone.
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

/// Runs `bakrun ARGS` and strikes `fault` with `signal`. Returns what happened, for the log.
/// Kills `pid` if it is still a restic (not a PID reused since it ended).
fn kill_if_restic(pid: u32, signal: i32) {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if cmdline.starts_with(b"restic\0") {
        kill(pid, signal);
    }
}

/// A restic fault strikes once restic holds its lock when `at_lock` (so that it surely
/// leaves a stale one), else at a random moment of its life (restic spends its first half
/// second or so opening the repository, before it locks).
fn strike(
    job: &Job,
    rng: &mut Rng,
    args: &[&str],
    (fault, signal, at_lock): (Fault, i32, bool),
) -> String {
    let before = job.locks();
    let mut child = job.spawn(args);
    let pid = child.id();
    let started = Instant::now();
    let struck = match fault {
        Fault::Bakrun(ms) => {
            std::thread::sleep(Duration::from_millis(ms));
            kill(pid, signal);
            format!("bakrun after {ms} ms")
        }
        Fault::Restic(_) | Fault::Prune => {
            let words = match fault {
                Fault::Restic(w) => w,
                _ => " prune",
            };
            let found = restic_below(&mut child, words);
            match found {
                Some(restic) if at_lock => {
                    let alive = || Path::new(&format!("/proc/{restic}")).exists();
                    while new_locks(&job.repo, &before).is_empty() && alive() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    kill_if_restic(restic, signal);
                    format!("restic `{words}` once it held a lock")
                }
                Some(restic) => {
                    let delay = rng.below(1200);
                    std::thread::sleep(Duration::from_millis(delay));
                    kill_if_restic(restic, signal);
                    format!("restic `{words}` {delay} ms after it started")
                }
                None => format!("nothing: bakrun ended before restic `{words}` ran"),
            }
        }
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "bakrun {args:?} hangs after the fault ({struck})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    format!("{struck} ({:.1}s in)", started.elapsed().as_secs_f64())
}

/// The invariants after a fault (see the module comment); `newest` is the newest complete
/// run from before it.
fn check_after_fault(job: &Job, newest: &Value, what: &str) {
    let listed = job.runs();
    let restic_runs = job.restic_runs();
    for run in &listed {
        let id = run["id"].as_str().unwrap();
        let (parts, members) = restic_runs
            .values()
            .find(|(_, m)| m.iter().any(|s| s == id))
            .unwrap_or_else(|| panic!("{what}: listed run {id} is not in the repository"));
        assert_eq!(
            members.len(),
            *parts,
            "{what}: a cut-short run is listed: {run}"
        );
    }
    assert!(
        listed.iter().any(|r| r["id"] == newest["id"]),
        "{what}: the newest complete run {newest} is gone: {listed:?}"
    );
    // Secrets: nothing on disk, and the memfds died with bakrun and its children.
    assert_eq!(
        common::entries(&job.tmp),
        Vec::<String>::new(),
        "{what}: files left in TMPDIR"
    );
    assert_private_files_gone(&job.tmp, what);
}

/// The next run (and, after a prune fault, prune and check) succeeds and leaves the
/// repository tidy.
fn check_recovery(job: &Job, what: &str, pruned: bool) {
    if pruned {
        job.run_ok(&["prune", job.p(), "--repository-only"], what);
    }
    job.run_ok(&["run", job.p()], what);
    if pruned {
        job.run_ok(&["check", job.p()], what);
    }
    assert_eq!(job.locks(), Vec::<String>::new(), "{what}: a lock was left");
    let listed = job.runs();
    assert_eq!(listed.len(), 2, "{what}: keep-last 2 gave {listed:?}");
    for (run, (parts, members)) in job.restic_runs() {
        assert_eq!(
            members.len(),
            parts,
            "{what}: run {run} was cut short and is still in the repository"
        );
    }
}

#[test]
#[ignore = "tier: system — needs root, a PostgreSQL server and a moto S3 server, and is long (a fault loop); run by scripts/test"]
fn restic_and_bakrun_killed_at_random_points() {
    common::require_root();
    let seed = std::env::var("BAKRUN_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let rounds: u64 = std::env::var("BAKRUN_FAULT_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    eprintln!(
        "fault_restic: seed {seed}, {rounds} rounds (BAKRUN_FAULT_SEED={seed} replays the choices)"
    );
    let mut rng = Rng(seed);
    let pg = Postgres::start();
    pg.psql("postgres", "CREATE DATABASE app");
    pg.psql("app", "CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
    let job = setup(&pg);
    let data = |rng: &mut Rng, round: u64| {
        fs::write(job.src.join(format!("data-{round}")), rng.bytes(4 << 20)).unwrap();
        let _ = fs::remove_file(job.src.join(format!("data-{}", round.wrapping_sub(3))));
    };
    for round in 0..2 {
        data(&mut rng, round);
        job.run_ok(&["run", job.p()], "the first runs");
    }
    let started = Instant::now();
    let mut log = Vec::new();
    for round in 2..rounds + 2 {
        data(&mut rng, round);
        // Each fault at least once in a default loop, then at random.
        let fault = match FAULTS.get((round - 2) as usize) {
            Some(f) => *f,
            None => FAULTS[rng.below(FAULTS.len() as u64) as usize],
        };
        let fault = match fault {
            Fault::Bakrun(_) => Fault::Bakrun(rng.below(3000)),
            f => f,
        };
        let signal = if rng.below(2) == 0 {
            libc::SIGKILL
        } else {
            libc::SIGTERM
        };
        let newest = job.runs().last().cloned().unwrap();
        let args: &[&str] = match fault {
            Fault::Prune => &["prune", job.p(), "--repository-only"],
            _ => &["run", job.p()],
        };
        let at_lock = round < 2 + FAULTS.len() as u64;
        let struck = strike(&job, &mut rng, args, (fault, signal, at_lock));
        let what = format!(
            "round {round} (seed {seed}): {} to {struck}",
            if signal == libc::SIGKILL {
                "SIGKILL"
            } else {
                "SIGTERM"
            }
        );
        eprintln!("fault_restic: {what}; {} lock(s) left", job.locks().len());
        check_after_fault(&job, &newest, &what);
        check_recovery(&job, &what, matches!(fault, Fault::Prune));
        log.push(what);
    }
    eprintln!(
        "fault_restic: {} faults in {:.0}s, invariants held (seed {seed})",
        log.len(),
        started.elapsed().as_secs_f64()
    );
    assert_code(&common::bakrun(&["snapshots", job.p()]), 0);
}

/// The S3 keys reach restic as a memfd (`/proc/self/fd/N`), and a bakrun killed with
/// SIGKILL mid-backup leaves no file and no open copy behind.
#[test]
#[ignore = "tier: system — needs root, a PostgreSQL server and a moto S3 server, and is long (a fault loop); run by scripts/test"]
fn a_bakrun_killed_mid_run_leaves_no_secret_behind() {
    let t = TempDir::new("fault-restic-s3");
    let root = t.path();
    let server = S3Server::start("fault-bucket");
    let pw = secret_file(root, "password", PASSWORD);
    let key_id = secret_file(root, "s3-id", S3_KEY_ID);
    let key = secret_file(root, "s3-key", S3_SECRET);
    let src = root.join("src");
    let tmp = root.join("tmp");
    fs::create_dir_all(&src).unwrap();
    fs::create_dir_all(&tmp).unwrap();
    fs::write(src.join("big"), Rng(7).bytes(64 << 20)).unwrap();
    let mut spec = restic_spec(root, "files", &server.url("fault-bucket/h1"), &pw, &[&src]);
    spec["destination"]["environment"] = json!([
        {"variable": "AWS_ACCESS_KEY_ID", "secret": {"from": "file", "path": key_id.to_string_lossy()}},
        {"variable": "AWS_SECRET_ACCESS_KEY", "secret": {"from": "file", "path": key.to_string_lossy()}},
    ]);
    // The password comes from a command, which writes down what it can see: restic's
    // environment and descriptors, minus what bakrun takes away.
    let seen = root.join("seen by the password command");
    spec["destination"]["password"] = json!({"from": "command", "command": format!(
        "{{ env; ls -l /proc/$$/fd; }} >> '{}'; cat '{}'",
        seen.display(),
        pw.display()
    )});
    let spec = write_spec_named(root, "files", &spec);
    let bakrun = |args: &[&str]| {
        let mut c = Command::new(common::BAKRUN);
        c.args(args)
            .env("TMPDIR", &tmp)
            .env("RUNTIME_DIRECTORY", &tmp);
        c
    };
    let p = spec.to_str().unwrap();
    assert_code(&bakrun(&["init", p]).output().unwrap(), 0);

    let mut child = bakrun(&["run", p]).stderr(Stdio::null()).spawn().unwrap();
    let restic = restic_below(&mut child, " backup ").expect("the run ended before its backup");
    // restic reads the keys from its own descriptor, a memfd, named in its environment.
    let environ = fs::read(format!("/proc/{restic}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ).into_owned();
    let path = environ
        .split('\0')
        .find_map(|v| v.strip_prefix("AWS_SHARED_CREDENTIALS_FILE="))
        .unwrap_or_else(|| panic!("restic has no credentials file: {environ}"))
        .to_owned();
    let fd = path
        .strip_prefix("/proc/self/fd/")
        .expect("a /proc/self/fd path");
    let target = fs::read_link(format!("/proc/{restic}/fd/{fd}")).unwrap();
    assert!(
        target
            .to_string_lossy()
            .starts_with("/memfd:bakrun-aws-credentials"),
        "{target:?}"
    );
    assert_eq!(common::entries(&tmp), Vec::<String>::new());
    kill(child.id(), libc::SIGKILL);
    child.wait().unwrap();
    assert_private_files_gone(&tmp, "after SIGKILL of bakrun");
    assert_eq!(common::entries(&tmp), Vec::<String>::new());
    // restic, told by its parent-death signal, still removes its lock from the bucket and
    // holds the job lock until it ends (by design): the next run starts once it has.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !common::job_pids(root).is_empty() {
        assert!(
            Instant::now() < deadline,
            "restic outlived a killed bakrun by a minute: {:?}",
            common::job_processes(root)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A process on its way out has no command line left (its memory is gone) but may still
    // hold its descriptors, the job lock among them, for a moment: wait for the lock too.
    let lock = fs::File::open(root.join("state/lock/files.lock")).unwrap();
    loop {
        // SAFETY: flock on a descriptor this test owns.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            // SAFETY: as above; released so the next run can take it.
            unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_UN) };
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the job lock is still held a minute after bakrun was killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The next run completes on S3 with the keys from the memfd (which key restic signs
    // with is shown by restic_failures' s3_keys_reach_restic_through_a_private_credentials_file).
    let out = bakrun(&["run", p]).output().unwrap();
    assert_code(&out, 0);
    assert_eq!(runs_of(p).len(), 1);
    let seen = fs::read_to_string(&seen).unwrap();
    assert!(seen.contains("PATH="), "{seen}");
    for hidden in ["memfd:bakrun", "AWS_SHARED_CREDENTIALS_FILE=", S3_SECRET] {
        assert!(
            !seen.contains(hidden),
            "the password command saw {hidden}:\n{seen}"
        );
    }
}
