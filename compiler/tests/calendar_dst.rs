//! Skipped and repeated local hours: bakgen against systemd-analyze around the 2026
//! daylight-saving changes of Europe/Berlin and America/New_York, plus known values.

mod calendar_support;

use bakgen::schedule::CalendarSpec;
use calendar_support::{compare, fixture, systemd_analyze_available};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Base times before, inside and after each change (UTC).
fn bases(zone: &str) -> Vec<DateTime<Utc>> {
    match zone {
        // Spring forward 2026-03-29 01:00Z (02:00 CET → 03:00 CEST);
        // fall back 2026-10-25 01:00Z (03:00 CEST → 02:00 CET).
        "Europe/Berlin" => vec![
            at(2026, 3, 28, 22, 0),
            at(2026, 3, 29, 0, 59),
            at(2026, 10, 24, 22, 0),
            at(2026, 10, 25, 0, 45),
            at(2026, 10, 25, 1, 15),
        ],
        // Spring forward 2026-03-08 07:00Z (02:00 EST → 03:00 EDT);
        // fall back 2026-11-01 06:00Z (02:00 EDT → 01:00 EST).
        "America/New_York" => vec![
            at(2026, 3, 8, 4, 0),
            at(2026, 3, 8, 6, 59),
            at(2026, 11, 1, 3, 0),
            at(2026, 11, 1, 5, 45),
            at(2026, 11, 1, 6, 15),
        ],
        _ => unreachable!(),
    }
}

#[test]
fn daylight_saving_changes_agree_with_systemd() {
    assert!(
        systemd_analyze_available(),
        "systemd-analyze is needed (package `systemd`)"
    );
    let exprs = fixture("dst.txt");
    let mut failures = 0;
    for zone in ["Europe/Berlin", "America/New_York"] {
        let in_zone: Vec<String> = exprs.iter().map(|e| format!("{e} {zone}")).collect();
        for base in bases(zone) {
            failures += compare(&format!("{zone} as local zone"), &exprs, &base, 10, zone);
            failures += compare(
                &format!("{zone} in the expression"),
                &in_zone,
                &base,
                10,
                "UTC",
            );
        }
    }
    assert_eq!(failures, 0);
}

fn next(expr: &str, from: DateTime<Utc>, local: Tz, n: usize) -> Vec<String> {
    let spec = CalendarSpec::parse_in(expr, local).unwrap();
    spec.elapses(&from, local)
        .take(n)
        .map(|t| t.to_rfc3339())
        .collect()
}

#[test]
fn a_skipped_time_is_skipped_that_day() {
    // 02:30 does not exist in Berlin on 2026-03-29: systemd does not run at 03:30 instead.
    assert_eq!(
        next(
            "*-*-* 02:30",
            at(2026, 3, 28, 12, 0),
            chrono_tz::Europe::Berlin,
            2
        ),
        ["2026-03-30T00:30:00+00:00", "2026-03-31T00:30:00+00:00"]
    );
    assert_eq!(
        next(
            "*-*-* 02:30 America/New_York",
            at(2026, 3, 7, 12, 0),
            Tz::UTC,
            2
        ),
        ["2026-03-09T06:30:00+00:00", "2026-03-10T06:30:00+00:00"]
    );
    // A date that only names the skipped time never elapses.
    assert_eq!(
        next(
            "2026-03-29 02:30 Europe/Berlin",
            at(2026, 1, 1, 0, 0),
            Tz::UTC,
            1
        ),
        Vec::<String>::new()
    );
}

#[test]
fn a_repeated_hour_runs_once() {
    // Berlin falls back at 01:00Z: the second 02:00–02:59 (CET) is not matched again.
    assert_eq!(
        next(
            "*:0/20",
            at(2026, 10, 25, 0, 0),
            chrono_tz::Europe::Berlin,
            4
        ),
        [
            "2026-10-25T00:20:00+00:00",
            "2026-10-25T00:40:00+00:00",
            "2026-10-25T02:00:00+00:00",
            "2026-10-25T02:20:00+00:00",
        ]
    );
    // New York: 01:30 happens at 05:30Z (EDT); not again at 06:30Z (EST).
    assert_eq!(
        next(
            "*-*-* 01:30 America/New_York",
            at(2026, 11, 1, 0, 0),
            Tz::UTC,
            2
        ),
        ["2026-11-01T05:30:00+00:00", "2026-11-02T06:30:00+00:00"]
    );
}

#[test]
fn the_expression_zone_wins_over_the_local_one() {
    let spec = CalendarSpec::parse("daily Europe/Berlin").unwrap();
    assert_eq!(spec.timezone(), Some("Europe/Berlin"));
    assert_eq!(
        spec.next_elapse(&at(2026, 7, 1, 12, 0), chrono_tz::America::New_York)
            .map(|t| t.to_rfc3339()),
        Some("2026-07-01T22:00:00+00:00".to_string())
    );
    let utc = CalendarSpec::parse("daily utc").unwrap();
    assert_eq!(utc.timezone(), Some("UTC"));
    assert_eq!(CalendarSpec::parse("daily").unwrap().timezone(), None);
}

#[test]
fn equal_meaning_compares_equal() {
    let a = CalendarSpec::parse("Mon..Fri 02:30").unwrap();
    let b = CalendarSpec::parse("mon-fri *-*-* 2:30:00").unwrap();
    assert_eq!(a, b);
    assert_eq!(a.to_string(), "Mon..Fri *-*-* 02:30:00");
    assert_ne!(a, CalendarSpec::parse("Mon..Fri 02:31").unwrap());
}

#[test]
fn rules_after_2099_agree_with_systemd() {
    assert!(
        systemd_analyze_available(),
        "systemd-analyze is needed (package `systemd`)"
    );
    // chrono-tz tabulates transitions only until 2099; systemd (glibc) follows the rules on.
    let exprs: Vec<String> = [
        "2150-03-25..31 *:30 Europe/Berlin",
        "2150-10-25..31 01..03:00/20 Europe/Berlin",
        "2100-03-28 02:30 Europe/Berlin",
        "2199-11-01..07 00..02:30 America/New_York",
        "2123-03-08..14 02:30 America/New_York",
        "2188-04-01..07 01..03:00 Australia/Sydney",
        "2188-10-01..07 01..03:00 Australia/Sydney",
        "2160-07-01 12:00 Europe/London",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let local: Vec<String> = [
        "2150-03-25..31 *:30",
        "2150-10-25..31 01..03:00/20",
        "2197-*-* 02:30",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let base = at(2026, 3, 28, 12, 0);
    let mut failures = compare("after 2099", &exprs, &base, 10, "UTC");
    failures += compare(
        "after 2099, Berlin local",
        &local,
        &base,
        10,
        "Europe/Berlin",
    );
    assert_eq!(failures, 0);
}

/// The 2026 offset changes of `zone`, found by scanning hour by hour.
fn transitions(zone: Tz) -> Vec<DateTime<Utc>> {
    use chrono::Offset;
    let mut out = Vec::new();
    let mut t = at(2026, 1, 1, 0, 0);
    let offset = |t: DateTime<Utc>| t.with_timezone(&zone).offset().fix();
    let mut last = offset(t);
    while t < at(2027, 1, 1, 0, 0) {
        let next = t + chrono::TimeDelta::minutes(30);
        if offset(next) != last {
            out.push(next);
            last = offset(next);
        }
        t = next;
    }
    out
}

/// Around every 2026 change of zones with unusual rules: half-hour daylight saving
/// (Lord Howe), negative daylight saving (Dublin, Casablanca), southern hemisphere.
/// `cargo test -p bakgen --test calendar_dst -- --ignored`
#[test]
#[ignore = "takes about a minute"]
fn unusual_zones_agree_with_systemd() {
    assert!(
        systemd_analyze_available(),
        "systemd-analyze is needed (package `systemd`)"
    );
    let exprs = fixture("dst.txt");
    let mut failures = 0;
    for zone in [
        "Australia/Lord_Howe",
        "Europe/Dublin",
        "Africa/Casablanca",
        "America/Santiago",
        "Pacific/Chatham",
        "America/Havana",
    ] {
        let tz: Tz = zone.parse().unwrap();
        let in_zone: Vec<String> = exprs.iter().map(|e| format!("{e} {zone}")).collect();
        for change in transitions(tz) {
            for delta in [-90, -1, 20] {
                let base = change + chrono::TimeDelta::minutes(delta);
                failures += compare(&format!("{zone} local"), &exprs, &base, 10, zone);
                failures += compare(
                    &format!("{zone} in the expression"),
                    &in_zone,
                    &base,
                    10,
                    "UTC",
                );
            }
        }
    }
    assert_eq!(failures, 0);
}
