//! The longest gap between consecutive runs of a schedule, which sets how old a job's last
//! success may get before it is late (`late-after-seconds` in the job spec) and a drill's
//! default `within`. Used by the plan and by emission (a job's late-after, a watch's).

use std::collections::HashMap;

use chrono::{TimeZone, Utc};

use super::CalendarSpec;

/// Elapses the search looks at: a year of minutely runs is half a million elapses, and
/// the gap is known to be small after a few thousand.
pub const SEARCHED_ELAPSES: usize = 5_000;

/// Seconds between the two furthest-apart consecutive elapses within a year from a fixed
/// instant (so output never depends on when bakgen ran), evaluated in UTC. 0 when the
/// expression fires fewer than twice: such a job is never "late".
///
/// In closed form when the expression repeats with a fixed period and fires at most
/// [`SEARCHED_ELAPSES`] times a period — then the search sees every gap of a period and
/// the two agree (`tests/calendar_gap.rs`) —, else by [`longest_gap_searched`].
pub fn longest_gap(spec: &CalendarSpec) -> u64 {
    spec.fixed_period_gap(SEARCHED_ELAPSES)
        .unwrap_or_else(|| longest_gap_searched(spec))
}

/// [`longest_gap`] by walking the elapses: the fallback, and the closed form's oracle.
pub fn longest_gap_searched(spec: &CalendarSpec) -> u64 {
    let Some(base) = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single() else {
        return 0;
    };
    let end = base + chrono::Duration::days(400);
    let mut previous: Option<chrono::DateTime<Utc>> = None;
    let mut gap = 0u64;
    for (n, t) in spec.elapses(&base, chrono_tz::UTC).enumerate() {
        if t > end || n > SEARCHED_ELAPSES {
            break;
        }
        if let Some(p) = previous {
            let d = (t - p).num_seconds().max(0) as u64;
            gap = gap.max(d);
        }
        previous = Some(t);
    }
    gap
}

/// [`longest_gap`] memoized per normalized expression (a fleet shares a handful of
/// schedules).
#[derive(Default, Clone)]
pub struct GapCache {
    gaps: HashMap<String, u64>,
}

impl GapCache {
    pub fn longest_gap(&mut self, spec: &CalendarSpec) -> u64 {
        let key = spec.normalized();
        if let Some(gap) = self.gaps.get(&key) {
            return *gap;
        }
        let gap = longest_gap(spec);
        self.gaps.insert(key, gap);
        gap
    }
}
