//! The name of a run: what an rsync snapshot folder is called and what a restic run's
//! `run=` tag says (see [`crate::restic_tags`]). Both engines name a run by the moment it
//! started, so retention and `--at` read the same time back from either.
//!
//! In the contract crate because both engines, the restore script and any reader of where
//! backups land (a watch of the destinations) must name and read runs the same way.

use chrono::{DateTime, FixedOffset};

/// The run name format: ISO 8601 basic format with the local UTC offset,
/// `20260401T023000+0200`. It carries the offset (retention buckets are local days), has no
/// `:` (rsync would read `a:b` as a remote path), no spaces, and sorts by time while the
/// offset stays the same; bakrun itself always orders snapshots by the parsed instant.
pub const NAME_FORMAT: &str = "%Y%m%dT%H%M%S%z";

/// The name of the run that started at `time`.
pub fn snapshot_name(time: &DateTime<FixedOffset>) -> String {
    time.format(NAME_FORMAT).to_string()
}

/// The time in a run's name, or `None` for any other name (`latest`, `….incomplete`).
pub fn parse_snapshot_name(name: &str) -> Option<DateTime<FixedOffset>> {
    if name.len() != "20260401T023000+0200".len() {
        return None;
    }
    DateTime::parse_from_str(name, NAME_FORMAT).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_carry_the_offset() {
        let t = DateTime::parse_from_rfc3339("2026-04-01T02:30:00+02:00").unwrap();
        assert_eq!(snapshot_name(&t), "20260401T023000+0200");
        assert_eq!(parse_snapshot_name("20260401T023000+0200"), Some(t));
        assert_eq!(parse_snapshot_name("20260401T023000+0200.incomplete"), None);
        assert_eq!(parse_snapshot_name("latest"), None);
    }
}
