//! What the dump drill tests share: a job backed up for real by `bakrun run`, the drill
//! called through the library on its newest run, a watcher that sees the throwaway server
//! while it runs (and every TCP socket it listens on: there must be none), and the checks
//! that nothing of it remains afterwards.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bakgen_spec::verify::{QueryEngine, Sample, Verify, VerifyQuery};
use bakrun::command::Exec;
use bakrun::drill::{drill_dumps, DrillError, DumpDrill};
use bakrun::engine::{self, Engine, Snapshot};
use bakrun::spec::JobSpec;

use crate::common::{assert_code, bakrun, TempDir};

/// `bakrun run SPEC` must succeed.
pub fn backup(spec: &Path) {
    assert_code(&bakrun(&["run", spec.to_str().unwrap(), "-v"]), 0);
}

pub fn read_spec(path: &Path) -> JobSpec {
    JobSpec::read(path.to_str().unwrap()).unwrap()
}

/// The job's engine and its newest complete run.
pub fn newest(spec: &JobSpec) -> (Box<dyn Engine>, Snapshot) {
    let engine = engine::for_spec(spec).unwrap();
    let snapshot = engine.snapshots().unwrap().pop().expect("a complete run");
    (engine, snapshot)
}

/// `spec` with these verify-queries.
pub fn with_queries(spec: &JobSpec, queries: &[(QueryEngine, &str, &str, i64)]) -> JobSpec {
    let mut s = spec.clone();
    s.verify = Some(Verify {
        calendar: "Sun *-*-* 05:00:00".into(),
        jitter_seconds: 0,
        sample: Sample::default(),
        critical: Vec::new(),
        queries: queries
            .iter()
            .map(|(engine, database, sql, at_least)| VerifyQuery {
                engine: *engine,
                database: (*database).into(),
                sql: (*sql).into(),
                at_least: *at_least,
            })
            .collect(),
        within_seconds: 8 * 86400,
        count: None,
    });
    s
}

/// A private 0700 scratch folder, as `bakrun verify` makes one.
pub fn scratch() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::Builder::new()
        .prefix("bakrun-test-drill-scratch-")
        .tempdir()
        .unwrap();
    let p = t.path().to_owned();
    (t, p)
}

/// What the watcher saw while the drill ran.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Names (`comm`) of processes working in the scratch folder: the servers.
    pub servers: BTreeSet<String>,
    /// Their pids.
    pub pids: BTreeSet<i32>,
    /// TCP sockets in LISTEN state that one of them holds (`/proc/net/tcp{,6}` lines).
    pub tcp_listeners: Vec<String>,
    /// Unix sockets found under the scratch folder.
    pub unix_sockets: BTreeSet<PathBuf>,
}

/// Watches `scratch` from a thread until dropped or [`Watcher::finish`]ed.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    pub fn start(scratch: &Path) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (s, w, root) = (stop.clone(), seen.clone(), scratch.to_owned());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                look(&root, &w);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Watcher {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }

    pub fn finish(mut self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.seen()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Processes whose working folder is under `root` (servers work in their data folder).
pub fn processes_under(root: &Path) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cwd) = fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        let cmdline = fs::read(entry.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
        if zombie {
            continue;
        }
        if cwd.starts_with(root) || cmdline.contains(&*root.to_string_lossy()) {
            let comm = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            out.push((pid, format!("{} ({})", comm.trim(), cmdline.trim())));
        }
    }
    out
}

fn look(root: &Path, seen: &Mutex<Seen>) {
    let procs = processes_under(root);
    let mut inodes: BTreeSet<String> = BTreeSet::new();
    for (pid, _) in &procs {
        for fd in fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(target) = fs::read_link(fd.path()) {
                let t = target.to_string_lossy();
                if let Some(inode) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                    inodes.insert(inode.to_owned());
                }
            }
        }
    }
    let mut listeners = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
        {
            let f: Vec<&str> = line.split_whitespace().collect();
            // st 0A is LISTEN; the inode is the tenth field.
            if f.len() > 9 && f[3] == "0A" && inodes.contains(f[9]) {
                listeners.push(format!("{table}: {line}"));
            }
        }
    }
    let sockets = unix_sockets(root);
    let mut s = seen.lock().unwrap();
    for (pid, what) in procs {
        // The server itself, not the short-lived initdb or install script.
        if what.starts_with("postgres") || what.starts_with("mariadbd") {
            s.servers
                .insert(what.split(' ').next().unwrap_or("").to_owned());
            s.pids.insert(pid);
        }
    }
    s.tcp_listeners.extend(listeners);
    s.unix_sockets.extend(sockets);
}

/// Unix sockets anywhere under `root`.
pub fn unix_sockets(root: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_socket() {
                out.push(e.path());
            }
        }
    }
    out
}

/// The drill of `spec`'s newest run in `scratch`, watched.
pub fn drill(spec: &JobSpec, scratch: &Path) -> (Result<Vec<DumpDrill>, DrillError>, Seen) {
    let (engine, snapshot) = newest(spec);
    let watcher = Watcher::start(scratch);
    let result = drill_dumps(
        &Exec { dry_run: false },
        spec,
        engine.as_ref(),
        &snapshot,
        scratch,
    );
    (result, watcher.finish())
}

/// The drill ran its server(s) on Unix sockets only and left nothing behind.
pub fn assert_ran_privately_and_left_nothing(seen: &Seen, scratch: &Path, servers: &[&str]) {
    for s in servers {
        assert!(seen.servers.contains(*s), "no {s} seen running: {seen:?}");
    }
    assert!(!seen.unix_sockets.is_empty(), "no socket seen: {seen:?}");
    assert!(seen.tcp_listeners.is_empty(), "a TCP listener: {seen:?}");
    assert_left_nothing(seen, scratch);
}

pub fn assert_left_nothing(seen: &Seen, scratch: &Path) {
    assert_eq!(
        processes_under(scratch),
        Vec::new(),
        "processes left behind"
    );
    for pid in &seen.pids {
        let alive = fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        });
        assert!(!alive, "server {pid} still runs");
    }
    assert_eq!(unix_sockets(scratch), Vec::<PathBuf>::new(), "sockets left");
    let left: Vec<_> = fs::read_dir(scratch)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left in the scratch folder: {left:?}");
}

/// The one dump's drill of a job with one dump.
pub fn only(result: Result<Vec<DumpDrill>, DrillError>) -> DumpDrill {
    let mut drills = result.unwrap();
    assert_eq!(drills.len(), 1, "{drills:?}");
    drills.remove(0)
}

/// A test folder whose files other users can read (the dump steps run as `postgres`).
pub fn folder(tag: &str) -> TempDir {
    TempDir::new(tag)
}
