//! The grammar of systemd.time(7) calendar events, read the way systemd 252 reads them.
//!
//! The reader follows `calendar_spec_from_string()` step by step (zone suffix, shorthand,
//! weekdays, date, time) because systemd's acceptance has quirks a cleaner grammar would
//! lose: a lone `12:00` is a time but `12` is an error, a trailing comma after weekdays is
//! fine, `*/2` is not a component, and so on.

use std::ops::Range;
use std::str::FromStr;

use chrono::Offset;
use chrono_tz::{OffsetComponents, OffsetName, Tz};

use super::{normalize, CalendarError, CalendarSpec, Chain, Component, USEC_PER_SEC};

/// systemd stores every value in a C `int`.
const INT_MAX: i64 = i32::MAX as i64;

/// systemd refuses lists longer than this many elements (`CALENDARSPEC_COMPONENTS_MAX`).
const COMPONENTS_MAX: usize = 240;

const WEEKDAYS: [(&str, u32); 14] = [
    ("Monday", 0),
    ("Mon", 0),
    ("Tuesday", 1),
    ("Tue", 1),
    ("Wednesday", 2),
    ("Wed", 2),
    ("Thursday", 3),
    ("Thu", 3),
    ("Friday", 4),
    ("Fri", 4),
    ("Saturday", 5),
    ("Sat", 5),
    ("Sunday", 6),
    ("Sun", 6),
];

const SHORTHANDS: [&str; 12] = [
    "minutely",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "semiannually",
    "semi-annually",
    "biannually",
    "bi-annually",
    "yearly",
    "annually",
];

const SHAPE_HELP: &str = "write [WEEKDAYS] [YEAR-]MONTH-DAY [HOUR:MINUTE[:SECOND]] [ZONE], \
                          e.g. `Mon..Fri *-*-* 02:30`, or a shorthand such as `daily`";

pub(super) fn parse(text: &str, local: Option<Tz>) -> Result<CalendarSpec, CalendarError> {
    parse_spec(text, local).map_err(|err| unknown_zone(text, local).unwrap_or(err))
}

/// When an expression fails only because of its last word, that word was meant as a
/// time zone: say so rather than report a syntax error somewhere before it.
fn unknown_zone(text: &str, local: Option<Tz>) -> Option<CalendarError> {
    let space = text.rfind(' ')?;
    let word = &text[space + 1..];
    let zone_like = word.contains('/')
        || word.starts_with(|c: char| c.is_ascii_uppercase() || c == '+' || c == '-');
    if !zone_like || parse_spec(&text[..space], local).is_err() {
        return None;
    }
    Some(
        CalendarError::new(
            text,
            space + 1..text.len(),
            format!("unknown time zone `{word}`"),
        )
        .with_help(
            "write `UTC` or an IANA zone name such as `Europe/Berlin` (names are case-sensitive)",
        ),
    )
}

fn parse_spec(text: &str, local: Option<Tz>) -> Result<CalendarSpec, CalendarError> {
    let bytes = text.as_bytes();
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        return Err(CalendarError::new(
            text,
            nul..nul + 1,
            "the expression contains a NUL byte",
        ));
    }

    let mut spec = CalendarSpec {
        weekdays: None,
        year: Chain::default(),
        month: Chain::default(),
        day: Chain::default(),
        hour: Chain::default(),
        minute: Chain::default(),
        second: Chain::default(),
        end_of_month: false,
        utc: false,
        timezone: None,
        leap_seconds: false,
        dst: None,
    };

    let end = strip_zone(text, local, &mut spec);
    let body = &text[..end];
    if body.is_empty() {
        return Err(
            CalendarError::new(text, 0..text.len(), "the expression is empty")
                .with_help(SHAPE_HELP),
        );
    }

    let mut weekday_bits = 0;
    if !shorthand(body, &mut spec) {
        let mut p = Parser {
            text,
            s: bytes,
            pos: 0,
            end,
        };
        weekday_bits = p.weekdays()?;
        if !p.date(&mut spec)? {
            p.time(&mut spec)?;
        }
        if p.pos < p.end {
            return Err(p.unexpected("after the expression"));
        }
    }

    normalize::normalize(&mut spec, weekday_bits);
    normalize::validate(&spec, text)?;
    Ok(spec)
}

/// Removes a trailing zone (` UTC` in any case, one of the local zone's abbreviations, or
/// an IANA name) and records it; returns the length of what is left.
fn strip_zone(text: &str, local: Option<Tz>, spec: &mut CalendarSpec) -> usize {
    let bytes = text.as_bytes();
    if ends_with_no_case(bytes, b" UTC") {
        spec.utc = true;
        return bytes.len() - 4;
    }
    if let Some(local) = local {
        let (standard, daylight) = abbreviations(local);
        for (is_dst, name) in [(false, standard), (true, daylight)] {
            if name.is_empty() || !ends_with_no_case(bytes, name.as_bytes()) {
                continue;
            }
            let e = bytes.len() - name.len();
            if e == 0 || bytes[e - 1] != b' ' {
                continue;
            }
            spec.dst = Some((is_dst, name));
            return e - 1;
        }
    }
    if let Some(space) = bytes.iter().rposition(|&b| b == b' ') {
        let name = &text[space + 1..];
        if let Some((tz, leap_seconds)) = zone_named(name) {
            spec.timezone = Some((name.to_string(), tz));
            spec.leap_seconds = leap_seconds;
            return space;
        }
    }
    bytes.len()
}

/// A zone name as systemd's `verify_timezone()` accepts it: a plain relative name of the
/// zoneinfo database. The flag is set for the `right/` zones, which count leap seconds.
pub(super) fn zone_named(name: &str) -> Option<(Tz, bool)> {
    if name.is_empty() || name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return None;
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'/'))
    {
        return None;
    }
    // Debian's zoneinfo also holds a few special files, `posix/NAME` copies of the zones
    // and `right/NAME` variants with leap seconds.
    match name {
        "posixrules" => Some((Tz::America__New_York, false)),
        "localtime" => Some((
            crate::schedule::zone::system_timezone().unwrap_or(Tz::UTC),
            false,
        )),
        _ => {
            let (base, leap) = match name.strip_prefix("right/") {
                Some(base) => (base, true),
                None => (name.strip_prefix("posix/").unwrap_or(name), false),
            };
            let tz = if base == "Factory" {
                Some(Tz::UTC)
            } else {
                Tz::from_str(base).ok()
            };
            tz.map(|tz| (tz, leap))
        }
    }
}

/// The local zone's standard and daylight-saving abbreviations, as glibc's `tzname`
/// holds them: from the current rules; a zone without daylight saving repeats the first.
fn abbreviations(tz: Tz) -> (String, String) {
    use chrono::TimeZone;
    let mut standard = None;
    let mut daylight = None;
    // Probe a recent year's winter and summer in both hemispheres.
    for (month, day) in [(1, 15), (7, 15)] {
        if let Some(at) =
            chrono::NaiveDate::from_ymd_opt(2030, month, day).and_then(|d| d.and_hms_opt(12, 0, 0))
        {
            let offset = tz.offset_from_utc_datetime(&at);
            // tzdata writes numeric abbreviations ("-03", "+0530"), which chrono-tz omits.
            let name = offset.abbreviation().map_or_else(
                || numeric_abbreviation(offset.fix().local_minus_utc()),
                str::to_string,
            );
            if offset.dst_offset().num_seconds() != 0 {
                daylight.get_or_insert(name);
            } else {
                standard.get_or_insert(name);
            }
        }
    }
    let standard = standard.unwrap_or_default();
    let daylight = daylight.unwrap_or_else(|| standard.clone());
    (standard, daylight)
}

pub(super) fn numeric_abbreviation(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    let (h, m) = (minutes / 60, minutes % 60);
    if m == 0 {
        format!("{sign}{h:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

fn ends_with_no_case(s: &[u8], suffix: &[u8]) -> bool {
    s.len() >= suffix.len() && s[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// The named shorthands; true when `body` was one.
fn shorthand(body: &str, spec: &mut CalendarSpec) -> bool {
    let lower = body.to_ascii_lowercase();
    let (months, day, hour, minute): (&[i64], Option<i64>, Option<i64>, Option<i64>) =
        match lower.as_str() {
            "minutely" => (&[], None, None, None),
            "hourly" => (&[], None, None, Some(0)),
            "daily" => (&[], None, Some(0), Some(0)),
            "weekly" => {
                spec.weekdays = Some(1);
                (&[], None, Some(0), Some(0))
            }
            "monthly" => (&[], Some(1), Some(0), Some(0)),
            "annually" | "yearly" | "anually" => (&[1], Some(1), Some(0), Some(0)),
            "quarterly" => (&[1, 4, 7, 10], Some(1), Some(0), Some(0)),
            "biannually" | "bi-annually" | "semiannually" | "semi-annually" => {
                (&[1, 7], Some(1), Some(0), Some(0))
            }
            _ => return false,
        };
    spec.month = Chain {
        items: months
            .iter()
            .map(|&m| {
                (
                    Component {
                        start: m,
                        stop: -1,
                        repeat: 0,
                    },
                    0..0,
                )
            })
            .collect(),
    };
    spec.day = day.map(Chain::single).unwrap_or_default();
    spec.hour = hour.map(Chain::single).unwrap_or_default();
    spec.minute = minute.map(Chain::single).unwrap_or_default();
    spec.second = Chain::single(0);
    true
}

struct Parser<'a> {
    text: &'a str,
    s: &'a [u8],
    pos: usize,
    /// Where the zone suffix began, if any: the parser sees the text as ending there.
    end: usize,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        if i < self.end {
            self.s[i]
        } else {
            0
        }
    }

    fn peek(&self) -> u8 {
        self.at(self.pos)
    }

    fn skip_spaces(&mut self) {
        while self.peek() == b' ' {
            self.pos += 1;
        }
    }

    fn error(&self, span: Range<usize>, message: impl Into<String>) -> CalendarError {
        CalendarError::new(self.text, span, message)
    }

    /// The character at the cursor is not allowed here.
    fn unexpected(&self, context: &str) -> CalendarError {
        let rest = &self.text[self.pos.min(self.end)..self.end];
        if self.pos >= self.end {
            return self
                .error(
                    self.end..self.end,
                    format!("the expression ends early {context}"),
                )
                .with_help(SHAPE_HELP);
        }
        if let Some(word) = rest.strip_prefix(' ') {
            let word = word.trim_start_matches(' ');
            let start = self.end - word.len();
            if !word.contains(' ') && word.starts_with(|c: char| c.is_ascii_alphabetic()) {
                return self
                    .error(start..self.end, format!("unknown time zone `{word}`"))
                    .with_help("write `UTC` or an IANA zone name such as `Europe/Berlin`");
            }
            return self
                .error(self.pos..self.end, format!("unexpected text {context}"))
                .with_help(SHAPE_HELP);
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c == '/' && self.pos > 0 && self.s[self.pos - 1] == b'*' {
            return self
                .error(
                    self.pos - 1..self.pos + 1,
                    "`*/N` is not a systemd repetition",
                )
                .with_help(
                    "repeat from a start value instead, e.g. `*:0/15` for every 15 minutes",
                );
        }
        self.error(
            self.pos..self.pos + c.len_utf8(),
            format!("unexpected `{c}` {context}"),
        )
        .with_help(SHAPE_HELP)
    }

    /// Weekday names, lists and ranges before the date; returns their bits (0 if none).
    fn weekdays(&mut self) -> Result<i32, CalendarError> {
        let mut bits = 0i32;
        let mut range_from: Option<(u32, usize)> = None;
        let mut first = true;
        loop {
            let rest = &self.s[self.pos..self.end];
            let found = WEEKDAYS.iter().find(|(name, _)| {
                rest.len() >= name.len() && rest[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            });
            let Some(&(name, nr)) = found else {
                if first {
                    return Ok(0);
                }
                return Err(self.expected_weekday());
            };
            let day_start = self.pos;
            let after = self.pos + name.len();
            if !matches!(self.at(after), 0 | b'-' | b'.' | b',' | b' ') {
                let word_end = self.s[day_start..self.end]
                    .iter()
                    .position(|b| !b.is_ascii_alphanumeric())
                    .map_or(self.end, |n| day_start + n);
                let word = &self.text[day_start..word_end];
                return Err(self
                    .error(day_start..word_end, format!("`{word}` is not a weekday"))
                    .with_help(
                        "weekdays are Mon, Tue, Wed, Thu, Fri, Sat, Sun or their full names",
                    ));
            }
            bits |= 1 << nr;
            if let Some((from, from_pos)) = range_from {
                if from > nr {
                    let range = &self.text[from_pos..after];
                    return Err(self
                        .error(from_pos..after, format!("`{range}`: a weekday range cannot wrap"))
                        .with_help("ranges run from Monday to Sunday; split it, e.g. `Sat,Sun` or `Sun,Mon..Fri`"));
                }
                for j in from + 1..nr {
                    bits |= 1 << j;
                }
            }
            self.pos = after;

            match self.peek() {
                0 => return Ok(bits),
                b' ' => {
                    self.skip_spaces();
                    return Ok(bits);
                }
                b'.' | b'-' => {
                    let dots = self.peek() == b'.';
                    if let Some((_, from_pos)) = range_from {
                        return Err(self
                            .error(
                                from_pos..self.pos + 1,
                                "a weekday range cannot be continued",
                            )
                            .with_help("separate ranges with `,`, e.g. `Mon..Wed,Fri..Sun`"));
                    }
                    if dots && self.at(self.pos + 1) != b'.' {
                        return Err(
                            self.error(self.pos..self.pos + 1, "expected `..` for a weekday range")
                        );
                    }
                    range_from = Some((nr, day_start));
                    self.pos += if dots { 2 } else { 1 };
                }
                b',' => {
                    range_from = None;
                    self.pos += 1;
                }
                _ => {}
            }

            // A trailing comma is fine, an open range is not.
            if matches!(self.peek(), 0 | b' ') {
                self.skip_spaces();
                if let Some((_, from_pos)) = range_from {
                    return Err(self
                        .error(from_pos..self.pos, "the weekday range has no end")
                        .with_help("write both ends, e.g. `Mon..Fri`"));
                }
                return Ok(bits);
            }
            first = false;
        }
    }

    fn expected_weekday(&self) -> CalendarError {
        let end = self.s[self.pos..self.end]
            .iter()
            .position(|&b| matches!(b, b' ' | b',' | b'.' | b'-'))
            .map_or(self.end, |n| self.pos + n);
        self.error(self.pos..end, "expected a weekday")
            .with_help("weekdays are Mon, Tue, Wed, Thu, Fri, Sat, Sun or their full names")
    }

    /// The date part. Returns true when the expression was an `@TIMESTAMP`, which has no time.
    fn date(&mut self, spec: &mut CalendarSpec) -> Result<bool, CalendarError> {
        if self.peek() == 0 {
            return Ok(false);
        }
        if self.peek() == b'@' {
            self.timestamp(spec)?;
            return Ok(true);
        }

        let start = self.pos;
        let first = self.chain(false)?;
        // A `:` (or nothing) after the first part: it was the hour, so read it again as time.
        if matches!(self.peek(), 0 | b':') {
            self.pos = start;
            return Ok(false);
        }
        let mut tilde_at = None;
        match self.peek() {
            b'~' => {
                spec.end_of_month = true;
                tilde_at = Some(self.pos);
            }
            b'-' => {}
            _ => return Err(self.unexpected("in the date")),
        }
        self.pos += 1;
        let second = self.chain(false)?;

        if matches!(self.peek(), 0 | b' ') {
            self.skip_spaces();
            spec.month = first;
            spec.day = second;
            return Ok(false);
        }
        if let Some(t) = tilde_at {
            return Err(self
                .error(t..t + 1, "`~` can only stand between the month and the day")
                .with_help("`*-02~03` means the third last day of February"));
        }
        match self.peek() {
            b'~' => spec.end_of_month = true,
            b'-' => {}
            _ => return Err(self.unexpected("in the date")),
        }
        self.pos += 1;
        let third = self.chain(false)?;
        if !matches!(self.peek(), 0 | b' ') {
            return Err(self.unexpected("after the date"));
        }
        self.skip_spaces();
        spec.year = first;
        spec.month = second;
        spec.day = third;
        Ok(false)
    }

    /// `@SECONDS`: one instant in UTC, read with `strtoul()`'s leniency.
    fn timestamp(&mut self, spec: &mut CalendarSpec) -> Result<(), CalendarError> {
        let start = self.pos;
        self.pos += 1;
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            self.pos += 1;
        }
        let negative = match self.peek() {
            b'-' => {
                self.pos += 1;
                true
            }
            b'+' => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        let digits = self.pos;
        let mut value: u64 = 0;
        let mut overflow = false;
        while self.peek().is_ascii_digit() {
            let d = u64::from(self.peek() - b'0');
            match value.checked_mul(10).and_then(|v| v.checked_add(d)) {
                Some(v) => value = v,
                None => overflow = true,
            }
            self.pos += 1;
        }
        if self.pos == digits {
            return Err(self
                .error(
                    start..self.pos.max(start + 1),
                    "expected seconds since the epoch after `@`",
                )
                .with_help("e.g. `@1700000000`"));
        }
        if overflow {
            return Err(self.error(start..self.pos, "the timestamp is too large"));
        }
        // strtoul() negates in unsigned arithmetic; time_t then reads it back as signed.
        let seconds = if negative {
            value.wrapping_neg()
        } else {
            value
        } as i64;
        let Some(at) = chrono::DateTime::from_timestamp(seconds, 0) else {
            return Err(self.error(start..self.pos, "the timestamp is out of range"));
        };
        use chrono::{Datelike, Timelike};
        let span = start..self.pos;
        let single = |v: i64| Chain {
            items: vec![(
                Component {
                    start: v,
                    stop: -1,
                    repeat: 0,
                },
                span.clone(),
            )],
        };
        spec.utc = true;
        spec.year = single(i64::from(at.year()));
        spec.month = single(i64::from(at.month()));
        spec.day = single(i64::from(at.day()));
        spec.hour = single(i64::from(at.hour()));
        spec.minute = single(i64::from(at.minute()));
        spec.second = single(i64::from(at.second()) * USEC_PER_SEC);
        Ok(())
    }

    /// `HOUR:MINUTE[:SECOND]`, or midnight when nothing is left.
    fn time(&mut self, spec: &mut CalendarSpec) -> Result<(), CalendarError> {
        if self.peek() == 0 {
            spec.hour = Chain::single(0);
            spec.minute = Chain::single(0);
            spec.second = Chain::single(0);
            return Ok(());
        }
        let hour = self.chain(false)?;
        if self.peek() != b':' {
            return Err(match self.peek() {
                0 => self
                    .error(
                        self.end..self.end,
                        "expected `:` and the minute after the hour",
                    )
                    .with_help("a time is HOUR:MINUTE[:SECOND], e.g. `02:30`"),
                _ => self.unexpected("after the hour"),
            });
        }
        self.pos += 1;
        let minute = self.chain(false)?;
        let second = if self.peek() == 0 {
            Chain::single(0)
        } else if self.peek() == b':' {
            self.pos += 1;
            let second = self.chain(true)?;
            if self.peek() != 0 {
                return Err(self.unexpected("after the seconds"));
            }
            second
        } else {
            return Err(self.unexpected("after the minute"));
        };
        spec.hour = hour;
        spec.minute = minute;
        spec.second = second;
        Ok(())
    }

    /// `*` or a comma-separated list of components. `usec` reads seconds, which may have
    /// a fraction, into microseconds.
    fn chain(&mut self, usec: bool) -> Result<Chain, CalendarError> {
        if self.peek() == b'*' {
            self.pos += 1;
            // `*` seconds are "every whole second", the others "no constraint".
            return Ok(if usec {
                Chain {
                    items: vec![(
                        Component {
                            start: 0,
                            stop: -1,
                            repeat: USEC_PER_SEC,
                        },
                        self.pos - 1..self.pos,
                    )],
                }
            } else {
                Chain::default()
            });
        }
        let mut chain = Chain::default();
        loop {
            if chain.items.len() > COMPONENTS_MAX {
                return Err(self.error(
                    self.pos..self.pos + 1,
                    format!("a list may have at most {} elements", COMPONENTS_MAX + 1),
                ));
            }
            let item = self.component(usec, chain.items.is_empty())?;
            chain.items.push(item);
            if self.peek() != b',' {
                return Ok(chain);
            }
            self.pos += 1;
        }
    }

    fn component(
        &mut self,
        usec: bool,
        first: bool,
    ) -> Result<(Component, Range<usize>), CalendarError> {
        let start_pos = self.pos;
        let start = self.decimal(usec, if first { "a number or `*`" } else { "a number" })?;
        let mut stop = -1;
        let mut repeat = 0;
        if self.peek() == b'.' && self.at(self.pos + 1) == b'.' {
            self.pos += 2;
            stop = self.decimal(usec, "a number to end the range")?;
            repeat = if usec { USEC_PER_SEC } else { 1 };
        }
        if self.peek() == b'/' {
            self.pos += 1;
            let repeat_pos = self.pos;
            repeat = self.decimal(usec, "a number after `/`")?;
            if repeat == 0 {
                return Err(self
                    .error(repeat_pos..self.pos, "a repetition of 0 never advances")
                    .with_help("repeat every 1 or more, e.g. `0/15`"));
            }
        } else {
            if start > INT_MAX - repeat {
                return Err(self.error(start_pos..self.pos, "the number is too large"));
            }
            // Without a repetition a seconds range steps by whole seconds, so it must span one.
            if usec && stop >= 0 && start + repeat > stop {
                return Err(self
                    .error(
                        start_pos..self.pos,
                        "a range of seconds must span at least one second",
                    )
                    .with_help("add a repetition for finer steps, e.g. `0..0.5/0.25`"));
            }
        }
        if !matches!(self.peek(), 0 | b' ' | b',' | b'-' | b'~' | b':') {
            return Err(self.unexpected("in a date or time field"));
        }
        Ok((
            Component {
                start,
                stop,
                repeat,
            },
            start_pos..self.pos,
        ))
    }

    /// A decimal number as `parse_component_decimal()` reads it: digits only, at most
    /// `INT_MAX`; seconds may carry up to six fractional digits (rounded on the seventh).
    fn decimal(&mut self, usec: bool, what: &str) -> Result<i64, CalendarError> {
        let start = self.pos;
        if !self.peek().is_ascii_digit() {
            return Err(self.expected(what));
        }
        let mut value: u64 = 0;
        let mut overflow = false;
        while self.peek().is_ascii_digit() {
            let d = u64::from(self.peek() - b'0');
            match value.checked_mul(10).and_then(|v| v.checked_add(d)) {
                Some(v) => value = v,
                None => overflow = true,
            }
            self.pos += 1;
        }
        if overflow {
            return Err(self.error(start..self.pos, "the number is too large"));
        }
        if usec {
            let Some(scaled) = value.checked_mul(USEC_PER_SEC as u64) else {
                return Err(self.error(start..self.pos, "the number is too large"));
            };
            value = scaled;
            // One `.` is a decimal point, `..` a range.
            if self.peek() == b'.' && self.at(self.pos + 1) != b'.' {
                self.pos += 1;
                if !self.peek().is_ascii_digit() {
                    return Err(self.expected("digits after the decimal point"));
                }
                let mut fraction: u64 = 0;
                for _ in 0..6 {
                    fraction *= 10;
                    if self.peek().is_ascii_digit() {
                        fraction += u64::from(self.peek() - b'0');
                        self.pos += 1;
                    }
                }
                if matches!(self.peek(), b'5'..=b'9') {
                    fraction += 1;
                }
                while self.peek().is_ascii_digit() {
                    self.pos += 1;
                }
                value = value.saturating_add(fraction);
            }
        }
        if value > INT_MAX as u64 {
            return Err(self.error(start..self.pos, "the number is too large"));
        }
        Ok(value as i64)
    }

    fn expected(&self, what: &str) -> CalendarError {
        if self.pos >= self.end {
            return self
                .error(
                    self.end..self.end,
                    format!("expected {what}, but the expression ends"),
                )
                .with_help(SHAPE_HELP);
        }
        let c = self.text[self.pos..].chars().next().unwrap_or(' ');
        let word_len = self.text[self.pos..self.end]
            .find(|c: char| !(c.is_ascii_alphabetic() || c == '-'))
            .unwrap_or(self.end - self.pos);
        if word_len > 1 {
            let word = &self.text[self.pos..self.pos + word_len];
            let span = self.pos..self.pos + word_len;
            if SHORTHANDS.iter().any(|s| s.eq_ignore_ascii_case(word)) {
                return self
                    .error(span, format!("`{word}` must stand alone"))
                    .with_help(
                    "a shorthand can only be followed by a time zone, e.g. `daily Europe/Berlin`",
                );
            }
            return self
                .error(
                    span,
                    format!("`{word}` is neither a weekday nor a shorthand"),
                )
                .with_help(format!("the shorthands are {}", SHORTHANDS.join(", ")));
        }
        let mut err = self.error(
            self.pos..self.pos + c.len_utf8(),
            format!("expected {what}, found `{c}`"),
        );
        if c.is_ascii_alphabetic() {
            err = err.with_help(
                "weekdays (Mon..Sun) come first; the shorthands are minutely, hourly, daily, \
                 weekly, monthly, quarterly, semiannually, yearly",
            );
        } else {
            err = err.with_help(SHAPE_HELP);
        }
        err
    }
}
