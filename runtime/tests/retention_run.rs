//! Retention after a successful run really removes what the rules do not keep, never the
//! newest, and never after a failed run.

mod common;

use common::*;

#[test]
#[ignore = "tier: system — needs root (numeric owners); run by scripts/test"]
fn a_successful_run_applies_retention_and_keeps_the_newest() {
    require_root();
    let root = TempDir::new("retention-run");
    let src = root.join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("f"), "one").expect("write");
    let mut s = spec(root.path(), &[&src]);
    s["retention"] = serde_json::json!({"keep-last": 2});
    let spec_path = write_spec(root.path(), &s);

    for round in 0..4 {
        std::fs::write(src.join("f"), format!("round {round}")).expect("write");
        assert_code(&run_job(&spec_path), 0);
    }
    let kept = snapshots(root.path());
    assert_eq!(kept.len(), 2, "keep-last=2 keeps two snapshots: {kept:?}");
    let newest = job_dir(root.path()).join(kept.last().expect("a snapshot"));
    let content = std::fs::read_to_string(
        newest
            .join(src.strip_prefix("/").expect("absolute"))
            .join("f"),
    )
    .expect("file");
    assert_eq!(content, "round 3", "the newest snapshot is the last run's");

    // A failed run (a source that vanished) removes nothing.
    std::fs::remove_dir_all(&src).expect("rm");
    let out = run_job(&spec_path);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(
        snapshots(root.path()),
        kept,
        "a failed run must not apply retention"
    );
}

#[test]
#[ignore = "tier: system — needs root (numeric owners); run by scripts/test"]
fn a_restore_in_progress_postpones_retention_and_prune() {
    require_root();
    let root = TempDir::new("retention-readers");
    let src = root.join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    let mut s = spec(root.path(), &[&src]);
    s["retention"] = serde_json::json!({"keep-last": 1});
    let spec_path = write_spec(root.path(), &s);
    std::fs::write(src.join("f"), "first").expect("write");
    assert_code(&run_job(&spec_path), 0);
    let first = snapshots(root.path());
    assert_eq!(first.len(), 1);

    // What `bakrun restore` holds while it reads.
    let reading = bakrun::lock::read_snapshots(&root.join("state"), "files").expect("readers lock");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(src.join("f"), "second").expect("write");
    let out = run_job(&spec_path);
    assert_code(&out, 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("retention postponed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let both = snapshots(root.path());
    assert_eq!(both.len(), 2, "keep-last=1 waits while a restore reads");
    let status = std::fs::read_to_string(root.join("state/status/files.json")).expect("status");
    assert!(status.contains("retention postponed"), "{status}");
    let sp = spec_path.to_str().expect("utf-8");
    let out = bakrun(&["prune", sp]);
    assert_code(&out, 12);
    assert!(String::from_utf8_lossy(&out.stderr).contains("a restore is reading"));
    assert_eq!(snapshots(root.path()), both, "prune removed nothing");

    drop(reading);
    assert_code(&bakrun(&["prune", sp]), 0);
    let after = snapshots(root.path());
    assert_eq!(after, vec![both[1].clone()], "the newest stays");
}

#[test]
#[ignore = "tier: system — needs root (numeric owners); run by scripts/test"]
fn a_run_keeps_the_oldest_while_buckets_are_short() {
    require_root();
    let root = TempDir::new("retention-oldest");
    let src = root.join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    let mut s = spec(root.path(), &[&src]);
    // Every run falls on one day and one year: each rule has buckets left, so restic ≥ 0.16
    // keeps the first run as well as the newest (0.14 kept the newest alone).
    s["retention"] = serde_json::json!({"keep-daily": 7, "keep-yearly": "all"});
    let spec_path = write_spec(root.path(), &s);
    let mut made = Vec::new();
    for round in 0..3 {
        std::fs::write(src.join("f"), format!("round {round}")).expect("write");
        assert_code(&run_job(&spec_path), 0);
        let now = snapshots(root.path());
        made.extend(
            now.iter()
                .filter(|n| !made.contains(*n))
                .cloned()
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(made.len(), 3, "three runs, three snapshots: {made:?}");
    let kept = snapshots(root.path());
    assert_eq!(
        kept,
        vec![made[0].clone(), made[2].clone()],
        "the first run (oldest) and the last (newest) are kept"
    );
}
