//! Fault injection for the rsync engine: a seeded loop that, round after round,
//! - kills bakrun and its children at a random moment: SIGKILL or SIGTERM to bakrun, to
//!   its rsync alone, or SIGKILL to all of them at once (power loss);
//! - fills the destination, a tmpfs mounted with `size=` in a mount namespace private to
//!   this test, so that rsync really fails with ENOSPC;
//! - dates snapshots in the future and in the past of the clock. This is done by naming
//!   snapshot folders so (a hard-linked copy of the newest), which is exactly what a clock
//!   set back or forward leaves behind; the clock itself is not changed (no faketime).
//!
//! After each step it checks the invariants: no half snapshot listed by `bakrun
//! snapshots`, `latest` points to the newest complete snapshot, nothing of the job still
//! runs and its lock is free, retention never removed the last complete run; then that
//! the next run succeeds and its snapshot equals the source.
//!
//! The seed is printed. `BAKRUN_FAULT_SEED=N` repeats a run, `BAKRUN_FAULT_ROUNDS=N`
//! runs longer (default 40 rounds, about a minute).

mod rng;
use rng::Rng;

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bakrun::engine::run_name::{parse_snapshot_name, snapshot_name};
use chrono::{Local, Timelike};
use common::*;
use serde_json::Value;

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.parse()
            .unwrap_or_else(|_| panic!("{name}={text} is not a number")),
    )
}

/// The destination: a tmpfs of a few MiB, mounted in a mount namespace of this test's
/// thread (the host never sees it; the bakrun runs it starts do). Unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, size_mib: u64) -> Self {
        use std::ffi::CString;
        fs::create_dir_all(dir).unwrap();
        let c = |s: &str| CString::new(s).unwrap();
        let target = c(dir.to_str().unwrap());
        let options = c(&format!("size={size_mib}m"));
        // SAFETY: plain system calls on NUL-terminated strings that outlive them. The
        // namespace belongs to this thread only (CLONE_NEWNS unshares per task).
        unsafe {
            assert_eq!(libc::unshare(libc::CLONE_NEWNS), 0, "unshare(CLONE_NEWNS)");
            let root = c("/");
            let none = c("none");
            assert_eq!(
                libc::mount(
                    none.as_ptr(),
                    root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null()
                ),
                0,
                "making / private"
            );
            let tmpfs = c("tmpfs");
            assert_eq!(
                libc::mount(
                    tmpfs.as_ptr(),
                    target.as_ptr(),
                    tmpfs.as_ptr(),
                    0,
                    options.as_ptr().cast()
                ),
                0,
                "mounting a tmpfs on {}: {}",
                dir.display(),
                std::io::Error::last_os_error()
            );
        }
        SmallDisk {
            dir: dir.to_owned(),
        }
    }

    fn free_bytes(&self) -> u64 {
        let path = std::ffi::CString::new(self.dir.to_str().unwrap()).unwrap();
        // SAFETY: statvfs into a zeroed struct we own.
        unsafe {
            let mut st: libc::statvfs = std::mem::zeroed();
            assert_eq!(libc::statvfs(path.as_ptr(), &mut st), 0);
            st.f_bavail * st.f_frsize
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let target = std::ffi::CString::new(self.dir.to_str().unwrap()).unwrap();
        // SAFETY: umount2 of the tmpfs this guard mounted.
        unsafe {
            libc::umount2(target.as_ptr(), libc::MNT_DETACH);
        }
    }
}

struct Job {
    /// Before `root`: fields drop in order, and the tmpfs must go before its folder.
    disk: SmallDisk,
    root: TempDir,
    src: PathBuf,
    spec: Value,
    spec_path: PathBuf,
    /// Every source file (relative to `src`) and its size, which never changes.
    files: BTreeMap<PathBuf, usize>,
    /// The newest complete snapshot at the last check: retention must never remove it.
    newest: Option<String>,
}

impl Job {
    fn new(rng: &mut Rng) -> Self {
        let root = TempDir::new("fault-rsync");
        let src = root.join("src");
        let mut files = BTreeMap::new();
        for i in 0..120 {
            files.insert(PathBuf::from(format!("d{}/s-{i:03}", i % 4)), 512);
        }
        for i in 0..3 {
            files.insert(PathBuf::from(format!("m-{i}")), 1 << 20);
        }
        for (rel, size) in &files {
            let path = src.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, rng.bytes(*size)).unwrap();
        }
        let disk = SmallDisk::mount(&root.join("dest"), 24);
        let spec = spec(root.path(), &[&src]);
        let spec_path = write_spec(root.path(), &spec);
        Job {
            disk,
            root,
            src,
            spec,
            spec_path,
            files,
            newest: None,
        }
    }

    fn dir(&self) -> PathBuf {
        job_dir(self.root.path())
    }

    /// Rewrites a few files with new content of the same size; `big` includes a 1 MiB one.
    fn change_sources(&self, rng: &mut Rng, big: bool) {
        let names: Vec<&PathBuf> = self.files.keys().collect();
        for _ in 0..1 + rng.below(6) {
            let rel = names[rng.below(names.len() as u64) as usize];
            fs::write(self.src.join(rel), rng.bytes(self.files[rel])).unwrap();
        }
        if big {
            let rel = PathBuf::from(format!("m-{}", rng.below(3)));
            fs::write(self.src.join(&rel), rng.bytes(self.files[&rel])).unwrap();
        }
    }

    fn set_limit(&mut self, kib: Option<u64>) {
        match kib {
            Some(k) => self.spec["limits"] = serde_json::json!({"upload-kib": k}),
            None => {
                self.spec.as_object_mut().unwrap().remove("limits");
            }
        }
        write_spec(self.root.path(), &self.spec);
    }

    fn start(&self) -> Child {
        Command::new(BAKRUN)
            .args(["run", self.spec_path.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(self.root.join("run.log")).unwrap())
            .spawn()
            .unwrap()
    }

    fn log(&self) -> String {
        fs::read_to_string(self.root.join("run.log")).unwrap_or_default()
    }

    fn status(&self) -> Value {
        let text = fs::read_to_string(self.root.join("state/status/files.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// A complete snapshot holds every source file at its size.
    fn assert_complete(&self, id: &str) {
        let tree = self
            .dir()
            .join(id)
            .join(self.src.strip_prefix("/").unwrap());
        for (rel, size) in &self.files {
            let meta = fs::metadata(tree.join(rel))
                .unwrap_or_else(|e| panic!("snapshot {id} lacks {}: {e}", rel.display()));
            assert_eq!(
                meta.len() as usize,
                *size,
                "{id}/{} is cut short",
                rel.display()
            );
        }
    }

    /// The invariants, after any step.
    fn check(&mut self, step: &str) {
        let root = self.root.path();
        wait_until_gone(root, step);
        let lock = fs::File::open(root.join("state/lock/files.lock")).unwrap();
        assert!(lock.try_lock().is_ok(), "{step}: the lock is still taken");
        drop(lock);

        let out = bakrun(&["snapshots", self.spec_path.to_str().unwrap()]);
        assert_code(&out, 0);
        let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect();
        let mut on_disk: Vec<String> = entries(&self.dir())
            .into_iter()
            .filter(|n| parse_snapshot_name(n).is_some())
            .collect();
        let mut sorted = listed.clone();
        sorted.sort_by_key(|n| parse_snapshot_name(n).unwrap());
        on_disk.sort_by_key(|n| parse_snapshot_name(n).unwrap());
        assert_eq!(listed, sorted, "{step}: not listed oldest first");
        assert_eq!(listed, on_disk, "{step}: listed ≠ complete folders");
        for id in &listed {
            self.assert_complete(id);
        }
        if let Some(kept) = &self.newest {
            assert!(
                listed.contains(kept),
                "{step}: the newest complete snapshot {kept} was removed; left: {listed:?}"
            );
        }
        if let Some(newest) = listed.last() {
            let latest = fs::read_link(self.dir().join("latest"))
                .unwrap_or_else(|e| panic!("{step}: no latest link: {e}"));
            assert_eq!(
                latest,
                PathBuf::from(newest),
                "{step}: latest is not the newest"
            );
        }
        self.newest = listed.last().cloned();
    }

    /// The run after a fault: fast, successful, and equal to the source.
    fn next_run_succeeds(&mut self, step: &str) {
        self.set_limit(None);
        let out = run_job(&self.spec_path);
        assert_code(&out, 0);
        self.check(&format!("{step}, then a run"));
        let newest = self.newest.clone().unwrap();
        let tree = self
            .dir()
            .join(&newest)
            .join(self.src.strip_prefix("/").unwrap());
        assert_eq!(
            differences(&self.src, &tree),
            "",
            "{step}: {newest} ≠ source"
        );
    }

    /// Hard-linked copy of the newest snapshot under the name of `time`.
    fn plant(&self, time: &chrono::DateTime<chrono::FixedOffset>) -> String {
        let name = snapshot_name(time);
        let newest = self.newest.as_ref().unwrap();
        sh(&format!(
            "cp -al '{0}/{newest}' '{0}/{name}'",
            self.dir().display()
        ));
        name
    }
}

fn wait_until_gone(root: &Path, step: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !job_processes(root).is_empty() {
        assert!(
            Instant::now() < deadline,
            "{step}: still running: {:?}",
            job_processes(root)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: kill(2) of a process this test started or one of its children.
    unsafe {
        libc::kill(pid, sig);
    }
}

fn wait_for(child: &mut Child, step: &str) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{step}: bakrun did not stop within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

const KILLS: [&str; 5] = [
    "SIGKILL to bakrun",
    "SIGTERM to bakrun",
    "SIGKILL to rsync",
    "SIGTERM to rsync",
    "SIGKILL to all",
];

/// A slow run killed after a random delay, in one of [`KILLS`]' ways.
fn kill_step(job: &mut Job, rng: &mut Rng) -> String {
    let big = rng.below(2) == 0;
    job.change_sources(rng, big);
    job.set_limit(Some(1024 + rng.below(4096)));
    let how = rng.below(KILLS.len() as u64) as usize;
    let delay = Duration::from_millis(rng.below(1500));
    let step = format!("{} after {} ms", KILLS[how], delay.as_millis());
    let mut child = job.start();
    let bakrun_pid = child.id() as libc::pid_t;
    std::thread::sleep(delay);
    let rsyncs: Vec<libc::pid_t> = job_pids(job.root.path())
        .into_iter()
        .filter(|(_, cmd)| cmd.starts_with("rsync"))
        .map(|(pid, _)| pid)
        .collect();
    match how {
        0 => signal(bakrun_pid, libc::SIGKILL),
        1 => signal(bakrun_pid, libc::SIGTERM),
        2 | 3 => {
            let sig = if how == 2 {
                libc::SIGKILL
            } else {
                libc::SIGTERM
            };
            rsyncs.iter().for_each(|p| signal(*p, sig));
        }
        _ => {
            signal(bakrun_pid, libc::SIGKILL);
            rsyncs.iter().for_each(|p| signal(*p, libc::SIGKILL));
        }
    }
    let code = wait_for(&mut child, &step);
    match how {
        // Killed, or done before the signal came.
        0 | 4 => assert!(matches!(code, None | Some(0)), "{step}: {code:?}"),
        // Stopped (1), done first (0), or signalled before its handler was installed.
        _ => assert!(
            matches!(code, None | Some(0) | Some(1)),
            "{step}: exit {code:?}\n{}",
            job.log()
        ),
    }
    if code == Some(1) {
        let result = job.status()["result"].clone();
        assert!(
            result == "interrupted" || result == "failed",
            "{step}: {result}"
        );
    }
    step
}

/// The destination fills up during the transfer.
fn full_step(job: &mut Job, rng: &mut Rng) -> String {
    job.change_sources(rng, true);
    job.set_limit(None);
    let filler = job.disk.dir.join("filler");
    let free = job.disk.free_bytes();
    fs::write(&filler, vec![0u8; free.saturating_sub(256 * 1024) as usize]).unwrap();
    let out = run_job(&job.spec_path);
    fs::remove_file(&filler).unwrap();
    assert_code(&out, 1);
    let status = job.status();
    let message = status["message"].as_str().unwrap_or_default();
    assert_eq!(status["result"], "failed");
    assert!(
        message.contains("destination file system is full"),
        "a full disk is not named: {message}"
    );
    "a full destination".into()
}

/// The newest snapshot lies days ahead of the clock (the clock was set back, or a disk
/// came from a machine whose clock ran ahead): the run names its snapshot just after it,
/// at once, says so, and retention waits. The operator's fix (removing the snapshots
/// dated in the future) follows.
fn future_step(job: &mut Job, rng: &mut Rng) -> String {
    job.change_sources(rng, false);
    job.set_limit(None);
    let now = Local::now().fixed_offset().with_nanosecond(0).unwrap();
    let future = now + chrono::Duration::days(1 + rng.below(400) as i64);
    let planted = job.plant(&future);
    let before = job.dir().read_dir().unwrap().count();
    // Waiting for the clock to pass the snapshot would never end.
    let mut child = job.start();
    let code = wait_for(&mut child, "a run after a snapshot in the future");
    assert_eq!(code, Some(0), "{}", job.log());
    let expected = snapshot_name(&(future + chrono::Duration::seconds(1)));
    let message = job.status()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains(&format!("snapshot {planted} is")),
        "{message}"
    );
    assert!(message.contains("retention postponed"), "{message}");
    job.check("a snapshot in the future");
    assert_eq!(job.newest.as_deref(), Some(expected.as_str()));
    assert_eq!(
        job.dir().read_dir().unwrap().count(),
        before + 1,
        "retention ran against a future snapshot"
    );
    // Nor does retention run by hand.
    let out = bakrun(&["prune", job.spec_path.to_str().unwrap()]);
    assert_code(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("snapshot {expected} is dated in the future")),
        "{stderr}"
    );
    for name in entries(&job.dir()) {
        if parse_snapshot_name(&name).is_some_and(|t| t > now) {
            fs::remove_dir_all(job.dir().join(name)).unwrap();
        }
    }
    job.newest = None;
    format!("a snapshot {} days ahead", (future - now).num_days())
}

/// The clock jumped forward past every snapshot: an old one is an ordinary old snapshot.
fn past_step(job: &mut Job, rng: &mut Rng) -> String {
    job.change_sources(rng, false);
    job.set_limit(None);
    let past = chrono::DateTime::parse_from_rfc3339("2001-02-03T04:05:06+00:00").unwrap()
        + chrono::Duration::days(rng.below(3000) as i64);
    job.plant(&past);
    let out = run_job(&job.spec_path);
    assert_code(&out, 0);
    job.check("a snapshot years old");
    "a snapshot years in the past".into()
}

#[test]
#[ignore = "tier: system — needs root (full disks on loop devices) and is long (a fault loop); run by scripts/test"]
fn rsync_snapshots_survive_kills_full_disks_and_clock_jumps() {
    require_root();
    let seed = env_number("BAKRUN_FAULT_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    let rounds = env_number("BAKRUN_FAULT_ROUNDS").unwrap_or(40);
    eprintln!("fault_rsync: seed {seed}, {rounds} rounds (BAKRUN_FAULT_SEED={seed} repeats it)");
    let mut rng = Rng(seed);
    let mut job = Job::new(&mut rng);
    job.next_run_succeeds("the first run");
    let mut tally: BTreeMap<&str, u32> = BTreeMap::new();
    // Every kind of step in the first rounds, in an order the seed picks; then at random,
    // kills half of the time.
    let mut first = [0, 1, 2, 3];
    for i in (1..first.len()).rev() {
        first.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for round in 0..rounds {
        let kind = first.get(round as usize).copied().unwrap_or(rng.below(6));
        let (name, step) = match kind {
            0 => ("full", full_step(&mut job, &mut rng)),
            1 => ("future", future_step(&mut job, &mut rng)),
            2 => ("past", past_step(&mut job, &mut rng)),
            _ => ("kill", kill_step(&mut job, &mut rng)),
        };
        eprintln!("round {round}: {step}");
        *tally.entry(name).or_default() += 1;
        // The future step checked before the operator's fix, which leaves `latest`
        // dangling until the next run.
        if name != "future" {
            job.check(&step);
        }
        job.next_run_succeeds(&step);
    }
    eprintln!("fault_rsync: seed {seed}: {tally:?}");
}
