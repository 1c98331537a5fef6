//! The calendar arithmetic of restic's retention: bucket keys and keep-within limits,
//! computed as Go's `time` package computes them.

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc,
};

use crate::duration::Duration;

/// A period that snapshots are grouped by: restic's "buckers".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Every snapshot is its own bucket (`keep-last`).
    Snapshot,
    Hour,
    Day,
    /// ISO week: year and week taken together.
    Week,
    Month,
    Year,
}

/// The bucket of a snapshot: its wall-clock fields in its own offset, as Go's time methods
/// give them. `nr` is its position in the newest-first walk, `Snapshot`'s key.
pub fn bucket(period: Period, local: &NaiveDateTime, nr: usize) -> i64 {
    match period {
        Period::Snapshot => nr as i64,
        Period::Hour => ymd(local) * 100 + i64::from(local.hour()),
        Period::Day => ymd(local),
        Period::Week => {
            let w = local.iso_week();
            i64::from(w.year()) * 100 + i64::from(w.week())
        }
        Period::Month => i64::from(local.year()) * 100 + i64::from(local.month()),
        Period::Year => i64::from(local.year()),
    }
}

/// restic's `ymd`: YYYYMMDD as one integer.
fn ymd(local: &NaiveDateTime) -> i64 {
    i64::from(local.year()) * 10_000 + i64::from(local.month()) * 100 + i64::from(local.day())
}

/// restic's `findLatestTimestamp`: the newest time strictly before `now`, starting from
/// Go's zero time (0001-01-01 UTC), which is what it returns when every snapshot is in
/// the future.
pub fn latest_not_in_future(
    times: &[DateTime<FixedOffset>],
    now: DateTime<Utc>,
) -> DateTime<FixedOffset> {
    // 0001-01-01T00:00:00Z; the fallback is unreachable but keeps this free of panics.
    const GO_ZERO_TIME: i64 = -62_135_596_800;
    let mut latest = DateTime::<Utc>::from_timestamp(GO_ZERO_TIME, 0)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .fixed_offset();
    for t in times {
        if *t > latest && *t < now {
            latest = *t;
        }
    }
    latest
}

/// `latest.AddDate(-years, -months, -days).Add(-hours)` as Go computes it, extended to
/// bakgen's weeks (as 7 days), minutes and seconds (as fixed time, like hours).
///
/// Not `Duration::before`: that clamps to the end of a short month as chrono does, while
/// Go lets the day overflow (2024-03-31 minus 1 month is "2024-02-31", i.e. 2024-03-02),
/// and the point of this module is to keep what restic keeps.
///
/// `None` when the limit lies outside chrono's calendar: nothing is that old.
pub fn within_limit(latest: &DateTime<FixedOffset>, d: &Duration) -> Option<DateTime<FixedOffset>> {
    let local = latest.naive_local();
    // Go's Date normalizes the month into the year first, then adds the day offset to the
    // first of that month.
    let month_index = i64::from(local.year()) * 12 + i64::from(local.month0())
        - i64::from(d.years) * 12
        - i64::from(d.months);
    let year = i32::try_from(month_index.div_euclid(12)).ok()?;
    let month = u32::try_from(month_index.rem_euclid(12)).ok()? + 1;
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let day_offset = i64::from(local.day()) - 1 - i64::from(d.days) - 7 * i64::from(d.weeks);
    let date = first.checked_add_signed(TimeDelta::try_days(day_offset)?)?;
    let shifted = latest
        .offset()
        .from_local_datetime(&date.and_time(local.time()))
        .single()?;
    let fixed = i64::from(d.hours) * 3_600 + i64::from(d.minutes) * 60 + i64::from(d.seconds);
    shifted.checked_sub_signed(TimeDelta::try_seconds(fixed)?)
}
