//! The next elapse, searched field by field from the year down as systemd's `find_next()`
//! does: each field jumps to its next matching value, resetting the smaller ones, and
//! `mktime()` normalisation decides when a value overflowed into a larger field.

use super::clock::{Clock, Tm};
use super::{CalendarSpec, Chain, USEC_PER_SEC};

const MAX_YEAR: i64 = 2199;

/// systemd gives up after this many rounds rather than loop forever.
const MAX_ITERATIONS: usize = 1000;

/// The largest time systemd can format (9999-12-30 23:59:59.999999 UTC); later bases
/// are refused.
const USEC_TIMESTAMP_FORMATTABLE_MAX: i64 = 253_402_214_399_999_999;

/// Why there is no next elapse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NoElapse {
    /// The expression never elapses again.
    Never,
    /// The search hit systemd's iteration limit; systemd reports an error here
    /// ("Infinite loop in calendar calculation").
    GaveUp,
}

/// The first elapse strictly after `usec` (microseconds since the epoch).
pub(super) fn next_usec(
    spec: &CalendarSpec,
    clock: &mut Clock,
    usec: i64,
) -> Result<i64, NoElapse> {
    if spec.timezone.is_some() {
        // systemd computes these in a forked child: nothing is remembered between calls.
        clock.reset();
    }
    if usec > USEC_TIMESTAMP_FORMATTABLE_MAX {
        return Err(NoElapse::Never);
    }
    // systemd's clock is unsigned: nothing elapses before the epoch.
    let usec = usec.max(-1) + 1;
    let mut tm = clock.convert(usec / USEC_PER_SEC).ok_or(NoElapse::Never)?;
    let mut tm_usec = usec % USEC_PER_SEC;
    find_next(spec, clock, &mut tm, &mut tm_usec)?;
    let t = clock.mktime(&mut tm);
    if t < 0 {
        return Err(NoElapse::Never);
    }
    t.checked_mul(USEC_PER_SEC)
        .and_then(|t| t.checked_add(tm_usec))
        .ok_or(NoElapse::Never)
}

/// How a field compares after normalisation (`tm_within_bounds()`).
enum Bounds {
    /// The time went backwards or cannot be represented.
    Error,
    /// Normalisation moved it forward: search again from there.
    Moved,
    /// Unchanged.
    Same,
}

struct Search<'a> {
    spec: &'a CalendarSpec,
    clock: &'a mut Clock,
    dst: i64,
}

fn find_next(
    spec: &CalendarSpec,
    clock: &mut Clock,
    tm: &mut Tm,
    usec: &mut i64,
) -> Result<(), NoElapse> {
    let dst = match &spec.dst {
        Some((true, _)) => 1,
        Some((false, _)) => 0,
        None => -1,
    };
    let mut s = Search { spec, clock, dst };
    let mut c = *tm;
    let mut tm_usec = *usec;
    // Once stuck on a time the forced isdst maps backwards, mktime picks isdst itself.
    let mut invalidate_dst = false;

    for _ in 0..MAX_ITERATIONS {
        s.clock.mktime(&mut c);
        if !invalidate_dst {
            c.isdst = s.dst;
        }

        let r = s.matching(&spec.year, false, &mut c, |c| &mut c.year);
        if r == Some(true) {
            reset_below_year(&mut c, &mut tm_usec);
        }
        if r.is_none() || !matches!(s.within_bounds(&mut c), Bounds::Same) {
            return Err(NoElapse::Never);
        }

        c.mon += 1;
        let r = s.matching(&spec.month, false, &mut c, |c| &mut c.mon);
        c.mon -= 1;
        if r == Some(true) {
            c.mday = 1;
            reset_below_day(&mut c, &mut tm_usec);
        }
        let b = if r.is_none() {
            Bounds::Error
        } else {
            s.within_bounds(&mut c)
        };
        match b {
            Bounds::Error => {
                c.year += 1;
                c.mon = 0;
                c.mday = 1;
                reset_below_day(&mut c, &mut tm_usec);
                continue;
            }
            Bounds::Moved => continue,
            Bounds::Same => {}
        }

        let r = s.matching(&spec.day, spec.end_of_month, &mut c, |c| &mut c.mday);
        if r == Some(true) {
            reset_below_day(&mut c, &mut tm_usec);
        }
        let b = if r.is_none() {
            Bounds::Error
        } else {
            s.within_bounds(&mut c)
        };
        match b {
            Bounds::Error => {
                c.mon += 1;
                c.mday = 1;
                reset_below_day(&mut c, &mut tm_usec);
                continue;
            }
            Bounds::Moved => continue,
            Bounds::Same => {}
        }

        if !s.matches_weekday(&c) {
            c.mday += 1;
            reset_below_day(&mut c, &mut tm_usec);
            continue;
        }

        let r = s.matching(&spec.hour, false, &mut c, |c| &mut c.hour);
        if r == Some(true) {
            c.min = 0;
            c.sec = 0;
            tm_usec = 0;
        }
        let b = if r.is_none() {
            Bounds::Error
        } else {
            s.within_bounds(&mut c)
        };
        match b {
            Bounds::Error => {
                c.mday += 1;
                reset_below_day(&mut c, &mut tm_usec);
                continue;
            }
            // The hour may not exist on a day the clocks change: retry from the normalised time.
            Bounds::Moved => continue,
            Bounds::Same => {}
        }

        let r = s.matching(&spec.minute, false, &mut c, |c| &mut c.min);
        if r == Some(true) {
            c.sec = 0;
            tm_usec = 0;
        }
        let b = if r.is_none() {
            Bounds::Error
        } else {
            s.within_bounds(&mut c)
        };
        match b {
            Bounds::Error => {
                c.hour += 1;
                c.min = 0;
                c.sec = 0;
                tm_usec = 0;
                continue;
            }
            Bounds::Moved => continue,
            Bounds::Same => {}
        }

        c.sec = c.sec * USEC_PER_SEC + tm_usec;
        let r = s.matching(&spec.second, false, &mut c, |c| &mut c.sec);
        tm_usec = c.sec % USEC_PER_SEC;
        c.sec /= USEC_PER_SEC;
        let b = if r.is_none() {
            Bounds::Error
        } else {
            s.within_bounds(&mut c)
        };
        match b {
            Bounds::Error => {
                c.min += 1;
                c.sec = 0;
                tm_usec = 0;
                continue;
            }
            Bounds::Moved => continue,
            Bounds::Same => {}
        }

        // Not past the start (by wall-clock fields)? An isdst that mktime resolved backwards
        // led here: step an hour on and let mktime decide isdst from now on. The comparison
        // ignores isdst, so a result can still lie before the start in absolute time, as in
        // systemd.
        let stuck = match compare_fields(tm, &c) {
            std::cmp::Ordering::Equal => *usec > tm_usec,
            order => order == std::cmp::Ordering::Greater,
        };
        if stuck {
            invalidate_dst = true;
            c.hour += 1;
            continue;
        }

        *tm = c;
        *usec = tm_usec;
        return Ok(());
    }
    Err(NoElapse::GaveUp)
}

fn compare_fields(a: &Tm, b: &Tm) -> std::cmp::Ordering {
    (a.year, a.mon, a.mday, a.hour, a.min, a.sec)
        .cmp(&(b.year, b.mon, b.mday, b.hour, b.min, b.sec))
}

fn reset_below_year(c: &mut Tm, usec: &mut i64) {
    c.mon = 0;
    c.mday = 1;
    reset_below_day(c, usec);
}

fn reset_below_day(c: &mut Tm, usec: &mut i64) {
    c.hour = 0;
    c.min = 0;
    c.sec = 0;
    *usec = 0;
}

impl Search<'_> {
    /// `find_matching_component()`: moves the field to the earliest value ≥ its current
    /// one that the chain allows. `Some(true)` if it changed, `Some(false)` if it already
    /// matched (or the chain is `*`), `None` if no value is left.
    fn matching(
        &mut self,
        chain: &Chain,
        end_of_month: bool,
        c: &mut Tm,
        field: fn(&mut Tm) -> &mut i64,
    ) -> Option<bool> {
        if chain.is_empty() {
            return Some(false);
        }
        let snapshot = *c;
        let val = *field(c);
        let mut best: Option<i64> = None;
        for comp in chain.components() {
            let (start, stop) = if end_of_month {
                let start = self.end_of_month(&snapshot, comp.start);
                let stop = self.end_of_month(&snapshot, comp.stop);
                // Counted from the end, the range's ends swap.
                if stop > 0 {
                    (stop, start)
                } else {
                    (start, stop)
                }
            } else {
                (comp.start, comp.stop)
            };
            if start >= val {
                if best.is_none_or(|d| start < d) {
                    best = Some(start);
                }
            } else if comp.repeat > 0 {
                let k =
                    start + comp.repeat * (val - start + comp.repeat - 1).div_euclid(comp.repeat);
                if best.is_none_or(|d| k < d) && (stop < 0 || k <= stop) {
                    best = Some(k);
                }
            }
        }
        let d = best?;
        *field(c) = d;
        Some(d != val)
    }

    /// The day of `tm`'s month that is `day` days before the next month (`~day`), or -1.
    fn end_of_month(&mut self, tm: &Tm, day: i64) -> i64 {
        let mut t = Tm {
            mon: tm.mon + 1,
            mday: 1 - day,
            ..*tm
        };
        if self.clock.mktime(&mut t) < 0 || t.mon != tm.mon {
            return -1;
        }
        t.mday
    }

    /// `tm_within_bounds()`: did normalising `tm` move it? If forward, `tm` becomes the
    /// normalised time with the field below the one that overflowed reset.
    fn within_bounds(&mut self, tm: &mut Tm) -> Bounds {
        // Impossible dates such as `*-02-31` would otherwise search forever.
        if tm.year > MAX_YEAR {
            return Bounds::Error;
        }
        let mut t = *tm;
        if self.clock.mktime(&mut t) < 0 {
            return Bounds::Error;
        }
        let cmp = if t.year != tm.year {
            t.mon = 0;
            t.year.cmp(&tm.year)
        } else if t.mon != tm.mon {
            t.mday = 1;
            t.mon.cmp(&tm.mon)
        } else if t.mday != tm.mday {
            t.hour = 0;
            t.mday.cmp(&tm.mday)
        } else if t.hour != tm.hour {
            t.min = 0;
            t.hour.cmp(&tm.hour)
        } else if t.min != tm.min {
            t.sec = 0;
            t.min.cmp(&tm.min)
        } else {
            t.sec.cmp(&tm.sec)
        };
        match cmp {
            std::cmp::Ordering::Less => Bounds::Error,
            std::cmp::Ordering::Greater => {
                *tm = t;
                Bounds::Moved
            }
            std::cmp::Ordering::Equal => Bounds::Same,
        }
    }

    fn matches_weekday(&mut self, tm: &Tm) -> bool {
        let Some(bits) = self.spec.weekdays else {
            return true;
        };
        let mut t = *tm;
        if self.clock.mktime(&mut t) < 0 {
            return false;
        }
        // tm counts from Sunday, the bits from Monday.
        let k = (t.wday + 6) % 7;
        bits & (1 << k) != 0
    }
}
