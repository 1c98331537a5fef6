//! Broken-down time and a faithful model of glibc's `mktime()`/`localtime_r()`.
//!
//! systemd's next-elapse search leans on `mktime()` normalising out-of-range fields and on
//! how it resolves local times that do not exist (spring forward) or exist twice (fall
//! back). glibc resolves both by probing from the UTC offset of its *previous* call, so
//! the answer depends on that remembered offset; `Clock` keeps it the same way, and so
//! reproduces systemd's choices exactly (for instance that `*:0/20` skips the repeated
//! hour when clocks fall back).

use chrono::{Offset, TimeZone};
use chrono_tz::{OffsetComponents, Tz};

/// The fields of C's `struct tm` that the search uses. `year` is the full year and
/// `mon` counts from 0, as in C; fields may be out of range until normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tm {
    pub year: i64,
    pub mon: i64,
    pub mday: i64,
    pub hour: i64,
    pub min: i64,
    pub sec: i64,
    /// 1 daylight saving, 0 standard time, -1 unknown (let `mktime` decide).
    pub isdst: i64,
    /// 0 is Sunday.
    pub wday: i64,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Zone {
    Utc,
    /// A zone; with `true` its clock counts leap seconds (the `right/` zones).
    Local(Tz, bool),
}

pub(super) struct Clock {
    zone: Zone,
    /// glibc's `localtime_offset`: time_t minus local wall time of the last `mktime`.
    guess: i64,
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (month 1..12).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1..12, day) of a day count from 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Beyond this glibc's conversions overflow `int` years; nothing here needs them.
const LIMIT: i64 = 1 << 40;

impl Tm {
    /// Wall-clock seconds since 1970-01-01 00:00 as if it were UTC, for any field values.
    fn wall_seconds(&self) -> i64 {
        let year = self.year + self.mon.div_euclid(12);
        let mon = self.mon.rem_euclid(12);
        let days = days_from_civil(year, mon + 1, 1) + self.mday - 1;
        days * 86_400 + self.hour * 3_600 + self.min * 60 + self.sec
    }

    fn from_wall_seconds(wall: i64, isdst: i64) -> Tm {
        let days = wall.div_euclid(86_400);
        let secs = wall.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Tm {
            year,
            mon: month - 1,
            mday: day,
            hour: secs / 3_600,
            min: secs / 60 % 60,
            sec: secs % 60,
            isdst,
            wday: (days + 4).rem_euclid(7),
        }
    }
}

impl Clock {
    pub(super) fn new(zone: Zone) -> Clock {
        Clock { zone, guess: 0 }
    }

    pub(super) fn is_utc(&self) -> bool {
        matches!(self.zone, Zone::Utc)
    }

    /// Forgets the remembered offset, as a freshly forked process would have it.
    pub(super) fn reset(&mut self) {
        self.guess = 0;
    }

    /// `localtime_r()` (or `gmtime_r()` in UTC).
    pub(super) fn convert(&self, t: i64) -> Option<Tm> {
        if !(-LIMIT..=LIMIT).contains(&t) {
            return None;
        }
        match self.zone {
            Zone::Utc => Some(Tm::from_wall_seconds(t, 0)),
            Zone::Local(tz, false) => {
                let (local, isdst) = zone_offset(tz, t)?;
                Some(Tm::from_wall_seconds(t + local, i64::from(isdst)))
            }
            Zone::Local(tz, true) => {
                // As glibc's tzfile does: subtract the leap seconds so far; during an
                // inserted second the clock shows :60.
                let (correction, hit) = leap_correction(t);
                let (local, isdst) = zone_offset(tz, t - correction)?;
                let mut tm = Tm::from_wall_seconds(t - correction + local, i64::from(isdst));
                tm.sec += hit;
                Some(tm)
            }
        }
    }

    /// `mktime()` (or `timegm()` in UTC): normalises `tm` in place and returns its time_t,
    /// or -1 (leaving `tm` alone) when it cannot be represented.
    pub(super) fn mktime(&mut self, tm: &mut Tm) -> i64 {
        if [tm.year, tm.mon, tm.mday, tm.hour, tm.min, tm.sec]
            .iter()
            .any(|v| !(-LIMIT..=LIMIT).contains(v))
        {
            return -1;
        }
        if self.is_utc() {
            let t = tm.wall_seconds();
            return match self.convert(t) {
                Some(n) => {
                    *tm = n;
                    t
                }
                None => -1,
            };
        }
        match self.mktime_local(tm) {
            Some((t, n)) => {
                *tm = n;
                t
            }
            None => -1,
        }
    }

    /// glibc's `__mktime_internal()`, probing with `localtime_r()`.
    fn mktime_local(&mut self, tp: &Tm) -> Option<(i64, Tm)> {
        let isdst = tp.isdst;
        let sec_requested = tp.sec;
        // Out-of-range seconds are handled apart, as leap seconds might be involved.
        let sec = tp.sec.clamp(0, 59);
        let wall = Tm { sec, ..*tp }.wall_seconds();

        let off = self.guess;
        let t0 = wall + off;
        let (mut t, mut t1, mut t2) = (t0, t0, t0);
        let mut dst2 = false;
        let mut remaining_probes = 6;
        let mut tm;
        let mut found = false;
        loop {
            tm = self.convert(t)?;
            let dt = wall - tm.wall_seconds();
            if dt == 0 {
                break;
            }
            // Oscillating between two times: the request is in a spring-forward gap.
            // Like glibc, settle for a probe one gap away from the request.
            if t == t1
                && t != t2
                && (tm.isdst < 0
                    || if isdst < 0 {
                        // Prefer the probe with daylight saving, if only one has it.
                        !dst2 || tm.isdst != 0
                    } else {
                        (isdst != 0) != (tm.isdst != 0)
                    })
            {
                found = true;
                break;
            }
            remaining_probes -= 1;
            if remaining_probes == 0 {
                return None;
            }
            t1 = t2;
            t2 = t;
            t += dt;
            dst2 = tm.isdst != 0;
        }

        if !found && isdst_differ(isdst, tm.isdst) {
            // The match has the wrong isdst: look for a nearby time with the requested one
            // and use its offset.
            let dst_difference = i64::from(isdst == 0) - i64::from(tm.isdst == 0);
            let stride: i64 = 601_200;
            let duration_max: i64 = 457_243_200;
            let delta_bound = duration_max / 2 + stride;
            let mut delta = stride;
            let mut hit = None;
            'probe: while delta < delta_bound {
                for direction in [-1, 1] {
                    let ot = t + delta * direction;
                    let otm = self.convert(ot)?;
                    if !isdst_differ(isdst, otm.isdst) {
                        let gt = ot + (wall - otm.wall_seconds());
                        if let Some(g) = self.convert(gt) {
                            hit = Some((gt, g));
                            break 'probe;
                        }
                    }
                }
                delta += stride;
            }
            match hit {
                Some((gt, g)) => {
                    t = gt;
                    tm = g;
                }
                None => {
                    // Nothing found nearby: assume one hour of daylight saving.
                    t += 3_600 * dst_difference;
                    tm = self.convert(t)?;
                }
            }
        }

        self.guess = t - t0 + off;
        if sec_requested != tm.sec {
            let adjustment = i64::from(sec == 0 && tm.sec == 60) - sec + sec_requested;
            t += adjustment;
            tm = self.convert(t)?;
        }
        Some((t, tm))
    }
}

/// chrono-tz tabulates transitions until the end of 2099 (2100-01-01T00:00:00Z here);
/// glibc goes on with the zone's current rule.
pub(super) const TABLE_END: i64 = 4_102_444_800;

/// The zone's UTC offset (seconds) and whether it is daylight-saving time at `t`.
fn zone_offset(tz: Tz, t: i64) -> Option<(i64, bool)> {
    let t = if t >= TABLE_END {
        same_calendar_before_2100(t)
    } else {
        t
    };
    let utc = chrono::DateTime::from_timestamp(t, 0)?.naive_utc();
    let offset = tz.offset_from_utc_datetime(&utc);
    Some((
        i64::from(offset.fix().local_minus_utc()),
        offset.dst_offset().num_seconds() != 0,
    ))
}

/// Moves `t` (from 2100 on) into the latest earlier year laid out like its own (same
/// leap-ness, same weekday on January 1st), where the current rules are tabulated:
/// rules such as "last Sunday of March" then fall on the same dates.
pub(super) fn same_calendar_before_2100(t: i64) -> i64 {
    let days = t.div_euclid(86_400);
    let (year, _, _) = civil_from_days(days);
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let jan1 = days_from_civil(year, 1, 1);
    let weekday = |d: i64| (d + 4).rem_euclid(7);
    for candidate in (2072..2100).rev() {
        let c_jan1 = days_from_civil(candidate, 1, 1);
        if leap(candidate) == leap(year) && weekday(c_jan1) == weekday(jan1) {
            return t - (jan1 - c_jan1) * 86_400;
        }
    }
    t
}

/// The days after which a leap second was inserted (23:59:60 UTC), as tzdata 2025b lists them.
const LEAP_DAYS: [(i64, i64, i64); 27] = [
    (1972, 6, 30),
    (1972, 12, 31),
    (1973, 12, 31),
    (1974, 12, 31),
    (1975, 12, 31),
    (1976, 12, 31),
    (1977, 12, 31),
    (1978, 12, 31),
    (1979, 12, 31),
    (1981, 6, 30),
    (1982, 6, 30),
    (1983, 6, 30),
    (1985, 6, 30),
    (1987, 12, 31),
    (1989, 12, 31),
    (1990, 12, 31),
    (1992, 6, 30),
    (1993, 6, 30),
    (1994, 6, 30),
    (1995, 12, 31),
    (1997, 6, 30),
    (1998, 12, 31),
    (2005, 12, 31),
    (2008, 12, 31),
    (2012, 6, 30),
    (2015, 6, 30),
    (2016, 12, 31),
];

/// For a time on a leap-second-counting clock: how many leap seconds precede it, and 1
/// if it is itself an inserted second.
fn leap_correction(t: i64) -> (i64, i64) {
    let mut correction = 0;
    let mut hit = 0;
    for (i, &(y, m, d)) in LEAP_DAYS.iter().enumerate() {
        // On this clock the inserted second is the midnight after the day, shifted by the
        // seconds inserted before it.
        let transition = (days_from_civil(y, m, d) + 1) * 86_400 + i as i64;
        if t < transition {
            break;
        }
        correction = i as i64 + 1;
        hit = i64::from(t == transition);
    }
    (correction, hit)
}

fn isdst_differ(a: i64, b: i64) -> bool {
    (a == 0) != (b == 0) && a >= 0 && b >= 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 59, 365, 10_957, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn normalises_overflowing_fields() {
        let mut clock = Clock::new(Zone::Utc);
        let mut tm = Tm {
            year: 2026,
            mon: 12,
            mday: 32,
            hour: 24,
            min: 60,
            sec: 0,
            isdst: -1,
            wday: 0,
        };
        clock.mktime(&mut tm);
        assert_eq!(
            (tm.year, tm.mon, tm.mday, tm.hour, tm.min),
            (2027, 1, 2, 1, 0)
        );
    }
}
