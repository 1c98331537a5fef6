//! Retention with restic's `forget` semantics as restic 0.16 and later apply them
//! (`internal/data/snapshot_policy.go`; unchanged in what it keeps up to restic 0.19), so
//! that a policy means the same thing on rsync snapshots as on a restic repository, and a
//! restic user reading restic's documentation gets what they read.
//!
//! What restic does, and therefore what this module does:
//!
//! - Snapshots are walked newest first. Equal times keep their input order (restic sorts
//!   with `sort.Stable`).
//! - `keep-within D`: kept when strictly after `latest - D`, where `latest` is the newest
//!   snapshot that is *not in the future* (restic skips future ones; when all are in the
//!   future, `latest` is Go's zero time and everything is within). `latest - D` is Go's
//!   `AddDate(-years, -months, -days)` then minus the hours: months are normalized, not
//!   clamped (31 March minus 1 month is 2 March, not 28 February).
//! - `keep-last/hourly/daily/weekly/monthly/yearly N`: each rule keeps the first snapshot
//!   of each new bucket it meets while it has counts left; `all` never runs out. Buckets
//!   are computed in the snapshot's own local time (the offset it carries, as Go's
//!   `time.Time` does); weekly buckets are ISO year and week taken together. `keep-last`
//!   puts each snapshot in its own bucket, so equal times are still separate snapshots.
//! - `keep-within-hourly/daily/weekly/monthly/yearly D`: the first snapshot of each bucket
//!   among those within D (measured as for `keep-within`), without a count.
//! - The oldest snapshot (the last of the walk) is also kept by every rule that still has
//!   counts left when it gets there, or, for a `keep-within-<period>` rule, that it is
//!   within: while buckets are not full, the history reaches back as far as it can
//!   (restic 0.16, issue 3624). When that snapshot is not the first of a new bucket, the
//!   reason is the rule's, marked "oldest" ([`Reason::Oldest`], restic ≥ 0.18's wording).
//! - Rules are united: a snapshot is kept when any rule claims it, and its reasons are
//!   listed in restic's order: within, last, hourly, daily, weekly, monthly, yearly,
//!   within-hourly, …, within-yearly.
//! - A rule of 0 (or a zero duration) is no rule at all. With no rule left the policy is
//!   empty and everything is kept, with no reasons: restic ≥ 0.17 refuses to `forget` with
//!   an empty policy (0.14 kept everything); removing everything is never what was meant.
//!
//! The newest snapshot is never removed. Under these semantics that already holds (every
//! count rule keeps the first snapshot of the walk; keep-within keeps everything from
//! `latest` on), so [`Reason::Newest`] is only a safety net that should never appear.

mod calendar;

use std::cmp::Reverse;

use chrono::{DateTime, FixedOffset, Utc};

use crate::duration::Duration;
use crate::spec::Retention;
pub use bakgen_spec::count::{Count, CountError};
pub use calendar::within_limit;
use calendar::{bucket, latest_not_in_future, Period};

/// A rule that keeps the newest snapshot of each bucket of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucketed {
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
    WithinHourly,
    WithinDaily,
    WithinWeekly,
    WithinMonthly,
    WithinYearly,
}

impl Bucketed {
    /// The rules in restic's order of reasons.
    const ALL: [Bucketed; 11] = [
        Bucketed::Last,
        Bucketed::Hourly,
        Bucketed::Daily,
        Bucketed::Weekly,
        Bucketed::Monthly,
        Bucketed::Yearly,
        Bucketed::WithinHourly,
        Bucketed::WithinDaily,
        Bucketed::WithinWeekly,
        Bucketed::WithinMonthly,
        Bucketed::WithinYearly,
    ];

    fn period(self) -> Period {
        match self {
            Bucketed::Last => Period::Snapshot,
            Bucketed::Hourly | Bucketed::WithinHourly => Period::Hour,
            Bucketed::Daily | Bucketed::WithinDaily => Period::Day,
            Bucketed::Weekly | Bucketed::WithinWeekly => Period::Week,
            Bucketed::Monthly | Bucketed::WithinMonthly => Period::Month,
            Bucketed::Yearly | Bucketed::WithinYearly => Period::Year,
        }
    }

    /// The reason naming this rule marked "oldest".
    fn oldest_name(self) -> &'static str {
        match self {
            Bucketed::Last => "oldest last",
            Bucketed::Hourly => "oldest hourly",
            Bucketed::Daily => "oldest daily",
            Bucketed::Weekly => "oldest weekly",
            Bucketed::Monthly => "oldest monthly",
            Bucketed::Yearly => "oldest yearly",
            Bucketed::WithinHourly => "oldest within-hourly",
            Bucketed::WithinDaily => "oldest within-daily",
            Bucketed::WithinWeekly => "oldest within-weekly",
            Bucketed::WithinMonthly => "oldest within-monthly",
            Bucketed::WithinYearly => "oldest within-yearly",
        }
    }

    fn reason(self) -> Reason {
        match self {
            Bucketed::Last => Reason::Last,
            Bucketed::Hourly => Reason::Hourly,
            Bucketed::Daily => Reason::Daily,
            Bucketed::Weekly => Reason::Weekly,
            Bucketed::Monthly => Reason::Monthly,
            Bucketed::Yearly => Reason::Yearly,
            Bucketed::WithinHourly => Reason::WithinHourly,
            Bucketed::WithinDaily => Reason::WithinDaily,
            Bucketed::WithinWeekly => Reason::WithinWeekly,
            Bucketed::WithinMonthly => Reason::WithinMonthly,
            Bucketed::WithinYearly => Reason::WithinYearly,
        }
    }
}

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
    WithinHourly,
    WithinDaily,
    WithinWeekly,
    WithinMonthly,
    WithinYearly,
    /// The oldest snapshot, kept because the rule had buckets left when the walk reached
    /// it, although it is not the first of a new bucket.
    Oldest(Bucketed),
    /// The newest snapshot, which is never removed.
    Newest,
}

impl Reason {
    /// The short name used in `bakrun retention` output (`"daily"`, `"within"`,
    /// `"oldest yearly"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Last => "last",
            Reason::Hourly => "hourly",
            Reason::Daily => "daily",
            Reason::Weekly => "weekly",
            Reason::Monthly => "monthly",
            Reason::Yearly => "yearly",
            Reason::Within => "within",
            Reason::WithinHourly => "within-hourly",
            Reason::WithinDaily => "within-daily",
            Reason::WithinWeekly => "within-weekly",
            Reason::WithinMonthly => "within-monthly",
            Reason::WithinYearly => "within-yearly",
            Reason::Oldest(rule) => rule.oldest_name(),
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
    #[error("{rule} `{text}` is not a duration: {source}")]
    Within {
        rule: &'static str,
        text: String,
        source: crate::duration::DurationError,
    },
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

/// A duration rule's value; `None` when absent or zero (restic's `Duration.Zero()` means
/// "not set").
fn duration(rule: &'static str, text: &Option<String>) -> Result<Option<Duration>, RetentionError> {
    let Some(text) = text else { return Ok(None) };
    let d = Duration::parse(text).map_err(|source| RetentionError::Within {
        rule,
        text: text.clone(),
        source,
    })?;
    Ok((!d.is_zero()).then_some(d))
}

/// The start of a duration rule's span: snapshots strictly after it are within; `None`
/// when everything is (the limit lies before any representable time).
type After = Option<DateTime<FixedOffset>>;

/// What limits one bucketed rule: a count, or a duration back from the newest snapshot.
enum Limit {
    /// Buckets left; `None` is `all`.
    Left(Option<u32>),
    After(After),
}

/// One bucketed rule in force during the walk.
struct Rule {
    kind: Bucketed,
    limit: Limit,
    /// The bucket of the snapshot this rule kept last.
    last: Option<i64>,
}

impl Rule {
    /// Whether the rule may still claim `t` or anything older.
    fn live(&self, t: &DateTime<FixedOffset>) -> bool {
        match &self.limit {
            Limit::Left(left) => *left != Some(0),
            Limit::After(after) => is_after(t, after),
        }
    }
}

/// Whether `t` is strictly after `after`; `None` is before every time.
fn is_after(t: &DateTime<FixedOffset>, after: &After) -> bool {
    after.as_ref().is_none_or(|a| t > a)
}

/// The rules in force: `keep-within`'s span, and the bucketed rules in restic's order.
struct InForce {
    within: Option<After>,
    rules: Vec<Rule>,
}

fn rules_in_force(
    rules: &Retention,
    times: &[DateTime<FixedOffset>],
    now: DateTime<Utc>,
) -> Result<InForce, RetentionError> {
    let counts = [
        rules.keep_last,
        rules.keep_hourly,
        rules.keep_daily,
        rules.keep_weekly,
        rules.keep_monthly,
        rules.keep_yearly,
    ];
    let durations = [
        duration("keep-within-hourly", &rules.keep_within_hourly)?,
        duration("keep-within-daily", &rules.keep_within_daily)?,
        duration("keep-within-weekly", &rules.keep_within_weekly)?,
        duration("keep-within-monthly", &rules.keep_within_monthly)?,
        duration("keep-within-yearly", &rules.keep_within_yearly)?,
    ];
    let within = duration("keep-within", &rules.keep_within)?;
    // Every duration is measured back from the newest snapshot not in the future.
    let mut latest = None;
    let mut limit = |d: &Duration| {
        let latest = *latest.get_or_insert_with(|| latest_not_in_future(times, now));
        within_limit(&latest, d)
    };
    let within = within.as_ref().map(&mut limit);
    let mut in_force = Vec::new();
    for (kind, count) in Bucketed::ALL[..6].iter().zip(counts) {
        let left = match count {
            Some(Count::All) => None,
            Some(Count::Buckets(n)) if n > 0 => Some(n),
            _ => continue,
        };
        in_force.push(Rule {
            kind: *kind,
            limit: Limit::Left(left),
            last: None,
        });
    }
    for (kind, d) in Bucketed::ALL[6..].iter().zip(&durations) {
        if let Some(d) = d {
            in_force.push(Rule {
                kind: *kind,
                limit: Limit::After(limit(d)),
                last: None,
            });
        }
    }
    Ok(InForce {
        within,
        rules: in_force,
    })
}

/// The full evaluation: decisions in input order plus the newest-first walk order.
pub fn evaluate(
    times: &[DateTime<FixedOffset>],
    rules: &Retention,
    now: DateTime<Utc>,
) -> Result<Evaluation, RetentionError> {
    let InForce {
        within,
        rules: mut in_force,
    } = rules_in_force(rules, times, now)?;
    let order = newest_first(times);
    if (within.is_none() && in_force.is_empty()) || times.is_empty() {
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

    let mut decisions = vec![
        Decision {
            keep: false,
            reasons: Vec::new(),
        };
        times.len()
    ];
    let oldest = order.len() - 1;
    for (nr, &i) in order.iter().enumerate() {
        let t = &times[i];
        let is_within = within.as_ref().is_some_and(|after| is_after(t, after));
        // The walk goes back in time: once every count is spent and every duration is
        // behind us, nothing further can be kept, and the rest are already "remove".
        if !is_within && !in_force.iter().any(|r| r.live(t)) {
            break;
        }
        let mut reasons = Vec::new();
        if is_within {
            reasons.push(Reason::Within);
        }
        let local = t.naive_local();
        for rule in in_force.iter_mut().filter(|r| r.live(t)) {
            let val = bucket(rule.kind.period(), &local, nr);
            if rule.last == Some(val) && nr != oldest {
                continue;
            }
            // restic ≥ 0.16 also keeps the oldest snapshot while the rule has room.
            reasons.push(if rule.last == Some(val) {
                Reason::Oldest(rule.kind)
            } else {
                rule.kind.reason()
            });
            rule.last = Some(val);
            if let Limit::Left(Some(n)) = &mut rule.limit {
                *n -= 1;
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
