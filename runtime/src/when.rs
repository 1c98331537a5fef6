//! WHEN, the point in time of `bakrun snapshots --at` and `bakrun restore --at`.
//!
//! Three forms, told apart by their shape:
//!
//! - an ISO date, `2026-04-01`: the **end** of that day in local time (its last
//!   nanosecond). A user who asks for a file "as it was on 1 April" wants that day's
//!   backups to count, so the newest snapshot at or before WHEN includes the 02:00 backup
//!   of 1 April. (duplicity takes the day's 00:00, which silently picks 31 March's backup.)
//! - a date-time: RFC 3339 with an offset (`2026-04-01T12:00:00+02:00`, taken as is), or
//!   without one (`2026-04-01T12:00`, `2026-04-01 12:00:00`, local time). A local time that
//!   a DST change makes ambiguous or skips is refused: the user adds an offset.
//! - a duration back from now in bakgen's grammar (`3D12h`, `6M`), calendar months and
//!   years counted as [`Duration::before`] does.
//!
//! "Local time" is the time zone of the `now` given, so tests pass a fixed one and the
//! command line passes `chrono::Local::now()`.

use chrono::{
    DateTime, Days, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta,
    TimeZone,
};

use crate::duration::{Duration, DurationError};

const FORMS: &str = "an ISO date (2026-04-01), a date-time (2026-04-01T12:00:00+02:00) or a duration back from now (3D12h)";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    #[error("empty WHEN; write {FORMS}")]
    Empty,
    #[error("`{text}` is not a valid date: {reason}")]
    Date { text: String, reason: String },
    #[error("`{text}` is not a valid date-time: {reason}")]
    DateTime { text: String, reason: String },
    #[error("`{text}` is not a valid duration: {source}")]
    Duration {
        text: String,
        #[source]
        source: DurationError,
    },
    #[error("`{text}` is ambiguous in local time (a clock change repeats it); add an offset such as {earlier} or {later}")]
    Ambiguous {
        text: String,
        earlier: String,
        later: String,
    },
    #[error("`{text}` does not exist in local time (a clock change skips it); add an offset")]
    Nonexistent { text: String },
    #[error("`{text}` lies outside the supported calendar")]
    OutOfRange { text: String },
    #[error("`{text}` is not a WHEN; write {FORMS}")]
    Unrecognized { text: String },
}

/// Parses WHEN relative to `now`, whose time zone is "local time" for dates and date-times
/// written without an offset.
pub fn parse_when<Tz: TimeZone>(
    text: &str,
    now: &DateTime<Tz>,
) -> Result<DateTime<FixedOffset>, WhenError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(WhenError::Empty);
    }
    let b = text.as_bytes();
    let date_shaped = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit);
    if date_shaped && b.len() == 10 {
        return end_of_day(text, now);
    }
    if date_shaped && matches!(b[10], b'T' | b't' | b' ') {
        return date_time(text, now);
    }
    if b[0].is_ascii_digit() && text.chars().all(|c| c.is_ascii_alphanumeric()) {
        let d = Duration::parse(text).map_err(|source| WhenError::Duration {
            text: text.to_owned(),
            source,
        })?;
        return d
            .before(now)
            .map(|t| t.fixed_offset())
            .ok_or_else(|| WhenError::OutOfRange {
                text: text.to_owned(),
            });
    }
    Err(WhenError::Unrecognized {
        text: text.to_owned(),
    })
}

/// The last nanosecond of `text`'s day in `now`'s zone: the start of the next day, less 1 ns.
fn end_of_day<Tz: TimeZone>(
    text: &str,
    now: &DateTime<Tz>,
) -> Result<DateTime<FixedOffset>, WhenError> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| WhenError::Date {
        text: text.to_owned(),
        reason: e.to_string(),
    })?;
    let out_of_range = || WhenError::OutOfRange {
        text: text.to_owned(),
    };
    let next = date
        .checked_add_days(Days::new(1))
        .ok_or_else(out_of_range)?;
    let tz = now.timezone();
    // Midnight can fall in a DST gap (some zones change clocks at 00:00): the next day then
    // starts at the first local time that exists, found in 15-minute steps.
    let start_of_next = (0..=24 * 4)
        .find_map(|quarter| {
            let naive = next
                .and_time(NaiveTime::MIN)
                .checked_add_signed(TimeDelta::minutes(15 * quarter))?;
            tz.from_local_datetime(&naive).earliest()
        })
        .ok_or_else(out_of_range)?;
    start_of_next
        .fixed_offset()
        .checked_sub_signed(TimeDelta::nanoseconds(1))
        .ok_or_else(out_of_range)
}

fn date_time<Tz: TimeZone>(
    text: &str,
    now: &DateTime<Tz>,
) -> Result<DateTime<FixedOffset>, WhenError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t);
    }
    // No offset: local time, with or without seconds and fractions.
    let normalized = text.replacen(['t', ' '], "T", 1);
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&normalized, f).ok());
    let Some(naive) = naive else {
        // Report the RFC 3339 parser's reason: it is the form we document.
        let reason = DateTime::parse_from_rfc3339(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        return Err(WhenError::DateTime {
            text: text.to_owned(),
            reason: format!(
                "{reason}; expected e.g. 2026-04-01T12:00:00+02:00 or 2026-04-01T12:00"
            ),
        });
    };
    match now.timezone().from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.fixed_offset()),
        LocalResult::Ambiguous(a, b) => Err(WhenError::Ambiguous {
            text: text.to_owned(),
            earlier: a.fixed_offset().to_rfc3339(),
            later: b.fixed_offset().to_rfc3339(),
        }),
        LocalResult::None => Err(WhenError::Nonexistent {
            text: text.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(hours: i32) -> FixedOffset {
        FixedOffset::east_opt(hours * 3600).unwrap()
    }

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-03-31T10:00:00+02:00").unwrap()
    }

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn a_date_is_the_end_of_that_local_day() {
        let t = parse_when("2026-04-01", &now()).unwrap();
        assert_eq!(t, at("2026-04-01T23:59:59.999999999+02:00"));
        assert_eq!(t.offset(), &fixed(2));
        // A backup at 02:00 that day is at or before WHEN; one at midnight after is not.
        assert!(at("2026-04-01T02:00:00+02:00") <= t);
        assert!(at("2026-04-02T00:00:00+02:00") > t);
    }

    #[test]
    fn rfc3339_is_taken_as_is() {
        assert_eq!(
            parse_when("2026-04-01T12:00:00Z", &now()).unwrap(),
            at("2026-04-01T12:00:00Z")
        );
        let t = parse_when("2026-04-01T12:00:00.5-05:00", &now()).unwrap();
        assert_eq!(t, at("2026-04-01T12:00:00.5-05:00"));
        assert_eq!(t.offset(), &fixed(-5));
    }

    #[test]
    fn a_date_time_without_offset_is_local() {
        for text in [
            "2026-04-01T12:00",
            "2026-04-01 12:00:00",
            "2026-04-01t12:00:00.0",
        ] {
            assert_eq!(
                parse_when(text, &now()).unwrap(),
                at("2026-04-01T12:00:00+02:00"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_duration_goes_back_from_now() {
        assert_eq!(
            parse_when("3D12h", &now()).unwrap(),
            at("2026-03-27T22:00:00+02:00")
        );
        // Calendar months, clamped to the end of a short month (Duration::before).
        assert_eq!(
            parse_when("1M", &now()).unwrap(),
            at("2026-02-28T10:00:00+02:00")
        );
        assert_eq!(
            parse_when("6M", &now()).unwrap(),
            at("2025-09-30T10:00:00+02:00")
        );
        assert_eq!(parse_when("0s", &now()).unwrap(), now());
    }

    #[test]
    fn dst_is_resolved_in_the_zone_of_now() {
        // A zone whose offset changes: chrono's Local cannot be pinned in a test, so use a
        // hand-made one: UTC+1 before 2026-03-29T01:00Z, UTC+2 after (Central Europe).
        #[derive(Clone, Copy, Debug)]
        struct Cet;
        impl TimeZone for Cet {
            type Offset = FixedOffset;
            fn from_offset(_: &FixedOffset) -> Self {
                Cet
            }
            fn offset_from_local_date(&self, d: &NaiveDate) -> LocalResult<FixedOffset> {
                self.offset_from_local_datetime(&d.and_time(NaiveTime::MIN))
            }
            fn offset_from_local_datetime(&self, l: &NaiveDateTime) -> LocalResult<FixedOffset> {
                let switch = NaiveDate::from_ymd_opt(2026, 3, 29)
                    .unwrap()
                    .and_hms_opt(2, 0, 0)
                    .unwrap();
                let back = NaiveDate::from_ymd_opt(2026, 10, 25)
                    .unwrap()
                    .and_hms_opt(2, 0, 0)
                    .unwrap();
                if *l < switch {
                    LocalResult::Single(FixedOffset::east_opt(3600).unwrap())
                } else if *l < switch + TimeDelta::hours(1) {
                    LocalResult::None
                } else if *l < back {
                    LocalResult::Single(FixedOffset::east_opt(7200).unwrap())
                } else if *l < back + TimeDelta::hours(1) {
                    LocalResult::Ambiguous(
                        FixedOffset::east_opt(7200).unwrap(),
                        FixedOffset::east_opt(3600).unwrap(),
                    )
                } else {
                    LocalResult::Single(FixedOffset::east_opt(3600).unwrap())
                }
            }
            fn offset_from_utc_date(&self, d: &NaiveDate) -> FixedOffset {
                self.offset_from_utc_datetime(&d.and_time(NaiveTime::MIN))
            }
            fn offset_from_utc_datetime(&self, u: &NaiveDateTime) -> FixedOffset {
                let on = NaiveDate::from_ymd_opt(2026, 3, 29)
                    .unwrap()
                    .and_hms_opt(1, 0, 0)
                    .unwrap();
                let off = NaiveDate::from_ymd_opt(2026, 10, 25)
                    .unwrap()
                    .and_hms_opt(1, 0, 0)
                    .unwrap();
                let h = if *u >= on && *u < off { 2 } else { 1 };
                FixedOffset::east_opt(h * 3600).unwrap()
            }
        }
        let now = Cet.with_ymd_and_hms(2026, 4, 10, 12, 0, 0).unwrap();
        // The date before the switch ends in winter time, the day of it in summer time.
        assert_eq!(
            parse_when("2026-03-28", &now).unwrap(),
            at("2026-03-28T23:59:59.999999999+01:00")
        );
        assert_eq!(
            parse_when("2026-03-29", &now).unwrap(),
            at("2026-03-29T23:59:59.999999999+02:00")
        );
        assert!(matches!(
            parse_when("2026-03-29T02:30", &now),
            Err(WhenError::Nonexistent { .. })
        ));
        let e = parse_when("2026-10-25T02:30", &now).unwrap_err();
        assert!(matches!(e, WhenError::Ambiguous { .. }));
        assert!(e.to_string().contains("2026-10-25T02:30:00+02:00"), "{e}");
        assert!(e.to_string().contains("2026-10-25T02:30:00+01:00"), "{e}");
    }

    #[test]
    fn bad_text_says_what_is_wrong() {
        assert_eq!(parse_when("  ", &now()), Err(WhenError::Empty));
        assert!(matches!(
            parse_when("2026-02-30", &now()),
            Err(WhenError::Date { .. })
        ));
        assert!(matches!(
            parse_when("2026-04-01T25:00:00Z", &now()),
            Err(WhenError::DateTime { .. })
        ));
        let e = parse_when("3x", &now()).unwrap_err();
        assert!(e.to_string().contains("unknown unit"), "{e}");
        let e = parse_when("yesterday", &now()).unwrap_err();
        assert!(matches!(e, WhenError::Unrecognized { .. }));
        assert!(e.to_string().contains("ISO date"), "{e}");
        assert!(matches!(
            parse_when("4000000000Y", &now()),
            Err(WhenError::OutOfRange { .. }) | Err(WhenError::Duration { .. })
        ));
    }
}
