//! What a job spec needs to know about its schedule: the normalized expression, jitter, and
//! how old a last success may get before `bakrun status` calls the job late.

pub use crate::schedule::GapCache;

/// A run is late after the longest gap, plus jitter, plus the time a run may take.
pub fn late_after(gap: u64, jitter: u64, timeout: Option<u64>) -> u64 {
    if gap == 0 {
        return 0;
    }
    gap + jitter + timeout.unwrap_or(3600)
}
