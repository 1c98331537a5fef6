//! Retention with restic's `forget` semantics, exactly as restic 0.14 (Debian 12's) applies
//! them in `internal/restic/snapshot_policy.go`, so that a policy means the same thing on
//! rsync snapshots as on a restic repository.
//!
//! What restic does, and therefore what this module does:
//!
//! - Snapshots are walked newest first. Equal times keep their input order (restic sorts
//!   with `sort.Sort`, so its order among equal times is arbitrary; ours is stable).
//! - `keep-within D`: kept when strictly after `latest - D`, where `latest` is the newest
//!   snapshot that is *not in the future* (restic skips future ones; when all are in the
//!   future, `latest` is Go's zero time and everything is within). `latest - D` is Go's
//!   `AddDate(-years, -months, -days)` then minus the hours: months are normalized, not
//!   clamped (31 March minus 1 month is 2 March, not 28 February).
//! - `keep-last/hourly/daily/weekly/monthly/yearly N`: each rule keeps the first snapshot
//!   of each new bucket it meets while it has counts left. Buckets are computed in the
//!   snapshot's own local time (the offset it carries, as Go's `time.Time` does); weekly
//!   buckets are ISO year and week taken together. `keep-last` puts each snapshot in its
//!   own bucket, so equal times are still separate snapshots.
//! - Rules are united: a snapshot is kept when any rule claims it, and its reasons are
//!   listed in restic's order: within, last, hourly, daily, weekly, monthly, yearly.
//! - A rule of 0 (or a zero keep-within) is no rule at all; with no rule left the policy
//!   is empty and restic keeps everything. We do the same, with no reasons.
//!
//! The newest snapshot is never removed. Under these semantics that already holds (every
//! count rule keeps the first snapshot of the walk; keep-within keeps everything from
//! `latest` on), so [`Reason::Newest`] is only a safety net that should never appear.

use std::cmp::Reverse;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeDelta, TimeZone, Timelike, Utc};

use crate::duration::Duration;
use crate::spec::Retention;

/// Why a snapshot is kept: the rule that claimed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
    Within,
    /// The newest snapshot, which is never removed.
    Newest,
}

impl Reason {
    /// The short name used in `bakrun retention` output (`"daily"`, `"within"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Last => "last",
            Reason::Hourly => "hourly",
            Reason::Daily => "daily",
            Reason::Weekly => "weekly",
            Reason::Monthly => "monthly",
            Reason::Yearly => "yearly",
            Reason::Within => "within",
            Reason::Newest => "newest",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one snapshot time, in the order the times were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub keep: bool,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("keep-within `{0}` is not a duration: {1}")]
    Within(String, crate::duration::DurationError),
}

/// The result of one evaluation: the decisions in input order, and the order restic walks
/// them in (indices into the input, newest first), which callers printing newest-first
/// output can reuse instead of sorting again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decisions: Vec<Decision>,
    pub newest_first: Vec<usize>,
}

/// Decides, for each of `times` (any order), whether retention keeps it and why.
/// "Now" (restic ignores snapshots in the future when it finds the newest one for
/// keep-within) is the system clock; [`decide_at`] takes it explicitly.
pub fn decide(
    times: &[DateTime<FixedOffset>],
    rules: &Retention,
) -> Result<Vec<Decision>, RetentionError> {
    decide_at(times, rules, Utc::now())
}

/// [`decide`] with an explicit "now".
pub fn decide_at(
    times: &[DateTime<FixedOffset>],
    rules: &Retention,
    now: DateTime<Utc>,
) -> Result<Vec<Decision>, RetentionError> {
    Ok(evaluate(times, rules, now)?.decisions)
}

/// The walk order: indices of `times`, newest instant first, equal instants in input order.
pub fn newest_first(times: &[DateTime<FixedOffset>]) -> Vec<usize> {
    // Input is usually already sorted one way or the other (a listing of snapshots):
    // check before paying for a sort.
    if times.windows(2).all(|w| w[0] >= w[1]) {
        return (0..times.len()).collect();
    }
    if times.windows(2).all(|w| w[0] < w[1]) {
        // Strictly oldest first: no ties, so plain reversal keeps the tie rule.
        return (0..times.len()).rev().collect();
    }
    if times.len() > u32::MAX as usize {
        // Beyond 4 billion snapshots the index no longer fits the key below: sort indices.
        let mut order: Vec<usize> = (0..times.len()).collect();
        order.sort_by_key(|&i| Reverse(times[i]));
        return order;
    }
    // Sort small plain keys by value (no indirection, no DateTime comparisons); the index
    // as last key makes the unstable sort give the stable order (ties in input order).
    let mut keys: Vec<(i64, u32, u32)> = times
        .iter()
        .enumerate()
        .map(|(i, t)| (t.timestamp(), t.timestamp_subsec_nanos(), i as u32))
        .collect();
    keys.sort_unstable_by(|a, b| (b.0, b.1, a.2).cmp(&(a.0, a.1, b.2)));
    keys.into_iter().map(|(_, _, i)| i as usize).collect()
}

/// The count rules in restic's order; the index is also the reason's position.
const COUNT_RULES: [Reason; 6] = [
    Reason::Last,
    Reason::Hourly,
    Reason::Daily,
    Reason::Weekly,
    Reason::Monthly,
    Reason::Yearly,
];

/// The full evaluation: decisions in input order plus the newest-first walk order.
pub fn evaluate(
    times: &[DateTime<FixedOffset>],
    rules: &Retention,
    now: DateTime<Utc>,
) -> Result<Evaluation, RetentionError> {
    let within = match &rules.keep_within {
        Some(text) => {
            let d = Duration::parse(text).map_err(|e| RetentionError::Within(text.clone(), e))?;
            // restic's `Duration.Zero()` means "not set".
            (!d.is_zero()).then_some(d)
        }
        None => None,
    };
    let counts = [
        rules.keep_last,
        rules.keep_hourly,
        rules.keep_daily,
        rules.keep_weekly,
        rules.keep_monthly,
        rules.keep_yearly,
    ];
    let order = newest_first(times);
    let empty_policy = within.is_none() && counts.iter().all(|c| c.unwrap_or(0) == 0);
    if empty_policy || times.is_empty() {
        return Ok(Evaluation {
            decisions: vec![
                Decision {
                    keep: true,
                    reasons: Vec::new(),
                };
                times.len()
            ],
            newest_first: order,
        });
    }

    // Only the rules in force, each with its counter and the bucket it saw last.
    struct Bucket {
        rule: usize,
        left: u32,
        last: Option<i64>,
    }
    let mut buckets: Vec<Bucket> = counts
        .iter()
        .enumerate()
        .filter_map(|(rule, c)| match c {
            Some(n) if *n > 0 => Some(Bucket {
                rule,
                left: *n,
                last: None,
            }),
            _ => None,
        })
        .collect();

    // `None` threshold with keep-within set: everything is within (the limit lies before
    // any representable time).
    let threshold = within.map(|d| {
        let latest = latest_not_in_future(times, now);
        within_limit(&latest, &d)
    });

    let mut decisions = vec![
        Decision {
            keep: false,
            reasons: Vec::new(),
        };
        times.len()
    ];
    for (nr, &i) in order.iter().enumerate() {
        let t = &times[i];
        let within = threshold
            .as_ref()
            .is_some_and(|limit| limit.as_ref().is_none_or(|l| t > l));
        // The walk goes back in time: once every counter is spent and keep-within is behind
        // us, nothing further can be kept, and the rest are already "remove".
        if !within && buckets.iter().all(|b| b.left == 0) {
            break;
        }
        let mut reasons = Vec::new();
        if within {
            reasons.push(Reason::Within);
        }
        if !buckets.is_empty() {
            // Wall-clock fields in the snapshot's own offset, as Go's time methods give.
            let local = t.naive_local();
            for b in buckets.iter_mut().filter(|b| b.left > 0) {
                let val = match b.rule {
                    0 => nr as i64,
                    1 => ymd(&local) * 100 + i64::from(local.hour()),
                    2 => ymd(&local),
                    3 => {
                        let w = local.iso_week();
                        i64::from(w.year()) * 100 + i64::from(w.week())
                    }
                    4 => i64::from(local.year()) * 100 + i64::from(local.month()),
                    _ => i64::from(local.year()),
                };
                if b.last != Some(val) {
                    b.last = Some(val);
                    b.left -= 1;
                    reasons.push(COUNT_RULES[b.rule]);
                }
            }
        }
        decisions[i] = Decision {
            keep: !reasons.is_empty(),
            reasons,
        };
    }

    // Safety net for the invariant "the newest snapshot is never removed"; see module docs.
    if let Some(&first) = order.first() {
        let d = &mut decisions[first];
        if !d.keep {
            d.keep = true;
            d.reasons.push(Reason::Newest);
        }
    }
    Ok(Evaluation {
        decisions,
        newest_first: order,
    })
}

/// restic's `ymd`: YYYYMMDD as one integer.
fn ymd(local: &chrono::NaiveDateTime) -> i64 {
    i64::from(local.year()) * 10_000 + i64::from(local.month()) * 100 + i64::from(local.day())
}

/// restic's `findLatestTimestamp`: the newest time strictly before `now`, starting from
/// Go's zero time (0001-01-01 UTC), which is what it returns when every snapshot is in
/// the future.
fn latest_not_in_future(
    times: &[DateTime<FixedOffset>],
    now: DateTime<Utc>,
) -> DateTime<FixedOffset> {
    // 0001-01-01T00:00:00Z; the fallback is unreachable but keeps this free of panics.
    const GO_ZERO_TIME: i64 = -62_135_596_800;
    let mut latest = DateTime::<Utc>::from_timestamp(GO_ZERO_TIME, 0)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .fixed_offset();
    for t in times {
        if *t > latest && *t < now {
            latest = *t;
        }
    }
    latest
}

/// `latest.AddDate(-years, -months, -days).Add(-hours)` as Go computes it, extended to
/// bakgen's weeks (as 7 days), minutes and seconds (as fixed time, like hours).
///
/// Not `Duration::before`: that clamps to the end of a short month as chrono does, while
/// Go lets the day overflow (2024-03-31 minus 1 month is "2024-02-31", i.e. 2024-03-02),
/// and the point of this module is to keep what restic keeps.
///
/// `None` when the limit lies outside chrono's calendar: nothing is that old.
pub fn within_limit(latest: &DateTime<FixedOffset>, d: &Duration) -> Option<DateTime<FixedOffset>> {
    let local = latest.naive_local();
    // Go's Date normalizes the month into the year first, then adds the day offset to the
    // first of that month.
    let month_index = i64::from(local.year()) * 12 + i64::from(local.month0())
        - i64::from(d.years) * 12
        - i64::from(d.months);
    let year = i32::try_from(month_index.div_euclid(12)).ok()?;
    let month = u32::try_from(month_index.rem_euclid(12)).ok()? + 1;
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let day_offset = i64::from(local.day()) - 1 - i64::from(d.days) - 7 * i64::from(d.weeks);
    let date = first.checked_add_signed(TimeDelta::try_days(day_offset)?)?;
    let shifted = latest
        .offset()
        .from_local_datetime(&date.and_time(local.time()))
        .single()?;
    let fixed = i64::from(d.hours) * 3_600 + i64::from(d.minutes) * 60 + i64::from(d.seconds);
    shifted.checked_sub_signed(TimeDelta::try_seconds(fixed)?)
}
