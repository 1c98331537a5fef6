//! `bakgen check` of the `verify` setting: every refusal (and warning) at the place it is
//! written, with help; what is accepted beside each. The drill's spec, units and alerts are
//! compiler/tests/verify_policy.rs.

mod support;

use serde_json::Value;
use support::{bakgen, tmp};

fn write(dir: &std::path::Path, text: &str) -> String {
    let file = dir.join("p.kdl");
    std::fs::write(&file, text).expect("write policy");
    file.to_string_lossy().into_owned()
}

fn build(text: &str) {
    let dir = tmp("verify-long");
    let policy = write(dir.path(), text);
    let out = dir.path().join("out");
    let o = bakgen(&["build", &policy, "--out", out.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `bakgen check --format json` of `text`: each diagnostic.
fn diagnostics(text: &str) -> Vec<Value> {
    let dir = tmp("verify-check");
    let policy = write(dir.path(), text);
    let o = bakgen(&["check", &policy, "--format", "json"]);
    serde_json::from_slice::<Vec<Value>>(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON: {e}\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// One-based line and column of the `nth` occurrence of `needle` in `text`.
fn place(text: &str, needle: &str, nth: usize) -> (u64, u64) {
    let at = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle} #{nth} in the policy"))
        .0;
    let before = &text[..at];
    let line = before.matches('\n').count() as u64 + 1;
    let column = before[before.rfind('\n').map_or(0, |n| n + 1)..]
        .chars()
        .count() as u64
        + 1;
    (line, column)
}

/// Asserts one diagnostic of `code` and `severity` starts at the `nth` `needle`, with help.
fn reported(text: &str, code: &str, severity: &str, needle: &str, nth: usize) -> Value {
    let all = diagnostics(text);
    let (line, column) = place(text, needle, nth);
    let found: Vec<&Value> = all
        .iter()
        .filter(|d| d["code"] == code && d["line"] == line && d["column"] == column)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{code} at {line}:{column} ({needle}):\n{all:#?}"
    );
    let d = found[0].clone();
    assert_eq!(d["severity"], severity, "{d:#?}");
    assert!(d["help"].as_str().is_some_and(|h| !h.is_empty()), "{d:#?}");
    d
}

/// A policy whose job `j` has `settings` (its dumps, its sources) and `verify`.
fn with_verify(settings: &str, verify: &str) -> String {
    format!(
        "destination \"usb\" {{ path \"/mnt/usb\"; }}\nhost \"h\" {{\n    job \"j\" {{\n        {settings}\n        to \"usb\"; schedule \"daily\"; retention keep-daily=7\n        verify {{\n            {verify}\n        }}\n    }}\n}}\n"
    )
}

#[test]
fn a_critical_path_outside_the_sources_is_refused_at_the_path() {
    let text = with_verify(
        "source \"/etc\" \"/srv\"",
        "critical \"/etc/ssh\" \"/etcetera\" \"/var/lib\"",
    );
    let d = reported(
        &text,
        "bakgen::verify-critical-outside-sources",
        "error",
        "\"/etcetera\"",
        0,
    );
    assert!(d["help"].as_str().unwrap().contains("/etc, /srv"), "{d:#?}");
    reported(
        &text,
        "bakgen::verify-critical-outside-sources",
        "error",
        "\"/var/lib\"",
        0,
    );
    assert!(
        !diagnostics(&text)
            .iter()
            .any(|d| d["line"] == place(&text, "\"/etc/ssh\"", 0).0
                && d["column"] == place(&text, "\"/etc/ssh\"", 0).1),
        "/etc/ssh is under /etc"
    );
    // Only dumps: no file is backed up, so no critical path can be.
    let dumps = with_verify("postgres \"shop\"", "critical \"/etc\"");
    let d = reported(
        &dumps,
        "bakgen::verify-critical-outside-sources",
        "error",
        "\"/etc\"",
        0,
    );
    assert!(d["help"].as_str().unwrap().contains("only dumps"), "{d:#?}");
    // A relative one is refused where it is written.
    reported(
        &with_verify("source \"/etc\"", "critical \"etc/ssh\""),
        "bakgen::relative-path",
        "error",
        "\"etc/ssh\"",
        0,
    );
}

#[test]
fn a_query_must_name_a_dumped_database_of_an_engine_the_job_dumps() {
    // A database the job does not dump, with the nearest name suggested.
    let text = with_verify(
        "postgres \"shop\" \"billing\"",
        "query \"SELECT 1\" database=\"shopp\"",
    );
    let d = reported(
        &text,
        "bakgen::verify-unknown-database",
        "error",
        "\"shopp\"",
        0,
    );
    assert!(d["help"].as_str().unwrap().contains("shop"), "{d:#?}");
    // A dump of every database holds any name.
    assert!(diagnostics(&with_verify(
        "postgres",
        "query \"SELECT 1\" database=\"x\""
    ))
    .is_empty());
    // Both engines and no engine=.
    let both = with_verify(
        "postgres \"shop\"; mysql \"shop\"",
        "query \"SELECT 1\" database=\"shop\"",
    );
    reported(
        &both,
        "bakgen::verify-ambiguous-engine",
        "error",
        "query",
        0,
    );
    assert!(
        diagnostics(&both.replace("database=\"shop\"", "database=\"shop\" engine=\"mysql\""))
            .is_empty()
    );
    // No dump at all, or none of the engine named.
    let none = with_verify("source \"/etc\"", "query \"SELECT 1\" database=\"shop\"");
    reported(
        &none,
        "bakgen::verify-query-without-dump",
        "error",
        "query",
        0,
    );
    let other = with_verify(
        "postgres \"shop\"",
        "query \"SELECT 1\" database=\"shop\" engine=\"mysql\"",
    );
    reported(
        &other,
        "bakgen::verify-query-without-dump",
        "error",
        "\"mysql\"",
        0,
    );
    // An unknown engine and a missing database= are refused at decode.
    let typo = with_verify(
        "postgres \"shop\"",
        "query \"SELECT 1\" database=\"shop\" engine=\"postgre\"",
    );
    let d = reported(&typo, "bakgen::invalid-value", "error", "\"postgre\"", 0);
    assert!(d["help"].as_str().unwrap().contains("postgres"), "{d:#?}");
    reported(
        &with_verify("postgres \"shop\"", "query \"SELECT 1\""),
        "bakgen::missing-value",
        "error",
        "query",
        0,
    );
}

#[test]
fn a_drill_that_checks_nothing_and_bad_sizes_are_refused() {
    let nothing = with_verify("source \"/etc\"", "sample files=0");
    reported(
        &nothing,
        "bakgen::verify-nothing-to-check",
        "error",
        "sample",
        0,
    );
    // A critical path, a dump or a share is something to check.
    assert!(diagnostics(&with_verify(
        "source \"/etc\"",
        "sample files=0; critical \"/etc/ssh\""
    ))
    .is_empty());
    assert!(diagnostics(&with_verify("source \"/etc\"; postgres", "sample files=0")).is_empty());
    assert!(diagnostics(&with_verify(
        "source \"/etc\"",
        "sample files=0 percent=\"0.1%\""
    ))
    .is_empty());
    for bad in [
        "\"0%\"",
        "\"101%\"",
        "\"1\"",
        "\"0.05%\"",
        "\"-1%\"",
        "\"1.5.0%\"",
    ] {
        let text = with_verify("source \"/etc\"", &format!("sample percent={bad}"));
        reported(&text, "bakgen::invalid-value", "error", bad, 0);
        // Said once: no second error about the sample checking nothing.
        assert_eq!(
            diagnostics(&text).len(),
            1,
            "{bad}: {:#?}",
            diagnostics(&text)
        );
    }
    reported(
        &with_verify("source \"/etc\"", "sample"),
        "bakgen::missing-value",
        "error",
        "sample",
        0,
    );
    reported(
        &with_verify("source \"/etc\"", "sample files=-1"),
        "bakgen::out-of-range",
        "error",
        "-1",
        0,
    );
}

#[test]
fn count_needs_files_and_a_percentage_and_is_something_to_check() {
    // A count is a check of its own: no sample needed.
    assert!(diagnostics(&with_verify("source \"/etc\"", "sample files=0; count")).is_empty());
    assert!(diagnostics(&with_verify("source \"/etc\"", "count tolerance=\"0%\"")).is_empty());
    assert!(diagnostics(&with_verify("source \"/etc\"", "count tolerance=\"100%\"")).is_empty());
    // A job of dumps alone has no files to count.
    let d = reported(
        &with_verify("postgres \"shop\"", "count"),
        "bakgen::verify-count-without-sources",
        "error",
        "count",
        0,
    );
    assert!(
        d["help"].as_str().unwrap().contains("remove count"),
        "{d:#?}"
    );
    for bad in ["\"101%\"", "\"5\"", "\"-1%\"", "\"0.05%\"", "\"12.34%\""] {
        let text = with_verify("source \"/etc\"", &format!("count tolerance={bad}"));
        let d = reported(&text, "bakgen::invalid-value", "error", bad, 0);
        assert!(
            d["message"].as_str().unwrap().contains("tolerance"),
            "{d:#?}"
        );
        assert_eq!(diagnostics(&text).len(), 1, "{bad}");
    }
    reported(
        &with_verify("source \"/etc\"", "count tolerance=5"),
        "bakgen::wrong-type",
        "error",
        "5",
        0,
    );
    reported(
        &with_verify("source \"/etc\"", "count \"5%\""),
        "bakgen::extra-argument",
        "error",
        "\"5%\"",
        0,
    );
}

#[test]
fn within_is_checked_against_the_drills_schedule() {
    // Weekly drills called overdue after 3 days: a warning at `within`'s value.
    let short = with_verify("source \"/etc\"", "schedule \"Sun 05:00\"; within \"3D\"");
    let d = reported(
        &short,
        "bakgen::verify-within-short",
        "warning",
        "\"3D\"",
        0,
    );
    assert!(d["message"].as_str().unwrap().contains("7D1h"), "{d:#?}");
    assert!(diagnostics(&with_verify("source \"/etc\"", "within \"8D\"")).is_empty());
    // A schedule that fires once: `within` cannot be derived, so it is required.
    let once = with_verify("source \"/etc\"", "schedule \"2030-01-01 00:00\"");
    reported(
        &once,
        "bakgen::missing-value",
        "error",
        "\"2030-01-01 00:00\"",
        0,
    );
    assert!(
        diagnostics(&once.replace("schedule \"2030", "within \"30D\"; schedule \"2030")).is_empty()
    );
    // An invalid schedule is the schedule's error, once.
    let bad = with_verify("source \"/etc\"", "schedule \"Sun 25:00\"");
    let all = diagnostics(&bad);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["code"], "bakgen::invalid-schedule");
}

#[test]
fn verify_nodes_and_names_are_checked() {
    // A misspelt node inside verify, with the nearest name.
    let typo = with_verify("source \"/etc\"", "critcal \"/etc\"");
    let d = reported(&typo, "bakgen::unknown-node", "error", "critcal", 0);
    assert!(d["help"].as_str().unwrap().contains("critical"), "{d:#?}");
    // One of each but critical and query.
    let twice = with_verify("source \"/etc\"", "within \"8D\"; within \"9D\"");
    reported(&twice, "bakgen::duplicate-setting", "error", "within", 1);
    assert!(diagnostics(&with_verify(
        "source \"/etc\" \"/srv\"",
        "critical \"/etc\"; critical \"/srv\""
    ))
    .is_empty());
    // A job named verify-<job> would share the drill's units.
    let clash = "destination \"usb\" { path \"/mnt/usb\"; }\nhost \"h\" {\n    job \"etc\" { source \"/etc\"; to \"usb\"; schedule \"daily\"; retention keep-daily=7; verify { }; }\n    job \"verify-etc\" { source \"/srv\"; to \"usb\"; schedule \"03:00\"; retention keep-daily=7; }\n}\n";
    reported(
        clash,
        "bakgen::duplicate-name",
        "error",
        "\"verify-etc\"",
        0,
    );
    // Without a drill on `etc`, the name is free.
    assert!(diagnostics(&clash.replace(" verify { };", "")).is_empty());
}

#[test]
fn an_inherited_verify_is_judged_for_each_job_at_the_place_it_is_written() {
    let text = "destination \"usb\" { path \"/mnt/usb\"; }\ndefaults { verify { critical \"/etc/ssh\"; }; }\nhost \"h\" {\n    job \"a\" { source \"/etc\"; to \"usb\"; schedule \"daily\"; retention keep-daily=7; }\n    job \"b\" { source \"/srv\"; to \"usb\"; schedule \"daily\"; retention keep-daily=7; }\n}\n";
    let d = reported(
        text,
        "bakgen::verify-critical-outside-sources",
        "error",
        "\"/etc/ssh\"",
        0,
    );
    assert!(d["message"].as_str().unwrap().contains("job `b`"), "{d:#?}");
}

#[test]
fn a_drill_makes_a_long_job_name_too_long_for_its_unit_file() {
    let policy = |n: usize, verify: &str| {
        format!(
            "destination \"usb\" {{ path \"/mnt/usb\"; }}\nhost \"h\" {{\n    job \"{}\" {{ source \"/etc\"; to \"usb\"; schedule \"daily\"; retention keep-daily=7; {verify} }}\n}}\n",
            "j".repeat(n)
        )
    };
    // bakgen-<job>.service and bakgen-verify-<job>.service, each written through a
    // temporary name 20 bytes longer, within 255 bytes: 220 and 213.
    assert!(diagnostics(&policy(220, "")).is_empty());
    let d = reported(&policy(221, ""), "bakgen::too-long", "error", "\"jjj", 0);
    assert!(
        d["message"].as_str().unwrap().contains("temporary name"),
        "{d:#?}"
    );
    assert!(diagnostics(&policy(213, "verify { }")).is_empty());
    let d = reported(
        &policy(214, "verify { }"),
        "bakgen::too-long",
        "error",
        "\"jjj",
        0,
    );
    assert!(
        d["message"].as_str().unwrap().contains("bakgen-verify-"),
        "{d:#?}"
    );
    // What check accepts, build writes.
    build(&policy(213, "verify { }"));
    build(&policy(220, ""));
}
