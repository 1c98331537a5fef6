//! Canonical form: what systemd does between parsing and use (`calendar_spec_normalize`,
//! `calendar_spec_valid`) and how it prints the result (`calendar_spec_to_string`).

use std::fmt::Write;

use super::{CalendarError, CalendarSpec, Chain, Component, USEC_PER_SEC};

const ALL_WEEKDAYS: i32 = 127;
const MIN_YEAR: i64 = 1970;
const MAX_YEAR: i64 = 2199;
const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

pub(super) fn normalize(spec: &mut CalendarSpec, weekday_bits: i32) {
    if spec.weekdays.is_none() && weekday_bits > 0 && weekday_bits < ALL_WEEKDAYS {
        spec.weekdays = u8::try_from(weekday_bits).ok();
    }
    if spec.end_of_month && spec.day.is_empty() {
        spec.end_of_month = false;
    }
    fix_year(&mut spec.year);
    for chain in [
        &mut spec.year,
        &mut spec.month,
        &mut spec.day,
        &mut spec.hour,
        &mut spec.minute,
        &mut spec.second,
    ] {
        normalize_chain(chain);
    }
}

/// Two-digit years: 12 → 2012, 89 → 1989.
fn fix_year(chain: &mut Chain) {
    for (c, _) in &mut chain.items {
        for v in [&mut c.start, &mut c.stop] {
            if (0..70).contains(v) {
                *v += 2000;
            } else if (70..100).contains(v) {
                *v += 1900;
            }
        }
    }
}

fn normalize_chain(chain: &mut Chain) {
    for (c, _) in &mut chain.items {
        // A range's end is pulled back to the last value the repetition reaches.
        if c.stop > c.start && c.repeat > 0 {
            c.stop -= (c.stop - c.start) % c.repeat;
        }
        // A repetition that never fires, or a one-value range, is a plain value.
        if (c.stop > c.start && c.repeat > 0 && c.start + c.repeat > c.stop) || c.start == c.stop {
            c.repeat = 0;
            c.stop = -1;
        }
    }
    if chain.items.len() <= 1 {
        return;
    }
    chain
        .items
        .sort_by_key(|(c, _)| (c.start, c.stop, c.repeat));
    chain.items.dedup_by(|(a, _), (b, _)| a == b);
}

/// What systemd refuses after normalization, reported at the element that breaks it.
pub(super) fn validate(spec: &CalendarSpec, text: &str) -> Result<(), CalendarError> {
    let fields = [
        (&spec.year, Field::YEAR, false),
        (&spec.month, Field::MONTH, false),
        (&spec.day, Field::DAY, spec.end_of_month),
        (&spec.hour, Field::HOUR, false),
        (&spec.minute, Field::MINUTE, false),
        (&spec.second, Field::SECOND, false),
    ];
    for (chain, field, end_of_month) in fields {
        for (i, (c, span)) in chain.items.iter().enumerate() {
            // systemd 252 lowers the limit by 3 again for each further element of a `~`
            // list (its recursive check subtracts from the already lowered limit).
            let to = if end_of_month {
                field.to - 3 * (i as i64 + 1)
            } else {
                field.to
            };
            if let Some((message, help)) = field.check(c, to, end_of_month, i) {
                let mut err = CalendarError::new(text, span.clone(), message);
                if let Some(help) = help {
                    err = err.with_help(help);
                }
                return Err(err);
            }
        }
    }
    Ok(())
}

struct Field {
    name: &'static str,
    from: i64,
    to: i64,
    usec: bool,
}

impl Field {
    const YEAR: Field = Field::new("year", MIN_YEAR, MAX_YEAR, false);
    const MONTH: Field = Field::new("month", 1, 12, false);
    const DAY: Field = Field::new("day", 1, 31, false);
    const HOUR: Field = Field::new("hour", 0, 23, false);
    const MINUTE: Field = Field::new("minute", 0, 59, false);
    const SECOND: Field = Field::new("second", 0, 60 * USEC_PER_SEC - 1, true);

    const fn new(name: &'static str, from: i64, to: i64, usec: bool) -> Field {
        Field {
            name,
            from,
            to,
            usec,
        }
    }

    fn show(&self, v: i64) -> String {
        if self.usec {
            seconds(v)
        } else {
            v.to_string()
        }
    }

    fn bounds(&self, to: i64, end_of_month: bool) -> String {
        let tilde = if end_of_month { "~" } else { "" };
        let to = if self.usec { to / USEC_PER_SEC } else { to };
        format!("{tilde}{}..{tilde}{}", self.show(self.from), to)
    }

    /// systemd's `chain_valid()` for one element, with the reason it fails.
    fn check(
        &self,
        c: &Component,
        to: i64,
        end_of_month: bool,
        index: usize,
    ) -> Option<(String, Option<String>)> {
        let from = self.from;
        let name = if end_of_month {
            "day from the month's end"
        } else {
            self.name
        };
        let tilde = if end_of_month { "~" } else { "" };
        let bounds = self.bounds(to, end_of_month);
        let out_of_range = |v: i64| {
            let help = match self.name {
                "year" => Some(
                    "years run from 1970 to 2199; two-digit years mean 2000–2069 and 1970–1999"
                        .to_string(),
                ),
                "day" if end_of_month && index > 0 => Some(format!(
                    "counted from the month's end, the first list element may reach ~28 and each \
                     further one 3 less (element {} may reach ~{to})",
                    index + 1
                )),
                "day" if end_of_month => {
                    Some("`~1` is the last day of the month, `~28` the 28th last".to_string())
                }
                _ => None,
            };
            Some((
                format!("{name} {tilde}{} is outside {bounds}", self.show(v)),
                help,
            ))
        };
        if c.start < from || c.start > to {
            return out_of_range(c.start);
        }
        if c.repeat > to - from {
            return Some((
                format!(
                    "a repetition of {} is longer than the {} range {bounds}",
                    self.show(c.repeat),
                    self.name
                ),
                None,
            ));
        }
        if c.stop >= 0 {
            if c.stop < from || c.stop > to {
                return out_of_range(c.stop);
            }
            if c.start + c.repeat > c.stop {
                return Some((
                    format!(
                        "the {} range {}..{} ends before it starts",
                        self.name,
                        self.show(c.start),
                        self.show(c.stop)
                    ),
                    Some("write the smaller value first".to_string()),
                ));
            }
        } else if end_of_month && c.start - c.repeat < from {
            return Some((
                format!(
                    "`~{}/{}` repeats past the month's last day",
                    c.start, c.repeat
                ),
                None,
            ));
        } else if !end_of_month && c.start + c.repeat > to {
            return Some((
                format!(
                    "`{}/{}` never repeats: {} is past {}, the last {}",
                    self.show(c.start),
                    self.show(c.repeat),
                    self.show(c.start + c.repeat),
                    self.show(to),
                    self.name
                ),
                Some("drop the repetition, or start earlier".to_string()),
            ));
        }
        None
    }
}

/// Microseconds as seconds, with a fraction only when there is one.
fn seconds(usec: i64) -> String {
    let whole = usec / USEC_PER_SEC;
    let fraction = usec % USEC_PER_SEC;
    if fraction == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{fraction:06}")
            .trim_end_matches('0')
            .to_string()
    }
}

pub(super) fn format(spec: &CalendarSpec) -> String {
    let mut out = String::new();
    if let Some(bits) = spec.weekdays {
        format_weekdays(&mut out, bits);
        out.push(' ');
    }
    format_chain(&mut out, 4, &spec.year, false);
    out.push('-');
    format_chain(&mut out, 2, &spec.month, false);
    out.push(if spec.end_of_month { '~' } else { '-' });
    format_chain(&mut out, 2, &spec.day, false);
    out.push(' ');
    format_chain(&mut out, 2, &spec.hour, false);
    out.push(':');
    format_chain(&mut out, 2, &spec.minute, false);
    out.push(':');
    format_chain(&mut out, 2, &spec.second, true);
    if spec.utc {
        out.push_str(" UTC");
    } else if let Some((name, _)) = &spec.timezone {
        out.push(' ');
        out.push_str(name);
    } else if let Some((_, name)) = &spec.dst {
        if !name.is_empty() {
            out.push(' ');
            out.push_str(name);
        }
    }
    out
}

/// Runs of three or more days print as ranges, pairs as lists.
fn format_weekdays(out: &mut String, bits: u8) {
    let mut need_comma = false;
    let mut run_start: Option<usize> = None;
    let close = |out: &mut String, l: usize, x: usize| {
        if x > l + 1 {
            out.push_str(if x > l + 2 { ".." } else { "," });
            out.push_str(DAY_NAMES[x - 1]);
        }
    };
    for (x, name) in DAY_NAMES.iter().enumerate() {
        if bits & (1 << x) != 0 {
            if run_start.is_none() {
                if need_comma {
                    out.push(',');
                }
                need_comma = true;
                out.push_str(name);
                run_start = Some(x);
            }
        } else if let Some(l) = run_start.take() {
            close(out, l, x);
        }
    }
    if let Some(l) = run_start {
        close(out, l, 7);
    }
}

fn format_chain(out: &mut String, width: usize, chain: &Chain, usec: bool) {
    let d = if usec { USEC_PER_SEC } else { 1 };
    let star = chain.is_empty()
        || (usec
            && chain
                .components()
                .any(|c| c.start == 0 && c.stop < 0 && c.repeat == USEC_PER_SEC));
    if star {
        out.push('*');
        return;
    }
    for (i, c) in chain.components().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{:0width$}", c.start / d);
        if c.start % d > 0 {
            let _ = write!(out, ".{:06}", c.start % d);
        }
        if c.stop > 0 {
            let _ = write!(out, "..{:0width$}", c.stop / d);
        }
        if c.stop % d > 0 {
            let _ = write!(out, ".{:06}", c.stop % d);
        }
        if c.repeat > 0 && !(c.stop > 0 && c.repeat == d) {
            let _ = write!(out, "/{}", c.repeat / d);
        }
        if c.repeat % d > 0 {
            let _ = write!(out, ".{:06}", c.repeat % d);
        }
    }
}
