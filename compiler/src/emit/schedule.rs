//! What a job spec needs to know about its schedule: the normalized expression, jitter, and
//! how old a last success may get before `bakrun status` calls the job late.

use std::collections::HashMap;

use crate::schedule::gap::longest_gap;
use crate::schedule::CalendarSpec;

/// The longest gap between consecutive runs, memoized per normalized expression (a fleet
/// shares a handful of schedules).
#[derive(Default, Clone)]
pub struct GapCache {
    gaps: HashMap<String, u64>,
}

impl GapCache {
    /// [`crate::schedule::gap::longest_gap`] of `spec`.
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

/// A run is late after the longest gap, plus jitter, plus the time a run may take.
pub fn late_after(gap: u64, jitter: u64, timeout: Option<u64>) -> u64 {
    if gap == 0 {
        return 0;
    }
    gap + jitter + timeout.unwrap_or(3600)
}
