//! restic's repository locks against a real local repository: a restic killed (SIGKILL)
//! during a backup, a forget or a prune leaves its lock; the next `bakrun run`, `prune`
//! and `check` remove it (only that one, as `restic unlock` does) and succeed, retention
//! included. A lock that may be live — held on another host, by a running restic, or by
//! a PID that is now another program — is left alone, and the failed run's status names
//! its holder.

mod common;
mod support;

use std::fs;
use std::process::{Command, Output};

use common::{assert_code, bakrun};
use support::*;

struct Job(LocalJob);

impl std::ops::Deref for Job {
    type Target = LocalJob;
    fn deref(&self) -> &LocalJob {
        &self.0
    }
}

/// An initialised repository and a keep-last 2 job that has run three times.
fn job_with_runs(tag: &str) -> Job {
    let job = Job(LocalJob::new(tag, |_, _| {}));
    assert_code(&bakrun(&["init", job.p()]), 0);
    for i in 0..3 {
        fs::write(job.src.join("f"), format!("version {i}\n")).unwrap();
        assert_code(&job.run(&[]), 0);
    }
    assert_eq!(job.runs().len(), 2);
    job
}

impl Job {
    fn run(&self, env: &[(&str, &str)]) -> Output {
        bakrun_env(&["run", self.p(), "-v"], env)
    }
    /// Leaves the lock of a restic killed with SIGKILL while running `args`, made under
    /// `wrap`. Returns the lock files.
    fn killed_holding_lock(&self, wrap: &[&str], args: &[&str]) -> Vec<String> {
        let (_, made) = signal_while_locked(&self.repo, &self.pw, wrap, args, libc::SIGKILL);
        assert!(!self.locks().is_empty(), "the killed restic left no lock");
        made
    }
}

fn bakrun_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(common::BAKRUN)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn this_host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
#[ignore = "tier: system — long: kills restics holding locks and waits them out, 20 s; run by scripts/test"]
fn stale_locks_of_killed_restics_are_removed_and_the_next_run_succeeds() {
    let job = job_with_runs("restic-stale-locks");
    let host = this_host();
    // Each kind of lock restic leaves: a backup's (shared: it stops forget and prune), a
    // forget's and a prune's (exclusive: they stop the backup too).
    let kinds: [&[&str]; 3] = [
        &["backup", job.src.to_str().unwrap()],
        &["forget", "--keep-last", "100"],
        &["prune"],
    ];
    for (i, args) in kinds.iter().enumerate() {
        job.killed_holding_lock(&[], args);
        fs::write(job.src.join("f"), format!("after a killed {args:?} {i}\n")).unwrap();
        let newest_before = job.runs().last().unwrap()["id"].clone();
        let out = job.run(&[]);
        assert_code(&out, 0);
        let err = stderr(&out);
        assert!(
            err.contains("removing the stale restic lock of PID")
                && err.contains(&format!("on host {host}"))
                && err.contains("no longer runs on this host"),
            "after a killed {args:?}: {err}"
        );
        // Retention ran: still two runs, the newest is the new one, no lock left.
        let runs = job.runs();
        assert_eq!(runs.len(), 2, "after a killed {args:?}: {runs:?}");
        assert_eq!(runs[0]["id"], newest_before);
        assert_eq!(job.status()["result"], "success");
        assert_eq!(job.locks(), Vec::<String>::new(), "after {args:?}");
    }
    // The maintenance commands clear stale locks the same way.
    job.killed_holding_lock(&[], &["backup", job.src.to_str().unwrap()]);
    let out = bakrun(&["prune", job.p(), "--repository-only", "-v"]);
    assert_code(&out, 0);
    assert!(stderr(&out).contains("removing the stale restic lock"));
    job.killed_holding_lock(&[], &["prune"]);
    let out = bakrun(&["check", job.p(), "-v"]);
    assert_code(&out, 0);
    assert!(stderr(&out).contains("removing the stale restic lock"));
    // Without a lock in the way, no `restic unlock` is run: it costs a restic call.
    let out = bakrun(&["run", job.p(), "-vv"]);
    assert_code(&out, 0);
    assert!(!stderr(&out).contains(" unlock"), "{}", stderr(&out));
}

#[test]
#[ignore = "tier: system — needs root (unshare --pid: a restic holding a lock in another pid namespace); run by scripts/test"]
fn locks_that_may_be_live_are_left_and_the_status_names_their_holder() {
    common::require_root();
    let job = job_with_runs("restic-live-locks");
    let wait = [("BAKRUN_RESTIC_LOCK_WAIT", "2")];
    let before = job.runs();

    // A forget killed on another host: bakrun cannot tell whether that restic still runs.
    let elsewhere = [
        "unshare",
        "--uts",
        "sh",
        "-c",
        "echo elsewhere > /proc/sys/kernel/hostname && exec \"$@\"",
        "sh",
    ];
    let lock = job.killed_holding_lock(&elsewhere, &["forget", "--keep-last", "100"]);
    let out = job.run(&wait);
    assert_code(&out, 1);
    let st = job.status();
    let message = st["message"].as_str().unwrap();
    assert_eq!(st["result"], "failed");
    let locked = format!(
        "the restic repository {} is locked by PID",
        job.repo.display()
    );
    for expected in [
        locked.as_str(),
        " on host elsewhere by root (UID 0, GID 0), made at ",
        "exclusive",
        "it was made on host elsewhere",
        "restic unlock",
    ] {
        assert!(message.contains(expected), "lacks `{expected}`: {message}");
    }
    assert!(
        !stderr(&out).contains("removing the stale"),
        "{}",
        stderr(&out)
    );
    assert_eq!(job.locks(), lock, "a lock of another host was removed");
    assert_eq!(job.runs(), before, "the locked run changed the repository");

    // A restic that still runs on this host (stopped, not dead) keeps its lock.
    support::restic(
        job.repo.to_str().unwrap(),
        &job.pw,
        &["unlock", "--remove-all"],
        &[],
    );
    let (mut live, lock) = signal_while_locked(
        &job.repo,
        &job.pw,
        &[],
        &["forget", "--keep-last", "100"],
        libc::SIGSTOP,
    );
    let out = job.run(&wait);
    assert_code(&out, 1);
    let message = job.status()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains(&format!(
            "restic process {} still runs on this host",
            live.id()
        )),
        "{message}"
    );
    assert_eq!(job.locks(), lock);
    // Once it is dead, the next run clears its lock.
    live.kill().unwrap();
    live.wait().unwrap();
    assert_code(&job.run(&[]), 0);
    assert_eq!(job.locks(), Vec::<String>::new());

    // A restic in a PID namespace records PID 1: here that PID is another program, which
    // restic 0.14's `unlock` would send SIGHUP. The lock is left until it is 30 minutes old.
    let lock = job.killed_holding_lock(
        &["unshare", "--pid", "--fork", "--kill-child"],
        &["forget", "--keep-last", "100"],
    );
    let out = job.run(&wait);
    assert_code(&out, 1);
    let message = job.status()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("locked by PID 1 on host") && message.contains("SIGHUP"),
        "{message}"
    );
    assert_eq!(job.locks(), lock);
}
