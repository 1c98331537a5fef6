//! Table-driven cases for `retention::decide` where restic 0.16 and later keep more than
//! restic 0.14 did, and bakrun follows current restic: the oldest snapshot kept while a
//! rule's buckets are short, `all` as a count that never runs out, and the
//! `keep-within-<period>` rules. The rest of the table is `retention_table.rs`.

mod table;
use table::*;

use bakrun::retention::{decide_at, Bucketed, Count, Reason::*};

#[test]
fn the_oldest_is_kept_while_buckets_are_short() {
    let cases = [
        Case {
            // The first year of backups: one yearly bucket, nine left. restic 0.14 kept only
            // the newest; 0.16 keeps the oldest too, so there is some history.
            name: "keep-yearly 10 in the first year",
            rules: rules(|r| r.keep_yearly = Some(10.into())),
            times: &[
                "2025-06-01T10:00:00Z",
                "2025-03-01T10:00:00Z",
                "2025-01-01T10:00:00Z",
            ],
            expect: &[&[Yearly], NONE, &[Oldest(Bucketed::Yearly)]],
        },
        Case {
            name: "full buckets: the oldest goes",
            rules: rules(|r| r.keep_daily = Some(2.into())),
            times: &[
                "2025-01-03T10:00:00Z",
                "2025-01-02T10:00:00Z",
                "2025-01-01T10:00:00Z",
            ],
            expect: &[&[Daily], &[Daily], NONE],
        },
        Case {
            // The oldest opens a bucket of its own: an ordinary daily keep, not "oldest".
            name: "the oldest in a bucket of its own is an ordinary keep",
            rules: rules(|r| r.keep_daily = Some(5.into())),
            times: &["2025-01-03T10:00:00Z", "2025-01-01T10:00:00Z"],
            expect: &[&[Daily], &[Daily]],
        },
        Case {
            // Weekly is spent at the oldest, monthly is not: only monthly names it.
            name: "only rules with room left keep the oldest",
            rules: rules(|r| {
                r.keep_weekly = Some(1.into());
                r.keep_monthly = Some(3.into());
            }),
            times: &["2025-01-09T10:00:00Z", "2025-01-08T10:00:00Z"],
            expect: &[&[Weekly, Monthly], &[Oldest(Bucketed::Monthly)]],
        },
        Case {
            name: "keep-last never marks the oldest: every snapshot is a bucket",
            rules: rules(|r| r.keep_last = Some(5.into())),
            times: &["2025-01-01T10:00:00Z", "2025-01-01T10:00:00Z"],
            expect: &[&[Last], &[Last]],
        },
        Case {
            // Equal times: the last of the walk (the later in the input) is the oldest.
            name: "the oldest of equal times is the last given",
            rules: rules(|r| r.keep_daily = Some(3.into())),
            times: &[
                "2025-01-01T10:00:00Z",
                "2025-01-01T10:00:00Z",
                "2025-01-01T10:00:00Z",
            ],
            expect: &[&[Daily], NONE, &[Oldest(Bucketed::Daily)]],
        },
    ];
    for c in &cases {
        check(c, now());
    }
}

#[test]
fn all_never_runs_out() {
    let times: &[&str] = &[
        "2025-03-02T10:00:00Z",
        "2025-03-02T09:00:00Z",
        "2025-03-01T23:00:00Z",
        "2024-07-01T10:00:00Z",
        "2020-01-01T10:00:00Z",
    ];
    let cases = [
        Case {
            name: "keep-daily all: the newest of every day, the oldest too",
            rules: rules(|r| r.keep_daily = Some(Count::All)),
            times,
            expect: &[&[Daily], NONE, &[Daily], &[Daily], &[Daily]],
        },
        Case {
            name: "keep-last all keeps everything",
            rules: rules(|r| r.keep_last = Some(Count::All)),
            times,
            expect: &[&[Last], &[Last], &[Last], &[Last], &[Last]],
        },
        Case {
            name: "keep-monthly all with keep-daily 1",
            rules: rules(|r| {
                r.keep_daily = Some(1.into());
                r.keep_monthly = Some(Count::All);
            }),
            times,
            expect: &[&[Daily, Monthly], NONE, NONE, &[Monthly], &[Monthly]],
        },
        Case {
            name: "keep-yearly all: the oldest in the newest's year is marked",
            rules: rules(|r| r.keep_yearly = Some(Count::All)),
            times: &["2025-03-02T10:00:00Z", "2025-01-02T10:00:00Z"],
            expect: &[&[Yearly], &[Oldest(Bucketed::Yearly)]],
        },
    ];
    for c in &cases {
        check(c, now());
    }
}

#[test]
fn keep_within_periods() {
    let times: &[&str] = &[
        "2025-03-10T12:30:00Z",
        "2025-03-10T12:10:00Z",
        "2025-03-10T11:00:00Z",
        "2025-03-09T18:00:00Z",
        "2025-03-02T18:00:00Z",
        "2025-02-20T18:00:00Z",
        "2024-12-01T18:00:00Z",
    ];
    let cases = [
        Case {
            // Limit 2025-03-09T12:30: the newest of each hour after it.
            name: "keep-within-hourly 1D",
            rules: rules(|r| r.keep_within_hourly = Some("1D".into())),
            times,
            expect: &[
                &[WithinHourly],
                NONE,
                &[WithinHourly],
                &[WithinHourly],
                NONE,
                NONE,
                NONE,
            ],
        },
        Case {
            name: "keep-within-daily 10D",
            rules: rules(|r| r.keep_within_daily = Some("10D".into())),
            times,
            expect: &[
                &[WithinDaily],
                NONE,
                NONE,
                &[WithinDaily],
                &[WithinDaily],
                NONE,
                NONE,
            ],
        },
        Case {
            // 2025-03-10 and 2025-03-09 are ISO weeks 11 and 10; 03-02 is week 9.
            name: "keep-within-weekly 2W",
            rules: rules(|r| r.keep_within_weekly = Some("2W".into())),
            times,
            expect: &[
                &[WithinWeekly],
                NONE,
                NONE,
                &[WithinWeekly],
                &[WithinWeekly],
                NONE,
                NONE,
            ],
        },
        Case {
            name: "keep-within-monthly 1M",
            rules: rules(|r| r.keep_within_monthly = Some("1M".into())),
            times,
            expect: &[
                &[WithinMonthly],
                NONE,
                NONE,
                NONE,
                NONE,
                &[WithinMonthly],
                NONE,
            ],
        },
        Case {
            // Everything is within: the oldest is kept too, marked, as it shares no bucket
            // with a kept one only because of the rule for the oldest.
            name: "keep-within-yearly 2Y reaches the oldest",
            rules: rules(|r| r.keep_within_yearly = Some("2Y".into())),
            times: &["2025-03-10T12:30:00Z", "2025-02-10T12:30:00Z"],
            expect: &[&[WithinYearly], &[Oldest(Bucketed::WithinYearly)]],
        },
        Case {
            name: "reasons in restic's order: within, counts, then within-periods",
            rules: rules(|r| {
                r.keep_within_daily = Some("1D".into());
                r.keep_daily = Some(1.into());
                r.keep_within = Some("1h".into());
                r.keep_within_hourly = Some("1h".into());
            }),
            times: &["2025-03-10T12:30:00Z"],
            expect: &[&[Within, Daily, WithinHourly, WithinDaily]],
        },
    ];
    for c in &cases {
        check(c, now());
    }
}

#[test]
fn a_bad_within_period_names_its_rule() {
    let r = rules(|r| r.keep_within_weekly = Some("2x".into()));
    let e = decide_at(&[t("2025-01-01T00:00:00Z")], &r, now())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.starts_with("keep-within-weekly `2x` is not a duration"),
        "{e}"
    );
}
