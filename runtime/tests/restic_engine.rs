//! The restic engine against real restic: local, REST (rclone) and S3 (moto) repositories;
//! idempotent init; tags and host scoping; two jobs sharing a repository; restore at a
//! date; secrets kept out of dry-run output, logs and status; exposed secret files refused.

mod common;
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use serde_json::{json, Value};

use common::{assert_code, bakrun, TempDir};
use support::*;

fn run(spec: &std::path::Path) -> std::process::Output {
    bakrun(&["run", spec.to_str().unwrap(), "-v"])
}

fn snapshots_json(spec: &std::path::Path) -> Vec<Value> {
    let out = bakrun(&["snapshots", spec.to_str().unwrap(), "--format", "json"]);
    assert_code(&out, 0);
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

fn status(root: &std::path::Path, job: &str) -> (String, Value) {
    let text = fs::read_to_string(root.join(format!("state/status/{job}.json"))).unwrap();
    (text.clone(), serde_json::from_str(&text).unwrap())
}

#[test]
#[ignore = "tier: system — long: the whole restic cycle with restores, 15 s in a debug build; run by scripts/test"]
fn local_repository_backup_restore_at_a_date_and_shared_retention() {
    let t = TempDir::new("restic-local");
    let root = t.path();
    let pw = secret_file(root, "password", PASSWORD);
    let src = root.join("src");
    fs::create_dir_all(src.join("etc")).unwrap();
    fs::write(src.join("etc/app.conf"), "version 1\n").unwrap();
    fs::write(src.join("etc/skip.tmp"), "excluded\n").unwrap();
    let repo = root.join("repo").to_string_lossy().into_owned();

    let mut a = restic_spec(root, "files", &repo, &pw, &[&src]);
    a["excludes"] = json!(["*.tmp"]);
    a["limits"] = json!({"upload-kib": 10240, "download-kib": 20480});
    let a_path = write_spec_named(root, "files", &a);
    let b = restic_spec(root, "other", &repo, &pw, &[&src]);
    let b_path = write_spec_named(root, "other", &b);

    // init twice: the second finds the repository and leaves it alone.
    let out = timed("restic init", || {
        bakrun(&["init", a_path.to_str().unwrap()])
    });
    assert_code(&out, 0);
    let config = fs::read(root.join("repo/config")).unwrap();
    let out = bakrun(&["init", b_path.to_str().unwrap(), "-v"]);
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    assert_eq!(fs::read(root.join("repo/config")).unwrap(), config);

    // Dry run: commands printed, with the password's source but never its value.
    let out = bakrun(&["run", a_path.to_str().unwrap(), "--dry-run"]);
    assert_code(&out, 0);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("restic --cache-dir"), "{printed}");
    assert!(printed.contains("--limit-upload=10240"), "{printed}");
    assert!(printed.contains("--limit-download=20480"), "{printed}");
    assert!(printed.contains("--tag job=files"), "{printed}");
    assert!(printed.contains("RESTIC_PASSWORD_FILE=<file "), "{printed}");
    assert!(!printed.contains(PASSWORD));

    let out = timed("first backup", || run(&a_path));
    assert_code(&out, 0);
    assert!(!String::from_utf8_lossy(&out.stderr).contains(PASSWORD));
    let (text, st) = status(root, "files");
    assert!(!text.contains(PASSWORD));
    assert_eq!(st["result"], "success");
    let first_id = st["snapshot"].as_str().unwrap().to_owned();
    assert_eq!(first_id.len(), 8);
    // restic's --json summary, recorded: one new file (the excluded one is not), the
    // bytes restic added, the snapshot's id; the same figures in the metrics.
    assert_eq!(st["files_new"], 1, "{text}");
    assert_eq!(st["files_changed"], 0, "{text}");
    assert_eq!(st["files_transferred"], 1, "{text}");
    assert_eq!(st["files_total"], 1, "{text}");
    let bytes_added = st["bytes_transferred"].as_u64().unwrap();
    assert!(bytes_added >= "version 1\n".len() as u64, "{text}");
    let metrics = fs::read_to_string(root.join("metrics/bakgen_files.prom")).unwrap();
    for line in [
        "bakgen_job_last_run_result{bakgen_host=\"h1\",bakgen_job=\"files\"} 0".to_owned(),
        "bakgen_job_files_new{bakgen_host=\"h1\",bakgen_job=\"files\"} 1".to_owned(),
        "bakgen_job_files_changed{bakgen_host=\"h1\",bakgen_job=\"files\"} 0".to_owned(),
        "bakgen_job_files_transferred{bakgen_host=\"h1\",bakgen_job=\"files\"} 1".to_owned(),
        format!("bakgen_job_bytes_transferred{{bakgen_host=\"h1\",bakgen_job=\"files\"}} {bytes_added}"),
        format!(
            "bakgen_job_last_snapshot_info{{bakgen_host=\"h1\",bakgen_job=\"files\",snapshot=\"{first_id}\"}} 1"
        ),
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in:\n{metrics}"
        );
    }

    // Tags, host and excludes as restic sees them.
    let listed: Vec<Value> =
        serde_json::from_str(&restic(&repo, &pw, &["snapshots", "--json"], &[])).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["short_id"], first_id.as_str());
    let tags: Vec<&str> = listed[0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(tags.contains(&"bakgen") && tags.contains(&"host=h1") && tags.contains(&"job=files"));
    assert!(tags.iter().any(|t| t.starts_with("run=")));
    assert_eq!(listed[0]["hostname"], "h1");
    let snaps = snapshots_json(&a_path);
    assert_eq!(snaps.len(), 1);
    let at = snaps[0]["time"].as_str().unwrap().to_owned();
    let out = bakrun(&["snapshots", a_path.to_str().unwrap(), "--at", &at]);
    assert_code(&out, 0);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("/etc/app.conf"), "{listing}");
    assert!(!listing.contains("skip.tmp"), "{listing}");

    // The other job shares the repository.
    assert_code(&run(&b_path), 0);

    // Change, back up twice more: keep-last 2 forgets the first run of `files` only.
    fs::write(src.join("etc/app.conf"), "version 2\n").unwrap();
    assert_code(&timed("second backup", || run(&a_path)), 0);
    let (text, st) = status(root, "files");
    assert_eq!(
        (&st["files_new"], &st["files_changed"]),
        (&json!(0), &json!(1)),
        "{text}"
    );
    fs::write(src.join("etc/app.conf"), "version 3\n").unwrap();
    assert_code(&run(&a_path), 0);
    let snaps = snapshots_json(&a_path);
    assert_eq!(snaps.len(), 2, "{snaps:?}");
    assert!(snaps.iter().all(|s| s["id"] != first_id.as_str()));
    assert_eq!(
        snapshots_json(&b_path).len(),
        1,
        "the other job's snapshot must stay"
    );

    // Restore at the date of the older remaining snapshot: version 2.
    let at = snaps[0]["time"].as_str().unwrap().to_owned();
    let to = root.join("restored");
    let path_in = format!("{}/etc/app.conf", src.display());
    let out = timed("restore", || {
        bakrun(&[
            "restore",
            a_path.to_str().unwrap(),
            &path_in,
            "--at",
            &at,
            "--to",
            to.to_str().unwrap(),
        ])
    });
    assert_code(&out, 0);
    assert_eq!(
        fs::read_to_string(to.join("app.conf")).unwrap(),
        "version 2\n"
    );
    // Again without --force: refused, file untouched.
    let out = bakrun(&[
        "restore",
        a_path.to_str().unwrap(),
        &path_in,
        "--to",
        to.to_str().unwrap(),
    ]);
    assert_code(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    let out = bakrun(&[
        "restore",
        a_path.to_str().unwrap(),
        &path_in,
        "--to",
        to.to_str().unwrap(),
        "--force",
    ]);
    assert_code(&out, 0);
    assert_eq!(
        fs::read_to_string(to.join("app.conf")).unwrap(),
        "version 3\n"
    );
    // A folder restores as a folder.
    let out = bakrun(&[
        "restore",
        a_path.to_str().unwrap(),
        &format!("{}/etc", src.display()),
        "--to",
        root.join("r2").to_str().unwrap(),
    ]);
    assert_code(&out, 0);
    assert!(root.join("r2/etc/app.conf").exists());

    // prune --repository-only and check run against the shared repository.
    let out = timed("prune", || {
        bakrun(&[
            "prune",
            a_path.to_str().unwrap(),
            b_path.to_str().unwrap(),
            "--repository-only",
        ])
    });
    assert_code(&out, 0);
    let out = timed("check 50%", || {
        bakrun(&["check", a_path.to_str().unwrap(), "--read-data", "50%"])
    });
    assert_code(&out, 0);
    assert_eq!(snapshots_json(&b_path).len(), 1);
}

#[test]
fn exposed_secret_file_is_refused_with_a_clear_message() {
    let t = TempDir::new("restic-exposed");
    let root = t.path();
    let pw = secret_file(root, "password", PASSWORD);
    fs::set_permissions(&pw, fs::Permissions::from_mode(0o640)).unwrap();
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    let spec = restic_spec(
        root,
        "files",
        &root.join("repo").to_string_lossy(),
        &pw,
        &[&src],
    );
    let path = write_spec_named(root, "files", &spec);
    for args in [
        vec!["init", path.to_str().unwrap()],
        vec!["run", path.to_str().unwrap()],
    ] {
        let out = bakrun(&args);
        assert_code(&out, 1);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("readable by its group") && err.contains("chmod 600"),
            "{err}"
        );
        assert!(!err.contains(PASSWORD));
    }
    assert!(!root.join("repo").exists());
}

#[test]
#[ignore = "tier: system — needs a rest-server (rclone serve restic); run by scripts/test"]
fn rest_server_repository() {
    let t = TempDir::new("restic-rest");
    let root = t.path();
    let server = timed("rclone serve restic start", RestServer::start);
    let pw = secret_file(root, "password", PASSWORD);
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), "over rest\n").unwrap();
    let repo = server.url("h1");
    let spec = restic_spec(root, "files", &repo, &pw, &[&src]);
    let path = write_spec_named(root, "files", &spec);
    assert_code(
        &timed("init over REST", || {
            bakrun(&["init", path.to_str().unwrap()])
        }),
        0,
    );
    assert_code(&bakrun(&["init", path.to_str().unwrap()]), 0);
    assert_code(&timed("backup over REST", || run(&path)), 0);
    let out = bakrun(&[
        "restore",
        path.to_str().unwrap(),
        &format!("{}/f", src.display()),
        "--to",
        root.join("out").to_str().unwrap(),
    ]);
    assert_code(&out, 0);
    assert_eq!(
        fs::read_to_string(root.join("out/f")).unwrap(),
        "over rest\n"
    );
}

#[test]
#[ignore = "tier: system — needs a moto S3 server; run by scripts/test"]
fn s3_repository_with_keys_from_secret_files() {
    let t = TempDir::new("restic-s3");
    let root = t.path();
    let server = timed("moto_server start", || S3Server::start("backups"));
    let pw = secret_file(root, "password", PASSWORD);
    let key_id = secret_file(root, "s3-id", S3_KEY_ID);
    let key = secret_file(root, "s3-key", S3_SECRET);
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), "over s3\n").unwrap();
    let repo = server.url("backups/h1");
    let mut spec = restic_spec(root, "files", &repo, &pw, &[&src]);
    // The password through a command, as from a password manager.
    spec["destination"]["password"] =
        json!({"from": "command", "command": format!("cat '{}'", pw.display())});
    spec["destination"]["environment"] = json!([
        {"variable": "AWS_ACCESS_KEY_ID", "secret": {"from": "file", "path": key_id.to_string_lossy()}},
        {"variable": "AWS_SECRET_ACCESS_KEY", "secret": {"from": "credential", "name": "s3-key"}},
    ]);
    let path = write_spec_named(root, "files", &spec);
    let creds = root.to_string_lossy().into_owned();
    let with_creds = |args: &[&str]| {
        std::process::Command::new(common::BAKRUN)
            .args(args)
            .env("CREDENTIALS_DIRECTORY", &creds)
            .output()
            .unwrap()
    };
    let _ = &key;
    assert_code(
        &timed("init on S3", || {
            with_creds(&["init", path.to_str().unwrap()])
        }),
        0,
    );
    let out = with_creds(&["run", path.to_str().unwrap(), "--dry-run"]);
    assert_code(&out, 0);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("AWS_SECRET_ACCESS_KEY=<credential s3-key>"),
        "{printed}"
    );
    assert!(!printed.contains(S3_SECRET) && !printed.contains(PASSWORD));
    let out = timed("backup on S3", || {
        with_creds(&["run", path.to_str().unwrap(), "-vv"])
    });
    assert_code(&out, 0);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.contains(S3_SECRET) && !log.contains(PASSWORD), "{log}");
    let (text, _) = status(root, "files");
    assert!(!text.contains(S3_SECRET));
    // Without the credentials folder the job says what is missing.
    let out = bakrun(&["run", path.to_str().unwrap()]);
    assert_code(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("CREDENTIALS_DIRECTORY"));
}

/// A job `files` backing up a one-file folder into an initialised local repository.
struct Job {
    pw: std::path::PathBuf,
    src: std::path::PathBuf,
    repo: String,
    path: std::path::PathBuf,
}

fn small_job(root: &std::path::Path, keep_last: u32) -> Job {
    let pw = secret_file(root, "password", PASSWORD);
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), "x\n").unwrap();
    let repo = root.join("repo").to_string_lossy().into_owned();
    let mut spec = restic_spec(root, "files", &repo, &pw, &[&src]);
    spec["retention"] = json!({ "keep-last": keep_last });
    let path = write_spec_named(root, "files", &spec);
    assert_code(&bakrun(&["init", path.to_str().unwrap()]), 0);
    Job {
        pw,
        src,
        repo,
        path,
    }
}

#[test]
#[ignore = "tier: system — long: waits out a live restic lock, 20 s; run by scripts/test"]
fn a_locked_repository_is_waited_for_not_failed() {
    let t = TempDir::new("restic-lock");
    let root = t.path();
    let Job {
        pw,
        src: _,
        repo,
        path,
    } = small_job(root, 1);
    assert_code(&run(&path), 0);
    // Another restic (another host's backup) holds a lock for a few seconds: this job's
    // forget needs the exclusive lock and must wait for it.
    let mut other = std::process::Command::new("sh")
        .arg("-c")
        .arg("(sleep 12; echo data) | restic backup --stdin --stdin-filename other.sql --host other -q")
        .env("RESTIC_REPOSITORY", &repo)
        .env("RESTIC_PASSWORD_FILE", &pw)
        .spawn()
        .unwrap();
    // Start only once its lock file exists, so the test does not depend on timing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while common::entries(&root.join("repo/locks")).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the other restic never locked"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = timed("run waiting for a lock", || run(&path));
    assert!(other.wait().unwrap().success());
    assert_code(&out, 0);
    let err = String::from_utf8_lossy(&out.stderr);
    // The log names the holder and why bakrun waits rather than unlocks.
    assert!(
        err.contains("repository locked by PID")
            && err.contains("still runs on this host); retrying in"),
        "{err}"
    );
    assert!(!err.contains("removing the stale restic lock"), "{err}");
    assert_eq!(snapshots_json(&path).len(), 1);
    let all: Vec<Value> =
        serde_json::from_str(&restic(&repo, &pw, &["snapshots", "--json"], &[])).unwrap();
    assert_eq!(all.len(), 2, "this job's newest and the other host's");
}

#[test]
#[ignore = "tier: system — long: three interrupted runs of a real restic, 8 s; run by scripts/test"]
fn interrupted_runs_are_never_listed_and_the_next_run_clears_them() {
    let t = TempDir::new("restic-interrupted");
    let root = t.path();
    let Job {
        pw,
        src,
        repo,
        path,
    } = small_job(root, 2);
    // What a run killed after its first of two parts leaves behind.
    restic(
        &repo,
        &pw,
        &[
            "backup",
            "-q",
            "--host",
            "h1",
            "--tag",
            "bakgen,host=h1,job=files",
            "--tag",
            "run=20260101T000000+0000",
            "--tag",
            "parts=2",
            src.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        snapshots_json(&path).is_empty(),
        "a partial run is not a snapshot"
    );
    let out = run(&path);
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("of interrupted runs"));
    let all: Vec<Value> =
        serde_json::from_str(&restic(&repo, &pw, &["snapshots", "--json"], &[])).unwrap();
    assert_eq!(all.len(), 1, "only the new run's snapshot: {all:?}");
    assert_eq!(snapshots_json(&path).len(), 1);
}

#[test]
fn a_run_lists_the_repository_once_and_keeps_count_of_its_own_changes() {
    let t = TempDir::new("restic-list-once");
    let root = t.path();
    let Job {
        pw,
        src: _,
        repo,
        path,
    } = small_job(root, 1);
    let restic_calls = |err: &str, what: &str| {
        err.lines()
            .filter(|l| l.contains("running: restic") && l.contains(what))
            .count()
    };
    let mut ids = Vec::new();
    for round in 0..3 {
        let out = run(&path);
        assert_code(&out, 0);
        let err = String::from_utf8_lossy(&out.stderr);
        // Listed once (before the backup on a fresh cache, beside it once the cache knows
        // the last run): retention and the status count use that listing plus what the
        // run made and forgot.
        assert_eq!(restic_calls(&err, " snapshots "), 1, "{err}");
        assert_eq!(
            restic_calls(&err, " forget "),
            usize::from(round > 0),
            "{err}"
        );
        let (_, st) = status(root, "files");
        assert_eq!(st["snapshots"], 1, "{st}");
        ids.push(st["snapshot"].as_str().unwrap().to_owned());
    }
    // What restic itself holds: the newest run only, the one the status names.
    let listed: Vec<Value> =
        serde_json::from_str(&restic(&repo, &pw, &["snapshots", "--json"], &[])).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["short_id"], ids[2].as_str());
    let snaps = snapshots_json(&path);
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0]["id"], ids[2].as_str());
}
