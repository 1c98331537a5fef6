//! Table-driven cases for `retention::decide`: each rule alone, combinations, ISO weeks,
//! offsets and DST, duplicates, unsorted input, keep-within's calendar arithmetic.
//! The cases where restic 0.16 and later differ from 0.14 (the oldest kept while buckets
//! are short, `all`, `keep-within-<period>`) are in `retention_table_restic016.rs`; the
//! real-restic comparison lives in `retention_restic.rs`.

mod rng;
mod table;
use rng::Rng;
use table::*;

use bakrun::retention::{decide_at, Bucketed, Count, Reason::*};
use bakrun::spec::Retention;
use chrono::{DateTime, FixedOffset, Utc};

#[test]
fn each_rule_alone() {
    let cases = [
        Case {
            name: "keep-last 3",
            rules: rules(|r| r.keep_last = Some(3.into())),
            times: &[
                "2025-01-05T10:00:00Z",
                "2025-01-04T10:00:00Z",
                "2025-01-03T10:00:00Z",
                "2025-01-02T10:00:00Z",
                "2025-01-01T10:00:00Z",
            ],
            expect: &[&[Last], &[Last], &[Last], NONE, NONE],
        },
        Case {
            name: "keep-hourly 2: newest of each hour",
            rules: rules(|r| r.keep_hourly = Some(2.into())),
            times: &[
                "2025-01-01T12:59:00Z",
                "2025-01-01T12:00:00Z",
                "2025-01-01T11:10:00Z",
                "2025-01-01T10:30:00Z",
                "2025-01-01T10:05:00Z",
            ],
            expect: &[&[Hourly], NONE, &[Hourly], NONE, NONE],
        },
        Case {
            name: "keep-daily 2 across midnight",
            rules: rules(|r| r.keep_daily = Some(2.into())),
            times: &[
                "2025-01-02T00:00:00Z",
                "2025-01-01T23:59:59Z",
                "2025-01-01T00:00:00Z",
                "2024-12-31T23:59:59Z",
            ],
            expect: &[&[Daily], &[Daily], NONE, NONE],
        },
        Case {
            // 2024-12-30 and 2025-01-05 are both 2025-W01; 2024-12-29 is 2024-W52.
            name: "keep-weekly 3 across an ISO year boundary",
            rules: rules(|r| r.keep_weekly = Some(3.into())),
            times: &[
                "2025-01-06T08:00:00Z",
                "2025-01-05T08:00:00Z",
                "2024-12-30T08:00:00Z",
                "2024-12-29T08:00:00Z",
                "2024-12-23T08:00:00Z",
            ],
            expect: &[&[Weekly], &[Weekly], NONE, &[Weekly], NONE],
        },
        Case {
            name: "keep-monthly 2",
            rules: rules(|r| r.keep_monthly = Some(2.into())),
            times: &[
                "2025-03-01T00:00:00Z",
                "2025-02-28T23:00:00Z",
                "2025-02-01T00:00:00Z",
                "2025-01-31T00:00:00Z",
            ],
            expect: &[&[Monthly], &[Monthly], NONE, NONE],
        },
        Case {
            name: "keep-yearly 2",
            rules: rules(|r| r.keep_yearly = Some(2.into())),
            times: &[
                "2025-06-01T00:00:00Z",
                "2025-01-01T00:00:00Z",
                "2024-12-31T00:00:00Z",
                "2023-12-31T00:00:00Z",
            ],
            expect: &[&[Yearly], NONE, &[Yearly], NONE],
        },
        Case {
            name: "keep-within 2D: strictly after newest minus 2 days",
            rules: rules(|r| r.keep_within = Some("2D".into())),
            times: &[
                "2025-01-10T12:00:00Z",
                "2025-01-08T12:00:01Z",
                "2025-01-08T12:00:00Z",
                "2025-01-01T00:00:00Z",
            ],
            expect: &[&[Within], &[Within], NONE, NONE],
        },
        Case {
            name: "keep-within 1W2h30m: weeks, hours and minutes",
            rules: rules(|r| r.keep_within = Some("1W2h30m".into())),
            times: &[
                "2025-01-10T12:00:00Z",
                "2025-01-03T09:30:01Z",
                "2025-01-03T09:30:00Z",
            ],
            expect: &[&[Within], &[Within], NONE],
        },
    ];
    for c in &cases {
        check(c, now());
    }
}

#[test]
fn rules_are_united_and_reasons_in_restics_order() {
    let cases = [
        Case {
            name: "within, last, daily, weekly, monthly, yearly on the newest",
            rules: rules(|r| {
                r.keep_yearly = Some(5.into());
                r.keep_monthly = Some(5.into());
                r.keep_weekly = Some(5.into());
                r.keep_daily = Some(2.into());
                r.keep_hourly = Some(1.into());
                r.keep_last = Some(1.into());
                r.keep_within = Some("1h".into());
            }),
            times: &[
                "2025-03-10T10:00:00Z",
                "2025-03-10T09:30:00Z",
                "2025-03-09T10:00:00Z",
                "2025-03-08T10:00:00Z",
                "2025-02-10T10:00:00Z",
                "2024-06-10T10:00:00Z",
            ],
            expect: &[
                &[Within, Last, Hourly, Daily, Weekly, Monthly, Yearly],
                &[Within],
                // 03-09 is a Sunday: same ISO week as 03-08, newer, so weekly takes it.
                &[Daily, Weekly],
                NONE,
                &[Weekly, Monthly],
                &[Weekly, Monthly, Yearly],
            ],
        },
        Case {
            name: "daily 3 weekly 2 monthly 2 over a fortnight",
            rules: rules(|r| {
                r.keep_daily = Some(3.into());
                r.keep_weekly = Some(2.into());
                r.keep_monthly = Some(2.into());
            }),
            times: &[
                "2025-02-03T01:00:00Z", // Mon W06
                "2025-02-02T01:00:00Z", // Sun W05
                "2025-02-01T01:00:00Z", // Sat W05
                "2025-01-31T01:00:00Z", // Fri W05, newest of January
                "2025-01-30T01:00:00Z",
                "2025-01-26T01:00:00Z", // Sun W04
            ],
            expect: &[
                &[Daily, Weekly, Monthly],
                &[Daily, Weekly],
                &[Daily],
                &[Monthly],
                NONE,
                NONE,
            ],
        },
    ];
    for c in &cases {
        check(c, now());
    }
}

#[test]
fn buckets_use_each_timestamps_own_offset() {
    let cases = [
        Case {
            // Both are 2024-12-31 in UTC; in its own offset the older one is 2025-01-01.
            name: "offset moves a snapshot to another day and year",
            rules: rules(|r| {
                r.keep_daily = Some(2.into());
                r.keep_yearly = Some(2.into());
            }),
            times: &["2025-01-01T00:30:00+01:00", "2024-12-31T23:45:00Z"],
            expect: &[&[Daily, Yearly], &[Daily, Yearly]],
        },
        Case {
            // Central Europe switches to summer time on 2025-03-30 at 02:00 local.
            name: "DST switch: distinct local hours, one local day",
            rules: rules(|r| {
                r.keep_hourly = Some(10.into());
                r.keep_daily = Some(10.into());
            }),
            times: &[
                "2025-03-30T03:30:00+02:00",
                "2025-03-30T01:30:00+01:00",
                "2025-03-30T00:30:00+01:00",
            ],
            // The daily rule has 9 days left at the oldest snapshot: restic ≥ 0.16 keeps it.
            expect: &[
                &[Hourly, Daily],
                &[Hourly],
                &[Hourly, Oldest(Bucketed::Daily)],
            ],
        },
        Case {
            // Back to winter time on 2025-10-26: 02:30 happens twice; one hour bucket.
            name: "DST fold: the repeated hour is one bucket",
            rules: rules(|r| r.keep_hourly = Some(10.into())),
            // An older hour last, so that the rule for the oldest snapshot stays out of it.
            times: &[
                "2025-10-26T02:30:00+01:00",
                "2025-10-26T02:10:00+02:00",
                "2025-10-26T00:10:00+02:00",
            ],
            expect: &[&[Hourly], NONE, &[Hourly]],
        },
        Case {
            name: "same instant, different offsets: different days",
            rules: rules(|r| r.keep_daily = Some(5.into())),
            times: &["2025-01-01T23:00:00Z", "2025-01-02T01:00:00+02:00"],
            expect: &[&[Daily], &[Daily]],
        },
    ];
    for c in &cases {
        check(c, now());
    }
}

#[test]
fn duplicates_and_unsorted_input() {
    let cases = [
        Case {
            name: "duplicates: one per daily bucket, the first given wins",
            rules: rules(|r| r.keep_daily = Some(3.into())),
            times: &[
                "2025-01-02T10:00:00Z",
                "2025-01-02T10:00:00Z",
                "2025-01-01T10:00:00Z",
            ],
            expect: &[&[Daily], NONE, &[Daily]],
        },
        Case {
            name: "duplicates: keep-last counts each copy",
            rules: rules(|r| r.keep_last = Some(2.into())),
            times: &[
                "2025-01-02T10:00:00Z",
                "2025-01-02T10:00:00Z",
                "2025-01-01T10:00:00Z",
            ],
            expect: &[&[Last], &[Last], NONE],
        },
        Case {
            name: "unsorted input: decisions come back in input order",
            rules: rules(|r| {
                r.keep_last = Some(1.into());
                r.keep_daily = Some(2.into());
            }),
            times: &[
                "2025-01-01T10:00:00Z",
                "2025-01-03T08:00:00Z",
                "2025-01-02T10:00:00Z",
                "2025-01-03T09:00:00Z",
                "2025-01-02T09:00:00Z",
            ],
            expect: &[NONE, NONE, &[Daily], &[Last, Daily], NONE],
        },
        Case {
            // A and B are one instant on different days (their own offsets): the one given
            // first is walked first and takes the last daily count.
            name: "unsorted with equal instants: A given before B",
            rules: rules(|r| r.keep_daily = Some(2.into())),
            times: &[
                "2024-12-01T00:00:00Z",
                "2025-01-01T23:00:00Z",
                "2025-01-03T00:00:00Z",
                "2025-01-02T01:00:00+02:00",
            ],
            expect: &[NONE, &[Daily], &[Daily], NONE],
        },
        Case {
            name: "unsorted with equal instants: B given before A",
            rules: rules(|r| r.keep_daily = Some(2.into())),
            times: &[
                "2024-12-01T00:00:00Z",
                "2025-01-02T01:00:00+02:00",
                "2025-01-03T00:00:00Z",
                "2025-01-01T23:00:00Z",
            ],
            expect: &[NONE, &[Daily], &[Daily], NONE],
        },
        Case {
            name: "oldest-first input",
            rules: rules(|r| r.keep_last = Some(2.into())),
            times: &[
                "2025-01-01T00:00:00Z",
                "2025-01-02T00:00:00Z",
                "2025-01-03T00:00:00Z",
            ],
            expect: &[NONE, &[Last], &[Last]],
        },
    ];
    for c in &cases {
        check(c, now());
    }
}

#[test]
fn keep_within_counts_months_as_go_does() {
    let cases = [
        Case {
            // Go: 2024-03-31 minus 1 month is "2024-02-31" = 2024-03-02 (not Feb 29).
            name: "1M from 31 March",
            rules: rules(|r| r.keep_within = Some("1M".into())),
            times: &[
                "2024-03-31T12:00:00Z",
                "2024-03-02T12:00:01Z",
                "2024-03-02T12:00:00Z",
                "2024-02-29T12:00:00Z",
            ],
            expect: &[&[Within], &[Within], NONE, NONE],
        },
        Case {
            // 2024-02-29 minus 1 year is "2023-02-29" = 2023-03-01.
            name: "1Y from 29 February",
            rules: rules(|r| r.keep_within = Some("1Y".into())),
            times: &[
                "2024-02-29T00:00:00Z",
                "2023-03-01T00:00:01Z",
                "2023-03-01T00:00:00Z",
                "2023-02-28T00:00:00Z",
            ],
            expect: &[&[Within], &[Within], NONE, NONE],
        },
        Case {
            // Days subtract after the month: 2024-03-31 - 1M - 30D = 2024-03-02 - 30D.
            name: "1M30D: months first, then days",
            rules: rules(|r| r.keep_within = Some("1M30D".into())),
            times: &[
                "2024-03-31T00:00:00Z",
                "2024-02-01T00:00:01Z",
                "2024-02-01T00:00:00Z",
            ],
            expect: &[&[Within], &[Within], NONE],
        },
        Case {
            // The month is counted on the newest snapshot's own wall clock.
            name: "1M in the newest snapshot's offset",
            rules: rules(|r| r.keep_within = Some("1M".into())),
            // In UTC the newest is 2024-02-29T22:30Z, and a month before that would be
            // 2024-01-29T22:30Z; on its own clock it is 2024-03-01 minus 1 month.
            times: &[
                "2024-03-01T00:30:00+02:00",
                "2024-02-01T00:30:01+02:00",
                "2024-02-01T00:30:00+02:00",
            ],
            expect: &[&[Within], &[Within], NONE],
        },
    ];
    for c in &cases {
        check(c, now());
    }
}

#[test]
fn keep_within_ignores_snapshots_in_the_future() {
    let now = t("2026-01-01T00:00:00Z").with_timezone(&Utc);
    check(
        &Case {
            name: "measured from the newest snapshot that is not in the future",
            rules: rules(|r| r.keep_within = Some("1D".into())),
            times: &[
                "2030-01-01T00:00:00Z",
                "2025-12-31T00:00:00Z",
                "2025-12-30T00:00:01Z",
                "2025-12-01T00:00:00Z",
            ],
            expect: &[&[Within], &[Within], &[Within], NONE],
        },
        now,
    );
    check(
        &Case {
            name: "all in the future: all within",
            rules: rules(|r| r.keep_within = Some("1D".into())),
            times: &["2031-01-01T00:00:00Z", "2030-06-01T00:00:00Z"],
            expect: &[&[Within], &[Within]],
        },
        now,
    );
}

#[test]
fn empty_policy_keeps_everything_without_reasons() {
    for (name, r) in [
        ("no rules", Retention::default()),
        (
            "zero counts and zero within are no rules",
            rules(|r| {
                r.keep_last = Some(0.into());
                r.keep_daily = Some(0.into());
                r.keep_within = Some("0D".into());
            }),
        ),
    ] {
        let times = [t("2025-01-01T00:00:00Z"), t("2024-01-01T00:00:00Z")];
        let got = decide_at(&times, &r, now()).unwrap_or_default();
        assert_eq!(got.len(), 2, "{name}");
        assert!(got.iter().all(|d| d.keep && d.reasons.is_empty()), "{name}");
    }
}

#[test]
fn empty_input_and_bad_within() {
    let r = rules(|r| r.keep_daily = Some(1.into()));
    assert_eq!(decide_at(&[], &r, now()).ok(), Some(vec![]));
    let bad = rules(|r| r.keep_within = Some("3x".into()));
    let e = decide_at(&[t("2025-01-01T00:00:00Z")], &bad, now())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("keep-within `3x`"), "{e}");
}

#[test]
fn the_newest_is_always_kept_and_decide_is_order_independent() {
    let mut rng = Rng(42);
    for round in 0..300 {
        let n = 1 + rng.below(60) as usize;
        let times: Vec<DateTime<FixedOffset>> = (0..n)
            .map(|_| {
                let secs = 1_700_000_000 + rng.below(80_000_000) as i64;
                let offset = (rng.below(27) as i32 - 12) * 3600;
                DateTime::from_timestamp(secs, 0)
                    .and_then(|u| FixedOffset::east_opt(offset).map(|o| u.with_timezone(&o)))
                    .unwrap_or_else(|| panic!("bad generated time"))
            })
            .collect();
        let mut pick = || (rng.below(3) > 0).then(|| Count::from(rng.below(6) as u32));
        let mut r = Retention {
            keep_last: pick(),
            keep_hourly: pick(),
            keep_daily: pick(),
            keep_weekly: pick(),
            keep_monthly: pick(),
            keep_yearly: pick(),
            ..Retention::default()
        };
        if rng.below(3) == 0 {
            r.keep_within = Some(format!("{}D", rng.below(200)));
        }
        let got = decide_at(&times, &r, now()).unwrap_or_else(|e| panic!("{e}"));
        let newest = (0..n).max_by_key(|&i| (times[i], std::cmp::Reverse(i)));
        if let Some(i) = newest {
            assert!(got[i].keep, "round {round}: newest removed");
        }
        assert!(
            got.iter().all(|d| !d.reasons.contains(&Newest)),
            "round {round}: the safety net fired, so the algorithm removed the newest"
        );
        // Reversing the input changes nothing for distinct instants.
        let mut sorted: Vec<_> = times.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() == n {
            let rev: Vec<_> = times.iter().rev().copied().collect();
            let mut back = decide_at(&rev, &r, now()).unwrap_or_else(|e| panic!("{e}"));
            back.reverse();
            assert_eq!(back, got, "round {round}");
        }
    }
}
