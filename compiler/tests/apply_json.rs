//! `bakgen apply --format json`: one JSON document on standard output with the plan and
//! what was done — files written, removed or refused, commands run or not and why, the
//! outcome and the exit code in words — for each way an apply ends.

mod support;

use std::path::Path;

use support::{bakgen, tmp};

const V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apply_fixtures/v1.kdl");
const V2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apply_fixtures/v2.kdl");
const BROKEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/apply_fixtures/broken.kdl"
);

/// `bakgen apply POLICY --host h1 --root ROOT --format json EXTRA…`: exit code, the one JSON
/// document on stdout, stderr.
fn apply_json(policy: &str, root: &Path, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let root = root.to_str().expect("UTF-8 path");
    let mut args = vec![
        "apply", policy, "--host", "h1", "--root", root, "--format", "json",
    ];
    args.extend_from_slice(extra);
    let o = bakgen(&args);
    let stdout = String::from_utf8(o.stdout).expect("UTF-8");
    let doc: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"));
    (
        o.status.code().unwrap_or(-1),
        doc,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

#[test]
fn a_first_apply_reports_the_plan_the_files_written_and_the_commands_not_run() {
    let dir = tmp("apply-json");
    let root = dir.path();
    let (code, doc, _) = apply_json(V1, root, &[]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["outcome"], "applied");
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["host"], "h1");
    assert_eq!(doc["plan"]["changes"], true);
    let written = strings(&doc["written"]);
    let at = |rel: &str| root.join(rel).display().to_string();
    assert!(
        written.contains(&at("etc/bakgen/jobs/etc.json")),
        "{written:?}"
    );
    assert!(
        written.contains(&at("etc/systemd/system/bakgen-home.timer")),
        "{written:?}"
    );
    assert_eq!(
        written.last(),
        Some(&at("etc/bakgen/manifest.json")),
        "manifest last"
    );
    for w in &written {
        assert!(Path::new(w).is_file(), "{w} was written");
    }
    assert_eq!(strings(&doc["removed"]), Vec::<String>::new());
    // The root is not /: nothing ran, and the report says what would have and why.
    assert_eq!(doc["commands_run"], serde_json::json!([]));
    assert_eq!(doc["commands_not_run"], doc["plan"]["commands"]);
    assert_eq!(
        doc["commands_not_run"][2],
        serde_json::json!([
            "systemctl",
            "enable",
            "--now",
            "bakgen-etc.timer",
            "bakgen-home.timer"
        ])
    );
    assert_eq!(
        doc["not_run_because"],
        "the root is not /; --systemctl runs them"
    );
    assert_eq!(
        doc["plan"]["units"]["enable"],
        serde_json::json!(["bakgen-etc.timer", "bakgen-home.timer"])
    );

    // Again: nothing to do.
    let (code, doc, _) = apply_json(V1, root, &[]);
    assert_eq!(code, 0);
    assert_eq!(doc["outcome"], "nothing-to-do");
    assert_eq!(doc["plan"]["changes"], false);
    assert_eq!(strings(&doc["written"]), Vec::<String>::new());

    // Version 2 drops `home`: its files are removed, its timer disabled (in the plan).
    let (code, doc, _) = apply_json(V2, root, &[]);
    assert_eq!(code, 0, "{doc:#}");
    let removed = strings(&doc["removed"]);
    assert!(
        removed.contains(&at("etc/systemd/system/bakgen-home.timer")),
        "{removed:?}"
    );
    assert!(!root.join("etc/systemd/system/bakgen-home.timer").exists());
    assert_eq!(
        doc["plan"]["units"]["disable"],
        serde_json::json!(["bakgen-home.timer"])
    );
    assert_eq!(
        doc["plan"]["units"]["restart"],
        serde_json::json!(["bakgen-etc.timer"])
    );
}

#[test]
fn a_refused_apply_names_the_files_and_writes_nothing() {
    let dir = tmp("apply-json-refused");
    let root = dir.path();
    assert_eq!(apply_json(V1, root, &[]).0, 0);
    let edited = root.join("etc/systemd/system/bakgen-etc.timer");
    std::fs::write(&edited, "edited by hand\n").expect("edit");
    let (code, doc, stderr) = apply_json(V2, root, &[]);
    assert_eq!(code, 4, "{doc:#}");
    assert_eq!(doc["outcome"], "refused");
    assert_eq!(doc["exit_code"], 4);
    assert!(doc["meaning"]
        .as_str()
        .expect("meaning")
        .contains("nothing was written"));
    assert_eq!(
        strings(&doc["refused"]),
        ["etc/systemd/system/bakgen-etc.timer"]
    );
    assert_eq!(strings(&doc["written"]), Vec::<String>::new());
    assert_eq!(doc["not_run_because"], "refused");
    assert!(doc["error"].as_str().expect("error").contains("--force"));
    assert!(stderr.contains("refused:"), "{stderr}");
    // Nothing changed: the edit is still there, `home` still installed.
    assert_eq!(
        std::fs::read_to_string(&edited).expect("read"),
        "edited by hand\n"
    );
    assert!(root.join("etc/systemd/system/bakgen-home.timer").exists());
}

#[test]
fn a_dry_run_reports_the_plan_and_changes_nothing() {
    let dir = tmp("apply-json-dry");
    let root = dir.path();
    let (code, doc, _) = apply_json(V1, root, &["--dry-run"]);
    assert_eq!(code, 0);
    assert_eq!(doc["outcome"], "dry-run");
    assert_eq!(doc["not_run_because"], "dry run");
    assert_eq!(doc["plan"]["changes"], true);
    assert!(!doc["plan"]["files"].as_array().expect("files").is_empty());
    assert_eq!(strings(&doc["written"]), Vec::<String>::new());
    assert!(!root.join("etc").exists(), "nothing written");
}

#[test]
fn policy_errors_are_exit_1_with_no_plan_and_the_diagnostics_on_stderr() {
    let dir = tmp("apply-json-broken");
    let (code, doc, stderr) = apply_json(BROKEN, dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(doc["outcome"], "failed");
    assert_eq!(doc["exit_code"], 1);
    assert_eq!(doc["meaning"], "policy errors: nothing was changed");
    assert!(doc["plan"].is_null());
    assert!(stderr.contains("bakgen::"), "{stderr}");
}

#[test]
fn an_unknown_host_is_exit_2_in_the_document_too() {
    let dir = tmp("apply-json-host");
    let root = dir.path().to_str().expect("UTF-8");
    let o = bakgen(&[
        "apply", V1, "--host", "nope", "--root", root, "--format", "json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(doc["outcome"], "failed");
    assert_eq!(doc["exit_code"], 2);
}
