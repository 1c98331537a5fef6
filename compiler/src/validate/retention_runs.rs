//! A job whose retention keeps fewer of a day's runs than its schedule makes: restic's
//! bucket rules keep one run per hour (`keep-hourly`) or per day and longer (`keep-daily` …),
//! so a second run in the same bucket is removed by the next run's forget. A warning: it
//! may be meant (many runs for a short-lived safety net, few kept), but it surprised users.
//!
//! Exactly hourly schedules have their own warning (`retention-shorter-than-schedule`).
//! Cost: each distinct schedule is evaluated once (one week of elapses, at most
//! [`MAX_ELAPSES`]), then each job's retention is compared with it.

use std::collections::BTreeMap;

use bakgen_spec::count::Count;
use chrono::{DateTime, TimeZone, Timelike, Utc};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::{Retention, Spanned};
use crate::resolve::ResolvedJob;
use crate::schedule::CalendarSpec;

/// Enough for a week of runs every 4 minutes; a denser schedule is sampled from its first
/// day only, which is then the busiest sampled (and its count a lower bound).
const MAX_ELAPSES: usize = 3_000;

/// The busiest day's runs of a schedule in a sample week (UTC, from a fixed Monday, so the
/// warning does not depend on when `check` runs).
fn busiest_day(spec: &CalendarSpec) -> Vec<DateTime<Utc>> {
    let Some(start) = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).single() else {
        return Vec::new();
    };
    let end = start + chrono::TimeDelta::days(7);
    let mut days: BTreeMap<chrono::NaiveDate, Vec<DateTime<Utc>>> = BTreeMap::new();
    for t in spec
        .elapses(&(start - chrono::TimeDelta::seconds(1)), chrono_tz::UTC)
        .take(MAX_ELAPSES)
        .take_while(|t| *t < end)
    {
        days.entry(t.date_naive()).or_default().push(t);
    }
    days.into_values().max_by_key(Vec::len).unwrap_or_default()
}

/// How many of one day's `runs` (sorted) the rules keep, and the rule that keeps the most.
fn kept_of_day(r: &Retention, runs: &[DateTime<Utc>]) -> (usize, &'static str) {
    let n = runs.len();
    let Some(last) = runs.last() else {
        return (0, "");
    };
    let count = |c: &Option<Spanned<Count>>| match c.as_ref().map(|c| c.value) {
        Some(Count::All) => usize::MAX,
        Some(Count::Buckets(b)) => b as usize,
        None => 0,
    };
    let within = |d: &Option<Spanned<bakgen_spec::duration::Duration>>| -> &[DateTime<Utc>] {
        match d {
            Some(d) => {
                let from = *last
                    - chrono::TimeDelta::seconds(
                        d.value.approx_seconds().min(i64::MAX as u64) as i64
                    );
                let first = runs.partition_point(|t| *t < from);
                &runs[first..]
            }
            None => &[],
        }
    };
    let hours = |runs: &[DateTime<Utc>]| {
        let mut h: Vec<u32> = runs.iter().map(|t| t.hour()).collect();
        h.dedup();
        h.len()
    };
    let coarser = r.counts()[2..].iter().any(|c| count(c) > 0)
        || r.durations()[2..].iter().any(|d| d.is_some());
    [
        (count(&r.keep_last).min(n), "keep-last"),
        (within(&r.keep_within).len(), "keep-within"),
        (count(&r.keep_hourly).min(hours(runs)), "keep-hourly"),
        (hours(within(&r.keep_within_hourly)), "keep-within-hourly"),
        (usize::from(coarser), "keep-daily"),
    ]
    .into_iter()
    .max_by_key(|(k, _)| *k)
    .unwrap_or((0, ""))
}

pub fn check(jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    let mut days: BTreeMap<String, Vec<DateTime<Utc>>> = BTreeMap::new();
    for job in jobs {
        let (Some(schedule), Some(r)) = (&job.settings.schedule, &job.settings.retention) else {
            continue;
        };
        let Some(spec) = &schedule.spec else { continue };
        let normalized = spec.normalized();
        if normalized == "*-*-* *:00:00" {
            continue; // `retention-shorter-than-schedule`
        }
        let runs = days.entry(normalized).or_insert_with(|| busiest_day(spec));
        let n = runs.len();
        if n < 2 {
            continue;
        }
        let (kept, rule) = kept_of_day(r, runs);
        if kept >= n {
            continue;
        }
        let per_hour = runs
            .windows(2)
            .any(|w| w[0].hour() == w[1].hour() && w[0].date_naive() == w[1].date_naive());
        let lost = match rule {
            "keep-hourly" | "keep-within-hourly" if per_hour => format!(
                "{rule} keeps one run per hour, so every run but the last made in the same hour is removed"
            ),
            "keep-last" => format!("keep-last keeps only the last {kept}"),
            "keep-within" => format!("keep-within keeps only the {kept} runs within its span"),
            _ => "keep-daily and longer rules keep one run per day (the last), so the day's earlier runs are removed".to_owned(),
        };
        let span = r.span.clone().unwrap_or_else(|| schedule.span.clone());
        diags.push(
            Diagnostic::warning(
                "bakgen::retention-drops-runs",
                format!(
                    "job `{}` runs {} {n} times a day but its retention keeps at most {kept} of a day's runs: {lost}, by the job's next run",
                    job.name().value,
                    if n >= MAX_ELAPSES { "at least" } else { "up to" }
                ),
                span,
            )
            .label(format!("keeps {kept} of {n}"))
            .with(schedule.calendar.span.clone(), format!("up to {n} runs a day"))
            .help(format!(
                "to keep every run of the last day add keep-last={n} (or keep-within=\"1d\"); or run the job less often"
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::check::check;
    use crate::source::{SourceFile, SourceSet};

    fn warnings(schedule: &str, retention: &str) -> Vec<String> {
        let mut set = SourceSet::default();
        set.add(SourceFile::new(
            "p.kdl",
            format!(
                "destination \"d\" {{ path \"/mnt/d\"; }}\nhost \"h\" {{ job \"j\" {{ source \"/etc\"; to \"d\"; schedule {schedule}; retention {retention}; }} }}\n"
            ),
        ));
        check(set)
            .diagnostics
            .iter()
            .filter(|d| d.code == "bakgen::retention-drops-runs")
            .map(|d| d.message.clone())
            .collect()
    }

    #[test]
    fn runs_in_the_same_hour_under_hourly_rules_are_named() {
        let w = warnings("\"*:0/15\"", "keep-hourly=48 keep-daily=7");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("runs up to 96 times a day but its retention keeps at most 24 of a day's runs: keep-hourly keeps one run per hour, so every run but the last made in the same hour is removed"),
            "{w:?}"
        );
    }

    #[test]
    fn a_denser_schedule_than_the_sample_says_at_least() {
        let w = warnings("\"*:*:0/10\"", "keep-hourly=24");
        assert!(w[0].contains("runs at least 3000 times a day"), "{w:?}");
    }

    #[test]
    fn several_runs_a_day_under_daily_rules_are_named() {
        let w = warnings("\"*-*-* 00/6:15\"", "keep-daily=7 keep-weekly=4");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("runs up to 4 times a day but its retention keeps at most 1 of a day's runs: keep-daily and longer rules keep one run per day (the last)"),
            "{w:?}"
        );
        let w = warnings("\"*-*-* 00/6:15\"", "keep-last=2 keep-daily=7");
        assert!(
            w[0].contains("keeps at most 2 of a day's runs: keep-last keeps only the last 2"),
            "{w:?}"
        );
    }

    #[test]
    fn enough_kept_or_one_run_a_day_is_quiet() {
        assert!(warnings("\"*-*-* 00/6:15\"", "keep-hourly=24 keep-daily=7").is_empty());
        assert!(warnings("\"*-*-* 00/6:15\"", "keep-last=4").is_empty());
        assert!(warnings("\"*-*-* 00/6:15\"", "keep-within=\"1d\"").is_empty());
        assert!(warnings("\"*:0/15\"", "keep-within-hourly=\"2d\" keep-last=4").len() == 1);
        assert!(warnings("\"*:0/15\"", "keep-last=\"all\"").is_empty());
        assert!(warnings("\"daily\"", "keep-daily=7").is_empty());
        assert!(warnings("\"Mon..Fri *-*-* 12:30\"", "keep-weekly=4").is_empty());
        // Exactly hourly has its own warning, not this one too.
        assert!(warnings("\"hourly\"", "keep-daily=7").is_empty());
    }
}
