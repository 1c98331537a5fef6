//! What a job spec needs to know about its schedule: the normalized expression, jitter, and
//! how old a last success may get before `bakrun status` calls the job late.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};

use crate::schedule::CalendarSpec;

/// The longest gap between consecutive runs, memoized per normalized expression (a fleet
/// shares a handful of schedules).
#[derive(Default)]
pub struct GapCache {
    gaps: HashMap<String, u64>,
}

impl GapCache {
    /// Seconds between the two furthest-apart consecutive elapses within a year from a
    /// fixed instant (so output never depends on when bakgen ran), evaluated in UTC. 0 when
    /// the expression fires fewer than twice: such a job is never "late".
    pub fn longest_gap(&mut self, spec: &CalendarSpec) -> u64 {
        let key = spec.normalized();
        if let Some(gap) = self.gaps.get(&key) {
            return *gap;
        }
        let Some(base) = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single() else {
            return 0;
        };
        let end = base + chrono::Duration::days(400);
        let mut previous: Option<chrono::DateTime<Utc>> = None;
        let mut gap = 0u64;
        // A year of minutely runs is half a million elapses: stop once the gap is known
        // to be small, after a few thousand.
        for (n, t) in spec.elapses(&base, chrono_tz::UTC).enumerate() {
            if t > end || n > 5_000 {
                break;
            }
            if let Some(p) = previous {
                let d = (t - p).num_seconds().max(0) as u64;
                gap = gap.max(d);
            }
            previous = Some(t);
        }
        self.gaps.insert(key, gap);
        gap
    }
}

/// A run is late after the longest gap, plus jitter, plus the time a run may take.
pub fn late_after(gap: u64, jitter: u64, timeout: Option<u64>) -> u64 {
    if gap == 0 {
        return 0;
    }
    gap + jitter + timeout.unwrap_or(3600)
}
