//! restic against real servers on loopback, beyond the happy path of `restic_engine.rs`:
//! an `sftp:` repository behind a private sshd (init, backup, list, restore at a date,
//! retention, prune, check); and runs that must fail cleanly — wrong password, unreachable
//! server, repository never initialised — each with exit 1, a `failed` status that says
//! why, no new snapshot and nothing half-written. Secrets are `restic_secrets.rs`.

mod common;
mod support;

use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{assert_code, bakrun, free_port, Sshd, TempDir};
use support::*;

fn run(spec: &Path) -> Output {
    bakrun(&["run", spec.to_str().unwrap(), "-v"])
}

/// Asserts a failed run: exit 1, a valid status saying `failed` with a message holding
/// every one of `reason`, no snapshot recorded for it, the metrics saying exit 1, and
/// nothing half-written in the state and metrics folders.
fn assert_failed_cleanly(out: &Output, root: &Path, job: &str, reason: &[&str]) -> Value {
    assert_code(out, 1);
    let err = stderr_of(out);
    for r in reason {
        assert!(err.contains(r), "stderr lacks `{r}`:\n{err}");
    }
    let (text, st) = status_of(root, job);
    assert_eq!(st["result"], "failed", "{text}");
    assert_eq!(st["exit_code"], 1, "{text}");
    assert!(
        st.get("snapshot").is_none(),
        "a failed run made no snapshot: {text}"
    );
    let message = st["message"].as_str().unwrap_or_default();
    for r in reason {
        assert!(message.contains(r), "status message lacks `{r}`: {text}");
    }
    let metrics = fs::read_to_string(root.join(format!("metrics/bakgen_{job}.prom"))).unwrap();
    assert!(
        metrics.contains(&format!(
            "bakgen_job_last_run_result{{bakgen_host=\"h1\",bakgen_job=\"{job}\"}} 1"
        )),
        "{metrics}"
    );
    assert!(
        !metrics.contains("bakgen_job_last_snapshot_info"),
        "{metrics}"
    );
    assert_no_leftovers(root, job);
    st
}

/// The state folder holds the job's locks and status and the metrics folder its `.prom`:
/// no temporary file of an interrupted write, nothing else.
fn assert_no_leftovers(root: &Path, job: &str) {
    let lock = format!("lock/{job}.lock");
    let readers = format!("lock/{job}.readers");
    let status = format!("status/{job}.json");
    for f in files_under(&root.join("state")) {
        assert!(
            f == lock || f == readers || f == status,
            "unexpected file {f} in the state folder"
        );
    }
    assert_eq!(
        files_under(&root.join("metrics")),
        vec![format!("bakgen_{job}.prom")]
    );
}

/// The restic repository files the sftp server holds, as the server sees them.
fn repository_snapshot_files(repo: &Path) -> usize {
    common::entries(&repo.join("snapshots")).len()
}

#[test]
#[ignore = "tier: system — needs root and an sshd for the sftp repository; run by scripts/test"]
fn sftp_repository_init_backup_list_restore_retention_prune() {
    common::require_root();
    let t = TempDir::new("restic-sftp");
    let root = t.path();
    let sshd = Sshd::start();
    let pw = secret_file(root, "password", PASSWORD);
    let src = root.join("source tree");
    // The repository lives on the "server": the same machine, reached only through sshd.
    let repo_dir = root.join("on the server/repo");
    let repo = format!("sftp:root@127.0.0.1:{}", repo_dir.display());
    let mut spec = restic_spec(root, "files", &repo, &pw, &[&src]);
    spec["destination"]["ssh"] = json!({
        "port": sshd.port,
        "identity": sshd.client_key.to_string_lossy(),
        "known-hosts": sshd.known_hosts.to_string_lossy(),
    });
    let path = write_spec_named(root, "files", &spec);
    let p = path.to_str().unwrap();

    // The dry run shows the ssh bakrun has restic run: key, port, host keys checked.
    let out = bakrun(&["init", p, "--dry-run"]);
    assert_code(&out, 0);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("sftp.command=ssh -o BatchMode=yes -o StrictHostKeyChecking=yes"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("-p {} -l root -s 127.0.0.1 sftp", sshd.port)),
        "{printed}"
    );
    assert!(!repo_dir.exists(), "a dry run created the repository");

    // The whole cycle over sftp; the server holds only the two runs kept.
    let first = full_cycle("sftp", root, &path);
    assert_eq!(
        repository_snapshot_files(&repo_dir),
        2,
        "forgotten on the server too (first run {first})"
    );
}

#[test]
#[ignore = "tier: system — needs root and an sshd for the sftp repository; run by scripts/test"]
fn sftp_with_an_unknown_host_key_fails_and_says_why() {
    common::require_root();
    let t = TempDir::new("restic-sftp-hostkey");
    let root = t.path();
    let sshd = Sshd::start();
    let pw = secret_file(root, "password", PASSWORD);
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    let repo_dir = root.join("repo");
    let mut spec = restic_spec(
        root,
        "files",
        &format!("sftp:root@127.0.0.1:{}", repo_dir.display()),
        &pw,
        &[&src],
    );
    spec["destination"]["ssh"] = json!({
        "port": sshd.port,
        "identity": sshd.client_key.to_string_lossy(),
        "known-hosts": sshd.known_hosts.to_string_lossy(),
    });
    fs::write(&sshd.known_hosts, "").unwrap();
    let path = write_spec_named(root, "files", &spec);
    let started = Instant::now();
    // ssh's own "Host key verification failed" races with restic closing the session:
    // restic may kill ssh before ssh has said why. Either way it is "cannot reach".
    let refused = |err: &str| {
        err.contains("Host key verification failed")
            || err.contains("unable to start the sftp session")
    };
    let out = bakrun(&["init", path.to_str().unwrap()]);
    assert_code(&out, 1);
    assert!(refused(&stderr_of(&out)), "{}", stderr_of(&out));
    assert!(!repo_dir.exists());
    let out = run(&path);
    assert_failed_cleanly(&out, root, "files", &["cannot reach the restic repository"]);
    assert!(refused(&stderr_of(&out)), "{}", stderr_of(&out));
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn wrong_password_fails_without_a_new_snapshot() {
    let t = TempDir::new("restic-wrong-pw");
    let root = t.path();
    let pw = secret_file(root, "password", PASSWORD);
    let wrong = secret_file(root, "wrong", "not the password");
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), "x\n").unwrap();
    let repo = root.join("repo").to_string_lossy().into_owned();
    let good = write_spec_named(
        root,
        "good",
        &restic_spec(root, "files", &repo, &pw, &[&src]),
    );
    let bad = write_spec_named(
        root,
        "bad",
        &restic_spec(root, "files", &repo, &wrong, &[&src]),
    );
    assert_code(&bakrun(&["init", good.to_str().unwrap()]), 0);
    assert_code(&run(&good), 0);
    let (_, before) = status_of(root, "files");
    let snapshots_before = restic(&repo, &pw, &["snapshots", "--json"], &[]);

    fs::write(src.join("f"), "changed\n").unwrap();
    let out = run(&bad);
    let st = assert_failed_cleanly(
        &out,
        root,
        "files",
        &[
            "wrong password",
            &format!("the password from file {}", wrong.display()),
        ],
    );
    assert!(!stderr_of(&out).contains("not the password"));
    // The last success is carried over; the repository is as it was.
    assert_eq!(st["last_success"], before["last_success"]);
    assert_eq!(
        restic(&repo, &pw, &["snapshots", "--json"], &[]),
        snapshots_before
    );
    assert!(
        common::entries(&root.join("repo/locks")).is_empty(),
        "a lock was left"
    );
    // init with the wrong password does not take the repository for missing.
    let out = bakrun(&["init", bad.to_str().unwrap()]);
    assert_code(&out, 1);
    assert!(
        stderr_of(&out).contains("wrong password"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn unreachable_repository_fails_fast_and_is_not_initialised() {
    let t = TempDir::new("restic-unreachable");
    let root = t.path();
    let pw = secret_file(root, "password", PASSWORD);
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    // A port nobody listens on: connection refused.
    let repo = format!("rest:http://127.0.0.1:{}/x", free_port());
    let path = write_spec_named(
        root,
        "files",
        &restic_spec(root, "files", &repo, &pw, &[&src]),
    );
    let started = Instant::now();
    let out = run(&path);
    let elapsed = started.elapsed();
    assert_failed_cleanly(
        &out,
        root,
        "files",
        &[
            &format!("cannot reach the restic repository {repo}"),
            "connection refused",
        ],
    );
    assert!(
        !stderr_of(&out).contains("bakrun init"),
        "{}",
        stderr_of(&out)
    );
    // restic does not retry a refused connection: the run fails at once, not after
    // minutes of backoff.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    let out = bakrun(&["init", path.to_str().unwrap()]);
    assert_code(&out, 1);
    assert!(
        stderr_of(&out).contains("cannot reach"),
        "{}",
        stderr_of(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(40));
}

#[test]
fn missing_repository_is_not_initialised_by_run() {
    let t = TempDir::new("restic-missing");
    let root = t.path();
    let pw = secret_file(root, "password", PASSWORD);
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    let repo_dir = root.join("never initialised");
    let repo = repo_dir.to_string_lossy().into_owned();
    let path = write_spec_named(
        root,
        "files",
        &restic_spec(root, "files", &repo, &pw, &[&src]),
    );
    let out = run(&path);
    assert_failed_cleanly(
        &out,
        root,
        "files",
        &[
            &format!("there is no restic repository at {repo}"),
            "create it once with `bakrun init files`",
        ],
    );
    assert!(!repo_dir.exists(), "bakrun run initialised a repository");
    // An empty folder is no repository either.
    fs::create_dir_all(&repo_dir).unwrap();
    let out = run(&path);
    assert_failed_cleanly(&out, root, "files", &["bakrun init files"]);
    assert!(common::entries(&repo_dir).is_empty());
    // After init the same spec runs.
    assert_code(&bakrun(&["init", path.to_str().unwrap()]), 0);
    assert_code(&run(&path), 0);
}
