//! The time a new run is named after, when the clock may disagree with the snapshots.
//!
//! A run is named after its start (whole seconds, local offset) and must sort after every
//! existing snapshot: retention keeps "the newest", `latest` and `--link-dest` follow the
//! order. When the newest snapshot lies ahead of the clock (a boot with a wrong clock, a
//! restored disk, a clock corrected backwards), waiting for the clock to pass it could
//! take years. The run is then named one second after that snapshot and a warning names
//! it: backups keep running, and the runner postpones retention while any snapshot lies
//! in the future ([`in_the_future`]), because retention's buckets and `keep-within` are
//! computed from the names and would drop real history for a wrong one.

use chrono::{DateTime, Duration, FixedOffset, Local, Timelike};

use super::{EngineError, Snapshot};
use crate::signals;

/// A newest snapshot at most this far ahead is a run in the same second (two runs in a
/// row, a manual run right after the timer), not a wrong clock: wait for the clock.
const SAME_SECOND: Duration = Duration::seconds(2);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTime {
    pub time: DateTime<FixedOffset>,
    /// Set when the name had to follow a snapshot in the future.
    pub warning: Option<String>,
}

fn now() -> DateTime<FixedOffset> {
    let now = Local::now().fixed_offset();
    now.with_nanosecond(0).unwrap_or(now)
}

/// Now, or just after `newest` (the time of the newest run, named as rsync names it) when
/// that is not in the past. Waits at most [`SAME_SECOND`], and stops at once on a stop
/// signal. Both engines name their runs with it.
pub fn run_time_after(newest: Option<DateTime<FixedOffset>>) -> Result<RunTime, EngineError> {
    let Some(newest) = newest else {
        return Ok(RunTime {
            time: now(),
            warning: None,
        });
    };
    loop {
        let now = now();
        if newest < now {
            return Ok(RunTime {
                time: now,
                warning: None,
            });
        }
        if newest - now > SAME_SECOND {
            return after_future(newest, now);
        }
        if signals::sleep(std::time::Duration::from_millis(100)).is_err() {
            return Err(EngineError::Interrupted);
        }
    }
}

fn after_future(
    newest: DateTime<FixedOffset>,
    now: DateTime<FixedOffset>,
) -> Result<RunTime, EngineError> {
    let name = |t: &DateTime<FixedOffset>| super::run_name::snapshot_name(t);
    let next = newest
        .checked_add_signed(Duration::seconds(1))
        .map(|t| t.with_timezone(now.offset()))
        .filter(|t| super::run_name::parse_snapshot_name(&name(t)).is_some());
    let Some(time) = next else {
        return Err(EngineError::Invalid(format!(
            "snapshot {} is dated so far ahead that no later name exists; this machine's clock says {}: remove or rename that snapshot",
            name(&newest),
            name(&now)
        )));
    };
    let ahead = (newest - now).num_seconds();
    Ok(RunTime {
        time,
        warning: Some(format!(
            "clock skew: snapshot {} is {ahead} s ahead of this machine's clock ({}); this run is named {} to come after it, and retention waits until no snapshot lies in the future. Check the clock (timedatectl); if it is right, that snapshot was made with a wrong clock: remove or rename it",
            name(&newest),
            name(&now),
            name(&time),
        )),
    })
}

/// The newest snapshot dated after now, if any: while one exists, retention would judge
/// every snapshot against a wrong "newest".
pub fn in_the_future(snapshots: &[Snapshot]) -> Option<&Snapshot> {
    let now = Local::now().fixed_offset();
    snapshots
        .iter()
        .filter(|s| s.time > now)
        .max_by_key(|s| s.time)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(time: DateTime<FixedOffset>) -> Snapshot {
        Snapshot {
            id: super::super::run_name::snapshot_name(&time),
            time,
            path: None,
        }
    }

    #[test]
    fn a_snapshot_far_in_the_future_is_followed_at_once_with_a_warning() {
        let future = now() + Duration::days(400);
        let started = std::time::Instant::now();
        let t = run_time_after(Some(future)).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        assert_eq!(t.time, future + Duration::seconds(1));
        let warning = t.warning.unwrap();
        assert!(warning.contains(&snap(future).id), "{warning}");
        assert!(in_the_future(&[snap(future)]).is_some());
    }

    #[test]
    fn a_past_snapshot_gives_now_and_none_gives_now() {
        let past = now() - Duration::days(1);
        let t = run_time_after(Some(past)).unwrap();
        assert!(t.time > past && t.warning.is_none());
        assert!(run_time_after(None).unwrap().warning.is_none());
        assert!(in_the_future(&[snap(past)]).is_none());
    }

    #[test]
    fn the_last_possible_name_is_refused() {
        let end = DateTime::parse_from_rfc3339("9999-12-31T23:59:59+00:00").unwrap();
        assert!(matches!(
            run_time_after(Some(end)),
            Err(EngineError::Invalid(_))
        ));
    }
}
