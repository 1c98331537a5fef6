//! `bakgen check` as a user runs it: exit codes, output formats, bad input.

use std::path::Path;
use std::process::{Command, Output};

fn bakgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bakgen"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("bakgen runs")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited, not killed by a signal")
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bakgen-check-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn bundled_policies_check_clean() {
    let o = bakgen(&["check", "../policies", "--deny-warnings"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), 0, "{err}");
    assert!(err.starts_with("ok: "), "{err}");
    // Each example file on its own must need nothing from the others but defaults.
    let o = bakgen(&["check", "../policies", "--format", "json"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
}

#[test]
fn reference_examples_check_clean() {
    let text = std::fs::read_to_string("../docs/policy.md").expect("docs/policy.md");
    let blocks: Vec<&str> = text
        .split("```kdl\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap_or(""))
        .collect();
    assert!(blocks.len() >= 6, "the reference has its examples");
    let dir = tmp("docs");
    for (i, block) in blocks.iter().enumerate() {
        let file = dir.join(format!("example-{i}.kdl"));
        std::fs::write(&file, block).expect("write example");
        let o = bakgen(&["check", file.to_str().expect("utf-8"), "--deny-warnings"]);
        assert_eq!(
            code(&o),
            0,
            "example {i} of docs/policy.md:\n{block}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn policy_errors_exit_1_with_file_line_and_column() {
    let o = bakgen(&["check", "tests/fixtures/invalid/24-many-errors.kdl"]);
    assert_eq!(code(&o), 1);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("tests/fixtures/invalid/24-many-errors.kdl:4:"),
        "{err}"
    );
    assert!(err.contains("failed: "), "{err}");
}

#[test]
fn json_output_has_the_documented_fields() {
    let o = bakgen(&[
        "check",
        "tests/fixtures/invalid/24-many-errors.kdl",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    let items = v.as_array().expect("an array");
    assert!(items.len() >= 5);
    for item in items {
        for key in [
            "severity",
            "code",
            "message",
            "file",
            "line",
            "column",
            "end_line",
            "end_column",
            "help",
            "labels",
        ] {
            assert!(item.get(key).is_some(), "missing {key} in {item}");
        }
        assert!(item["line"].as_u64().expect("a number") >= 1);
        assert!(item["code"]
            .as_str()
            .expect("a string")
            .starts_with("bakgen::"));
    }
}

#[test]
fn warnings_pass_unless_denied() {
    let f = "tests/fixtures/invalid/57-warning-hourly-retention.kdl";
    assert!(Path::new(f).exists());
    assert_eq!(code(&bakgen(&["check", f])), 0);
    assert_eq!(code(&bakgen(&["check", f, "--deny-warnings"])), 1);
}

#[test]
fn bad_input_is_a_usage_error_not_a_panic() {
    let dir = tmp("bad");
    // A missing file.
    let o = bakgen(&["check", dir.join("missing.kdl").to_str().expect("utf-8")]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read"));
    // A folder with no policy in it.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    std::fs::write(empty.join("notes.txt"), "x").expect("write");
    let o = bakgen(&["check", empty.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds no .kdl file"));
    // Not UTF-8.
    let latin1 = dir.join("latin1.kdl");
    std::fs::write(&latin1, b"host \"caf\xe9\"\n").expect("write");
    let o = bakgen(&["check", latin1.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not UTF-8"));
    // 50 MB: refused before it is read.
    let big = dir.join("big.kdl");
    std::fs::File::create(&big)
        .expect("create")
        .set_len(50 * 1024 * 1024)
        .expect("set_len");
    let o = bakgen(&["check", big.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("bakgen::too-large"));
    // No path at all, or an unknown flag.
    assert_eq!(code(&bakgen(&["check"])), 2);
    assert_eq!(code(&bakgen(&["check", "--frobnicate", "x.kdl"])), 2);
    assert!(!String::from_utf8_lossy(&bakgen(&["check"]).stderr).contains("panicked"));
}

#[test]
fn names_are_unique_across_the_files_of_a_folder() {
    let dir = tmp("folder");
    std::fs::write(
        dir.join("a.kdl"),
        "destination \"usb\" { path \"/mnt/a\"; }\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("b.kdl"),
        "destination \"usb\" { path \"/mnt/b\"; }\n",
    )
    .expect("write");
    let o = bakgen(&["check", dir.to_str().expect("utf-8"), "--format", "json"]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let dup = v
        .as_array()
        .expect("array")
        .iter()
        .find(|d| d["code"] == "bakgen::duplicate-name")
        .expect("a duplicate-name error");
    assert!(dup["file"].as_str().expect("file").ends_with("b.kdl"));
    let labels = dup["labels"].as_array().expect("labels");
    assert!(labels
        .iter()
        .any(|l| l["file"].as_str().is_some_and(|f| f.ends_with("a.kdl"))));
}
