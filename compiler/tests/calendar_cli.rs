//! `bakgen calendar`: output formats, exit codes and diagnostics.

use std::process::{Command, Output};

fn bakgen(args: &[&str], tz: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bakgen"))
        .arg("calendar")
        .args(args)
        .env("TZ", tz)
        .env_remove("NO_COLOR")
        .output()
        .expect("bakgen runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({snapshot_path => "fixtures/calendar/snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

const FROM: &str = "2026-03-28T12:00:00Z";

#[test]
fn human_output_follows_systemd_analyze() {
    let o = bakgen(&["Mon..Fri 02:30", "--from", FROM, "--count", "3"], "UTC");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "  Original form: Mon..Fri 02:30\n\
         Normalized form: Mon..Fri *-*-* 02:30:00\n    \
         Next elapse: Mon 2026-03-30 02:30:00 UTC\n       \
         Iter. #2: Tue 2026-03-31 02:30:00 UTC\n       \
         Iter. #3: Wed 2026-04-01 02:30:00 UTC\n"
    );
}

#[test]
fn human_output_shows_the_zone_and_utc() {
    let o = bakgen(&["*-*-* 02:30 Europe/Berlin", "--from", FROM], "UTC");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "  Original form: *-*-* 02:30 Europe/Berlin\n\
         Normalized form: *-*-* 02:30:00 Europe/Berlin\n    \
         Next elapse: Mon 2026-03-30 02:30:00 CEST\n       \
         (in UTC): Mon 2026-03-30 00:30:00 UTC\n"
    );
    let never = bakgen(&["2026-02-29", "--from", FROM], "UTC");
    assert_eq!(stdout(&never), "  Original form: 2026-02-29\nNormalized form: 2026-02-29 00:00:00\n    Next elapse: never\n");
}

#[test]
fn json_has_expression_normalized_and_utc_elapses() {
    let o = bakgen(
        &["*:0/15", "--from", FROM, "--count", "3", "--format", "json"],
        "UTC",
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        json(&o),
        serde_json::json!({
            "expression": "*:0/15",
            "normalized": "*-*-* *:00/15:00",
            "next": ["2026-03-28T12:15:00Z", "2026-03-28T12:30:00Z", "2026-03-28T12:45:00Z"]
        })
    );
}

#[test]
fn json_next_is_empty_when_it_never_elapses() {
    let o = bakgen(&["2026-02-29", "--format", "json", "--count", "5"], "UTC");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o)["next"], serde_json::json!([]));
    assert_eq!(json(&o)["normalized"], "2026-02-29 00:00:00");
}

#[test]
fn json_cuts_fractional_seconds() {
    let o = bakgen(&["*:*:30.75", "--from", FROM, "--format", "json"], "UTC");
    assert_eq!(json(&o)["normalized"], "*-*-* *:*:30.750000");
    assert_eq!(
        json(&o)["next"],
        serde_json::json!(["2026-03-28T12:00:30Z"])
    );
}

#[test]
fn local_zone_comes_from_tz() {
    // glibc also takes a path into the zoneinfo folder; empty or unknown means UTC.
    for tz in ["", "Mars/Olympus"] {
        let o = bakgen(&["daily", "--from", FROM, "--format", "json"], tz);
        assert_eq!(
            json(&o)["next"],
            serde_json::json!(["2026-03-29T00:00:00Z"]),
            "TZ={tz:?}"
        );
    }
    for tz in [
        "Europe/Berlin",
        ":Europe/Berlin",
        ":/usr/share/zoneinfo/Europe/Berlin",
    ] {
        let o = bakgen(&["daily", "--from", FROM, "--format", "json"], tz);
        assert_eq!(
            json(&o)["next"],
            serde_json::json!(["2026-03-28T23:00:00Z"]),
            "TZ={tz}"
        );
    }
    let o = bakgen(
        &["daily", "--from", FROM, "--format", "json"],
        "America/New_York",
    );
    assert_eq!(
        json(&o)["next"],
        serde_json::json!(["2026-03-29T04:00:00Z"])
    );
    // The local zone's abbreviations force standard or daylight-saving time, as in
    // systemd: in summer `CEST` elapses and `CET` never does.
    let o = bakgen(
        &[
            "daily CEST",
            "--from",
            "2026-07-01T12:00:00Z",
            "--format",
            "json",
        ],
        "Europe/Berlin",
    );
    assert_eq!(json(&o)["normalized"], "*-*-* 00:00:00 CEST");
    assert_eq!(
        json(&o)["next"],
        serde_json::json!(["2026-07-01T22:00:00Z"])
    );
    let o = bakgen(
        &[
            "daily CET",
            "--from",
            "2026-07-01T12:00:00Z",
            "--format",
            "json",
        ],
        "Europe/Berlin",
    );
    assert_eq!(json(&o)["next"], serde_json::json!([]));
}

#[test]
fn invalid_month_is_exit_1_with_a_diagnostic() {
    let o = bakgen(&["*-13-01"], "UTC");
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).is_empty());
    assert!(stderr(&o).contains("month 13 is outside 1..12"));
    snapshot!("invalid_month", stderr(&o));
}

#[test]
fn wrapping_weekday_range_is_exit_1_with_a_diagnostic() {
    let o = bakgen(&["Sun..Sat 12:00"], "UTC");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("`Sun..Sat`: a weekday range cannot wrap"));
    snapshot!("weekday_range_wraps", stderr(&o));
}

#[test]
fn other_diagnostics_point_at_the_bad_part() {
    for (name, expr) in [
        ("star_slash", "*:*/15"),
        ("unknown_zone", "daily Mars/Olympus"),
        ("not_a_weekday", "Mond 12:00"),
        ("missing_minute", "12"),
        ("repeat_never_fires", "*:30/30"),
        ("reversed_range", "*-*-20..10"),
        ("empty", ""),
        ("unknown_word", "fortnightly"),
        ("shorthand_not_alone", "daily 12:00"),
        ("tilde_list_narrows", "*-*~1,26"),
    ] {
        let o = bakgen(&[expr], "UTC");
        assert_eq!(o.status.code(), Some(1), "{expr:?}");
        snapshot!(name, stderr(&o));
    }
}

#[test]
fn usage_errors_are_exit_2() {
    for args in [
        &[][..],
        &["daily", "--from", "yesterday"][..],
        &["daily", "--format", "xml"][..],
        &["daily", "--count", "-1"][..],
        &["daily", "--bogus"][..],
    ] {
        let o = bakgen(args, "UTC");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn count_zero_prints_only_the_forms() {
    let o = bakgen(&["hourly", "--count", "0", "--format", "json"], "UTC");
    assert_eq!(json(&o)["next"], serde_json::json!([]));
    let o = bakgen(&["hourly", "--count", "0"], "UTC");
    assert_eq!(
        stdout(&o),
        "  Original form: hourly\nNormalized form: *-*-* *:00:00\n"
    );
}
