//! The `metrics-dir` setting from policy to job spec and unit: the default folder, one set
//! in `defaults`, one a job overrides; a relative path refused with its place. And the
//! failure notification of a job's unit is named for the job (no doubled `.service`).

mod support;

use std::path::Path;

use serde_json::Value;
use support::{bakgen, tmp};

fn write(dir: &Path, text: &str) -> String {
    let file = dir.join("p.kdl");
    std::fs::write(&file, text).expect("write policy");
    file.to_string_lossy().into_owned()
}

fn build(policy: &str, out: &Path) {
    let o = bakgen(&["build", policy, "--out", out.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn metrics_dir_reaches_the_spec_and_the_units_writable_paths() {
    let dir = tmp("metrics-dir");
    let dir = dir.path().to_owned();
    let out = dir.join("out");
    build(
        &write(
            &dir,
            r#"
destination "usb" { path "/mnt/usb"; }
defaults { metrics-dir "/srv/node exporter/textfile"; on-failure "/usr/local/bin/page"; }
host "web" {
    job "etc" { source "/etc"; to "usb"; schedule "daily"; retention keep-daily=7; }
    job "srv" { source "/srv"; to "usb"; schedule "daily"; retention keep-daily=7; metrics-dir "/var/lib/textfile"; }
}
host "db" { job "etc" { source "/etc"; to "usb"; schedule "daily"; retention keep-daily=7; }; }
"#,
        ),
        &out,
    );
    let read = |rel: &str| std::fs::read_to_string(out.join(rel)).expect(rel);
    let spec = |rel: &str| -> Value { serde_json::from_str(&read(rel)).expect("JSON") };
    assert_eq!(
        spec("web/etc/bakgen/jobs/etc.json")["metrics-dir"],
        "/srv/node exporter/textfile"
    );
    assert_eq!(
        spec("web/etc/bakgen/jobs/srv.json")["metrics-dir"],
        "/var/lib/textfile"
    );
    let etc = read("web/etc/systemd/system/bakgen-etc.service");
    assert!(
        etc.contains("\nReadWritePaths=-/mnt/usb -\"/srv/node exporter/textfile\"\n"),
        "{etc}"
    );
    assert!(!etc.contains("/var/lib/prometheus/node-exporter"), "{etc}");
    let srv = read("web/etc/systemd/system/bakgen-srv.service");
    assert!(
        srv.contains("\nReadWritePaths=-/mnt/usb -/var/lib/textfile\n"),
        "{srv}"
    );
    // The failure notification's instance is the job's name, once.
    assert!(
        etc.contains("\nOnFailure=bakgen-notify@etc.service\n"),
        "{etc}"
    );
    assert!(!etc.contains(".service.service"), "{etc}");

    // Without the setting: Debian's node_exporter folder.
    build(
        &write(
            &dir,
            r#"
destination "usb" { path "/mnt/usb"; }
host "web" { job "etc" { source "/etc"; to "usb"; schedule "daily"; retention keep-daily=7; }; }
"#,
        ),
        &out,
    );
    assert_eq!(
        spec("web/etc/bakgen/jobs/etc.json")["metrics-dir"],
        "/var/lib/prometheus/node-exporter"
    );
    assert!(read("web/etc/systemd/system/bakgen-etc.service")
        .contains("\nReadWritePaths=-/mnt/usb -/var/lib/prometheus/node-exporter\n"));
}

#[test]
fn a_relative_metrics_dir_is_refused_where_it_is_written() {
    let dir = tmp("metrics-dir-bad");
    let dir = dir.path().to_owned();
    let policy = write(
        &dir,
        r#"
destination "usb" { path "/mnt/usb"; }
defaults { metrics-dir "textfile"; }
host "web" { job "etc" { source "/etc"; to "usb"; schedule "daily"; retention keep-daily=7; }; }
"#,
    );
    let o = bakgen(&["check", &policy, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("metrics-dir"), "{text}");
    assert!(
        text.contains("\"line\":3") || text.contains("\"line\": 3"),
        "{text}"
    );
}
