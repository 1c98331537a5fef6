//! `bakgen apply` under a real systemd (PID 1 in an nspawn container): the timers it
//! enables elapse when `bakgen schedule` says, an applied job's service runs and leaves a
//! snapshot, and a changed policy stops, disables and removes, restarts and enables the
//! right units. Needs root and the built binaries; fails (never skips) without them.
//!
//! Automounts cannot be tested here: systemd refuses them in a container ("unit type not
//! supported on this system"); compiler/tests/apply.rs checks their plan.
//!
//! The built `bakgen` and `bakrun` are bind-mounted into the container; `bakgen apply
//! --root /` runs *inside* it, so systemctl talks to the container's systemd exactly as on
//! a real host. Build them first in the tests' profile: `cargo build -p bakgen -p bakrun`.

use std::time::Instant;

use bakgen_e2e::process::output_text as text;
use bakgen_e2e::{apply_policy, boot_with_bakgen, start_ok, SystemdContainer};

const HOST: &str = "e2e";

/// Version 1: two local rsync snapshot jobs, no jitter (so the timers' next elapse is
/// exactly the calendar's), on schedules that do not elapse during a test run.
const V1: &str = r#"
destination "local" {
    path "/srv/backups"
}
host "e2e" {
    job "etc" {
        source "/srv/data"
        to "local"
        schedule "*-*-* 03:00:00"
        retention keep-daily=7
    }
    job "home" {
        source "/srv/home"
        to "local"
        schedule "Sun *-*-* 05:00:00"
        retention keep-daily=7
    }
}
"#;

/// Version 2: `home` dropped, `etc`'s schedule changed, `logs` added.
const V2: &str = r#"
destination "local" {
    path "/srv/backups"
}
host "e2e" {
    job "etc" {
        source "/srv/data"
        to "local"
        schedule "*-*-* 04:30:00"
        retention keep-daily=7
    }
    job "logs" {
        source "/srv/home"
        to "local"
        schedule "Sat *-*-* 02:15:00"
        retention keep-daily=7
    }
}
"#;

fn boot() -> SystemdContainer {
    let t = Instant::now();
    let ct = boot_with_bakgen();
    println!(
        "container {}: booted in {:.2?} ({:.2?} with setup)",
        ct.machine(),
        ct.boot_time(),
        t.elapsed()
    );
    ct.sh(
        "mkdir -p /srv/data/sub /srv/home /srv/backups /root/policy \
         && echo one > /srv/data/a && echo two > /srv/data/sub/b && echo three > /srv/home/c",
    )
    .expect("make sources and destination");
    ct
}

/// Writes the policy and runs `bakgen apply --root /` inside; returns its stdout.
fn apply(ct: &SystemdContainer, policy: &str) -> String {
    let t = Instant::now();
    let out = apply_policy(ct, policy, HOST);
    println!("bakgen apply: {:.2?}", t.elapsed());
    out
}

fn ran(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("run: "))
        .collect()
}

/// `systemctl list-timers` as (unit, next elapse in UTC RFC 3339), for bakgen's timers.
fn timers(ct: &SystemdContainer) -> Vec<(String, String)> {
    let json = ct
        .exec_ok(&["systemctl", "list-timers", "--all", "--output=json"])
        .expect("list-timers");
    let all: serde_json::Value = serde_json::from_str(&json).expect("list-timers is JSON");
    let mut out = Vec::new();
    for t in all.as_array().expect("an array") {
        let unit = t["unit"].as_str().unwrap_or_default();
        if !unit.starts_with("bakgen-") {
            continue;
        }
        let next_us = t["next"].as_u64().unwrap_or(0);
        let next = ct
            .exec_ok(&[
                "date",
                "-u",
                "-d",
                &format!("@{}", next_us / 1_000_000),
                "+%Y-%m-%dT%H:%M:%SZ",
            ])
            .expect("date");
        out.push((unit.to_owned(), next.trim().to_owned()));
    }
    out.sort();
    out
}

/// What `bakgen schedule` predicts: (timer unit, first next run), inside the container so
/// both use its time zone.
fn predicted(ct: &SystemdContainer) -> Vec<(String, String)> {
    let json = ct
        .exec_ok(&[
            "bakgen",
            "schedule",
            "/root/policy/policy.kdl",
            "--host",
            HOST,
            "--count",
            "1",
            "--format",
            "json",
        ])
        .expect("bakgen schedule");
    let rows: serde_json::Value = serde_json::from_str(&json).expect("schedule JSON");
    let mut out: Vec<(String, String)> = rows
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| {
            assert_eq!(r["jitter_seconds"], 0, "this check needs jitter-free jobs");
            (
                r["timer"].as_str().unwrap_or_default().to_owned(),
                r["next"][0].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn assert_timers_match_schedule(ct: &SystemdContainer) {
    let actual = timers(ct);
    assert_eq!(
        actual,
        predicted(ct),
        "systemd's next elapses vs bakgen schedule"
    );
    for (unit, _) in &actual {
        assert_eq!(
            ct.unit_property(unit, "ActiveState").expect("state"),
            "active"
        );
        assert_eq!(
            ct.unit_property(unit, "RandomizedDelayUSec")
                .expect("delay"),
            "0",
            "{unit} has a random delay"
        );
    }
}

#[test]
#[ignore = "tier: system — needs root and a real systemd in an nspawn container; run by scripts/test"]
fn apply_installs_enables_and_reconciles_timers_under_systemd() {
    let cycle = Instant::now();
    let ct = boot();

    // First apply: everything is new.
    let out = apply(&ct, V1);
    let commands = ran(&out);
    assert_eq!(
        commands,
        [
            "systemd-sysusers /etc/sysusers.d/bakgen.conf",
            "systemctl daemon-reload",
            "systemctl enable --now bakgen-etc.timer bakgen-home.timer",
        ],
        "{out}"
    );
    ct.exec_ok(&["getent", "passwd", "bakgen"])
        .expect("systemd-sysusers created the bakgen user");
    assert_timers_match_schedule(&ct);
    assert_eq!(
        ct.exec_ok(&["systemctl", "is-enabled", "bakgen-etc.timer"])
            .expect("is-enabled")
            .trim(),
        "enabled"
    );
    let mode = ct
        .exec_ok(&["stat", "-c", "%a %U", "/etc/bakgen/jobs/etc.json"])
        .expect("stat");
    assert_eq!(mode.trim(), "600 root");
    // No backup ran: apply never starts a service.
    assert_eq!(
        ct.unit_property("bakgen-etc.service", "ActiveState")
            .expect("state"),
        "inactive"
    );

    // The same policy again: nothing written, no systemctl.
    let out = apply(&ct, V1);
    assert!(
        ran(&out).is_empty(),
        "a no-change apply ran commands:\n{out}"
    );
    assert!(out.contains("nothing to change"), "{out}");

    // Changed policy: home dropped, etc rescheduled, logs added.
    let out = apply(&ct, V2);
    assert_eq!(
        ran(&out),
        [
            "systemctl disable --now bakgen-home.timer",
            "systemctl daemon-reload",
            "systemctl enable --now bakgen-logs.timer",
            "systemctl restart bakgen-etc.timer",
        ],
        "{out}"
    );
    assert_eq!(
        ct.unit_property("bakgen-home.timer", "LoadState")
            .expect("load state"),
        "not-found",
        "the dropped timer is still known to systemd"
    );
    let gone = ct
        .exec(&[
            "ls",
            "/etc/systemd/system/bakgen-home.timer",
            "/etc/systemd/system/bakgen-home.service",
            "/etc/bakgen/jobs/home.json",
            "/etc/systemd/system/timers.target.wants/bakgen-home.timer",
        ])
        .expect("ls");
    assert!(
        String::from_utf8_lossy(&gone.stdout).trim().is_empty(),
        "files of the dropped job remain: {}",
        text(&gone)
    );
    let calendar = ct
        .unit_property("bakgen-etc.timer", "TimersCalendar")
        .expect("TimersCalendar");
    assert!(
        calendar.contains("*-*-* 04:30:00"),
        "the changed timer still has its old schedule: {calendar}"
    );
    assert_eq!(
        ct.exec_ok(&["systemctl", "is-enabled", "bakgen-logs.timer"])
            .expect("is-enabled")
            .trim(),
        "enabled"
    );
    assert_timers_match_schedule(&ct);

    let out = apply(&ct, V2);
    assert!(
        ran(&out).is_empty(),
        "a no-change apply ran commands:\n{out}"
    );

    let down = ct.shutdown().expect("shutdown");
    println!(
        "apply cycle: {:.2?} (teardown {:.2?})",
        cycle.elapsed(),
        down
    );
}

#[test]
#[ignore = "tier: system — needs root and a real systemd in an nspawn container; run by scripts/test"]
fn an_applied_job_runs_under_systemd_and_leaves_a_snapshot() {
    let cycle = Instant::now();
    let ct = boot();
    apply(&ct, V1);

    let t = Instant::now();
    start_ok(&ct, "bakgen-etc.service");
    println!("bakgen-etc.service ran in {:.2?}", t.elapsed());
    let snapshots = ct
        .exec_ok(&["ls", &format!("/srv/backups/{HOST}/etc")])
        .expect("list snapshots");
    let snapshot = snapshots
        .lines()
        .find(|l| !l.ends_with(".incomplete") && !l.trim().is_empty())
        .unwrap_or_else(|| {
            panic!("no complete snapshot under /srv/backups/{HOST}/etc: {snapshots}")
        })
        .to_owned();
    let copied = ct
        .exec_ok(&[
            "find",
            &format!("/srv/backups/{HOST}/etc/{snapshot}"),
            "-type",
            "f",
        ])
        .expect("find");
    assert!(
        copied.contains("/b"),
        "the snapshot lacks the source's files: {copied}"
    );

    // `home` never ran, so status exits 1 (some job never succeeded): read its report.
    let status = ct
        .exec(&["bakrun", "status", "--format", "json"])
        .expect("bakrun status");
    let report = String::from_utf8_lossy(&status.stdout).into_owned();
    println!("bakrun status: {report}");
    let parsed: serde_json::Value = serde_json::from_str(&report)
        .unwrap_or_else(|e| panic!("bakrun status JSON: {e}: {}", text(&status)));
    let jobs = parsed
        .as_array()
        .unwrap_or_else(|| panic!("bakrun status lists no jobs: {report}"));
    let etc = jobs
        .iter()
        .find(|j| j["job"] == "etc")
        .unwrap_or_else(|| panic!("bakrun status does not report job etc: {report}"));
    assert_eq!(etc["state"], "ok", "{report}");
    assert_eq!(etc["snapshot"], snapshot.as_str(), "{report}");

    let down = ct.shutdown().expect("shutdown");
    println!("run cycle: {:.2?} (teardown {:.2?})", cycle.elapsed(), down);
}

/// An apply cut short after stopping and disabling the stale timer and moving every file,
/// but before `daemon-reload` and the manifest: the next apply must finish the job with
/// systemd (reload, enable, restart) and skip disabling a timer whose file is gone.
#[test]
#[ignore = "tier: system — needs root and a real systemd in an nspawn container; run by scripts/test"]
fn an_apply_interrupted_before_systemctl_is_finished_by_the_next() {
    let cycle = Instant::now();
    let ct = boot();
    apply(&ct, V1);
    ct.write_file("/root/v2/policy.kdl", V2.as_bytes())
        .expect("write v2");
    // What the interrupted apply did: stale timer stopped and disabled, then the v2
    // bundle's files in place (manifest excepted), then the stale files removed.
    ct.sh("set -e
         systemctl disable --now bakgen-home.timer
         bakgen build /root/v2 --out /root/out 2>/dev/null
         cd /root/out/e2e
         find . -type f ! -path ./etc/bakgen/manifest.json | while read -r f; do
             install -D -m \"$(stat -c %a \"$f\")\" \"$f\" \"/$f\"
         done
         rm /etc/systemd/system/bakgen-home.timer /etc/systemd/system/bakgen-home.service \
            /etc/bakgen/jobs/home.json")
        .expect("simulate the interrupted apply");
    let out = apply(&ct, V2);
    assert_eq!(
        ran(&out),
        [
            "systemctl daemon-reload",
            "systemctl enable --now bakgen-logs.timer",
            "systemctl restart bakgen-etc.timer",
        ],
        "{out}"
    );
    assert!(
        !out.lines()
            .any(|l| l.starts_with("  add") || l.starts_with("  change")),
        "the files were already in place:\n{out}"
    );
    assert_eq!(
        ct.unit_property("bakgen-home.timer", "LoadState")
            .expect("load state"),
        "not-found"
    );
    assert_timers_match_schedule(&ct);
    let calendar = ct
        .unit_property("bakgen-etc.timer", "TimersCalendar")
        .expect("TimersCalendar");
    assert!(calendar.contains("*-*-* 04:30:00"), "{calendar}");
    let out = apply(&ct, V2);
    assert!(ran(&out).is_empty(), "{out}");

    let down = ct.shutdown().expect("shutdown");
    println!(
        "interrupted-apply cycle: {:.2?} (teardown {:.2?})",
        cycle.elapsed(),
        down
    );
}
