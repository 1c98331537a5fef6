//! The watch under a real systemd (nspawn container): `bakgen apply` installs
//! `bakgen-watch.timer` and its service on the watching host, `bakrun watch` judges a job
//! from the snapshot folders where its runs land, and a job whose timer is stopped and
//! whose newest run is days old turns late: `on-late` is told once (not again while the
//! job stays late, also when the timer runs the watch on its own), the unit fails with
//! exit 13, and a fresh run is told once as recovered. Needs root and the built
//! binaries; fails (never skips) without them.
//!
//! The job is made late without waiting: a run folder's name is the run's start, and the
//! watch judges by it, so the job's only snapshot is renamed to a start three days ago.

use std::time::{Duration, Instant};

use bakgen_e2e::process::output_text as text;
use bakgen_e2e::{apply_policy, boot_with_bakgen, SystemdContainer};

const HOST: &str = "e2e";
const JOB_UNIT: &str = "bakgen-etc.service";
const WATCH_UNIT: &str = "bakgen-watch.service";
const WATCH_TIMER: &str = "bakgen-watch.timer";
const SNAPSHOTS: &str = "/srv/backups/e2e/etc";
/// Where `told` writes: the watch's service may write only its state folder.
const TOLD_LOG: &str = "/var/lib/bakgen/told.log";

/// The job alone: it runs once before the watch exists, so the watch's first look (its
/// minutely timer may fire at any second) finds a complete run, never "never".
const JOB: &str = r#"
destination "local" {
    path "/srv/backups"
}
host "e2e" {
    job "etc" {
        source "/srv/data"
        to "local"
        schedule "hourly"
        retention keep-daily=7
    }
}
"#;

/// The same host then watches its own destination every minute.
const WATCHED: &str = r#"
monitoring {
    watch "e2e" {
        schedule "minutely" jitter="0s"
        destination "local"
        on-late "/usr/local/bin/told" "--fleet=e2e"
    }
}
"#;

/// The `on-late` command: one line per call, what the watch passed in its arguments and
/// its environment.
const TOLD: &str = r#"#!/bin/sh
echo "event=$BAKGEN_WATCH_EVENT state=$BAKGEN_WATCH_STATE host=$BAKGEN_HOST job=$BAKGEN_JOB destination=$BAKGEN_DESTINATION args=$*" >> /var/lib/bakgen/told.log
"#;

fn journal(ct: &SystemdContainer, unit: &str) -> String {
    ct.exec(&["journalctl", "--no-pager", "-o", "cat", "-u", unit])
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// `systemctl start UNIT` (which waits for a oneshot to finish); returns its `Result=`
/// and `ExecMainStatus=`.
fn start(ct: &SystemdContainer, unit: &str) -> (String, String) {
    let t = Instant::now();
    ct.exec(&["systemctl", "start", unit])
        .expect("systemctl start");
    println!("{unit} ran in {:.2?}", t.elapsed());
    outcome(ct, unit)
}

fn outcome(ct: &SystemdContainer, unit: &str) -> (String, String) {
    (
        ct.unit_property(unit, "Result").expect("Result"),
        ct.unit_property(unit, "ExecMainStatus")
            .expect("ExecMainStatus"),
    )
}

fn assert_outcome(ct: &SystemdContainer, unit: &str, got: (String, String), want: (&str, &str)) {
    assert_eq!(
        (got.0.as_str(), got.1.as_str()),
        want,
        "{unit}: (Result, ExecMainStatus)\n--- journal ---\n{}",
        journal(ct, unit)
    );
}

/// Lines `told` wrote so far.
fn told(ct: &SystemdContainer) -> Vec<String> {
    let o = ct.exec(&["cat", TOLD_LOG]).expect("cat");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn apply(ct: &SystemdContainer, policy: &str) -> String {
    apply_policy(ct, policy, HOST)
}

/// The job's complete runs, oldest first.
fn runs(ct: &SystemdContainer) -> Vec<String> {
    let listed = ct.exec_ok(&["ls", SNAPSHOTS]).expect("ls snapshots");
    listed
        .lines()
        .filter(|l| *l != "latest" && !l.ends_with(".incomplete") && !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The watch's line for the job in its report.
fn reported(ct: &SystemdContainer) -> serde_json::Value {
    let report = ct
        .read_file("/var/lib/bakgen/watch/report.json")
        .expect("report");
    let parsed: serde_json::Value = serde_json::from_slice(&report).expect("report is JSON");
    parsed["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["job"] == "etc"))
        .cloned()
        .unwrap_or_else(|| panic!("no job etc in {parsed}"))
}

/// The watch's `bakgen_watch_late` series for the job, as node-exporter would read it.
fn late_metric(ct: &SystemdContainer) -> String {
    let prom = ct
        .read_file("/var/lib/prometheus/node-exporter/bakgen_watch.prom")
        .expect("the watch's metrics");
    let prom = String::from_utf8_lossy(&prom).into_owned();
    prom.lines()
        .find(|l| l.starts_with("bakgen_watch_late{"))
        .unwrap_or_else(|| panic!("no bakgen_watch_late in {prom}"))
        .to_owned()
}

/// Waits until the timer has started the watch's service anew (a new invocation) and
/// that run has ended.
fn wait_for_timer_run(ct: &SystemdContainer, since_invocation: &str) {
    let deadline = Instant::now() + Duration::from_secs(75);
    loop {
        let invocation = ct
            .unit_property(WATCH_UNIT, "InvocationID")
            .expect("InvocationID");
        let state = ct
            .unit_property(WATCH_UNIT, "ActiveState")
            .expect("ActiveState");
        if invocation != since_invocation && state != "activating" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{WATCH_TIMER} did not run the watch within 75 s (state {state})\n{}",
            ct.exec(&["systemctl", "status", "--no-pager", WATCH_TIMER])
                .map(|o| text(&o))
                .unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
#[ignore = "tier: system — needs root and a real systemd in an nspawn container; run by scripts/test"]
fn a_job_whose_timer_stopped_turns_late_and_is_told_once_then_recovered() {
    let cycle = Instant::now();
    let ct = boot_with_bakgen();
    println!("container booted in {:.2?}", ct.boot_time());
    ct.sh("mkdir -p /srv/data/sub /srv/backups /root/policy && echo one > /srv/data/a && echo two > /srv/data/sub/b")
        .expect("sources");
    ct.write_file("/usr/local/bin/told", TOLD.as_bytes())
        .expect("told");
    ct.sh("chmod 755 /usr/local/bin/told").expect("chmod told");

    // The job, and one complete run of it.
    apply(&ct, JOB);
    assert_outcome(&ct, JOB_UNIT, start(&ct, JOB_UNIT), ("success", "0"));
    let first = runs(&ct);
    assert_eq!(first.len(), 1, "{first:?}");

    // The watch added: built for this host, installed and its timer enabled by apply.
    let policy = format!("{JOB}{WATCHED}");
    ct.write_file("/root/policy/policy.kdl", policy.as_bytes())
        .expect("write policy");
    ct.exec_ok(&["bakgen", "build", "/root/policy", "--out", "/root/out"])
        .expect("bakgen build");
    let spec = ct
        .read_file("/root/out/e2e/etc/bakgen/watch.json")
        .expect("watch.json built");
    let spec: serde_json::Value = serde_json::from_slice(&spec).expect("watch.json is JSON");
    let watched = &spec["stores"][0]["jobs"][0];
    assert_eq!(
        (&watched["host"], &watched["job"]),
        (&"e2e".into(), &"etc".into()),
        "{spec}"
    );
    let expected_within = watched["expected-within-seconds"]
        .as_u64()
        .unwrap_or_else(|| panic!("no expected-within in {spec}"));
    assert!(
        (3600..86_400).contains(&expected_within),
        "an hourly job's late-after: {expected_within}"
    );
    let out = apply(&ct, &policy);
    assert!(
        out.lines()
            .any(|l| l.starts_with("run: systemctl enable --now") && l.contains(WATCH_TIMER)),
        "apply did not enable the watch's timer:\n{out}"
    );
    assert_eq!(
        ct.unit_property(WATCH_TIMER, "ActiveState")
            .expect("timer state"),
        "active"
    );

    // Fresh: the watch is content and tells nothing.
    assert_outcome(&ct, WATCH_UNIT, start(&ct, WATCH_UNIT), ("success", "0"));
    assert_eq!(reported(&ct)["state"], "ok");
    assert!(told(&ct).is_empty(), "told while fresh: {:?}", told(&ct));

    // The job's timer stopped, its only run three days old (by its name).
    ct.exec_ok(&["systemctl", "disable", "--now", "bakgen-etc.timer"])
        .expect("disable the job's timer");
    let old = ct
        .exec_ok(&["date", "-d", "3 days ago", "+%Y%m%dT%H%M%S%z"])
        .expect("date")
        .trim()
        .to_owned();
    ct.exec_ok(&[
        "mv",
        &format!("{SNAPSHOTS}/{}", first[0]),
        &format!("{SNAPSHOTS}/{old}"),
    ])
    .expect("age the run");
    ct.exec_ok(&["ln", "-sfn", &old, &format!("{SNAPSHOTS}/latest")])
        .expect("latest");

    // Late: told once, the unit fails with 13.
    assert_outcome(&ct, WATCH_UNIT, start(&ct, WATCH_UNIT), ("exit-code", "13"));
    let line = reported(&ct);
    assert_eq!(line["state"], "late", "{line}");
    assert_eq!(
        late_metric(&ct),
        r#"bakgen_watch_late{bakgen_watcher="e2e",bakgen_host="e2e",bakgen_job="etc",bakgen_destination="local"} 1"#
    );
    let lines = told(&ct);
    assert_eq!(
        lines,
        ["event=late state=late host=e2e job=etc destination=local args=--fleet=e2e bakgen-watch.service"],
        "--- journal ---\n{}",
        journal(&ct, WATCH_UNIT)
    );
    // The timer runs the watch again on its own: still late, not told again.
    let invocation = ct
        .unit_property(WATCH_UNIT, "InvocationID")
        .expect("InvocationID");
    let t = Instant::now();
    wait_for_timer_run(&ct, &invocation);
    println!("{WATCH_TIMER} ran the watch after {:.2?}", t.elapsed());
    assert_outcome(
        &ct,
        WATCH_UNIT,
        outcome(&ct, WATCH_UNIT),
        ("exit-code", "13"),
    );
    assert_eq!(told(&ct), lines, "told again while still late");
    assert_eq!(
        journal(&ct, WATCH_UNIT)
            .matches("told that e2e/etc on local is late")
            .count(),
        1,
        "{}",
        journal(&ct, WATCH_UNIT)
    );

    // A fresh run: told once that it recovered.
    assert_outcome(&ct, JOB_UNIT, start(&ct, JOB_UNIT), ("success", "0"));
    assert_eq!(runs(&ct).len(), 2, "{:?}", runs(&ct));
    assert_outcome(&ct, WATCH_UNIT, start(&ct, WATCH_UNIT), ("success", "0"));
    assert_eq!(reported(&ct)["state"], "ok");
    assert!(late_metric(&ct).ends_with("} 0"), "{}", late_metric(&ct));
    let lines = told(&ct);
    assert_eq!(
        lines.get(1..).unwrap_or_default(),
        ["event=recovered state=ok host=e2e job=etc destination=local args=--fleet=e2e bakgen-watch.service"],
        "{lines:?}"
    );
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_outcome(&ct, WATCH_UNIT, start(&ct, WATCH_UNIT), ("success", "0"));
    assert_eq!(told(&ct), lines, "told again while fresh");

    let down = ct.shutdown().expect("shutdown");
    println!(
        "watch cycle: {:.2?} (teardown {:.2?})",
        cycle.elapsed(),
        down
    );
}
