//! Next 1,000 elapses of calendar expressions, command against command: `bakgen calendar
//! EXPR --count 1000` and `systemd-analyze calendar --iterations=1000 EXPR`, one process per
//! expression each, both printing every elapse into a pipe that is read to the end, run
//! alternately (which goes first swaps with each expression). Also bakgen's in-process
//! time for 1,000 expressions, for reference. `cargo bench -p bakgen --bench calendar`

#[path = "../tests/calendar_support/mod.rs"]
mod calendar_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bakgen::schedule::CalendarSpec;
use calendar_support::{base_arg, generate, Rng};
use chrono::{TimeZone, Utc};
use chrono_tz::Tz;

const EXPRESSIONS: usize = 1000;
const ELAPSES: usize = 1000;
/// Expressions run as commands (two processes each).
const COMMANDS: usize = 200;

fn main() {
    let base = Utc.with_ymd_and_hms(2026, 3, 28, 12, 0, 0).unwrap();
    // Valid expressions without a zone of their own: with one, systemd forks a process
    // per elapse, which would measure fork() rather than the calendar.
    let mut rng = Rng::new(0xBE4C);
    let mut exprs = Vec::new();
    while exprs.len() < EXPRESSIONS {
        let e = generate(&mut rng);
        if let Ok(spec) = CalendarSpec::parse_in(&e, Tz::UTC) {
            if spec.timezone().is_none() {
                exprs.push(e);
            }
        }
    }

    // bakgen: parse and compute, best of three rounds.
    let mut best = Duration::MAX;
    let mut total = 0;
    for _ in 0..3 {
        let start = Instant::now();
        total = 0;
        for e in &exprs {
            let spec = CalendarSpec::parse_in(e, Tz::UTC).expect("valid");
            total += spec.elapses(&base, Tz::UTC).take(ELAPSES).count();
        }
        best = best.min(start.elapsed());
    }

    // Command against command, on the first COMMANDS expressions.
    let from = base.to_rfc3339();
    let run = |program: &str, args: Vec<String>| {
        let t = Instant::now();
        let out = Command::new(program)
            .env("TZ", "UTC")
            .env("SYSTEMD_COLORS", "0")
            .env("NO_COLOR", "1")
            .args(args)
            .stderr(Stdio::null())
            .output()
            .expect("runs");
        let lines = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim_start)
            .filter(|l| {
                (l.starts_with("Iter. #") || l.starts_with("Next elapse:")) && !l.ends_with("never")
            })
            .count();
        (t.elapsed(), lines)
    };
    let (mut ours, mut theirs) = (Duration::ZERO, Duration::ZERO);
    let (mut our_lines, mut their_lines) = (0, 0);
    for (i, e) in exprs.iter().take(COMMANDS).enumerate() {
        let bakgen = || {
            run(
                env!("CARGO_BIN_EXE_bakgen"),
                vec![
                    "calendar".into(),
                    format!("--from={from}"),
                    format!("--count={ELAPSES}"),
                    "--".into(),
                    e.clone(),
                ],
            )
        };
        let systemd = || {
            run(
                "systemd-analyze",
                vec![
                    "calendar".into(),
                    format!("--base-time={}", base_arg(&base)),
                    format!("--iterations={ELAPSES}"),
                    "--".into(),
                    e.clone(),
                ],
            )
        };
        let ((b, bl), (s, sl)) = if i % 2 == 0 {
            let b = bakgen();
            (b, systemd())
        } else {
            let s = systemd();
            (bakgen(), s)
        };
        ours += b;
        theirs += s;
        our_lines += bl;
        their_lines += sl;
    }

    println!(
        "calendar: next {ELAPSES} elapses (TZ=UTC, base {})",
        base_arg(&base)
    );
    println!(
        "  bakgen in process, {EXPRESSIONS} expressions: {:>9.3} s  ({total} elapses, {:.0} ns/elapse, best of 3)",
        best.as_secs_f64(),
        best.as_nanos() as f64 / total.max(1) as f64
    );
    println!("  one command per expression, {COMMANDS} expressions, alternating:");
    println!(
        "    bakgen calendar:          {:>9.3} s  ({our_lines} elapse lines printed)",
        ours.as_secs_f64()
    );
    println!(
        "    systemd-analyze calendar: {:>9.3} s  ({their_lines} elapse lines printed)",
        theirs.as_secs_f64()
    );
    println!(
        "  ratio systemd-analyze / bakgen per command: {:.2}×",
        theirs.as_secs_f64() / ours.as_secs_f64().max(1e-9)
    );
}
