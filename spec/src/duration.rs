//! Durations as bakgen writes them: integers with a unit, several allowed (`3D12h`, `6M`, `1Y`).
//!
//! Units: `s` seconds, `m` minutes, `h` hours, `D` days, `W` weeks, `M` months, `Y` years.
//! Months and years are calendar units: going back `1M` from 31 March lands on the last day
//! of February, as restic and duplicity do, so they are kept apart from the fixed units.

use std::fmt;

use chrono::{DateTime, Months, TimeZone};
use serde::{Deserialize, Serialize};

/// A parsed duration; `Display` writes it back in canonical order (`1Y6M2W3D4h5m6s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Duration {
    pub years: u32,
    pub months: u32,
    pub weeks: u32,
    pub days: u32,
    pub hours: u32,
    pub minutes: u32,
    pub seconds: u32,
}

/// Why a duration string was refused, with the byte range of the bad part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DurationError {
    pub message: String,
    pub start: usize,
    pub end: usize,
}

impl DurationError {
    fn new(message: impl Into<String>, start: usize, end: usize) -> Self {
        Self {
            message: message.into(),
            start,
            end,
        }
    }
}

impl Duration {
    /// Parses `3D12h`-style text. Whitespace is not allowed; every number needs a unit.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        if text.is_empty() {
            return Err(DurationError::new(
                "empty duration; write a number and a unit such as `30m`",
                0,
                0,
            ));
        }
        let mut out = Duration::default();
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut seen = [false; 7];
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                let ch = text[i..].chars().next().unwrap_or(' ');
                return Err(DurationError::new(
                    format!("expected a number before `{ch}`"),
                    i,
                    i + ch.len_utf8(),
                ));
            }
            let number: u32 = text[start..i].parse().map_err(|_| {
                DurationError::new(format!("`{}` is too large", &text[start..i]), start, i)
            })?;
            let Some(unit) = text[i..].chars().next() else {
                return Err(DurationError::new(
                    format!(
                        "`{}` has no unit; add one of s, m, h, D, W, M, Y",
                        &text[start..i]
                    ),
                    start,
                    i,
                ));
            };
            let slot = match unit {
                'Y' | 'y' => 0,
                'M' => 1,
                'W' | 'w' => 2,
                'D' | 'd' => 3,
                'h' | 'H' => 4,
                'm' => 5,
                's' | 'S' => 6,
                other => {
                    return Err(DurationError::new(
                        format!(
                            "unknown unit `{other}`; use s, m (minutes), h, D, W, M (months), Y"
                        ),
                        i,
                        i + other.len_utf8(),
                    ))
                }
            };
            if seen[slot] {
                return Err(DurationError::new(
                    format!("unit `{unit}` is given twice"),
                    start,
                    i + 1,
                ));
            }
            seen[slot] = true;
            let field = match slot {
                0 => &mut out.years,
                1 => &mut out.months,
                2 => &mut out.weeks,
                3 => &mut out.days,
                4 => &mut out.hours,
                5 => &mut out.minutes,
                _ => &mut out.seconds,
            };
            *field = number;
            i += unit.len_utf8();
        }
        Ok(out)
    }

    pub fn is_zero(&self) -> bool {
        *self == Duration::default()
    }

    /// Length in seconds, with systemd's averages for the calendar units
    /// (a month is 30.44 days, a year 365.25 days), for unit settings such as `TimeoutStartSec=`.
    pub fn approx_seconds(&self) -> u64 {
        const MONTH: u64 = 2_629_800;
        const YEAR: u64 = 31_557_600;
        u64::from(self.years) * YEAR
            + u64::from(self.months) * MONTH
            + u64::from(self.weeks) * 604_800
            + u64::from(self.days) * 86_400
            + u64::from(self.hours) * 3_600
            + u64::from(self.minutes) * 60
            + u64::from(self.seconds)
    }

    /// The instant this duration before `t`, months and years counted on the calendar.
    /// Returns `None` when that lies before the calendar chrono can represent.
    pub fn before<Tz: TimeZone>(&self, t: &DateTime<Tz>) -> Option<DateTime<Tz>> {
        let months = self.years.checked_mul(12)?.checked_add(self.months)?;
        let shifted = t.clone().checked_sub_months(Months::new(months))?;
        let fixed = i64::from(self.weeks) * 604_800
            + i64::from(self.days) * 86_400
            + i64::from(self.hours) * 3_600
            + i64::from(self.minutes) * 60
            + i64::from(self.seconds);
        shifted.checked_sub_signed(chrono::Duration::seconds(fixed))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0s");
        }
        for (n, unit) in [
            (self.years, 'Y'),
            (self.months, 'M'),
            (self.weeks, 'W'),
            (self.days, 'D'),
            (self.hours, 'h'),
            (self.minutes, 'm'),
            (self.seconds, 's'),
        ] {
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Duration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn parses_combined_units() {
        let d = Duration::parse("3D12h").unwrap();
        assert_eq!(d.days, 3);
        assert_eq!(d.hours, 12);
        assert_eq!(d.approx_seconds(), 3 * 86_400 + 12 * 3_600);
        assert_eq!(d.to_string(), "3D12h");
        assert_eq!(Duration::parse("30m").unwrap().approx_seconds(), 1800);
        assert_eq!(Duration::parse("6M").unwrap().months, 6);
        assert_eq!(Duration::parse("1Y").unwrap().years, 1);
    }

    #[test]
    fn refuses_bad_text_with_a_span() {
        let e = Duration::parse("12").unwrap_err();
        assert_eq!((e.start, e.end), (0, 2));
        let e = Duration::parse("3x").unwrap_err();
        assert_eq!((e.start, e.end), (1, 2));
        assert!(e.message.contains("unknown unit"));
        let e = Duration::parse("1h2h").unwrap_err();
        assert!(e.message.contains("twice"));
        assert!(Duration::parse("").is_err());
        assert!(Duration::parse("h").is_err());
        assert!(Duration::parse("99999999999s").is_err());
    }

    #[test]
    fn months_go_back_on_the_calendar() {
        let t = Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap();
        let back = Duration::parse("1M").unwrap().before(&t).unwrap();
        assert_eq!(back, Utc.with_ymd_and_hms(2026, 2, 28, 12, 0, 0).unwrap());
        let back = Duration::parse("1D12h").unwrap().before(&t).unwrap();
        assert_eq!(back, Utc.with_ymd_and_hms(2026, 3, 30, 0, 0, 0).unwrap());
    }
}
