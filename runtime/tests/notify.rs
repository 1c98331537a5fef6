//! `bakrun notify JOB`: the failed job (the instance of `bakgen-notify@<job>.service`) is
//! found by its spec's unit, and its on-failure command runs with the unit appended, or its
//! URL receives the status by POST.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

use common::TempDir;

fn spec(root: &std::path::Path, notify: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "version": 1,
        "host": "h1",
        "job": "files",
        "unit": "bakgen-files.service",
        "sources": ["/etc/hostname"],
        "destination": {"engine": "snapshots", "path": root.join("dest").to_string_lossy()},
        "schedule": {"calendar": "*-*-* *:00:00", "late-after-seconds": 7200},
        "retention": {"keep-last": 3},
        "on-failure": notify,
        "state-dir": root.join("state").to_string_lossy(),
    })
}

fn notify(jobs: &std::path::Path, job: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bakrun"))
        .args(["notify", job, "--jobs-dir", jobs.to_str().expect("utf-8")])
        .output()
        .expect("bakrun runs")
}

#[test]
fn a_command_gets_the_failed_unit_and_the_job() {
    let root = TempDir::new("notify-cmd");
    let jobs = root.join("jobs");
    std::fs::create_dir_all(&jobs).expect("mkdir");
    let out = root.join("called");
    let script = root.join("alert.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@ $BAKGEN_HOST $BAKGEN_JOB\" > '{}'\n",
            out.display()
        ),
    )
    .expect("script");
    Command::new("chmod")
        .args(["+x", script.to_str().expect("utf-8")])
        .status()
        .expect("chmod");
    let s = spec(
        root.path(),
        serde_json::json!({"kind": "command", "argv": [script.to_string_lossy(), "--team=ops"]}),
    );
    std::fs::write(
        jobs.join("files.json"),
        serde_json::to_string_pretty(&s).expect("json"),
    )
    .expect("write");

    let o = notify(&jobs, "files");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let called = std::fs::read_to_string(&out).expect("the command ran");
    assert_eq!(called.trim(), "--team=ops bakgen-files.service h1 files");

    // A spec whose run failed on a bad value (exit 2) still gets its notification.
    let mut bad = s.clone();
    bad["retention"]["keep-within"] = "a week".into();
    std::fs::write(jobs.join("files.json"), bad.to_string()).expect("write");
    std::fs::remove_file(&out).expect("rm");
    let o = notify(&jobs, "files");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.exists(), "no notification for a spec with a bad value");

    // An unknown job is an error, not a silent success.
    for unknown in ["other", "bakgen-other.service", "bakgen-files"] {
        let o = notify(&jobs, unknown);
        assert_eq!(o.status.code(), Some(2), "{unknown}");
    }
    // Units of earlier builds pass the whole unit name (their notification unit was the
    // doubled `bakgen-notify@bakgen-files.service.service`): still notified.
    std::fs::remove_file(&out).expect("rm");
    let o = notify(&jobs, "bakgen-files.service");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let called = std::fs::read_to_string(&out).expect("the command ran");
    assert_eq!(called.trim(), "--team=ops bakgen-files.service h1 files");

    // A name with characters a unit name escapes arrives escaped, as systemd passes `%i`.
    let mut spaced = s.clone();
    spaced["job"] = "db dump".into();
    spaced["unit"] = "bakgen-db\\x20dump.service".into();
    std::fs::write(jobs.join("files.json"), spaced.to_string()).expect("write");
    std::fs::remove_file(&out).expect("rm");
    let o = notify(&jobs, "db\\x20dump");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let called = std::fs::read_to_string(&out).expect("the command ran");
    assert_eq!(
        called.trim(),
        "--team=ops bakgen-db\\x20dump.service h1 db dump"
    );
    // By hand, the job's own name works too.
    std::fs::remove_file(&out).expect("rm");
    let o = notify(&jobs, "db dump");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.exists(), "no notification for the job's plain name");
}

#[test]
fn a_url_receives_the_status_by_post() {
    let root = TempDir::new("notify-url");
    let jobs = root.join("jobs");
    std::fs::create_dir_all(&jobs).expect("mkdir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("loopback port");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("a request");
        conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .expect("timeout");
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request);
            if let Some(head_end) = text.find("\r\n\r\n") {
                let length = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if request.len() >= head_end + 4 + length {
                    break;
                }
            }
        }
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .expect("reply");
        String::from_utf8_lossy(&request).into_owned()
    });
    let s = spec(
        root.path(),
        serde_json::json!({"kind": "url", "url": format!("http://127.0.0.1:{port}/hook")}),
    );
    std::fs::write(
        jobs.join("files.json"),
        serde_json::to_string_pretty(&s).expect("json"),
    )
    .expect("write");
    let o = notify(&jobs, "files");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let request = server.join().expect("server thread");
    assert!(request.starts_with("POST /hook"), "{request}");
    assert!(
        request.contains("\"job\":\"files\"") && request.contains("\"result\":\"failed\""),
        "{request}"
    );
}
