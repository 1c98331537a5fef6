//! `bakrun verify` on rsync snapshot jobs with real rsync: a clean drill passes and is
//! recorded (status, metrics, `bakrun status`, `bakrun notify`); a byte flipped inside the
//! snapshot (size and time kept) fails naming the file; a live file changed after the run
//! is a change, not a failure; critical paths are always checked; one seed draws one
//! sample; `--dry-run` changes nothing; bad inputs are refused clearly.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use common::*;

/// A job of 40 files (`f00`..`f39`) and a critical folder `keys/` of 3, backed up once.
fn job(t: &TempDir) -> (PathBuf, PathBuf) {
    let src = t.join("src");
    fs::create_dir_all(src.join("data")).unwrap();
    fs::create_dir_all(src.join("keys")).unwrap();
    for i in 0..40 {
        fs::write(
            src.join(format!("data/f{i:02}")),
            format!("file {i}\n").repeat(50),
        )
        .unwrap();
    }
    for k in ["a", "b", "c"] {
        fs::write(src.join(format!("keys/{k}")), format!("key {k}\n")).unwrap();
    }
    let mut s = spec(t.path(), &[&src]);
    s["verify"] = json!({
        "calendar": "Sun *-*-* 05:00:00",
        "sample": {"files": 5},
        "critical": [src.join("keys").to_string_lossy()],
        "within-seconds": 86400,
    });
    s["on-failure"] = json!({"kind": "command", "argv": ["sh", "-c", "cp \"$BAKGEN_STATUS_FILE\" \"$0.told\"", t.join("notified").to_string_lossy()]});
    let spec_path = write_spec(t.path(), &s);
    assert_code(&run_job(&spec_path), 0);
    (spec_path, src)
}

fn verify(spec: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["verify", spec.to_str().unwrap()];
    args.extend_from_slice(extra);
    bakrun(&args)
}

fn record(t: &TempDir) -> Value {
    serde_json::from_str(&fs::read_to_string(t.join("state/verify/files.json")).unwrap()).unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Only the record is left in the drill's folder: no scratch folder.
fn assert_no_scratch(t: &TempDir) {
    assert_eq!(entries(&t.join("state/verify")), vec!["files.json"]);
}

/// The files of a dry run's plan.
fn planned(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("# file: ").map(str::to_owned))
        .collect()
}

fn snapshot_copy(t: &TempDir, live: &Path) -> PathBuf {
    let snap = &snapshots(t.path())[0];
    job_dir(t.path())
        .join(snap)
        .join(live.strip_prefix("/").unwrap())
}

#[test]
fn a_clean_drill_passes_and_is_recorded_with_metrics_and_in_status() {
    let t = TempDir::new("verify-clean");
    let (spec, _src) = job(&t);
    let out = verify(&spec, &["--seed", "11"]);
    assert_code(&out, 0);
    assert!(
        stderr(&out).contains("bakrun verify files --seed 11"),
        "{}",
        stderr(&out)
    );
    let r = record(&t);
    assert_eq!(r["result"], "passed");
    assert_eq!(r["seed"], 11);
    // 5 drawn + the 3 critical files.
    assert_eq!(r["files_sampled"], 8);
    assert_eq!(r["files_checked"], 8);
    assert_eq!(r["mismatch_count"], 0);
    assert_eq!(r["snapshot"], snapshots(t.path())[0].as_str());
    assert!(r["last_success"]["end"].is_string());
    assert_no_scratch(&t);
    let metrics = fs::read_to_string(t.join("metrics/bakgen-verify_files.prom")).unwrap();
    assert!(
        metrics
            .contains("bakgen_verify_files_checked{bakgen_host=\"h1\",bakgen_job=\"files\"} 8\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("bakgen_verify_mismatches{bakgen_host=\"h1\",bakgen_job=\"files\"} 0\n")
    );
    assert!(metrics.contains("bakgen_verify_last_success_timestamp_seconds{"));
    assert!(metrics.contains(
        "bakgen_verify_expected_within_seconds{bakgen_host=\"h1\",bakgen_job=\"files\"} 86400\n"
    ));

    // `bakrun status` shows the drill; its exit code still judges the runs only.
    let jobs = t.join("jobs");
    fs::create_dir_all(&jobs).unwrap();
    fs::copy(&spec, jobs.join("files.json")).unwrap();
    let out = bakrun(&["status", "--jobs-dir", jobs.to_str().unwrap()]);
    assert_code(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("DRILL") && text.contains("verified ") && text.contains("s ago"),
        "{text}"
    );
    let out = bakrun(&[
        "status",
        "--jobs-dir",
        jobs.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["verify"]["state"], "ok");
    assert_eq!(v[0]["verify"]["within_seconds"], 86400);
}

#[test]
fn a_byte_flipped_in_the_snapshot_fails_the_drill_naming_the_file_and_notifies() {
    let t = TempDir::new("verify-corrupt");
    let (spec, src) = job(&t);
    let live = src.join("data/f07");
    let copy = snapshot_copy(&t, &live);
    let meta = fs::metadata(&copy).unwrap();
    let mut bytes = fs::read(&copy).unwrap();
    bytes[100] ^= 0x55;
    // The snapshot's copy is a hard link of nothing else here; write in place, keep time.
    fs::write(&copy, &bytes).unwrap();
    fs::File::options()
        .write(true)
        .open(&copy)
        .unwrap()
        .set_modified(meta.modified().unwrap())
        .unwrap();
    let out = verify(&spec, &["--sample", "100", "--seed", "5"]);
    assert_code(&out, 1);
    let live_s = live.to_string_lossy().into_owned();
    assert!(stderr(&out).contains(&live_s), "{}", stderr(&out));
    assert!(stderr(&out).contains("bakrun verify files --sample 100 --seed 5"));
    let r = record(&t);
    assert_eq!(r["result"], "failed");
    assert_eq!(r["exit_code"], 1);
    assert_eq!(r["mismatch_count"], 1);
    assert_eq!(r["mismatches"][0]["path"], live_s.as_str());
    assert!(r["mismatches"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("byte 100"));
    assert!(r["last_success"].is_null(), "no drill ever passed");
    assert_no_scratch(&t);
    let metrics = fs::read_to_string(t.join("metrics/bakgen-verify_files.prom")).unwrap();
    assert!(
        metrics.contains("bakgen_verify_mismatches{bakgen_host=\"h1\",bakgen_job=\"files\"} 1\n")
    );
    assert!(!metrics.contains("last_success"));

    // The drill's unit fails; systemd names it to bakgen-notify@files.service.
    let jobs = t.join("jobs");
    fs::create_dir_all(&jobs).unwrap();
    fs::copy(&spec, jobs.join("files.json")).unwrap();
    let out = std::process::Command::new(BAKRUN)
        .args(["notify", "files", "--jobs-dir", jobs.to_str().unwrap()])
        .env("MONITOR_UNIT", "bakgen-verify-files.service")
        .output()
        .unwrap();
    assert_code(&out, 0);
    let told: Value =
        serde_json::from_str(&fs::read_to_string(t.join("notified.told")).unwrap()).unwrap();
    assert_eq!(told["mismatches"][0]["path"], live_s.as_str());
    let out = bakrun(&["status", "--jobs-dir", jobs.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("verify failed"));
}

#[test]
fn a_live_file_changed_or_removed_after_the_run_is_a_change_and_the_drill_passes() {
    let t = TempDir::new("verify-changed");
    let (spec, src) = job(&t);
    fs::write(src.join("data/f03"), "rewritten\n").unwrap();
    fs::remove_file(src.join("data/f04")).unwrap();
    let out = verify(&spec, &["--sample", "100"]);
    assert_code(&out, 0);
    let r = record(&t);
    assert_eq!(r["result"], "passed");
    assert_eq!(r["changed"], 2);
    assert_eq!(r["files_checked"], 41);
    let changed: Vec<&str> = r["changed_paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        changed.iter().any(|p| p.ends_with("data/f03")),
        "{changed:?}"
    );
}

#[test]
fn critical_paths_are_always_checked_and_one_seed_draws_one_sample() {
    let t = TempDir::new("verify-seed");
    let (spec, src) = job(&t);
    let keys: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|k| src.join("keys").join(k).to_string_lossy().into_owned())
        .collect();
    let only_critical = planned(&verify(&spec, &["--dry-run", "--sample", "0"]));
    assert_eq!(only_critical, keys);
    let a = planned(&verify(&spec, &["--dry-run", "--seed", "1234"]));
    let b = planned(&verify(&spec, &["--dry-run", "--seed", "1234"]));
    assert_eq!(a, b);
    assert_eq!(a.len(), 8);
    assert!(keys.iter().all(|k| a.contains(k)));
    let others: Vec<Vec<String>> = (1..6)
        .map(|s| planned(&verify(&spec, &["--dry-run", "--seed", &s.to_string()])))
        .collect();
    assert!(
        others.iter().any(|o| *o != a),
        "five other seeds drew the same sample"
    );
    // The seed a drill logs reproduces its sample.
    let out = verify(&spec, &["-v", "--seed", "1234"]);
    assert_code(&out, 0);
    for f in &a {
        assert!(
            stderr(&out).contains(&format!("{f}: Same")),
            "{f} not checked: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_dry_run_prints_the_plan_and_changes_nothing() {
    let t = TempDir::new("verify-dry");
    let (spec, _src) = job(&t);
    let before_state = files_under_tree(&t.join("state"));
    let out = verify(&spec, &["--dry-run", "--seed", "9"]);
    assert_code(&out, 0);
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.contains("# run: "), "{plan}");
    assert!(plan.contains("bakrun verify files --seed 9"), "{plan}");
    assert!(plan.contains("# critical: "), "{plan}");
    assert_eq!(files_under_tree(&t.join("state")), before_state);
    assert!(!t.join("metrics/bakgen-verify_files.prom").exists());
}

#[test]
fn bad_inputs_are_refused_clearly() {
    let t = TempDir::new("verify-bad");
    let src = t.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("x"), "x").unwrap();
    let mut s = spec(t.path(), &[&src]);
    let plain = write_spec(t.path(), &s);
    // No `verify` in the spec and no --sample: nothing to draw.
    let out = verify(&plain, &[]);
    assert_code(&out, 2);
    assert!(stderr(&out).contains("--sample N"), "{}", stderr(&out));
    let out = verify(&plain, &["--sample", "many"]);
    assert_code(&out, 2);
    assert!(stderr(&out).contains("--sample"), "{}", stderr(&out));
    // No run yet: the drill fails saying so.
    s["verify"] = json!({"calendar": "daily", "sample": {"per-mille": 10}, "within-seconds": 60});
    let with = write_spec(t.path(), &s);
    let out = verify(&with, &[]);
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("no complete run to verify yet"),
        "{}",
        stderr(&out)
    );
    assert_eq!(record(&t)["result"], "failed");
}

/// Every path under `dir`, with its size, sorted.
fn files_under_tree(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            }
            out.push((e.path().to_string_lossy().into_owned(), m.len()));
        }
    }
    out.sort();
    out
}
