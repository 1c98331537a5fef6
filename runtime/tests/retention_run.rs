//! Retention after a successful run really removes what the rules do not keep, never the
//! newest, and never after a failed run.

mod common;

use common::*;

#[test]
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
