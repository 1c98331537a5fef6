//! Retention with restic's `forget` semantics. PLACEHOLDER: the algorithm lands on the
//! `retention` branch; until then every snapshot is kept, which is the safe answer.

use chrono::{DateTime, FixedOffset};

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

/// Decides, for each of `times` (any order), whether retention keeps it and why.
pub fn decide(
    times: &[DateTime<FixedOffset>],
    _rules: &Retention,
) -> Result<Vec<Decision>, RetentionError> {
    Ok(times
        .iter()
        .map(|_| Decision {
            keep: true,
            reasons: Vec::new(),
        })
        .collect())
}
