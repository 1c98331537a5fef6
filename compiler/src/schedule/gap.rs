//! The longest gap between consecutive elapses of a calendar: how late a run (or a drill)
//! may be before it counts as missed. Used by the plan (a drill's `within`) and emission
//! (a job's late-after, a watch's).

use std::collections::HashMap;

use chrono::{TimeZone, Utc};

use super::CalendarSpec;

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
