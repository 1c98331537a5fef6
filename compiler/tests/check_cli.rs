//! `bakgen check` as a user runs it: exit codes, output formats, bad input.

mod support;

use std::path::Path;
use std::process::Output;

use support::{bakgen, tmp};

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited, not killed by a signal")
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
    let dir = dir.path().to_owned();
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
    let dir = dir.path().to_owned();
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
    let dir = dir.path().to_owned();
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

/// Runs `bakgen check` (and the other commands that read a policy) on `text`, asserting the
/// run ends as a policy error (exit 1), never a crash (134) or a panic (101).
fn hostile(name: &str, text: &str) -> (String, serde_json::Value) {
    let dir = tmp(name);
    let dir = dir.path().to_owned();
    let file = dir.join("hostile.kdl");
    std::fs::write(&file, text).expect("write");
    let path = file.to_str().expect("utf-8");
    let out = dir.join("out");
    let out = out.to_str().expect("utf-8");
    for args in [
        vec!["build", path, "--out", out],
        vec!["schedule", path],
        vec!["check", path],
    ] {
        let o = bakgen(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(code(&o), 1, "bakgen {args:?}:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let o = bakgen(&["check", path]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let o = bakgen(&["check", path, "--format", "json"]);
    assert_eq!(code(&o), 1);
    let json = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    (err, json)
}

fn codes(json: &serde_json::Value) -> Vec<&str> {
    json.as_array()
        .expect("an array")
        .iter()
        .map(|d| d["code"].as_str().expect("a code"))
        .collect()
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    // 1,300 levels overflowed the parser's stack (SIGABRT).
    let (err, json) = hostile("deep", &"a {".repeat(1300));
    assert!(err.contains("bakgen::too-deep"), "{err}");
    assert!(err.contains("blocks nest more than 64 deep"), "{err}");
    assert_eq!(codes(&json), ["bakgen::too-deep"]);
    assert_eq!(json[0]["column"], 195, "the 65th `{{`");
    // So is a run of stray `}` or `=`, on which the parser recursed once each.
    for run in ["}", "=", "/-"] {
        let (err, json) = hostile("runs", &format!("a 1\n{}", run.repeat(30_000)));
        let codes = codes(&json);
        assert!(codes.iter().all(|c| *c == "bakgen::kdl-syntax"), "{err}");
        assert!(
            (1..=21).contains(&codes.len()),
            "{run}: {} errors",
            codes.len()
        );
        assert_eq!(json[0]["line"], 2, "{run}");
    }
}

#[test]
fn a_diagnostic_past_column_65535_names_its_place() {
    // miette panicked ("Formatting argument out of range") drawing a label this far right.
    let text = format!(
        "host \"h\" {{ job \"j\" {{{}bogus 1; }} }}\n",
        " ".repeat(70_000)
    );
    let (err, json) = hostile("column", &text);
    assert!(err.contains("unknown setting `bogus`"), "{err}");
    assert!(
        err.contains("hostile.kdl:1:70021; the line is too long to show"),
        "{err}"
    );
    assert!(
        err.len() < 4_000,
        "no 70,000-column snippet: {} bytes",
        err.len()
    );
    let unknown = json
        .as_array()
        .expect("array")
        .iter()
        .find(|d| d["code"] == "bakgen::unknown-node")
        .expect("the unknown setting is reported");
    assert_eq!(unknown["column"], 70_021);
}

#[test]
fn unclosed_blocks_are_reported_once() {
    // 3 kB of unclosed blocks printed 17.6 MB: every block twice, each with the rest of the
    // file as its label.
    let mut text = String::new();
    for i in 0..60 {
        text.push_str(&format!("host \"h{i}\" {{ source \"/srv/{i}\"\n"));
    }
    assert!(text.len() > 1_500);
    let (err, json) = hostile("unclosed", &text);
    assert_eq!(codes(&json), ["bakgen::kdl-syntax"], "{err}");
    assert_eq!(json[0]["line"], 1);
    let help = json[0]["help"].as_str().expect("help");
    assert!(
        help.contains("59 blocks opened inside it are not closed either"),
        "{help}"
    );
    assert!(err.len() < 3_000, "{} bytes of diagnostics", err.len());
    // Deeper than the limit, the same file is one too-deep error.
    let (err, json) = hostile("unclosed-deep", &"a {\n".repeat(750));
    assert_eq!(codes(&json), ["bakgen::too-deep"], "{err}");
    assert!(err.len() < 3_000, "{} bytes of diagnostics", err.len());
}
