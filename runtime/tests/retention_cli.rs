//! `bakrun retention` as a user runs it: stdin, exit codes, JSON shape, the table.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

fn bakrun(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bakrun"))
        .arg("retention")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run bakrun: {e}"));
    if let Some(mut s) = child.stdin.take() {
        // bakrun may exit on bad arguments before reading: a closed pipe is not a failure.
        if let Err(e) = s.write_all(stdin.as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
        }
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for bakrun: {e}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_out(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

#[test]
fn json_shape_newest_first_and_echoed_as_given() {
    // Unsorted, with a blank line, CRLF, surrounding spaces and mixed offsets.
    let input = "2025-01-01T10:00:00Z\n\n  2025-01-03T09:00:00+01:00 \r\n2025-01-02T10:00:00.500Z\n2025-01-03T07:00:00Z\n";
    let o = bakrun(
        &["--keep-last", "1", "--keep-daily", "2", "--format", "json"],
        input,
    );
    let v = json_out(&o);
    assert_eq!(
        v,
        json!({
            "keep": ["2025-01-03T09:00:00+01:00", "2025-01-02T10:00:00.500Z"],
            "remove": ["2025-01-03T07:00:00Z", "2025-01-01T10:00:00Z"],
            "reasons": {
                "2025-01-03T09:00:00+01:00": ["last", "daily"],
                "2025-01-02T10:00:00.500Z": ["daily"]
            }
        })
    );
    // Key order is part of the output (newest first), not just the content.
    let text = stdout(&o);
    let first = text.find("\"2025-01-03T09:00:00+01:00\":[");
    let second = text.find("\"2025-01-02T10:00:00.500Z\":[");
    assert!(first < second, "{text}");
    assert!(text.starts_with("{\"keep\":"), "{text}");
}

#[test]
fn duplicates_are_separate_snapshots_with_one_reasons_key() {
    let input = "2025-01-02T10:00:00Z\n2025-01-02T10:00:00Z\n2025-01-02T10:00:00Z\n";
    let v = json_out(&bakrun(
        &["--keep-last", "2", "--keep-daily", "1", "--format", "json"],
        input,
    ));
    assert_eq!(
        v,
        json!({
            "keep": ["2025-01-02T10:00:00Z", "2025-01-02T10:00:00Z"],
            "remove": ["2025-01-02T10:00:00Z"],
            "reasons": {"2025-01-02T10:00:00Z": ["last", "daily"]}
        })
    );
}

#[test]
fn empty_policy_and_empty_input() {
    let v = json_out(&bakrun(
        &["--format", "json"],
        "2025-01-02T10:00:00Z\n2025-01-01T10:00:00Z\n",
    ));
    assert_eq!(
        v,
        json!({
            "keep": ["2025-01-02T10:00:00Z", "2025-01-01T10:00:00Z"],
            "remove": [],
            "reasons": {"2025-01-02T10:00:00Z": [], "2025-01-01T10:00:00Z": []}
        })
    );
    let v = json_out(&bakrun(&["--keep-daily", "3", "--format", "json"], "\n\n"));
    assert_eq!(v, json!({"keep": [], "remove": [], "reasons": {}}));
}

#[test]
fn human_table() {
    let o = bakrun(
        &["--keep-within", "1D", "--keep-weekly", "2"],
        "2025-01-05T10:00:00Z\n2024-12-30T10:00:00Z\n2025-01-05T09:00:00Z\n2024-12-29T10:00:00Z\n2024-12-20T10:00:00Z\n",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "\
TIMESTAMP             ACTION  REASONS
2025-01-05T10:00:00Z  keep    within, weekly
2025-01-05T09:00:00Z  keep    within
2024-12-30T10:00:00Z  remove
2024-12-29T10:00:00Z  keep    weekly
2024-12-20T10:00:00Z  remove
3 kept, 2 removed
"
    );
}

#[test]
fn bad_lines_exit_2_with_line_numbers_and_no_stdout() {
    let input = "2025-01-01T10:00:00Z\n\nyesterday\n2025-01-01T10:00:00\n2025-02-30T10:00:00Z\n2025-01-01T10:00:00Z\n";
    for format in ["json", "human"] {
        let o = bakrun(&["--keep-last", "1", "--format", format], input);
        assert_eq!(o.status.code(), Some(2), "{format}");
        assert!(o.stdout.is_empty(), "{format}: stdout {}", stdout(&o));
        let err = stderr(&o);
        assert!(
            err.contains("line 3: `yesterday` is not an RFC 3339 timestamp"),
            "{err}"
        );
        assert!(
            err.contains(
                "line 4: `2025-01-01T10:00:00` is not an RFC 3339 timestamp: it has no UTC offset"
            ),
            "{err}"
        );
        assert!(
            err.contains("line 5: `2025-02-30T10:00:00Z` is not an RFC 3339 timestamp: input is out of range"),
            "{err}"
        );
        assert!(!err.contains("line 1"), "{err}");
        assert!(!err.contains("line 6"), "{err}");
    }
}

#[test]
fn many_bad_lines_are_counted_not_all_listed() {
    let input = "nope\n".repeat(25);
    let o = bakrun(&["--keep-last", "1"], &input);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 21, "{err}");
    assert!(err.contains("line 20:"), "{err}");
    assert!(err.contains("and 5 more bad lines"), "{err}");
}

#[test]
fn invalid_utf8_is_a_bad_line() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bakrun"))
        .args(["retention", "--keep-last", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run bakrun: {e}"));
    if let Some(mut s) = child.stdin.take() {
        s.write_all(b"2025-01-01T10:00:00Z\n\xff\xfe\n")
            .unwrap_or_else(|e| panic!("write stdin: {e}"));
    }
    let o = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("line 2: not UTF-8 text"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_arguments_exit_2() {
    let o = bakrun(&["--keep-within", "3x"], "2025-01-01T10:00:00Z\n");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("keep-within `3x` is not a duration"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
    for args in [
        &["--keep-last", "-2"][..],
        &["--keep-daily", "many"][..],
        &["--keep-weekly", "ALL"][..],
        &["--keep-within-daily", "7q"][..],
        &["--format", "xml"][..],
        &["--keep-everything"][..],
    ] {
        let o = bakrun(args, "");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn counts_take_all_and_the_oldest_is_named() {
    let input =
        "2025-03-02T10:00:00Z\n2025-03-02T09:00:00Z\n2025-03-01T10:00:00Z\n2025-03-01T09:00:00Z\n";
    // `all`, restic's `-1` and `unlimited` are one thing.
    let outputs: Vec<String> = ["all", "-1", "unlimited"]
        .iter()
        .map(|all| {
            let o = bakrun(&["--keep-daily", all, "--format", "json"], input);
            assert!(o.status.success(), "{all}: {}", stderr(&o));
            stdout(&o)
        })
        .collect();
    assert!(outputs.iter().all(|o| *o == outputs[0]), "{outputs:?}");
    let v: Value = serde_json::from_str(&outputs[0]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        v["reasons"],
        serde_json::json!({
            "2025-03-02T10:00:00Z": ["daily"],
            "2025-03-01T10:00:00Z": ["daily"],
            "2025-03-01T09:00:00Z": ["oldest daily"],
        })
    );
    assert_eq!(v["remove"], serde_json::json!(["2025-03-02T09:00:00Z"]));
    let o = bakrun(&["--keep-within-hourly", "1D", "--keep-yearly", "3"], input);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for line in [
        // Reasons in restic's order: counts before keep-within-<period>.
        "2025-03-02T10:00:00Z  keep    yearly, within-hourly",
        "2025-03-02T09:00:00Z  keep    within-hourly",
        // Exactly one day back from the newest: not within (strictly after only).
        "2025-03-01T10:00:00Z  remove",
        "2025-03-01T09:00:00Z  keep    oldest yearly",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
}
