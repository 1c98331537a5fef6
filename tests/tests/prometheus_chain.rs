//! The alerting chain for real, on loopback: `bakrun run` writes metrics, Debian's
//! prometheus-node-exporter serves them from its textfile collector, Debian's Prometheus
//! scrapes them and evaluates the rules `bakgen build` wrote for `monitoring`, and
//! prometheus-alertmanager posts to a webhook this test serves. A failed job's alert
//! arrives; a healthy job raises none. Every daemon is started and stopped by the test.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bakgen_e2e::built_binary;
use bakgen_e2e::process::{require_root, require_tool, TempDir};
use serde_json::Value;

const HINT: &str = "apt-get install prometheus prometheus-node-exporter prometheus-alertmanager";

/// Daemons killed and reaped when the test ends, even on panic.
struct Daemons(Vec<(String, Child)>);

impl Drop for Daemons {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Daemons {
    fn start(&mut self, dir: &Path, name: &str, program: &Path, args: &[String]) {
        let log = fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", program.display()));
        self.0.push((name.to_owned(), child));
    }

    /// Fails if a daemon died; its log says why.
    fn all_running(&mut self, dir: &Path) {
        for (name, child) in &mut self.0 {
            if let Ok(Some(status)) = child.try_wait() {
                let log = fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
                panic!("{name} exited ({status}):\n{log}");
            }
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves HTTP POSTs on `listener`, sending each body's alerts to `tx`, answering 200.
fn webhook(listener: TcpListener, tx: mpsc::Sender<Value>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_ok() {
            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                let _ = tx.send(v);
            }
        }
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
}

/// The job spec `bakgen build` wrote, with state and metrics in the test's folder.
fn local_spec(generated: &Path, root: &Path, job: &str) -> PathBuf {
    let text = fs::read_to_string(generated.join(format!("etc/bakgen/jobs/{job}.json"))).unwrap();
    let mut spec: Value = serde_json::from_str(&text).unwrap();
    spec["state-dir"] = root.join("state").to_string_lossy().into();
    spec["metrics-dir"] = root.join("metrics").to_string_lossy().into();
    let path = root.join(format!("{job}.json"));
    fs::write(&path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    path
}

#[test]
#[ignore = "tier: system — needs root and Prometheus, node-exporter and Alertmanager servers; run by scripts/test"]
fn a_failed_job_alert_reaches_alertmanager_webhook_and_a_healthy_job_raises_none() {
    require_root().unwrap();
    let prometheus = require_tool("prometheus", HINT).unwrap();
    let exporter = require_tool("prometheus-node-exporter", HINT).unwrap();
    let alertmanager = require_tool("prometheus-alertmanager", HINT).unwrap();
    require_tool("rsync", "apt-get install rsync").unwrap();
    let tmp = TempDir::new("bakgen-e2e-prometheus").unwrap();
    let root = tmp.path();
    fs::create_dir_all(root.join("src")).unwrap();
    fs::write(root.join("src/file"), "data").unwrap();
    fs::create_dir_all(root.join("metrics")).unwrap();

    // The policy: one healthy job, one whose source is missing; h1 also runs Prometheus.
    let policy = root.join("policy.kdl");
    fs::write(
        &policy,
        format!(
            r#"destination "local" {{ path "{dest}"; }}
host "h1" {{
    job "good" {{ source "{src}"; to "local"; schedule "daily"; retention keep-daily=7; }}
    job "bad" {{ source "{missing}"; to "local"; schedule "daily"; retention keep-daily=7; }}
}}
monitoring {{ prometheus "h1"; }}
"#,
            dest = root.join("dest").display(),
            src = root.join("src").display(),
            missing = root.join("missing").display(),
        ),
    )
    .unwrap();
    let out = root.join("generated");
    let o = Command::new(built_binary("bakgen"))
        .args([
            "build".as_ref(),
            policy.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ])
        // Its build stamp in this test's folder, not in the user's cache.
        .env("XDG_CACHE_HOME", root.join("cache"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let generated = out.join("h1");
    let rules = generated.join("etc/prometheus/rules/bakgen.yml");

    for (job, code) in [("good", 0), ("bad", 1)] {
        let o = Command::new(built_binary("bakrun"))
            .arg("run")
            .arg(local_spec(&generated, root, job))
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(code),
            "bakrun run {job}:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    let hook = TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_port = hook.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || webhook(hook, tx));
    let (exporter_port, am_port, prom_port) = (free_port(), free_port(), free_port());

    fs::write(
        root.join("am.yml"),
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname, bakgen_host, bakgen_job]\n  \
             group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: hook\n    webhook_configs:\n      - url: http://127.0.0.1:{hook_port}/\n"
        ),
    )
    .unwrap();
    fs::write(
        root.join("prom.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             rule_files: [{rules:?}]\n\
             alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]}}]}}\n\
             scrape_configs:\n  - job_name: node\n    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n"
        ),
    )
    .unwrap();
    let mut daemons = Daemons(Vec::new());
    daemons.start(
        root,
        "node-exporter",
        &exporter,
        &[
            format!("--web.listen-address=127.0.0.1:{exporter_port}"),
            "--collector.disable-defaults".into(),
            "--collector.textfile".into(),
            format!(
                "--collector.textfile.directory={}",
                root.join("metrics").display()
            ),
        ],
    );
    daemons.start(
        root,
        "alertmanager",
        &alertmanager,
        &[
            format!("--config.file={}", root.join("am.yml").display()),
            format!("--storage.path={}", root.join("am").display()),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            "--cluster.listen-address=".into(),
        ],
    );
    daemons.start(
        root,
        "prometheus",
        &prometheus,
        &[
            format!("--config.file={}", root.join("prom.yml").display()),
            format!("--storage.tsdb.path={}", root.join("tsdb").display()),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
        ],
    );

    // Collect every alert that arrives until the failed job's has, then a little longer
    // for anything else Prometheus would send with it.
    let mut alerts: Vec<Value> = Vec::new();
    let failed = |a: &Value| {
        a["labels"]["alertname"] == "BakgenJobFailed" && a["labels"]["bakgen_job"] == "bad"
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while !alerts.iter().any(failed) {
        daemons.all_running(root);
        assert!(
            Instant::now() < deadline,
            "no BakgenJobFailed alert for job bad reached the webhook in 90 s; got {alerts:?}\n\
             prometheus log:\n{}",
            fs::read_to_string(root.join("prometheus.log")).unwrap_or_default()
        );
        if let Ok(body) = rx.recv_timeout(Duration::from_secs(1)) {
            alerts.extend(body["alerts"].as_array().cloned().unwrap_or_default());
        }
    }
    let settle = Instant::now() + Duration::from_secs(8);
    while Instant::now() < settle {
        if let Ok(body) = rx.recv_timeout(Duration::from_millis(500)) {
            alerts.extend(body["alerts"].as_array().cloned().unwrap_or_default());
        }
    }
    daemons.all_running(root);

    let alert = alerts.iter().find(|a| failed(a)).unwrap();
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["labels"]["bakgen_host"], "h1");
    assert_eq!(alert["labels"]["bakgen_destination"], "local");
    assert_eq!(alert["labels"]["severity"], "warning");
    let description = alert["annotations"]["description"].as_str().unwrap();
    assert!(
        description.contains("exited with code 1") && description.contains("bakgen-bad.service"),
        "{description}"
    );
    // Nothing else fired: the healthy job is neither failed, late nor absent, and the
    // host reports.
    let fired: BTreeSet<(String, String)> = alerts
        .iter()
        .map(|a| {
            (
                a["labels"]["alertname"].as_str().unwrap_or("").to_owned(),
                a["labels"]["bakgen_job"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        fired,
        BTreeSet::from([("BakgenJobFailed".to_owned(), "bad".to_owned())]),
        "{alerts:#?}"
    );
}
