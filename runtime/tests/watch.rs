//! `bakrun watch` against real destinations: rsync snapshot folders and restic
//! repositories (local and REST) holding runs made by `bakrun run`, judged as at chosen
//! times (`--at`): each state (ok, late, never, unreadable), runs that never count (an
//! `.incomplete` folder, a restic run cut short), the metrics file, the report, the table,
//! and `on-late` told once when a job turns late and once when it recovers.

mod common;
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use chrono::{DateTime, Duration, FixedOffset};
use serde_json::{json, Value};

use common::{
    assert_code, bakrun, require_root, run_job, sh, snapshots, spec, write_spec, TempDir,
};
use support::*;

/// The exit code of a watch that found a job late, never run or unreadable.
const LATE: i32 = 13;

/// A run's start, from its name.
fn start(name: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_str(name, "%Y%m%dT%H%M%S%z").unwrap()
}

/// Writes the watch spec (state and metrics under `root`) and returns its path.
fn watch_spec(root: &Path, stores: Value, on_late: Option<Value>) -> PathBuf {
    let mut spec = json!({
        "version": 1,
        "host": "backup1",
        "state-dir": root.join("wstate").to_string_lossy(),
        "metrics-dir": root.join("metrics").to_string_lossy(),
        "stores": stores,
    });
    if let Some(n) = on_late {
        spec["on-late"] = n;
    }
    let path = root.join("watch.json");
    fs::write(&path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    path
}

fn watch(spec: &Path, at: DateTime<FixedOffset>, format: &str) -> Output {
    bakrun(&[
        "watch",
        "--spec",
        spec.to_str().unwrap(),
        "--at",
        &at.to_rfc3339(),
        "--format",
        format,
    ])
}

/// The watch's JSON report on standard output, as (destination/host/job, state) and the
/// whole report.
fn states(out: &Output) -> (Vec<(String, String)>, Value) {
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let states = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                format!(
                    "{}/{}/{}",
                    j["destination"].as_str().unwrap(),
                    j["host"].as_str().unwrap(),
                    j["job"].as_str().unwrap()
                ),
                j["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (states, report)
}

/// A JSON watch as at `at` that must find some job not ok (exit 13), and its states.
fn states_late(spec: &Path, at: DateTime<FixedOffset>) -> (Vec<(String, String)>, Value) {
    let out = watch(spec, at, "json");
    assert_code(&out, LATE);
    states(&out)
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn watched(host: &str, job: &str, within: u64) -> Value {
    json!({"host": host, "job": job, "expected-within-seconds": within})
}

#[test]
#[ignore = "tier: system — needs root (numeric owners, a bind mount in a private mount namespace); run by scripts/test"]
fn snapshot_folders_ok_late_never_incomplete_only_and_unmounted() {
    require_root();
    let root = TempDir::new("watch-folders");
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), "data").unwrap();
    let spec_path = write_spec(root.path(), &spec(root.path(), &[&src]));
    assert_code(&run_job(&spec_path), 0);
    let made = snapshots(root.path());
    assert_eq!(made.len(), 1, "{made:?}");
    let t0 = start(&made[0]);
    // A run of another job that never finished, and one being deleted: neither counts.
    let partial = root.join("dest/h1/partial");
    fs::create_dir_all(partial.join(format!("{}.incomplete", made[0]))).unwrap();
    fs::create_dir_all(partial.join(format!("{}.deleting", made[0]))).unwrap();
    let dest = root.join("dest");
    let dest = dest.to_str().unwrap();
    let w = watch_spec(
        root.path(),
        json!([
            {"destination": "disk", "read": {"how": "snapshots", "path": dest, "mount-point": dest},
             "jobs": [watched("h1", "files", 7200)]},
            {"destination": "usb", "read": {"how": "snapshots", "path": dest},
             "jobs": [watched("h1", "files", 7200), watched("h1", "gone", 7200), watched("h1", "partial", 7200)]},
        ]),
        None,
    );

    let (found, report) = states_late(&w, t0 + Duration::hours(1));
    assert_eq!(
        found,
        pairs(&[
            ("disk/h1/files", "unreadable"),
            ("usb/h1/files", "ok"),
            ("usb/h1/gone", "never"),
            ("usb/h1/partial", "never"),
        ])
    );
    assert!(
        report["jobs"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("should be a mount point and is not"),
        "{report}"
    );
    assert_eq!(report["jobs"][1]["age_seconds"], 3600);
    assert_eq!(
        report["jobs"][1]["newest_complete"].as_str().map(start_rfc),
        Some(t0)
    );

    let out = watch(&w, t0 + Duration::hours(3), "json");
    assert_eq!(states(&out).0[1], pairs(&[("usb/h1/files", "late")])[0]);

    // Mounted (a bind mount of the folder over itself, in a private mount namespace), the
    // same store reads.
    let out = sh(&format!(
        "unshare -m --propagation private sh -c 'mount --bind {dest} {dest} && {} watch --spec {} --at {} --format json; true'",
        common::BAKRUN,
        w.display(),
        (t0 + Duration::hours(1)).to_rfc3339()
    ));
    assert_eq!(states(&out).0[0], pairs(&[("disk/h1/files", "ok")])[0]);
}

fn start_rfc(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap()
}

/// A restic snapshot made by hand as a run cut short leaves it: tagged as bakrun tags a run
/// of `parts` snapshots, with only this one made.
fn cut_short_run(job: &LocalJob, name: &str, at: DateTime<FixedOffset>) {
    let when = at.format("%Y-%m-%d %H:%M:%S").to_string();
    let tags =
        bakgen_spec::restic_tags::run("h1", name, &bakgen_spec::run_name::snapshot_name(&at), 2);
    let mut args = vec!["backup", "--time", &when, "--host", "h1"];
    for t in &tags {
        args.extend(["--tag", t]);
    }
    args.push(job.src.to_str().unwrap());
    restic(job.repo.to_str().unwrap(), &job.pw, &args, &[]);
}

#[test]
fn restic_ok_late_never_cut_short_wrong_password_and_file_times() {
    let job = LocalJob::new("watch-restic", |_, _| {});
    assert_code(&bakrun(&["init", job.p()]), 0);
    fs::write(job.src.join("f"), "data\n").unwrap();
    assert_code(&bakrun(&["run", job.p()]), 0);
    let runs = job.runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let t0 = start_rfc(runs[0]["time"].as_str().unwrap());
    // A newer run of the same job cut short, and a job with only a run cut short: neither
    // counts.
    cut_short_run(&job, "files", t0 + Duration::minutes(30));
    cut_short_run(&job, "cut", t0);
    let wrong = secret_file(&job.root, "wrong", "not the password");
    let repo = job.repo.to_str().unwrap();
    let cache = job.root.join("wcache");
    let restic_store = |destination: &str, password: &Path| {
        json!({"destination": destination,
               "read": {"how": "restic", "repository": repo,
                        "password": {"from": "file", "path": password.to_string_lossy()},
                        "cache-dir": cache.to_string_lossy()},
               "jobs": [watched("h1", "absent", 7200), watched("h1", "cut", 7200), watched("h1", "files", 7200)]})
    };
    let w = watch_spec(
        &job.root,
        json!([
            restic_store("vault", &job.pw),
            restic_store("wrong", &wrong),
            {"destination": "x-times", "read": {"how": "restic-file-times", "path": repo},
             "jobs": [watched("h1", "files", 7200)]},
            {"destination": "y-times", "read": {"how": "restic-file-times", "path": job.src.to_string_lossy()},
             "jobs": [watched("h1", "files", 7200)]},
        ]),
        None,
    );
    let (found, report) = states_late(&w, t0 + Duration::hours(1));
    assert_eq!(
        found,
        pairs(&[
            ("vault/h1/absent", "never"),
            ("vault/h1/cut", "never"),
            ("vault/h1/files", "ok"),
            ("wrong/h1/absent", "unreadable"),
            ("wrong/h1/cut", "unreadable"),
            ("wrong/h1/files", "unreadable"),
            ("x-times/h1/files", "ok"),
            ("y-times/h1/files", "unreadable"),
        ])
    );
    // The newest complete run is the one bakrun made, not the later one cut short.
    assert_eq!(
        report["jobs"][2]["newest_complete"].as_str().map(start_rfc),
        Some(t0)
    );
    let reason = report["jobs"][3]["reason"].as_str().unwrap();
    assert!(
        reason.contains("does not open the restic repository") && reason.contains("wrong"),
        "{reason}"
    );
    assert!(!reason.contains("not the password"), "{reason}");
    let out = watch(&w, t0 + Duration::hours(3), "json");
    assert_eq!(states(&out).0[2], pairs(&[("vault/h1/files", "late")])[0]);
}

/// Runs as the rsync engine leaves them, made directly: the notification does not
/// depend on how the runs were made.
#[test]
fn on_late_is_told_once_and_once_on_recovery_with_metrics_report_and_table() {
    let root = TempDir::new("watch-notify");
    let t0 = start("20260401T020000+0200");
    let dir = root.join("dest/web1/etc");
    fs::create_dir_all(dir.join("20260401T020000+0200")).unwrap();
    let told = root.join("told");
    let on_late = |command: &str| {
        json!({"kind": "command", "argv": ["sh", "-c",
            format!("{command} && echo \"$BAKGEN_WATCH_EVENT $BAKGEN_HOST/$BAKGEN_JOB $BAKGEN_DESTINATION $BAKGEN_WATCH_STATE $1\" >> '{}'", told.display()),
            "sh"]})
    };
    let stores = json!([{"destination": "usb",
        "read": {"how": "snapshots", "path": root.join("dest").to_string_lossy()},
        "jobs": [watched("web1", "etc", 7200)]}]);
    let w = watch_spec(root.path(), stores.clone(), Some(on_late("true")));
    let told_lines = || fs::read_to_string(&told).unwrap_or_default();

    let out = watch(&w, t0 + Duration::hours(1), "table");
    assert_code(&out, 0);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    let header: Vec<&str> = lines[0]
        .split("  ")
        .filter(|c| !c.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        header.join(","),
        "HOST,JOB,DESTINATION,NEWEST COMPLETE RUN,AGE,DUE BY,STATE"
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        row,
        [
            "web1",
            "etc",
            "usb",
            "2026-04-01T02:00:00+02:00",
            "1h0m",
            "2026-04-01T04:00:00+02:00",
            "ok"
        ]
    );
    assert_eq!(told_lines(), "", "an ok job is not told");

    // Late: told once, not again while it stays late.
    let out = watch(&w, t0 + Duration::hours(3), "table");
    assert_code(&out, LATE);
    assert!(String::from_utf8_lossy(&out.stdout).contains("late"));
    let once = "late web1/etc usb late bakgen-watch.service\n";
    assert_eq!(told_lines(), once);
    let metrics = fs::read_to_string(root.join("metrics/bakgen_watch.prom")).unwrap();
    let labels = "{bakgen_watcher=\"backup1\",bakgen_host=\"web1\",bakgen_job=\"etc\",bakgen_destination=\"usb\"}";
    for line in [
        format!(
            "bakgen_watch_last_run_timestamp_seconds{{bakgen_watcher=\"backup1\"}} {}",
            (t0 + Duration::hours(3)).timestamp()
        ),
        format!(
            "bakgen_watch_last_complete_timestamp_seconds{labels} {}",
            t0.timestamp()
        ),
        format!("bakgen_watch_late{labels} 1"),
        format!("bakgen_watch_expected_within_seconds{labels} 7200"),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    let report: Value =
        serde_json::from_str(&fs::read_to_string(root.join("wstate/watch/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["jobs"][0]["state"], "late");
    assert_eq!(report["host"], "backup1");
    assert_code(&watch(&w, t0 + Duration::hours(4), "table"), LATE);
    assert_eq!(told_lines(), once, "still late: told once only");

    // A newer run lands: told once that it recovered.
    fs::create_dir_all(dir.join("20260401T060000+0200")).unwrap();
    assert_code(&watch(&w, t0 + Duration::hours(5), "table"), 0);
    let recovered = format!("{once}recovered web1/etc usb ok bakgen-watch.service\n");
    assert_eq!(told_lines(), recovered);
    assert_code(&watch(&w, t0 + Duration::hours(5), "table"), 0);
    assert_eq!(told_lines(), recovered);
    let metrics = fs::read_to_string(root.join("metrics/bakgen_watch.prom")).unwrap();
    assert!(
        metrics.contains(&format!("bakgen_watch_late{labels} 0\n")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "bakgen_watch_last_run_timestamp_seconds{{bakgen_watcher=\"backup1\"}} {}\n",
            (t0 + Duration::hours(5)).timestamp()
        )),
        "each watch moves its last run: {metrics}"
    );

    // A notifier that fails is not taken as told: the next watch tells again.
    let w = watch_spec(root.path(), stores, Some(on_late("false")));
    assert_code(&watch(&w, t0 + Duration::hours(9), "table"), LATE);
    assert_eq!(told_lines(), recovered);
    let w = watch_spec(
        root.path(),
        json!([{"destination": "usb",
            "read": {"how": "snapshots", "path": root.join("dest").to_string_lossy()},
            "jobs": [watched("web1", "etc", 7200)]}]),
        Some(on_late("true")),
    );
    assert_code(&watch(&w, t0 + Duration::hours(9), "table"), LATE);
    assert_eq!(told_lines(), format!("{recovered}{once}"));
}

#[test]
fn a_bad_watch_spec_or_when_exits_2_naming_it() {
    let root = TempDir::new("watch-bad");
    let missing = bakrun(&["watch", "--spec", root.join("nope.json").to_str().unwrap()]);
    assert_code(&missing, 2);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read watch spec"));
    let w = watch_spec(
        root.path(),
        json!([{"destination": "usb", "read": {"how": "snapshots", "path": "relative"},
                "jobs": [watched("web1", "etc", 0)]}]),
        None,
    );
    let out = bakrun(&["watch", "--spec", w.to_str().unwrap()]);
    assert_code(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`relative` is not an absolute path") && err.contains("more than 0"),
        "{err}"
    );
    let out = bakrun(&["watch", "--spec", w.to_str().unwrap(), "--at", "yesterday"]);
    assert_code(&out, 2);
}

#[test]
#[ignore = "tier: system — needs a rest-server (rclone); run by scripts/test"]
fn a_rest_repository_is_read_and_an_unreachable_one_is_unreadable() {
    let server = RestServer::start();
    let url = server.url("watched");
    let job = LocalJob::new("watch-rest", |_, spec| {
        spec["destination"]["repository"] = json!(url);
    });
    assert_code(&bakrun(&["init", job.p()]), 0);
    fs::write(job.src.join("f"), "data\n").unwrap();
    assert_code(&bakrun(&["run", job.p()]), 0);
    let runs = job.runs();
    let t0 = start_rfc(runs[0]["time"].as_str().unwrap());
    let w = watch_spec(
        &job.root,
        json!([{"destination": "vault",
            "read": {"how": "restic", "repository": url,
                     "password": {"from": "file", "path": job.pw.to_string_lossy()},
                     "cache-dir": job.root.join("wcache").to_string_lossy()},
            "jobs": [watched("h1", "files", 7200)]}]),
        None,
    );
    let out = watch(&w, t0 + Duration::hours(1), "json");
    assert_code(&out, 0);
    assert_eq!(states(&out).0, pairs(&[("vault/h1/files", "ok")]));
    drop(server);
    let (found, report) = states_late(&w, t0 + Duration::hours(1));
    assert_eq!(found, pairs(&[("vault/h1/files", "unreadable")]));
    let reason = report["jobs"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("cannot reach the restic repository"),
        "{reason}"
    );
}
