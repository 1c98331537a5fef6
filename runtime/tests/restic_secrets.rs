//! restic's secrets while a run lasts: never on any process's argv, never as a value in
//! any environment (restic gets the password as a file or a command, S3 keys in a private
//! credentials file), never in the log, status or metrics; and S3 keys from secret files
//! win over keys bakrun inherited.

mod common;
mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use common::{assert_code, bakrun, TempDir};
use support::*;

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
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr_of(&out)
        );
        assert!(log.contains("restic"), "-vv logs restic's commands: {log}");
        for secret in [&password, &s3_secret] {
            assert!(
                !log.contains(secret.as_str()),
                "secret in bakrun's output:\n{log}"
            );
        }
        let (text, st) = status_of(root, "files");
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
        let log = dir.join("authorization.log");
        fs::write(&log, "").unwrap();
        // The server binds port 0 itself and prints the port it got: a port picked here
        // and bound later could be taken in between by another test's server, and restic
        // would then talk to that one (seen once in CI: an empty log).
        let program = r#"
import http.server, sys
log = open(sys.argv[1], "a")
class H(http.server.BaseHTTPRequestHandler):
    def refuse(self):
        log.write((self.headers.get("Authorization") or "-") + "\n"); log.flush()
        self.send_response(403); self.send_header("Content-Length", "0"); self.end_headers()
    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = refuse
    def log_message(self, *a): pass
server = http.server.HTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;
        let mut child = Command::new("python3")
            .args(["-c", program])
            .arg(&log)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 must be installed");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        let port = match line.trim().parse() {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                panic!("the recorder did not say its port: {line:?}");
            }
        };
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
        "restic signed with: {log}\nbakrun said: {}",
        String::from_utf8_lossy(&out.stderr)
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
