//! Shared by the calendar tests and benchmark: `systemd-analyze calendar` as the oracle,
//! bakgen's answers in the same shape, and a seeded generator of expressions.
#![allow(dead_code)]

use std::process::Command;

#[path = "../../../runtime/tests/rng/mod.rs"]
mod rng;
pub use rng::Rng;

use bakgen::schedule::CalendarSpec;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// What one implementation says about one expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Rejected,
    Accepted {
        normalized: String,
        /// Elapses in UTC, whole seconds, as systemd-analyze prints them.
        next: Vec<String>,
    },
    /// systemd accepted the expression but failed while computing its elapses.
    Failed,
}

/// Base times are written the way systemd-analyze's `--base-time=` takes them.
pub fn base_arg(base: &DateTime<Utc>) -> String {
    base.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn systemd_analyze_available() -> bool {
    Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs systemd-analyze once for a batch of expressions with `TZ=tz`.
pub fn systemd(
    expressions: &[String],
    base: &DateTime<Utc>,
    iterations: usize,
    tz: &str,
) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(expressions.len());
    // Keep command lines reasonably short.
    for batch in expressions.chunks(200) {
        outcomes.extend(systemd_batch(batch, base, iterations, tz));
    }
    outcomes
}

fn systemd_batch(
    expressions: &[String],
    base: &DateTime<Utc>,
    iterations: usize,
    tz: &str,
) -> Vec<Outcome> {
    let output = Command::new("systemd-analyze")
        .env("TZ", tz)
        .env("SYSTEMD_COLORS", "0")
        .env("SYSTEMD_PAGER", "cat")
        .arg("calendar")
        .arg(format!("--base-time={}", base_arg(base)))
        .arg(format!("--iterations={iterations}"))
        .arg("--")
        .args(expressions)
        .output()
        .expect("systemd-analyze runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);

    let mut blocks = stdout
        .split("\n\n")
        .map(|b| b.trim_matches('\n'))
        .filter(|b| !b.trim().is_empty())
        .map(parse_block);
    let mut failures = stderr.lines().filter(|l| {
        l.starts_with("Failed to parse calendar specification '")
            || l.starts_with("Failed to determine next elapse for '")
    });
    let mut pending_failure = failures.next();

    let mut outcomes = Vec::new();
    for expr in expressions {
        let rejected = format!("Failed to parse calendar specification '{expr}': ");
        let failed = format!("Failed to determine next elapse for '{expr}': ");
        match pending_failure {
            Some(line) if line.starts_with(&rejected) => {
                outcomes.push(Outcome::Rejected);
                pending_failure = failures.next();
            }
            Some(line) if line.starts_with(&failed) => {
                outcomes.push(Outcome::Failed);
                pending_failure = failures.next();
            }
            _ => outcomes.push(blocks.next().expect("one block per accepted expression")),
        }
    }
    outcomes
}

fn parse_block(block: &str) -> Outcome {
    let mut normalized = String::new();
    let mut local = Vec::new();
    let mut utc = Vec::new();
    for line in block.lines() {
        let Some((key, value)) = line.split_once(": ") else {
            continue;
        };
        let key = key.trim();
        match key {
            "Normalized form" => normalized = value.to_string(),
            "(in UTC)" => utc.push(to_rfc3339(value)),
            "Next elapse" if value == "never" => {}
            k if k == "Next elapse" || k.starts_with("Iter. #") => local.push(value.to_string()),
            _ => {}
        }
    }
    Outcome::Accepted {
        normalized,
        next: if utc.is_empty() {
            local.iter().map(|v| to_rfc3339(v)).collect()
        } else {
            utc
        },
    }
}

/// "Mon 2026-03-30 02:30:00 UTC" → "2026-03-30T02:30:00Z".
fn to_rfc3339(value: &str) -> String {
    let parts: Vec<&str> = value.split(' ').collect();
    assert!(parts.len() >= 4 && parts[3] == "UTC", "a UTC time: {value}");
    format!("{}T{}Z", parts[1], parts[2])
}

/// bakgen's answer in the oracle's shape.
pub fn bakgen(expression: &str, base: &DateTime<Utc>, iterations: usize, local: Tz) -> Outcome {
    match CalendarSpec::parse_in(expression, local) {
        Err(_) => Outcome::Rejected,
        Ok(spec) => {
            let mut elapses = spec.elapses(base, local);
            let next: Vec<String> = elapses
                .by_ref()
                .take(iterations)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .collect();
            // systemd prints nothing but an error when any of the iterations fails.
            if next.len() < iterations && elapses.gave_up() {
                return Outcome::Failed;
            }
            Outcome::Accepted {
                normalized: spec.normalized(),
                next,
            }
        }
    }
}

/// Compares bakgen with systemd on every expression; prints the tally and every
/// disagreement; returns the number of disagreements.
pub fn compare(
    label: &str,
    expressions: &[String],
    base: &DateTime<Utc>,
    iterations: usize,
    tz: &str,
) -> usize {
    let local: Tz = tz.parse().expect("an IANA zone");
    let oracle = systemd(expressions, base, iterations, tz);
    let mut disagreements = 0;
    for (expr, expected) in expressions.iter().zip(&oracle) {
        let ours = bakgen(expr, base, iterations, local);
        if &ours != expected {
            disagreements += 1;
            eprintln!("DISAGREE [{label}] {expr:?} (TZ={tz}, base {})\n  systemd: {expected:?}\n  bakgen:  {ours:?}", base_arg(base));
        }
    }
    let agree = expressions.len() - disagreements;
    let rejected = oracle.iter().filter(|o| **o == Outcome::Rejected).count();
    let never = oracle
        .iter()
        .filter(|o| matches!(o, Outcome::Accepted { next, .. } if next.len() < iterations))
        .count();
    println!(
        "{label}: {agree}/{} expressions agree with systemd-analyze (TZ={tz}, base {}, \
         {iterations} iterations; systemd rejected {rejected}, {never} elapse fewer than {iterations} times)",
        expressions.len(),
        base_arg(base)
    );
    disagreements
}

/// Expressions from a fixture file: one per line, `#` comments and blank lines skipped,
/// other whitespace kept.
pub fn fixture(name: &str) -> Vec<String> {
    let path = format!(
        "{}/tests/fixtures/calendar/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

const DAYS: [&str; 14] = [
    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Monday", "tuesday", "WED", "Thursday", "fri",
    "Saturday", "sun",
];
const ZONES: [&str; 8] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "utc",
];

/// One field: `*`, or a list of values, ranges and repetitions, mostly near `lo..=hi`
/// and sometimes outside it.
fn field(rng: &mut Rng, lo: u64, hi: u64, width: usize, star_percent: u64) -> String {
    if rng.chance(star_percent) {
        return "*".into();
    }
    let n = 1 + rng.below(3);
    let mut parts = Vec::new();
    for _ in 0..n {
        let span = hi - lo + 1;
        let mut v = lo + rng.below(span);
        if rng.chance(4) {
            v = hi + 1 + rng.below(3);
        }
        let mut s = format!("{v:0width$}");
        match rng.below(6) {
            0 => {
                let stop = (v + rng.below(span / 2 + 1)).min(hi + u64::from(rng.chance(5)));
                s += &format!("..{stop:0width$}");
            }
            1 => s += &format!("/{}", 1 + rng.below(span / 4 + 1)),
            2 => {
                let stop = (v + rng.below(span / 2 + 1)).min(hi);
                s += &format!("..{stop:0width$}/{}", 1 + rng.below(span / 3 + 1));
            }
            _ => {}
        }
        parts.push(s);
    }
    parts.join(",")
}

fn weekdays(rng: &mut Rng) -> String {
    let n = 1 + rng.below(2);
    let mut parts = Vec::new();
    for _ in 0..n {
        let a = rng.below(7) as usize;
        if rng.chance(50) {
            let b = (a + rng.below(7) as usize) % 7;
            let sep = if rng.chance(75) { ".." } else { "-" };
            parts.push(format!("{}{sep}{}", rng.pick(&DAYS[..7]), DAYS[b]));
            let _ = a;
        } else {
            parts.push(rng.pick(&DAYS).to_string());
        }
    }
    parts.join(",")
}

/// A calendar expression from the grammar (some deliberately invalid), seeded.
pub fn generate(rng: &mut Rng) -> String {
    let mut out = Vec::new();
    if rng.chance(30) {
        out.push(weekdays(rng));
    }
    match rng.below(4) {
        0 => {}
        1 => out.push(format!(
            "{}-{}",
            field(rng, 1, 12, 2, 40),
            field(rng, 1, 31, 2, 30)
        )),
        2 => {
            let sep = if rng.chance(20) { "~" } else { "-" };
            let day = if sep == "~" {
                field(rng, 1, 28, 2, 10)
            } else {
                field(rng, 1, 31, 2, 40)
            };
            out.push(format!(
                "{}-{}{sep}{day}",
                field(rng, 2025, 2032, 4, 60),
                field(rng, 1, 12, 2, 50)
            ))
        }
        _ => {
            let day = field(rng, 1, 7, 2, 0);
            out.push(format!("*-{}~{day}", field(rng, 1, 12, 2, 60)))
        }
    }
    match rng.below(5) {
        0 if !out.is_empty() => {}
        1 => out.push(format!(
            "{}:{}",
            field(rng, 0, 23, 2, 30),
            field(rng, 0, 59, 2, 30)
        )),
        2 => {
            let sec = if rng.chance(20) {
                format!("{}.{}", rng.below(60), rng.below(1000))
            } else {
                field(rng, 0, 59, 2, 40)
            };
            out.push(format!(
                "{}:{}:{sec}",
                field(rng, 0, 23, 2, 30),
                field(rng, 0, 59, 2, 30)
            ))
        }
        _ => out.push(format!(
            "{}:{}",
            field(rng, 0, 23, 2, 60),
            field(rng, 0, 59, 2, 10)
        )),
    }
    if rng.chance(20) {
        out.push(rng.pick(&ZONES).to_string());
    }
    out.join(" ")
}

/// Characters that matter to the grammar, plus a few that do not.
pub const ALPHABET: &[char] = &[
    '0', '1', '2', '3', '5', '7', '9', '*', '-', '~', ':', '.', ',', '/', ' ', '@', 'M', 'o', 'n',
    'S', 'u', 'a', 'U', 'T', 'C', 'é', '\t', '+', 'x',
];

/// `expr` with one to three random edits: insertions, deletions, replacements, repeats.
pub fn mutate(rng: &mut Rng, expr: &str) -> String {
    let mut chars: Vec<char> = expr.chars().collect();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(chars.len() as u64 + 1) as usize;
        match rng.below(4) {
            0 => chars.insert(at, *rng.pick(ALPHABET)),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            2 if at < chars.len() => chars[at] = *rng.pick(ALPHABET),
            _ => {
                let end = (at + 1 + rng.below(4) as usize).min(chars.len());
                let piece: Vec<char> = chars[at.min(end)..end].to_vec();
                for (i, c) in piece.into_iter().enumerate() {
                    chars.insert(end + i, c);
                }
            }
        }
    }
    chars.into_iter().collect()
}
