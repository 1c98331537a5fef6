//! Next 1,000 elapses for each of 1,000 calendar expressions: bakgen's time, and the
//! ratio to the same work done by `systemd-analyze calendar --iterations=1000` in the
//! same run. `cargo bench -p bakgen --bench calendar`

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

    // systemd-analyze: the same expressions, batched to keep command lines short.
    let start = Instant::now();
    let mut systemd_lines = 0;
    for batch in exprs.chunks(100) {
        let out = Command::new("systemd-analyze")
            .env("TZ", "UTC")
            .env("SYSTEMD_COLORS", "0")
            .arg("calendar")
            .arg(format!("--base-time={}", base_arg(&base)))
            .arg(format!("--iterations={ELAPSES}"))
            .arg("--")
            .args(batch)
            .stderr(Stdio::null())
            .output()
            .expect("systemd-analyze runs");
        systemd_lines += String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim_start)
            .filter(|l| {
                (l.starts_with("Iter. #") || l.starts_with("Next elapse:")) && !l.ends_with("never")
            })
            .count();
    }
    let systemd = start.elapsed();

    println!(
        "calendar: {EXPRESSIONS} expressions × next {ELAPSES} elapses (TZ=UTC, base {})",
        base_arg(&base)
    );
    println!(
        "  bakgen:          {:>9.3} s  ({total} elapses, {:.0} ns/elapse, best of 3)",
        best.as_secs_f64(),
        best.as_nanos() as f64 / total.max(1) as f64
    );
    println!(
        "  systemd-analyze: {:>9.3} s  ({systemd_lines} elapse lines printed, one run)",
        systemd.as_secs_f64()
    );
    println!(
        "  ratio systemd-analyze / bakgen: {:.2}×",
        systemd.as_secs_f64() / best.as_secs_f64().max(1e-9)
    );
}
