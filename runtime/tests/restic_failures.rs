//! restic against real servers on loopback, beyond the happy path of `restic_engine.rs`:
//! an `sftp:` repository behind a private sshd (init, backup, list, restore at a date,
//! retention, prune, check); runs that must fail cleanly — wrong password, unreachable
//! server, repository never initialised — each with exit 1, a `failed` status that says
//! why, no new snapshot and nothing half-written; and secrets that never reach any
//! process's argv while a run lasts.

mod common;
mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{assert_code, bakrun, free_port, Sshd, TempDir};
use support::*;

fn run(spec: &Path) -> Output {
    bakrun(&["run", spec.to_str().unwrap(), "-v"])
}

/// The status file's text and JSON; the text must parse.
fn status(root: &Path, job: &str) -> (String, Value) {
    let text = fs::read_to_string(root.join(format!("state/status/{job}.json"))).unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status file is not valid JSON ({e}):\n{text}"));
    (text, value)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a failed run: exit 1, a valid status saying `failed` with a message holding
/// every one of `reason`, no snapshot recorded for it, the metrics saying exit 1, and
/// nothing half-written in the state and metrics folders.
fn assert_failed_cleanly(out: &Output, root: &Path, job: &str, reason: &[&str]) -> Value {
    assert_code(out, 1);
    let err = stderr(out);
    for r in reason {
        assert!(err.contains(r), "stderr lacks `{r}`:\n{err}");
    }
    let (text, st) = status(root, job);
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

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
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
    assert!(refused(&stderr(&out)), "{}", stderr(&out));
    assert!(!repo_dir.exists());
    let out = run(&path);
    assert_failed_cleanly(&out, root, "files", &["cannot reach the restic repository"]);
    assert!(refused(&stderr(&out)), "{}", stderr(&out));
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
    let (_, before) = status(root, "files");
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
    assert!(!stderr(&out).contains("not the password"));
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
    assert!(stderr(&out).contains("wrong password"), "{}", stderr(&out));
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
    assert!(!stderr(&out).contains("bakrun init"), "{}", stderr(&out));
    // restic does not retry a refused connection: the run fails at once, not after
    // minutes of backoff.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    let out = bakrun(&["init", path.to_str().unwrap()]);
    assert_code(&out, 1);
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
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

/// What a scan of every process saw while a run lasted.
#[derive(Default)]
struct Seen {
    /// argv lines (space-joined) holding a secret.
    argv_leaks: Vec<String>,
    /// Processes (argv) whose environment held the password's value.
    environ_password: Vec<String>,
    /// Processes (argv) whose environment held the S3 secret key.
    environ_s3_secret: Vec<String>,
    /// Whether a `restic … backup …` process was seen.
    restic_backup: bool,
    /// `RESTIC_*` variable names (not values) of the restic backup process.
    restic_env_names: Vec<String>,
    scans: u64,
}

/// Reads every `/proc/*/cmdline` and `/proc/*/environ` every millisecond or so until
/// `stop`, looking for the secrets.
fn scan_processes(secrets: [String; 2], stop: Arc<AtomicBool>) -> Seen {
    let [password, s3] = secrets;
    let mut seen = Seen::default();
    let contains =
        |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    while !stop.load(Ordering::SeqCst) {
        seen.scans += 1;
        let Ok(rd) = fs::read_dir("/proc") else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let dir = e.path();
            let Ok(cmdline) = fs::read(dir.join("cmdline")) else {
                continue;
            };
            let argv: Vec<String> = cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let shown = argv.join(" ");
            if contains(&cmdline, &password) || contains(&cmdline, &s3) {
                seen.argv_leaks.push(shown.clone());
            }
            let is_restic = argv.first().is_some_and(|a| a.ends_with("restic"));
            let environ = fs::read(dir.join("environ")).unwrap_or_default();
            if contains(&environ, &password) {
                seen.environ_password.push(shown.clone());
            }
            if contains(&environ, &s3) && !seen.environ_s3_secret.contains(&shown) {
                seen.environ_s3_secret.push(shown.clone());
            }
            if is_restic && argv.iter().any(|a| a == "backup") {
                seen.restic_backup = true;
                for var in environ.split(|b| *b == 0) {
                    let Some(name) = var.split(|b| *b == b'=').next() else {
                        continue;
                    };
                    let name = String::from_utf8_lossy(name).into_owned();
                    if (name.starts_with("RESTIC_") || name.starts_with("AWS_"))
                        && !seen.restic_env_names.contains(&name)
                    {
                        seen.restic_env_names.push(name);
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    seen
}

/// `bakrun ARGS` while another thread scans every process for the secrets.
fn scanned(args: &[&str], env: &[(&str, &str)], secrets: [String; 2]) -> (Output, Seen) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let scanner = std::thread::spawn(move || scan_processes(secrets, flag));
    let out = Command::new(common::BAKRUN)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    (out, scanner.join().unwrap())
}

#[test]
#[ignore = "tier: system — needs a moto S3 server; run by scripts/test"]
fn secrets_never_reach_argv_logs_status_or_metrics() {
    let t = TempDir::new("restic-argv");
    let root = t.path();
    let server = timed("moto_server start", || S3Server::start("argv-bucket"));
    // Values no other process on this machine can hold by chance.
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let password = format!("pw-{nonce}-never-on-argv");
    let s3_secret = format!("s3-{nonce}-never-on-argv");
    let pw = secret_file(root, "password", &password);
    let key_id = secret_file(root, "s3-id", S3_KEY_ID);
    let key = secret_file(root, "s3-key", &s3_secret);
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), "over s3\n").unwrap();
    let repo = server.url("argv-bucket/h1");
    let mut spec = restic_spec(root, "files", &repo, &pw, &[&src]);
    spec["destination"]["environment"] = json!([
        {"variable": "AWS_ACCESS_KEY_ID", "secret": {"from": "file", "path": key_id.to_string_lossy()}},
        {"variable": "AWS_SECRET_ACCESS_KEY", "secret": {"from": "file", "path": key.to_string_lossy()}},
    ]);
    let path = write_spec_named(root, "files", &spec);
    let p = path.to_str().unwrap();
    let secrets = || [password.clone(), s3_secret.clone()];

    let (out, _) = scanned(&["init", p], &[], secrets());
    assert_code(&out, 0);

    // Password from a file, then from a command (a password manager).
    let mut with_command = spec.clone();
    with_command["destination"]["password"] =
        json!({"from": "command", "command": format!("cat '{}'", pw.display())});
    let command_path = write_spec_named(root, "command", &with_command);
    for spec_path in [&path, &command_path] {
        let (out, seen) = timed("scanned backup on S3", || {
            scanned(&["run", spec_path.to_str().unwrap(), "-vv"], &[], secrets())
        });
        assert_code(&out, 0);
        eprintln!(
            "scanner: {} scans; restic's environment: {:?}; S3 secret in the environment of: {:?}",
            seen.scans, seen.restic_env_names, seen.environ_s3_secret
        );
        assert!(
            seen.restic_backup,
            "the scanner never saw `restic backup` ({} scans): the test proves nothing",
            seen.scans
        );
        assert!(
            seen.argv_leaks.is_empty(),
            "secret on argv: {:?}",
            seen.argv_leaks
        );
        // The password reaches restic as a file or a command, never as a value.
        assert!(
            seen.environ_password.is_empty(),
            "password value in an environment: {:?}",
            seen.environ_password
        );
        let names = &seen.restic_env_names;
        assert!(
            names
                .iter()
                .any(|n| n == "RESTIC_PASSWORD_FILE" || n == "RESTIC_PASSWORD_COMMAND"),
            "{names:?}"
        );
        // S3 keys reach restic in a private credentials file: in no process's environment.
        assert!(
            seen.environ_s3_secret.is_empty(),
            "S3 secret in the environment of: {:?}",
            seen.environ_s3_secret
        );
        assert!(
            seen.restic_env_names
                .iter()
                .any(|n| n == "AWS_SHARED_CREDENTIALS_FILE"),
            "{:?}",
            seen.restic_env_names
        );
        let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(log.contains("restic"), "-vv logs restic's commands: {log}");
        for secret in [&password, &s3_secret] {
            assert!(
                !log.contains(secret.as_str()),
                "secret in bakrun's output:\n{log}"
            );
        }
        let (text, st) = status(root, "files");
        assert_eq!(st["result"], "success", "{text}");
        let metrics = fs::read_to_string(root.join("metrics/bakgen_files.prom")).unwrap();
        for secret in [&password, &s3_secret] {
            assert!(!text.contains(secret.as_str()), "secret in the status file");
            assert!(!metrics.contains(secret.as_str()), "secret in the metrics");
        }
        assert!(files_under(&root.join("state"))
            .iter()
            .all(|f| !f.ends_with(".tmp")));
    }
}

/// An S3 endpoint on loopback that records the `Authorization` header of every request
/// and refuses it (403): shows which access key restic signed with.
struct AuthRecorder {
    child: std::process::Child,
    port: u16,
    log: std::path::PathBuf,
}

impl AuthRecorder {
    fn start(dir: &Path) -> Self {
        let port = free_port();
        let log = dir.join("authorization.log");
        fs::write(&log, "").unwrap();
        let program = r#"
import http.server, sys
log = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def refuse(self):
        log.write((self.headers.get("Authorization") or "-") + "\n"); log.flush()
        self.send_response(403); self.send_header("Content-Length", "0"); self.end_headers()
    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = refuse
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;
        let child = Command::new("python3")
            .args(["-c", program, &port.to_string()])
            .arg(&log)
            .spawn()
            .expect("python3 must be installed");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the recorder did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        AuthRecorder { child, port, log }
    }
}

impl Drop for AuthRecorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn s3_keys_reach_restic_through_a_private_credentials_file() {
    let t = TempDir::new("restic-s3-file");
    let root = t.path();
    let recorder = AuthRecorder::start(root);
    let pw = secret_file(root, "password", PASSWORD);
    let key_id = secret_file(root, "key-id", "AKIDFROMAFILE");
    let key = secret_file(root, "key", "a secret key with spaces");
    let mut spec = restic_spec(
        root,
        "files",
        &format!("s3:http://127.0.0.1:{}/bucket/h1", recorder.port),
        &pw,
        &[root],
    );
    spec["destination"]["environment"] = json!([
        {"variable": "AWS_ACCESS_KEY_ID", "secret": {"from": "file", "path": key_id.to_string_lossy()}},
        {"variable": "AWS_SECRET_ACCESS_KEY", "secret": {"from": "file", "path": key.to_string_lossy()}},
    ]);
    let path = write_spec_named(root, "files", &spec);
    let tmp = root.join("tmp");
    fs::create_dir_all(&tmp).unwrap();
    // Inherited keys must not win over the job's.
    let out = Command::new(common::BAKRUN)
        .args(["init", path.to_str().unwrap()])
        .env("TMPDIR", &tmp)
        .env("AWS_ACCESS_KEY_ID", "AKIDINHERITED")
        .env("AWS_SECRET_ACCESS_KEY", "inherited")
        .output()
        .unwrap();
    assert_code(&out, 1);
    let log = fs::read_to_string(&recorder.log).unwrap();
    assert!(
        log.contains("Credential=AKIDFROMAFILE/"),
        "restic signed with: {log}"
    );
    assert!(!log.contains("AKIDINHERITED"), "{log}");
    // The private credentials file is gone with bakrun.
    assert_eq!(files_under(&tmp), Vec::<String>::new());
    // The dry run says where the keys go, not what they are.
    let out = bakrun(&["run", path.to_str().unwrap(), "--dry-run"]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("AWS_SECRET_ACCESS_KEY=<file ")
            && printed.contains("in AWS_SHARED_CREDENTIALS_FILE"),
        "{printed}"
    );
    assert!(!printed.contains("a secret key with spaces"));
}
