//! A drill's `count` with real rsync and restic 0.14: the live files are counted as a run
//! would read them (the job's excludes applied; rsync counts links too, restic regular
//! files only) and the drill fails when the run holds more than the tolerance fewer —
//! files removed from a snapshot after the run, or a folder that was empty when the run
//! read it (a mount not mounted yet). New live files within the tolerance pass; the count
//! writes nothing (no restic snapshot, no lock), and `--dry-run` prints how it counts.
//! Many files removed on the host since the run pass, with a warning.

mod common;
mod support;

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use common::*;

fn record(root: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(root.join("state/verify/files.json")).unwrap())
        .unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn files(dir: &Path, prefix: &str, n: usize) {
    fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        fs::write(
            dir.join(format!("{prefix}{i:02}")),
            format!("{prefix} {i}\n"),
        )
        .unwrap();
    }
}

#[test]
fn rsync_a_snapshot_missing_files_fails_the_count_and_new_live_files_within_it_pass() {
    let t = TempDir::new("verify-count-rsync");
    let src = t.join("src");
    files(&src.join("data"), "f", 40);
    // Excluded on both sides: never counted.
    files(&src.join("data"), "x.tmp", 10);
    std::os::unix::fs::symlink("data/f00", src.join("link")).unwrap();
    let mut s = spec(t.path(), &[&src]);
    s["excludes"] = json!(["*.tmp*"]);
    s["verify"] = json!({
        "calendar": "Sun *-*-* 05:00:00",
        "sample": {"files": 5},
        "within-seconds": 86400,
        "count": {"tolerance-per-mille": 50},
    });
    let spec_path = write_spec(t.path(), &s);
    assert_code(&run_job(&spec_path), 0);
    let p = spec_path.to_str().unwrap();

    // The plan says how it counts, and counting writes nothing.
    let out = bakrun(&["verify", p, "--dry-run", "--seed", "1"]);
    assert_code(&out, 0);
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("# count: the live files, as a run would read them, against the run's 41 (fails when more than 5% fewer)"),
        "{plan}"
    );
    assert!(
        plan.contains("rsync -a --relative --dry-run --list-only '--exclude=*.tmp*'"),
        "{plan}"
    );
    assert!(!t.join("state/verify").exists());

    // 40 files and the link, in the run and live.
    assert_code(&bakrun(&["verify", p, "--seed", "1"]), 0);
    let r = record(t.path());
    assert_eq!(
        r["count"],
        json!({"run": 41, "live": 41, "tolerance_per_mille": 50, "passed": true})
    );
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("the run holds 41 of 41 live files"),
        "{r:#}"
    );

    // Two files made since the run: 2 of 43 is under 5 %.
    files(&src.join("new"), "n", 2);
    assert_code(&bakrun(&["verify", p, "--seed", "1"]), 0);
    assert_eq!(record(t.path())["count"]["live"], 43);

    // Six files gone from the snapshot after the run: 8 of 43 fewer, over 5 %.
    let snap = job_dir(t.path()).join(&snapshots(t.path())[0]);
    let data = snap.join(src.join("data").strip_prefix("/").unwrap());
    for i in 30..36 {
        fs::remove_file(data.join(format!("f{i:02}"))).unwrap();
    }
    let out = bakrun(&["verify", p, "--seed", "1"]);
    assert_code(&out, 1);
    let r = record(t.path());
    assert_eq!(r["result"], "failed");
    assert_eq!(
        r["mismatch_count"], 0,
        "the sample is drawn from what the run holds"
    );
    assert_eq!(
        r["count"],
        json!({"run": 35, "live": 43, "tolerance_per_mille": 50, "passed": false})
    );
    let message = r["message"].as_str().unwrap();
    assert!(
        message.contains("the run holds 35 files but the live sources 43 (8 fewer, over the 5% tolerance): the backup misses files"),
        "{message}"
    );
    assert!(
        stderr(&out).contains("the backup misses files"),
        "{}",
        stderr(&out)
    );
    assert!(
        r["last_success"]["end"].is_string(),
        "the last pass is kept"
    );
}

#[test]
fn rsync_a_count_that_cannot_read_the_sources_fails_the_drill_saying_why() {
    let t = TempDir::new("verify-count-gone");
    let src = t.join("src");
    files(&src, "f", 3);
    let mut s = spec(t.path(), &[&src]);
    s["verify"] = json!({
        "calendar": "Sun *-*-* 05:00:00",
        "sample": {"files": 0},
        "within-seconds": 86400,
        "count": {"tolerance-per-mille": 0},
    });
    let spec_path = write_spec(t.path(), &s);
    assert_code(&run_job(&spec_path), 0);
    // The whole source is gone: rsync cannot list it (exit 23, as a run would fail), which
    // is no count of 0.
    fs::remove_dir_all(&src).unwrap();
    let out = bakrun(&["verify", spec_path.to_str().unwrap()]);
    assert_code(&out, 1);
    let r = record(t.path());
    assert_eq!(r["result"], "failed");
    assert!(r.get("count").is_none(), "{r:#}");
    let message = r["message"].as_str().unwrap();
    assert!(message.contains("rsync"), "{message}");
}

#[test]
fn restic_counts_regular_files_and_a_folder_empty_at_the_run_fails_the_count() {
    let job = support::LocalJob::new("verify-count-restic", |_, spec| {
        spec["excludes"] = json!(["*.tmp*"]);
        spec["verify"] = json!({
            "calendar": "daily",
            "sample": {"files": 3},
            "within-seconds": 86400,
            "count": {"tolerance-per-mille": 0},
        });
    });
    files(&job.src.join("d"), "f", 20);
    files(&job.src.join("d"), "y.tmp", 3);
    std::os::unix::fs::symlink("d/f00", job.src.join("link")).unwrap();
    // A mount point not mounted when the run reads it: an empty folder.
    fs::create_dir_all(job.src.join("mnt")).unwrap();
    assert_code(&bakrun(&["init", job.p()]), 0);
    assert_code(&bakrun(&["run", job.p()]), 0);
    let runs = job.runs().len();

    let out = bakrun(&["verify", job.p(), "--seed", "3"]);
    assert_code(&out, 0);
    let r = record(&job.root);
    assert_eq!(
        r["count"],
        json!({"run": 20, "live": 20, "tolerance_per_mille": 0, "passed": true}),
        "{}",
        stderr(&out)
    );
    // Counting made no snapshot and left no lock.
    assert_eq!(job.runs().len(), runs);
    assert_eq!(job.locks(), Vec::<String>::new());

    // Now mounted: 10 files the run never saw.
    files(&job.src.join("mnt"), "m", 10);
    let out = bakrun(&["verify", job.p(), "--seed", "3"]);
    assert_code(&out, 1);
    let r = record(&job.root);
    assert_eq!(
        r["count"],
        json!({"run": 20, "live": 30, "tolerance_per_mille": 0, "passed": false})
    );
    assert_eq!(r["mismatch_count"], 0);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("(10 fewer, over the 0% tolerance)"),
        "{r:#}"
    );

    // Files removed on the host since the run are no failure of the backup, but said.
    fs::remove_dir_all(job.src.join("mnt")).unwrap();
    for i in 0..10 {
        fs::remove_file(job.src.join(format!("d/f{i:02}"))).unwrap();
    }
    let out = bakrun(&["verify", job.p(), "--seed", "3"]);
    assert_code(&out, 0);
    assert_eq!(record(&job.root)["count"]["live"], 10);
    assert!(
        stderr(&out).contains("the live sources hold 10 fewer files than run"),
        "{}",
        stderr(&out)
    );

    // The dry run prints restic's counting command.
    let out = bakrun(&["verify", job.p(), "--dry-run"]);
    assert_code(&out, 0);
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("backup --dry-run --json -vv --host h1 '--exclude=*.tmp*' --"),
        "{plan}"
    );
}
