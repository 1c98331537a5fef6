//! Stopping `bakrun run` during a restic backup: every restic bakrun is running (the
//! backup and the listing started beside it) is told with SIGINT, the one signal on which
//! restic 0.14 removes its repository lock; one deaf to it is killed after the grace
//! period, so a stop always ends the run. With a real restic: no lock is left behind.

mod common;
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use common::{assert_code, bakrun};
use support::*;

/// A job that has run once with the real restic (so that the cache knows its last run and
/// the next run lists the repository beside the backup), and a stand-in `restic` in
/// `<root>/bin` that, for `backup` and `snapshots`, runs `prelude` (its traps), writes
/// `start KIND PID` to `<root>/marks` and runs `body`; it hands every other command to
/// the real restic.
fn job_with_fake_restic(tag: &str, prelude: &str, body: &str) -> (LocalJob, std::path::PathBuf) {
    let job = LocalJob::new(tag, |_, _| {});
    assert_code(&bakrun(&["init", job.p()]), 0);
    fs::write(job.src.join("f"), "x\n").unwrap();
    assert_code(&bakrun(&["run", job.p()]), 0);
    let marks = job.root.join("marks");
    let fake = job.root.join("bin/restic");
    fs::create_dir_all(job.root.join("bin")).unwrap();
    fs::write(
        &fake,
        format!(
            "#!/bin/sh\nmarks='{}'\ncase \" $* \" in\n*' backup '*) kind=backup ;;\n*' snapshots '*) kind=snapshots ;;\n*) exec restic \"$@\" ;;\nesac\n{prelude}\necho \"start $kind $$\" >> \"$marks\"\n{body}\n",
            marks.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    (job, fake)
}

fn marks(job: &LocalJob) -> String {
    marks_text(&job.root.join("marks"))
}

fn marks_text(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// Starts `bakrun run` with the stand-in restic, waits until both the backup and the
/// listing beside it run, stops bakrun with SIGTERM and waits for it (a minute at most).
/// Returns how it ended, how long the stop took and its standard error.
fn stop_during_backup(job: &LocalJob, fake: &Path) -> (ExitStatus, Duration, String) {
    stop_once_started(job, fake, None, &["start backup", "start snapshots"])
}

/// Starts `bakrun run` with the stand-in restic (and `<root>/bin` first on PATH when
/// `path_first`), waits until every one of `started` is in the marks, stops bakrun with
/// SIGTERM and waits for it (a minute at most). Returns how it ended, how long the stop
/// took and its standard error.
fn stop_once_started(
    job: &LocalJob,
    fake: &Path,
    path_first: Option<&Path>,
    started: &[&str],
) -> (ExitStatus, Duration, String) {
    let mut cmd = Command::new(common::BAKRUN);
    cmd.args(["run", job.p()])
        .env("BAKRUN_RESTIC", fake)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(dir) = path_first {
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", dir.display()));
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = marks(job);
        if started.iter().all(|s| seen.contains(s)) {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "bakrun ended: {seen}");
        assert!(Instant::now() < deadline, "not all of {started:?}: {seen}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let stopped = Instant::now();
    // SAFETY: plain kill(2) of our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    let took = stopped.elapsed();
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    (status, took, stderr)
}

fn wait_at_most(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("bakrun did not end within {limit:?} of the stop");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The PIDs the stand-in restic wrote, each still running or not.
fn started_pids(seen: &str) -> Vec<(String, bool)> {
    seen.lines()
        .filter_map(|l| l.strip_prefix("start "))
        .filter_map(|l| l.split_once(' '))
        .map(|(kind, pid)| (kind.to_owned(), Path::new(&format!("/proc/{pid}")).exists()))
        .collect()
}

#[test]
fn the_backup_and_the_listing_beside_it_are_stopped_with_sigint() {
    let (job, fake) = job_with_fake_restic(
        "restic-stop-sigint",
        // The sleep is started after the traps, holding no pipe of bakrun's.
        "s=\n\
         trap 'echo \"INT $kind\" >> \"$marks\"; [ -n \"$s\" ] && kill $s; exit 130' INT\n\
         trap 'echo \"TERM $kind\" >> \"$marks\"; [ -n \"$s\" ] && kill $s; exit 143' TERM",
        "sleep 300 >/dev/null 2>&1 &\ns=$!\nwait $s",
    );
    let (status, took, stderr) = stop_during_backup(&job, &fake);
    let seen = marks(&job);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(took < Duration::from_secs(4), "took {took:?}: {stderr}");
    assert!(seen.contains("INT backup"), "{seen}");
    assert!(seen.contains("INT snapshots"), "{seen}");
    assert!(!seen.contains("TERM"), "{seen}");
    assert_eq!(job.status()["result"], "interrupted");
}

#[test]
#[ignore = "tier: system — long: waits out the 5 s grace period for a deaf restic, 13 s; run by scripts/test"]
fn a_restic_deaf_to_the_stop_is_killed_after_the_grace_period() {
    // Each deaf restic also starts a deaf child of its own that holds no pipe of bakrun's
    // (as restic's ssh could): killing restic alone would leave it running.
    let (job, fake) = job_with_fake_restic(
        "restic-stop-deaf",
        "trap '' INT TERM HUP",
        "sh -c \"echo start grandchild-$kind \\$\\$ >> '$marks'; exec sleep 300\" </dev/null >/dev/null 2>&1 &\n\
         exec sleep 300",
    );
    let (status, took, stderr) = stop_during_backup(&job, &fake);
    let seen = marks(&job);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(took < Duration::from_secs(20), "took {took:?}: {stderr}");
    assert!(stderr.contains("ignored the stop signal"), "{stderr}");
    let pids = started_pids(&seen);
    assert!(pids.iter().any(|(kind, _)| kind == "snapshots"), "{seen}");
    assert!(
        pids.iter().any(|(kind, _)| kind == "grandchild-backup"),
        "{seen}"
    );
    // A killed grandchild is reaped by whoever adopted it: give that a moment.
    let mut alive: Vec<(String, bool)> = Vec::new();
    for _ in 0..50 {
        alive = started_pids(&marks(&job))
            .into_iter()
            .filter(|(_, running)| *running)
            .collect();
        if alive.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(alive.is_empty(), "still running: {alive:?}");
    assert_eq!(job.status()["result"], "interrupted");
}

/// A dump piped into restic (`pg_dump | restic backup --stdin`): the stop reaches both
/// ends of the pipe, each with its own signal (SIGTERM for the dump, SIGINT for restic),
/// and neither outlives bakrun.
#[test]
fn both_ends_of_a_dump_pipe_are_stopped_each_with_its_signal() {
    let job = LocalJob::new("restic-stop-pipe", |_, spec| {
        spec["steps"] = json!([{"step": "postgres", "databases": ["app"], "host": "127.0.0.1"}]);
    });
    assert_code(&bakrun(&["init", job.p()]), 0);
    let marks = job.root.join("marks");
    let m = marks.display();
    let bin = job.root.join("bin");
    fs::create_dir_all(&bin).unwrap();
    // A slow producer, its traps run at once (`wait` returns on a signal).
    let dump = format!(
        "#!/bin/sh\ntrap 'echo \"TERM dump\" >> \"{m}\"; exit 143' TERM\n\
         trap 'echo \"INT dump\" >> \"{m}\"; exit 130' INT\n\
         echo \"start dump $$\" >> \"{m}\"\nwhile :; do echo '-- row'; sleep 0.1 & wait $!; done\n"
    );
    // restic reading the dump: its standard input kept on fd 3 for the reader in the
    // background (a background command's own standard input is /dev/null). It takes a
    // second to clean up after SIGINT, as restic does, so the producer, killed outright
    // once the consumer has ended, has had time to act on its own signal.
    let restic = format!(
        "#!/bin/sh\ncase \" $* \" in *' --stdin '*) ;; *) exec restic \"$@\" ;; esac\n\
         s=\ntrap 'echo \"INT stdin\" >> \"{m}\"; [ -n \"$s\" ] && kill $s; sleep 1; exit 130' INT\n\
         trap 'echo \"TERM stdin\" >> \"{m}\"; [ -n \"$s\" ] && kill $s; exit 143' TERM\n\
         echo \"start stdin $$\" >> \"{m}\"\nexec 3<&0\ncat <&3 >/dev/null &\ns=$!\nwait $s\n"
    );
    // The stand-in restic stays off PATH, where its `exec restic` finds the real one.
    let fake = job.root.join("fake-restic");
    for (path, text) in [(bin.join("pg_dump"), dump), (fake.clone(), restic)] {
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let (status, took, stderr) =
        stop_once_started(&job, &fake, Some(&bin), &["start dump", "start stdin"]);
    let seen = marks_text(&marks);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(took < Duration::from_secs(4), "took {took:?}: {stderr}");
    assert!(seen.contains("TERM dump"), "{seen}");
    assert!(seen.contains("INT stdin"), "{seen}");
    assert!(
        !seen.contains("INT dump") && !seen.contains("TERM stdin"),
        "{seen}"
    );
    let alive: Vec<_> = started_pids(&seen)
        .into_iter()
        .filter(|(_, running)| *running)
        .collect();
    assert!(alive.is_empty(), "still running: {alive:?}");
    assert_eq!(job.status()["result"], "interrupted");
}

/// The real restic 0.14, stopped through bakrun during a backup slowed down to last a
/// while: it gets SIGINT, removes its lock and exits; SIGTERM would have left the lock.
#[test]
fn a_stopped_run_leaves_no_restic_lock() {
    let job = LocalJob::new("restic-stop-lock", |_, spec| {
        spec["limits"] = json!({"upload-kib": 256});
    });
    assert_code(&bakrun(&["init", job.p()]), 0);
    fs::write(job.src.join("big"), Rng(12).bytes(16 << 20)).unwrap();
    let before = job.locks();
    let mut child = Command::new(common::BAKRUN)
        .args(["run", job.p(), "-v"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let backup = restic_below(&mut child, "backup");
    assert!(
        backup.is_some(),
        "bakrun ended before its restic backup started"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while new_locks(&job.repo, &before).is_empty() {
        assert!(Instant::now() < deadline, "restic backup never locked");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended already"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Well into the backup: restic is uploading.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the backup ended already"
    );
    // SAFETY: plain kill(2) of our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(job.locks(), Vec::<String>::new(), "{stderr}");
    assert_eq!(job.status()["result"], "interrupted");
    // The next run (of a small tree: no waiting for the slow upload) needs no unlock.
    fs::remove_file(job.src.join("big")).unwrap();
    fs::write(job.src.join("small"), "x\n").unwrap();
    let out = bakrun(&["run", job.p(), "-v"]);
    assert_code(&out, 0);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!said.contains("stale restic lock"), "{said}");
}

/// A secret read from a command (here a variable for restic) is started like every other
/// child: it holds the job's lock descriptor, so the lock is free only once it is gone.
#[test]
fn a_secret_command_inherits_the_job_lock() {
    let job = LocalJob::new("restic-secret-command", |root, spec| {
        spec["destination"]["environment"] = json!([{
            "variable": "BAKGEN_TEST_VALUE",
            "secret": {"from": "command", "command": format!(
                "ls -l /proc/$$/fd > '{}'; echo value", root.join("secret-fds").display()
            )},
        }]);
    });
    let seen = job.root.join("secret-fds");
    assert_code(&bakrun(&["init", job.p()]), 0);
    fs::write(job.src.join("f"), "x\n").unwrap();
    assert_code(&bakrun(&["run", job.p()]), 0);
    let fds = fs::read_to_string(&seen).unwrap();
    let lock = job.root.join("state/lock/files.lock");
    assert!(fds.contains(&lock.to_string_lossy().into_owned()), "{fds}");
}
