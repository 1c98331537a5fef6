//! Push pings against a real HTTP receiver on loopback (a std `TcpListener` thread that
//! records each request): what each kind sends at the start and the end of a run, in which
//! order; a receiver that never answers or refuses costs a run at most the documented
//! bound; a URL read from a secret never reaches the log; an absent destination (exit 11)
//! sends nothing.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bakrun::ping::{Ending, Pinger, BOUNDS, DEADLINE};
use bakrun::spec::JobSpec;
use common::*;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: Vec<String>,
    body: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Answer,
    /// Accepts, reads, never answers.
    Hang,
}

struct Receiver {
    port: u16,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    fn start(mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("loopback port");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            // Connections a hanging receiver holds open, never answered.
            let mut held = Vec::new();
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let request = read_request(&mut conn);
                log.lock().expect("lock").push(request);
                if mode == Mode::Answer {
                    let _ = conn.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
                    );
                } else {
                    held.push(conn);
                }
            }
        });
        Self { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.seen.lock().expect("lock").clone()
    }
}

fn read_request(conn: &mut TcpStream) -> Request {
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let mut head_end = None;
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).into_owned();
        if head_end.is_none() {
            head_end = text.find("\r\n\r\n");
        }
        if let Some(end) = head_end {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&data).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let first: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
    Request {
        method: first.first().copied().unwrap_or("").to_owned(),
        path: first.get(1).copied().unwrap_or("").to_owned(),
        headers: lines.map(str::to_owned).collect(),
        body: body.to_owned(),
    }
}

/// A port nothing listens on: bound, then closed.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("loopback port");
    l.local_addr().expect("addr").port()
}

fn job(ping: Value) -> JobSpec {
    let mut s = spec(Path::new("/nonexistent"), &[Path::new("/etc/hostname")]);
    s["ping"] = ping;
    JobSpec::from_json("job.json", &s.to_string()).expect("a valid spec")
}

fn pinger(kind: &str, url: &str) -> Pinger {
    Pinger::for_spec(&job(json!({"kind": kind, "url": {"plain": url}}))).expect("a ping")
}

fn tail() -> Vec<String> {
    vec![
        "snapshot 20260401T023000+0200: rsync started".to_owned(),
        "error: rsync failed with exit code 23".to_owned(),
    ]
}

#[test]
fn healthchecks_gets_start_then_success_or_fail_with_the_log() {
    let r = Receiver::start(Mode::Answer);
    let p = pinger("healthchecks", &r.url("/ping/abc-123/"));
    p.start();
    p.finish(Ending::Success, &tail());
    p.start();
    p.finish(Ending::Failure(1), &tail());
    let seen = r.requests();
    let paths: Vec<(&str, &str)> = seen
        .iter()
        .map(|q| (q.method.as_str(), q.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("POST", "/ping/abc-123/start"),
            ("POST", "/ping/abc-123"),
            ("POST", "/ping/abc-123/start"),
            ("POST", "/ping/abc-123/fail"),
        ]
    );
    assert!(seen[1].body.contains("succeeded"), "{:?}", seen[1]);
    assert!(!seen[1].body.contains("rsync"), "a success carries no log");
    assert!(
        seen[3].body.contains("failed (exit 1)")
            && seen[3]
                .body
                .contains("error: rsync failed with exit code 23"),
        "{:?}",
        seen[3]
    );
}

#[test]
fn ntfy_and_webhook_post_on_the_end_only() {
    let r = Receiver::start(Mode::Answer);
    let ntfy = pinger("ntfy", &r.url("/backups"));
    ntfy.start();
    ntfy.finish(Ending::Success, &tail());
    ntfy.finish(Ending::Failure(1), &tail());
    let hook = pinger("webhook", &r.url("/hook"));
    hook.start();
    hook.finish(Ending::Success, &tail());
    hook.finish(Ending::Failure(1), &tail());
    let seen = r.requests();
    assert_eq!(seen.len(), 4, "no start ping for ntfy or webhook: {seen:?}");
    assert!(seen.iter().all(|q| q.method == "POST"));
    assert_eq!(seen[0].path, "/backups");
    assert!(seen[0]
        .headers
        .contains(&"Title: bakgen job files on host h1 succeeded".to_owned()));
    assert!(seen[1].headers.contains(&"Priority: high".to_owned()));
    assert!(
        seen[1].body.contains("error: rsync failed"),
        "{:?}",
        seen[1]
    );

    assert_eq!(seen[2].path, "/hook");
    let ok: Value = serde_json::from_str(&seen[2].body).expect("JSON");
    assert_eq!(
        ok,
        json!({"host": "h1", "job": "files", "result": "success", "exit-code": 0, "log": []})
    );
    let failed: Value = serde_json::from_str(&seen[3].body).expect("JSON");
    assert_eq!(failed["result"], "failed");
    assert_eq!(failed["exit-code"], 1);
    assert_eq!(failed["log"], json!(tail()));
    assert!(seen[3]
        .headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("content-type: application/json")));
}

#[test]
fn a_skip_sends_nothing() {
    let r = Receiver::start(Mode::Answer);
    for kind in ["healthchecks", "ntfy", "webhook"] {
        pinger(kind, &r.url("/x")).finish(Ending::Skip, &tail());
    }
    assert!(r.requests().is_empty());
}

#[test]
fn a_hanging_receiver_costs_one_ping_at_most_its_bound() {
    let r = Receiver::start(Mode::Hang);
    let p = pinger("healthchecks", &r.url("/ping/hang"));
    let t = Instant::now();
    p.start();
    let took = t.elapsed();
    assert!(
        took <= DEADLINE && DEADLINE >= BOUNDS.worst_case(),
        "a ping took {took:?}, more than its {DEADLINE:?}"
    );
    // curl tried again, within the retries allowed.
    let attempts = r.requests().len();
    assert!(
        (2..=3).contains(&attempts),
        "{attempts} attempts for at most 2 retries"
    );
}

#[test]
fn a_refusing_receiver_costs_nothing_noticeable() {
    let p = pinger(
        "healthchecks",
        &format!("http://127.0.0.1:{}/p", closed_port()),
    );
    let t = Instant::now();
    p.start();
    p.finish(Ending::Failure(1), &tail());
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

/// A job spec whose run fails (a source that does not exist: rsync exit 23) with `ping`.
fn failing_run_spec(root: &Path, ping: Value) -> std::path::PathBuf {
    let source = root.join("src");
    std::fs::create_dir_all(&source).expect("mkdir");
    let mut s = spec(root, &[&source, &root.join("missing")]);
    s["ping"] = ping;
    write_spec(root, &s)
}

#[test]
fn a_failed_run_sends_start_then_fail_and_never_logs_a_secret_url() {
    let root = TempDir::new("ping-secret");
    let r = Receiver::start(Mode::Answer);
    let url = r.url("/ping/secret-token-4711");
    let spec = failing_run_spec(
        root.path(),
        json!({"kind": "healthchecks", "url": {"secret": {"from": "command", "command": format!("printf %s {url}")}}}),
    );
    let log_file = root.join("run.log");
    let out = bakrun(&[
        "run",
        "-v",
        "--log-file",
        log_file.to_str().expect("utf-8"),
        spec.to_str().expect("utf-8"),
    ]);
    assert_code(&out, 1);
    let paths: Vec<String> = r.requests().into_iter().map(|q| q.path).collect();
    assert_eq!(
        paths,
        [
            "/ping/secret-token-4711/start",
            "/ping/secret-token-4711/fail"
        ]
    );
    let fail = &r.requests()[1];
    assert!(
        fail.body.contains("rsync failed with exit code 23"),
        "the fail ping carries the log's end: {}",
        fail.body
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logged = std::fs::read_to_string(&log_file).expect("log file");
    for text in [&*stderr, &logged] {
        assert!(!text.contains("secret-token-4711"), "URL logged:\n{text}");
        assert!(
            text.contains("healthchecks ping (failure) to 127.0.0.1: sent"),
            "{text}"
        );
    }
}

#[test]
fn an_absent_destination_sends_nothing() {
    let root = TempDir::new("ping-absent");
    let r = Receiver::start(Mode::Answer);
    let spec = failing_run_spec(
        root.path(),
        json!({"kind": "healthchecks", "url": {"plain": r.url("/ping/usb")}}),
    );
    std::fs::create_dir_all(root.join("dest")).expect("mkdir");
    std::fs::write(root.join("dest/NOT_MOUNTED"), "").expect("sentinel");
    let mut s: Value =
        serde_json::from_str(&std::fs::read_to_string(&spec).expect("spec")).expect("json");
    s["destination"]["sentinel"] = true.into();
    write_spec(root.path(), &s);
    let out = run_job(&spec);
    assert_code(&out, 11);
    assert!(r.requests().is_empty(), "{:?}", r.requests());
}

#[test]
fn a_run_against_a_hanging_or_refusing_receiver_ends_within_the_bound() {
    let root = TempDir::new("ping-hang");
    let hang = Receiver::start(Mode::Hang);
    let spec = failing_run_spec(
        root.path(),
        json!({"kind": "healthchecks", "url": {"plain": hang.url("/ping/h")}}),
    );
    let t = Instant::now();
    let out = run_job(&spec);
    let took = t.elapsed();
    // The run's own exit code, untouched by the pings.
    assert_code(&out, 1);
    // Two pings (start, fail) at their deadline each, and the run itself.
    let bound = DEADLINE * 2 + Duration::from_secs(5);
    assert!(took < bound, "the run took {took:?}, bound {bound:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("healthchecks ping (start) to 127.0.0.1 failed"),
        "{stderr}"
    );

    let spec = failing_run_spec(
        root.path(),
        json!({"kind": "webhook", "url": {"plain": format!("http://127.0.0.1:{}/h", closed_port())}}),
    );
    let t = Instant::now();
    let out = run_job(&spec);
    assert_code(&out, 1);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("webhook ping (failure) to 127.0.0.1 failed"),
        "{stderr}"
    );
}

#[test]
#[ignore = "tier: system — needs root: a successful rsync run keeps numeric owners (--super)"]
fn a_successful_run_sends_start_then_success() {
    require_root();
    let root = TempDir::new("ping-ok");
    let r = Receiver::start(Mode::Answer);
    let source = root.join("src");
    std::fs::create_dir_all(&source).expect("mkdir");
    std::fs::write(source.join("a"), "a").expect("file");
    let mut s = spec(root.path(), &[&source]);
    s["ping"] = json!({"kind": "healthchecks", "url": {"plain": r.url("/ping/ok")}});
    let out = run_job(&write_spec(root.path(), &s));
    assert_code(&out, 0);
    let seen = r.requests();
    let paths: Vec<&str> = seen.iter().map(|q| q.path.as_str()).collect();
    assert_eq!(paths, ["/ping/ok/start", "/ping/ok"]);
    assert!(seen[1].body.contains("succeeded"), "{:?}", seen[1]);
}
