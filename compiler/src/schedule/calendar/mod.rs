//! systemd calendar events (systemd.time(7)) with the semantics of systemd 252:
//! the same grammar, the same "Normalized form" and the same next elapses.
//!
//! The layers follow systemd's own `calendarspec.c` so that corner cases agree:
//! `parse` builds the components, `normalize` canonicalises, validates and prints them,
//! `elapse` searches for the next match on top of `clock`, an exact model of glibc's
//! `mktime`, whose handling of skipped and repeated local hours decides what systemd does
//! around daylight-saving changes.

mod clock;
mod elapse;
mod error;
mod normalize;
mod parse;
mod period;

use std::ops::Range;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use error::CalendarError;

/// Microseconds per second: the seconds field is kept in microseconds, as systemd does.
const USEC_PER_SEC: i64 = 1_000_000;

/// One element of a comma-separated list: `start`, `start..stop`, `start/repeat` or
/// `start..stop/repeat`. `stop` is -1 when absent, `repeat` 0 when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Component {
    start: i64,
    stop: i64,
    repeat: i64,
}

/// A list of components together with where each was written, for diagnostics.
#[derive(Debug, Clone, Default)]
struct Chain {
    items: Vec<(Component, Range<usize>)>,
}

/// Where a component was written does not change what it means.
impl PartialEq for Chain {
    fn eq(&self, other: &Chain) -> bool {
        self.components().eq(other.components())
    }
}

impl Eq for Chain {}

impl Chain {
    fn single(value: i64) -> Chain {
        Chain {
            items: vec![(
                Component {
                    start: value,
                    stop: -1,
                    repeat: 0,
                },
                0..0,
            )],
        }
    }

    /// An empty chain matches every value (`*`).
    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn components(&self) -> impl Iterator<Item = &Component> {
        self.items.iter().map(|(c, _)| c)
    }
}

/// A parsed, normalized and validated systemd calendar expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarSpec {
    /// Bit 0 is Monday; `None` matches every weekday.
    weekdays: Option<u8>,
    year: Chain,
    month: Chain,
    day: Chain,
    hour: Chain,
    minute: Chain,
    /// Seconds in microseconds.
    second: Chain,
    /// The day is counted back from the month's end (`~`).
    end_of_month: bool,
    /// Evaluated in UTC (` UTC`, or `@TIMESTAMP`).
    utc: bool,
    /// An IANA zone named in the expression.
    timezone: Option<(String, Tz)>,
    /// The zone is a `right/` one: its clock counts leap seconds.
    leap_seconds: bool,
    /// Daylight saving forced off (`Some(false)`) or on by naming one of the local zone's
    /// abbreviations, with that abbreviation for printing.
    dst: Option<(bool, String)>,
}

impl CalendarSpec {
    /// Parses an expression as systemd does when the local zone's abbreviations are not
    /// in play: `UTC` and IANA names are recognised as zones, `CET` only as the IANA zone.
    pub fn parse(text: &str) -> Result<CalendarSpec, CalendarError> {
        parse::parse(text, None)
    }

    /// Parses as systemd does on a host whose local zone is `local`: additionally, the
    /// local zone's standard and daylight-saving abbreviations (`CET`, `CEST` in Berlin)
    /// select standard or daylight-saving time.
    pub fn parse_in(text: &str, local: Tz) -> Result<CalendarSpec, CalendarError> {
        parse::parse(text, Some(local))
    }

    /// systemd's "Normalized form".
    pub fn normalized(&self) -> String {
        normalize::format(self)
    }

    /// The IANA zone or "UTC" written in the expression, if any.
    pub fn timezone(&self) -> Option<&str> {
        match &self.timezone {
            Some((name, _)) => Some(name),
            None if self.utc => Some("UTC"),
            None => None,
        }
    }

    /// The zone the expression is evaluated in, given the local one.
    pub fn zone(&self, local: Tz) -> Tz {
        if self.utc {
            Tz::UTC
        } else {
            self.timezone.as_ref().map_or(local, |(_, tz)| *tz)
        }
    }

    /// First elapse strictly after `after`; `local` is the zone used when the expression
    /// names none.
    ///
    /// Exactly as systemd 252 computes it, quirks included: a local time that does not
    /// exist (spring forward) is skipped, a repeated hour (fall back) is matched once, and
    /// with a forced `CEST`/`EDT`-style abbreviation (see [`CalendarSpec::parse_in`])
    /// systemd can even answer a time before `after` near a change; so does this.
    pub fn next_elapse(&self, after: &DateTime<Utc>, local: Tz) -> Option<DateTime<Utc>> {
        self.elapses(after, local).next()
    }

    /// The elapses after `after`, in order, each computed from the previous one as
    /// systemd's timers and `systemd-analyze calendar --iterations` do.
    pub fn elapses(&self, after: &DateTime<Utc>, local: Tz) -> Elapses<'_> {
        Elapses {
            spec: self,
            clock: clock::Clock::new(self.evaluation_zone(local)),
            usec: Some(after.timestamp_micros()),
            gave_up: false,
        }
    }

    fn evaluation_zone(&self, local: Tz) -> clock::Zone {
        if self.utc {
            clock::Zone::Utc
        } else {
            clock::Zone::Local(self.zone(local), self.leap_seconds)
        }
    }
}

impl std::str::FromStr for CalendarSpec {
    type Err = CalendarError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        CalendarSpec::parse(text)
    }
}

impl std::fmt::Display for CalendarSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.normalized())
    }
}

/// `t` as wall-clock time in `zone` with the zone's abbreviation, the way systemd prints
/// it ("Mon 2026-03-30 02:30:00 CEST"), using the zone's rules also after 2099.
pub fn format_in_zone(t: &DateTime<Utc>, zone: Tz) -> String {
    use chrono::{Offset, TimeZone};
    use chrono_tz::OffsetName;
    let secs = t.timestamp();
    let probe = if secs >= clock::TABLE_END {
        clock::same_calendar_before_2100(secs)
    } else {
        secs
    };
    let probe = DateTime::from_timestamp(probe, 0).unwrap_or(*t).naive_utc();
    let offset = zone.offset_from_utc_datetime(&probe);
    let seconds = offset.fix().local_minus_utc();
    let abbreviation = offset
        .abbreviation()
        .map_or_else(|| parse::numeric_abbreviation(seconds), str::to_string);
    let local = t.naive_utc() + chrono::TimeDelta::seconds(i64::from(seconds));
    format!("{} {abbreviation}", local.format("%a %Y-%m-%d %H:%M:%S"))
}

/// Successive elapses of a [`CalendarSpec`]; ends when the expression never elapses again.
pub struct Elapses<'a> {
    spec: &'a CalendarSpec,
    clock: clock::Clock,
    usec: Option<i64>,
    gave_up: bool,
}

impl Elapses<'_> {
    /// Whether the series ended because the search hit systemd's iteration limit (where
    /// systemd reports "Infinite loop in calendar calculation") rather than because the
    /// expression never elapses again.
    pub fn gave_up(&self) -> bool {
        self.gave_up
    }
}

impl Iterator for Elapses<'_> {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        let after = self.usec?;
        match elapse::next_usec(self.spec, &mut self.clock, after) {
            Ok(next) => {
                self.usec = Some(next);
                DateTime::from_timestamp_micros(next)
            }
            Err(why) => {
                self.usec = None;
                self.gave_up = why == elapse::NoElapse::GaveUp;
                None
            }
        }
    }
}
