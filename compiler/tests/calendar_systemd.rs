//! bakgen's calendar expressions against the real `systemd-analyze calendar` (systemd 252):
//! same accept/reject, same normalized form, same next 10 elapses.

mod calendar_support;

use calendar_support::{compare, fixture, generate, systemd_analyze_available, Rng};
use chrono::{DateTime, TimeZone, Utc};

const ITERATIONS: usize = 10;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 28, 12, 0, 0).unwrap()
}

fn generated(seed: u64, n: usize) -> Vec<String> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| generate(&mut rng)).collect()
}

macro_rules! require_systemd {
    () => {
        if !systemd_analyze_available() {
            panic!(
                "systemd-analyze is needed (Debian package `systemd`, see scripts/packages.txt)"
            );
        }
    };
}

#[test]
fn hand_written_edge_cases_agree_with_systemd() {
    require_systemd!();
    let exprs = fixture("edge_cases.txt");
    assert!(exprs.len() >= 150);
    assert_eq!(compare("edge cases", &exprs, &base(), ITERATIONS, "UTC"), 0);
}

#[test]
fn generated_expressions_agree_with_systemd() {
    require_systemd!();
    let exprs = generated(0x00BA_C6E4, 300);
    assert_eq!(compare("generated", &exprs, &base(), ITERATIONS, "UTC"), 0);
}

#[test]
fn berlin_as_local_zone_agrees_with_systemd() {
    require_systemd!();
    let mut exprs = fixture("edge_cases.txt");
    // systemd run with a local zone that has daylight saving computes `right/` zones
    // (in its forked child) with the local zone's rules partly still in effect: a glibc
    // state quirk bakgen does not reproduce. With TZ=UTC they agree (see the edge cases).
    exprs.retain(|e| !e.contains("right/"));
    exprs.extend(generated(0xBE41, 150));
    // Summer time starts 2026-03-29 and ends 2026-10-25 in Berlin.
    let mut failures = compare(
        "Berlin local, March",
        &exprs,
        &base(),
        ITERATIONS,
        "Europe/Berlin",
    );
    let october = Utc.with_ymd_and_hms(2026, 10, 24, 12, 0, 0).unwrap();
    failures += compare(
        "Berlin local, October",
        &exprs,
        &october,
        ITERATIONS,
        "Europe/Berlin",
    );
    assert_eq!(failures, 0);
}

#[test]
fn mutated_expressions_agree_with_systemd() {
    require_systemd!();
    let mut seeds = fixture("edge_cases.txt");
    seeds.extend(fixture("dst.txt"));
    let mut rng = Rng::new(0x5EED);
    let exprs: Vec<String> = (0..400)
        .map(|_| {
            let seed = rng.pick(&seeds).clone();
            calendar_support::mutate(&mut rng, &seed)
        })
        .collect();
    assert_eq!(compare("mutated", &exprs, &base(), ITERATIONS, "UTC"), 0);
}

/// A longer run over more seeds, zones and base times: `cargo test -p bakgen --test
/// calendar_systemd -- --ignored`.
#[test]
#[ignore = "takes about a minute"]
fn many_generated_expressions_agree_with_systemd() {
    require_systemd!();
    let mut failures = 0;
    for (i, tz) in [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Sydney",
    ]
    .iter()
    .enumerate()
    {
        for (j, base) in [
            Utc.with_ymd_and_hms(2026, 1, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(2027, 2, 28, 6, 30, 0).unwrap(),
            Utc.with_ymd_and_hms(2028, 12, 31, 12, 0, 0).unwrap(),
        ]
        .iter()
        .enumerate()
        {
            let exprs = generated(1000 + (i * 10 + j) as u64, 500);
            failures += compare(&format!("generated #{i}{j}"), &exprs, base, ITERATIONS, tz);
        }
    }
    assert_eq!(failures, 0);
}

#[test]
fn local_zone_abbreviations_agree_with_systemd() {
    require_systemd!();
    let exprs: Vec<String> = [
        "daily JST",
        "daily AEST",
        "daily AEDT",
        "12:00 IST",
        "12:00 ist",
        "daily -03",
        "daily +0545",
        "daily GMT",
        "daily BST",
        "daily EST",
        "daily EDT",
        "daily edt",
        "12:00 CET",
        "Mon 02:30 CEST",
        "*:0/30 EST",
        "*-*-* 01:30 EDT",
        "*-*-* 02:30 EST",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut failures = 0;
    for tz in [
        "Asia/Tokyo",
        "Australia/Sydney",
        "America/Sao_Paulo",
        "Asia/Kolkata",
        "Asia/Kathmandu",
        "Europe/London",
        "Europe/Dublin",
        "America/New_York",
        "Europe/Berlin",
    ] {
        for base in [
            base(),
            Utc.with_ymd_and_hms(2026, 10, 31, 12, 0, 0).unwrap(),
        ] {
            failures += compare(
                &format!("abbreviations in {tz}"),
                &exprs,
                &base,
                ITERATIONS,
                tz,
            );
        }
    }
    assert_eq!(failures, 0);
}

/// Every name in the system's zoneinfo, as the expression's zone.
#[test]
fn every_zone_name_agrees_with_systemd() {
    require_systemd!();
    fn walk(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.path().is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }
    let mut names = Vec::new();
    walk(std::path::Path::new("/usr/share/zoneinfo"), "", &mut names);
    names.sort();
    assert!(names.len() > 500, "tzdata is installed");
    let exprs: Vec<String> = names.iter().map(|n| format!("*-*-* 02:30 {n}")).collect();
    assert_eq!(compare("zone names", &exprs, &base(), 3, "UTC"), 0);
}
