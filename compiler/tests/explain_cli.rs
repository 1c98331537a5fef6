//! `bakgen explain`: each job of the example policies as resolved — every setting with the
//! level it came from, the next runs with their jitter window, the files and the spec —
//! in both formats, and the errors for a host or job that is not there.

mod support;

use support::{bakgen, tmp};

/// `bakgen explain ../policies --host HOST [--job JOB]` from a fixed time, in UTC.
fn explain(host: &str, job: Option<&str>, format: &str) -> std::process::Output {
    let mut args = vec![
        "explain",
        "../policies",
        "--host",
        host,
        "--from",
        "2026-12-01T00:00:00Z",
        "--timezone",
        "UTC",
        "--count",
        "3",
        "--format",
        format,
    ];
    if let Some(job) = job {
        args.extend(["--job", job]);
    }
    bakgen(&args)
}

fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).expect("UTF-8")
}

/// One host of each example policy: pulls (backup1), btrfs and restic (fileserver),
/// dumps (db1), LVM (workstation), a two-template chain (web01), a laptop.
const HOSTS: [&str; 6] = [
    "backup1",
    "fileserver",
    "db1",
    "workstation",
    "web01",
    "laptop",
];

#[test]
fn every_example_host_explained_for_people() {
    for host in HOSTS {
        let text = ok(&explain(host, None, "human"));
        insta::assert_snapshot!(format!("explain_human_{host}"), text);
    }
}

#[test]
fn every_example_host_explained_as_json() {
    for host in HOSTS {
        let text = ok(&explain(host, None, "json"));
        let value: serde_json::Value = serde_json::from_str(&text).expect("one JSON document");
        insta::assert_json_snapshot!(format!("explain_json_{host}"), value);
    }
}

/// A setting's origin in the JSON: `job`, `template` (with its name), `defaults`, `built-in`.
fn origin(job: &serde_json::Value, setting: &str) -> (String, Option<String>) {
    let s = job["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .find(|s| s["setting"] == setting)
        .unwrap_or_else(|| panic!("no setting {setting}"));
    (
        s["from"].as_str().expect("from").to_owned(),
        s["template"].as_str().map(str::to_owned),
    )
}

#[test]
fn each_setting_names_the_level_of_the_chain_it_came_from() {
    // web01's job uses template "web", which uses "fleet-base"; defaults sit below both.
    let text = ok(&explain("web01", Some("system"), "json"));
    let jobs: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let job = &jobs[0];
    let template = |name: &str| ("template".to_owned(), Some(name.to_owned()));
    assert_eq!(origin(job, "source"), template("web"));
    assert_eq!(origin(job, "schedule"), template("web"));
    assert_eq!(origin(job, "to"), template("fleet-base"));
    assert_eq!(origin(job, "limit-upload"), template("fleet-base"));
    assert_eq!(origin(job, "nice"), ("defaults".to_owned(), None));
    assert_eq!(origin(job, "ping"), ("built-in".to_owned(), None));
    // The value the job gets is the nearest level's, not a merge of lists.
    let source = job["settings"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["setting"] == "source"))
        .expect("source");
    assert_eq!(source["value"], r#""/etc" "/srv/www" "/var/log/nginx""#);
    assert_eq!(
        job["spec"]["sources"],
        serde_json::json!(["/etc", "/srv/www", "/var/log/nginx"])
    );
    // Next runs carry the jitter window: 00/6:15 with jitter="1h".
    let next = &job["schedule"]["next"][0];
    assert_eq!(next["start"], "2026-12-01T00:15:00Z");
    assert_eq!(next["end"], "2026-12-01T01:15:00Z");
    assert_eq!(next["window"], "Tue 2026-12-01 00:15–01:15 UTC");
    let files: Vec<&str> = job["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    for f in [
        "/etc/bakgen/jobs/system.json",
        "/etc/systemd/system/bakgen-system.service",
        "/etc/systemd/system/bakgen-system.timer",
        "/etc/systemd/system/bakgen-prune-fleet-repo.timer",
        "/etc/systemd/system/bakgen-check-fleet-repo.timer",
    ] {
        assert!(files.contains(&f), "{f} in {files:?}");
    }
}

#[test]
fn one_job_only_with_job() {
    let text = ok(&explain("backup1", Some("mail"), "human"));
    assert!(text.starts_with("job mail of host backup1\n"), "{text}");
    assert!(!text.contains("job web1"), "{text}");
    // Set in the job itself, over the template's list.
    assert!(
        text.contains(
            r#""/etc" "/var/mail" "/var/lib/dovecot"  — job (../policies/backup-server.kdl:37)"#
        ),
        "{text}"
    );
}

#[test]
fn a_host_without_jobs_says_so() {
    // web1 is only pulled from (backup-server.kdl): it has an address and no job.
    assert_eq!(
        ok(&explain("web1", None, "human")),
        "host web1 runs no job\n"
    );
    assert_eq!(ok(&explain("web1", None, "json")), "[]\n");
}

#[test]
fn an_unknown_host_or_job_is_exit_2_with_did_you_mean() {
    let o = explain("backup", None, "human");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the policy has no host `backup`; did you mean `backup1`?"),
        "{err}"
    );
    let o = explain("backup1", Some("mial"), "human");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("host `backup1` has no job `mial`; did you mean `mail`?"),
        "{err}"
    );
    // Nothing close: the names there are.
    let o = explain("backup1", Some("zzzzzzzz"), "human");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("it has: web1, web2, mail, self"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn a_policy_with_errors_is_exit_1_with_its_diagnostics() {
    let dir = tmp("explain");
    let policy = dir.path().join("p.kdl");
    std::fs::write(
        &policy,
        "host \"h\" { job \"j\" { source \"/etc\"; to \"nowhere\"; schedule \"daily\"; retention keep-daily=7; } }\n",
    )
    .expect("write");
    let o = bakgen(&["explain", policy.to_str().expect("utf-8"), "--host", "h"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bakgen::undefined-destination"), "{err}");
    assert!(o.stdout.is_empty());
}
