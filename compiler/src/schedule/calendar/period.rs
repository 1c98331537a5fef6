//! The longest gap between consecutive elapses, in closed form, for the expressions that
//! repeat with a fixed period in UTC: any date (`*-*-*`), optionally some weekdays, and
//! times of day. Their elapses are the same every day (or every week), so the longest gap
//! is read off one period instead of searched elapse by elapse. Everything else (a date,
//! a zone with daylight saving, an end-of-month day) has no fixed period and is left to
//! the search (`crate::schedule::gap`), which is also this module's test oracle.

use super::{CalendarSpec, Chain, USEC_PER_SEC};

const DAY_USEC: i64 = 86_400 * USEC_PER_SEC;

impl CalendarSpec {
    /// The longest gap in seconds (sub-second parts dropped, as the search does) between
    /// consecutive elapses evaluated in UTC, when the expression has a fixed period and
    /// fires at most `limit` times a period; `None` otherwise. `Some(0)` when it never fires.
    pub fn fixed_period_gap(&self, limit: usize) -> Option<u64> {
        let periodic = self.timezone.is_none()
            && self.dst.is_none()
            && !self.end_of_month
            && self.year.is_empty()
            && self.month.is_empty()
            && self.day.is_empty();
        if !periodic {
            return None;
        }
        let hours = values(&self.hour, 24, limit)?;
        let minutes = values(&self.minute, 60, limit)?;
        let seconds = values(&self.second, 60 * USEC_PER_SEC, limit)?;
        // Days of the period: every day (a period of one day), or the weekdays of a week
        // (bit 0 is Monday; which weekday the week starts on does not change the gaps).
        let days: Vec<i64> = match self.weekdays {
            None => vec![0],
            Some(bits) => (0..7).filter(|d| bits & (1 << d) != 0).collect(),
        };
        let period = if self.weekdays.is_some() { 7 } else { 1 } * DAY_USEC;
        let per_period = days
            .len()
            .checked_mul(hours.len())?
            .checked_mul(minutes.len())?
            .checked_mul(seconds.len())?;
        if per_period > limit {
            return None;
        }
        let mut times = Vec::with_capacity(per_period);
        for d in &days {
            for h in &hours {
                for m in &minutes {
                    for s in &seconds {
                        times.push(d * DAY_USEC + (h * 60 + m) * 60 * USEC_PER_SEC + s);
                    }
                }
            }
        }
        let (Some(first), Some(last)) = (times.first(), times.last()) else {
            return Some(0);
        };
        let wrap = first + period - last;
        let longest = times
            .windows(2)
            .map(|w| w[1] - w[0])
            .chain([wrap])
            .max()
            .unwrap_or(0);
        Some(u64::try_from(longest / USEC_PER_SEC).unwrap_or(0))
    }
}

/// The values in `0..end` that `chain` matches, sorted: the elapse search's
/// `find_matching_component()` read as a set (each component's start, then every `repeat`
/// after it up to its stop; every value for `*`). `None` when there are more than `limit`,
/// or when the search would skip some of them now and then: past the last value, a
/// repetition's next value lies beyond the field (`0/5` hours: 25) and normalizes into the
/// next day at hour 1; where that next day is in a new month, systemd's search keeps the
/// hour (`tm_within_bounds()` resets only the day) and so skips the values below it (hour
/// 0 on every first of the month). A fixed period holds only when that remainder is
/// at most the first value.
fn values(chain: &Chain, end: i64, limit: usize) -> Option<Vec<i64>> {
    if chain.is_empty() {
        return (usize::try_from(end).ok()? <= limit).then(|| (0..end).collect());
    }
    let mut out = Vec::new();
    let mut overflow: Option<i64> = None;
    for c in chain.components() {
        let last = if c.stop >= 0 { c.stop } else { i64::MAX };
        let mut v = c.start;
        while v < end {
            out.push(v);
            if out.len() > limit {
                return None;
            }
            if c.repeat <= 0 || v + c.repeat > last {
                break;
            }
            v += c.repeat;
        }
        if v >= end {
            overflow = Some(overflow.map_or(v, |o| o.min(v)));
        }
    }
    out.sort_unstable();
    out.dedup();
    let first = out.first().copied().unwrap_or(0);
    match overflow {
        Some(v) if v - end > first => None,
        _ => Some(out),
    }
}
