//! restic's own retention test cases (`TestApplyPolicy` and its golden files), as data in
//! `fixtures/restic_policy_cases.txt` (its header says where they come from): for every
//! policy bakrun can express, bakrun keeps exactly the snapshots restic ≥ 0.16 keeps, for
//! the same reasons in the same order. This is what ties bakrun to current restic; the
//! comparison with a real restic 0.14 lives in `retention_restic.rs`.

use std::collections::BTreeSet;

use bakrun::retention::{decide_at, Count};
use bakrun::spec::Retention;
use chrono::{DateTime, FixedOffset, Utc};

const CASES: &str = include_str!("fixtures/restic_policy_cases.txt");

struct Case {
    number: usize,
    rules: Retention,
    /// Kept input indices with restic's reasons, newest first.
    keep: Vec<(usize, Vec<String>)>,
    line: usize,
}

fn time(text: &str, line: usize) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("fixture line {line}: {text}: {e}"))
}

fn rules(spec: &str, line: usize) -> Retention {
    let mut r = Retention::default();
    for pair in spec.split_whitespace() {
        let (key, value) = pair
            .split_once('=')
            .unwrap_or_else(|| panic!("fixture line {line}: `{pair}` is not RULE=VALUE"));
        let count = || -> Option<Count> {
            Some(
                value
                    .parse()
                    .unwrap_or_else(|e| panic!("fixture line {line}: {e}")),
            )
        };
        let text = Some(value.to_owned());
        match key {
            "keep-last" => r.keep_last = count(),
            "keep-hourly" => r.keep_hourly = count(),
            "keep-daily" => r.keep_daily = count(),
            "keep-weekly" => r.keep_weekly = count(),
            "keep-monthly" => r.keep_monthly = count(),
            "keep-yearly" => r.keep_yearly = count(),
            "keep-within" => r.keep_within = text,
            "keep-within-hourly" => r.keep_within_hourly = text,
            "keep-within-daily" => r.keep_within_daily = text,
            "keep-within-weekly" => r.keep_within_weekly = text,
            "keep-within-monthly" => r.keep_within_monthly = text,
            "keep-within-yearly" => r.keep_within_yearly = text,
            other => panic!("fixture line {line}: unknown rule {other}"),
        }
    }
    r
}

/// The fixture: input times in the test's order, and the cases.
fn load() -> (Vec<DateTime<FixedOffset>>, Vec<Case>) {
    let mut times = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    for (n, raw) in CASES.lines().enumerate() {
        let line = n + 1;
        let text = raw.split(" # ").next().unwrap_or_default().trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
        match word {
            "snapshot" => {
                let (index, t) = rest
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("fixture line {line}: snapshot INDEX TIME"));
                assert_eq!(index, times.len().to_string(), "fixture line {line}: index");
                times.push(time(t.trim(), line));
            }
            "case" => {
                let (number, spec) = rest.split_once(' ').unwrap_or((rest, ""));
                cases.push(Case {
                    number: number
                        .parse()
                        .unwrap_or_else(|e| panic!("fixture line {line}: {e}")),
                    rules: rules(spec, line),
                    keep: Vec::new(),
                    line,
                });
            }
            "keep" => {
                let mut parts = rest.split(" | ");
                let head = parts.next().unwrap_or_default();
                let (index, t) = head
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("fixture line {line}: keep INDEX TIME | …"));
                let index: usize = index
                    .parse()
                    .unwrap_or_else(|e| panic!("fixture line {line}: {e}"));
                assert_eq!(
                    times.get(index),
                    Some(&time(t, line)),
                    "fixture line {line}: index and time disagree"
                );
                let case = cases
                    .last_mut()
                    .unwrap_or_else(|| panic!("fixture line {line}: keep before any case"));
                case.keep.push((
                    index,
                    parts.map(|p| bakrun_reason(p.trim(), line)).collect(),
                ));
            }
            other => panic!("fixture line {line}: unknown record `{other}`"),
        }
    }
    (times, cases)
}

/// restic's reason text → bakrun's reason name: "daily snapshot" → "daily", "within 2d" →
/// "within", "daily within 7d" → "within-daily", "oldest …" keeps its mark.
fn bakrun_reason(restic: &str, line: usize) -> String {
    let (oldest, rest) = match restic.strip_prefix("oldest ") {
        Some(rest) => ("oldest ", rest),
        None => ("", restic),
    };
    let words: Vec<&str> = rest.split(' ').collect();
    let name = match words.as_slice() {
        [period, "snapshot"] => (*period).to_owned(),
        ["within", _] => "within".to_owned(),
        [period, "within", _] => format!("within-{period}"),
        _ => panic!("fixture line {line}: unexpected restic reason `{restic}`"),
    };
    format!("{oldest}{name}")
}

#[test]
fn bakrun_keeps_what_restic_0_16_and_later_keep_in_restics_own_cases() {
    let (times, cases) = load();
    assert_eq!(times.len(), 103, "restic's test has 103 snapshots");
    // Every case restic has, but the empty policy (0) and the tag rules (18-20).
    let numbers: BTreeSet<usize> = cases.iter().map(|c| c.number).collect();
    let expected: BTreeSet<usize> = (1..=17).chain(21..=39).collect();
    assert_eq!(numbers, expected, "the cases bakrun can express");
    // The cases were generated long after their snapshots: nothing is in the future.
    let now: DateTime<Utc> = time("2026-01-01T00:00:00Z", 0).with_timezone(&Utc);

    let mut failures = Vec::new();
    let mut oldest_reasons = 0;
    for case in &cases {
        let decisions = decide_at(&times, &case.rules, now)
            .unwrap_or_else(|e| panic!("case {} (line {}): {e}", case.number, case.line));
        let mut want: Vec<Option<&Vec<String>>> = vec![None; times.len()];
        for (index, reasons) in &case.keep {
            want[*index] = Some(reasons);
            oldest_reasons += reasons.iter().filter(|r| r.starts_with("oldest")).count();
        }
        for (index, (d, w)) in decisions.iter().zip(&want).enumerate() {
            let got: Vec<String> = d.reasons.iter().map(|r| r.to_string()).collect();
            let agree = match w {
                Some(reasons) => d.keep && &got == *reasons,
                None => !d.keep,
            };
            if !agree {
                failures.push(format!(
                    "case {} (line {}): snapshot {index} {}: restic {:?}, bakrun {} {got:?}",
                    case.number,
                    case.line,
                    times[index],
                    w.map(|r| format!("keeps {r:?}"))
                        .unwrap_or("removes".into()),
                    if d.keep { "keeps" } else { "removes" },
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The cases reach the rule restic 0.16 added, or they would not tell 0.14 from it.
    assert!(oldest_reasons >= 5, "only {oldest_reasons} oldest reasons");
}
