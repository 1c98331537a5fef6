//! The `ping` setting from policy to job spec and unit: a URL or a secret, its kind, what
//! is refused (with the place), what the unit is given (the credential, the network), and
//! `SuccessExitStatus=11` on every job's service (exit 11 is a quiet skip).

mod support;

use std::path::Path;

use serde_json::Value;
use support::{bakgen, tmp};

fn write(dir: &Path, text: &str) -> String {
    let file = dir.join("p.kdl");
    std::fs::write(&file, text).expect("write policy");
    file.to_string_lossy().into_owned()
}

const GOOD: &str = r#"
secret "hc" file="/etc/bakgen/secrets/hc"
destination "usb" { path "/mnt/usb"; }
defaults { ping secret="hc"; }
template "chatty" { ping "https://ntfy.example.net/backups" kind="ntfy"; }
host "web" {
    job "etc" { source "/etc"; to "usb"; schedule "daily"; retention keep-daily=7; }
    job "srv" template="chatty" { source "/srv"; to "usb"; schedule "03:00"; retention keep-daily=7; }
}
"#;

#[test]
fn a_ping_reaches_the_spec_and_the_unit_gets_its_secret_and_the_network() {
    let dir = tmp("good");
    let dir = dir.path().to_owned();
    let policy = write(&dir, GOOD);
    let out = dir.join("out");
    let o = bakgen(&["build", &policy, "--out", out.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let host = out.join("web/etc");
    let spec = |job: &str| -> Value {
        let text = std::fs::read_to_string(host.join(format!("bakgen/jobs/{job}.json")))
            .expect("spec written");
        serde_json::from_str(&text).expect("JSON")
    };
    let unit = |job: &str| {
        std::fs::read_to_string(host.join(format!("systemd/system/bakgen-{job}.service")))
            .expect("unit written")
    };
    // From defaults: the secret, as a credential of the unit, naming its file for bakrun run
    // by hand outside the unit.
    assert_eq!(
        spec("etc")["ping"],
        serde_json::json!({"kind": "healthchecks", "url": {"secret": {
            "from": "credential", "name": "hc", "file": "/etc/bakgen/secrets/hc"
        }}})
    );
    let etc = unit("etc");
    assert!(
        etc.contains("\nLoadCredential=hc:/etc/bakgen/secrets/hc\n"),
        "{etc}"
    );
    assert!(!etc.contains("PrivateNetwork=yes"), "{etc}");
    assert!(!etc.contains("IPAddressDeny=any"), "{etc}");
    assert!(
        etc.contains("\nRestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n"),
        "{etc}"
    );
    // From the template, which wins over defaults: a plain URL, no credential.
    assert_eq!(
        spec("srv")["ping"],
        serde_json::json!({"kind": "ntfy", "url": {"plain": "https://ntfy.example.net/backups"}})
    );
    assert!(!unit("srv").contains("LoadCredential"), "{}", unit("srv"));
    for job in ["etc", "srv"] {
        assert!(
            unit(job).contains("\nSuccessExitStatus=11\n"),
            "{}",
            unit(job)
        );
    }
}

#[test]
fn a_job_without_ping_keeps_its_network_closed_and_exit_11_quiet() {
    let dir = tmp("none");
    let dir = dir.path().to_owned();
    let policy = write(
        &dir,
        r#"
destination "usb" { path "/mnt/usb"; }
host "web" { job "etc" { source "/etc"; to "usb"; schedule "daily"; retention keep-daily=7; }; }
"#,
    );
    let out = dir.join("out");
    let o = bakgen(&["build", &policy, "--out", out.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let unit = std::fs::read_to_string(out.join("web/etc/systemd/system/bakgen-etc.service"))
        .expect("unit");
    assert!(unit.contains("\nPrivateNetwork=yes\n"), "{unit}");
    assert!(unit.contains("\nSuccessExitStatus=11\n"), "{unit}");
    let spec = std::fs::read_to_string(out.join("web/etc/bakgen/jobs/etc.json")).expect("spec");
    assert!(!spec.contains("\"ping\""), "{spec}");
}

/// `(code, line, column)` of each error of `bakgen check` on `policy`.
fn errors(name: &str, policy: &str) -> Vec<(String, u64, u64)> {
    let dir = tmp(name);
    let dir = dir.path().to_owned();
    let file = write(&dir, policy);
    let o = bakgen(&["check", &file, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "refused");
    let list: Value = serde_json::from_slice(&o.stdout).expect("JSON diagnostics");
    list.as_array()
        .expect("a list")
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_owned(),
                d["line"].as_u64().unwrap_or(0),
                d["column"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn job_with(ping: &str) -> String {
    format!(
        "secret \"hc\" file=\"/etc/bakgen/secrets/hc\"\ndestination \"usb\" {{ path \"/mnt/usb\"; }}\nhost \"web\" {{\n    job \"etc\" {{ source \"/etc\"; to \"usb\"; schedule \"daily\"; retention keep-daily=7;\n        {ping}\n    }}\n}}\n"
    )
}

#[test]
fn a_bad_ping_is_refused_at_its_place() {
    // The URL itself is marked: line 5, after `ping "`.
    assert_eq!(
        errors("scheme", &job_with("ping \"ftp://hc.example.net/x\"")),
        [("bakgen::invalid-url".to_owned(), 5, 14)]
    );
    assert_eq!(
        errors("noscheme", &job_with("ping \"hc.example.net/x\"")),
        [("bakgen::invalid-url".to_owned(), 5, 14)]
    );
    assert_eq!(
        errors("secret", &job_with("ping secret=\"nope\"")),
        [("bakgen::undefined-secret".to_owned(), 5, 21)]
    );
    assert_eq!(
        errors("kind", &job_with("ping secret=\"hc\" kind=\"pagerduty\"")),
        [("bakgen::invalid-value".to_owned(), 5, 31)]
    );
    assert_eq!(
        errors(
            "both",
            &job_with("ping \"https://hc.example.net/x\" secret=\"hc\"")
        ),
        [("bakgen::conflicting-settings".to_owned(), 5, 14)]
    );
    assert_eq!(
        errors("empty", &job_with("ping kind=\"ntfy\"")),
        [("bakgen::missing-value".to_owned(), 5, 9)]
    );
}
