//! `bakrun retention` over 100k timestamps: the whole binary (stdin fed from memory, stdout
//! drained), against a baseline measured in the same run (`cat` through the same pipes:
//! the process-and-pipe floor), and `retention::decide` alone.
//!
//! Run: `cargo bench -p bakrun --bench retention`. Target: the binary under 50 ms.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bakrun::retention::{self, Count};
use bakrun::spec::Retention;
use chrono::{DateTime, FixedOffset};

const N: usize = 100_000;
const RUNS: usize = 7;

/// 100k snapshot times, every 7–13 minutes from 2024-01-01, with a few UTC offsets.
fn timestamps() -> Vec<String> {
    let mut state: u64 = 0x00be_4c11;
    let mut t: i64 = 1_704_067_200;
    let offsets = [0, 3_600, 7_200, -18_000, 19_800];
    (0..N)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            t += 420 + (state % 360) as i64;
            let off = FixedOffset::east_opt(offsets[(state >> 20) as usize % offsets.len()])
                .unwrap_or_else(|| panic!("bad offset"));
            DateTime::from_timestamp(t, 0)
                .unwrap_or_else(|| panic!("bad time"))
                .with_timezone(&off)
                .to_rfc3339()
        })
        .collect()
}

/// Runs `program args < input`, drains its stdout, returns the wall time and output size.
fn run(program: &str, args: &[&str], input: &[u8]) -> (Duration, usize) {
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).map(|_| out.len())
    });
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .unwrap_or_else(|e| panic!("write to {program}: {e}"));
    }
    let size = reader
        .join()
        .unwrap_or_else(|_| panic!("reader panicked"))
        .unwrap_or_else(|e| panic!("read from {program}: {e}"));
    let status = child.wait().unwrap_or_else(|e| panic!("wait: {e}"));
    let elapsed = start.elapsed();
    assert!(status.success(), "{program} {args:?}: {status}");
    (elapsed, size)
}

/// CPU time (user + system) of this process's reaped children, from /proc/self/stat, in
/// clock ticks of 10 ms (USER_HZ is 100 on Linux). Wall times on a shared machine include
/// waiting for a core; this does not. `None` off Linux.
fn children_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesized command name; cutime and cstime are fields 16 and 17.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(13)?.parse::<u64>().ok()? + fields.get(14)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn best_and_median(mut d: Vec<Duration>) -> (Duration, Duration) {
    d.sort();
    (d[0], d[d.len() / 2])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let texts = timestamps();
    let input = (texts.join("\n") + "\n").into_bytes();
    let bin = env!("CARGO_BIN_EXE_bakrun");
    let rules = [
        "--keep-last",
        "10",
        "--keep-hourly",
        "48",
        "--keep-daily",
        "14",
        "--keep-weekly",
        "8",
        "--keep-monthly",
        "24",
        "--keep-yearly",
        "5",
        "--keep-within",
        "3D",
    ];
    println!(
        "bakrun retention over {N} timestamps ({} KiB), best and median of {RUNS} runs",
        input.len() / 1024
    );

    let floor: Vec<Duration> = (0..RUNS).map(|_| run("cat", &[], &input).0).collect();
    let (floor_best, floor_med) = best_and_median(floor);
    println!(
        "  baseline `cat` (spawn + pipes)     {:7.2} ms  (median {:.2})",
        ms(floor_best),
        ms(floor_med)
    );

    for format in ["json", "human"] {
        let mut args = vec!["retention"];
        args.extend(rules);
        args.extend(["--format", format]);
        let mut size = 0;
        let cpu_before = children_cpu();
        let times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let (d, s) = run(bin, &args, &input);
                size = s;
                d
            })
            .collect();
        let cpu = cpu_before
            .zip(children_cpu())
            .map(|(a, b)| format!("{:.0} ms", ms((b - a) / RUNS as u32)))
            .unwrap_or_else(|| "n/a".into());
        let (best, med) = best_and_median(times);
        println!(
            "  bakrun retention --format {format:5}  {:7.2} ms  (median {:.2}; {:.1}x baseline; CPU per run {cpu}; {} KiB out){}",
            ms(best),
            ms(med),
            best.as_secs_f64() / floor_best.as_secs_f64(),
            size / 1024,
            if best < Duration::from_millis(50) { "" } else { "  OVER the 50 ms target" }
        );
    }

    // decide alone, on parsed times: sorted newest first (a listing), and shuffled.
    let parsed: Vec<DateTime<FixedOffset>> = texts
        .iter()
        .map(|t| DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("{t}: {e}")))
        .collect();
    let r = Retention {
        keep_last: Some(Count::from(10)),
        keep_hourly: Some(Count::from(48)),
        keep_daily: Some(Count::from(14)),
        keep_weekly: Some(Count::from(8)),
        keep_monthly: Some(Count::from(24)),
        keep_yearly: Some(Count::from(5)),
        keep_within: Some("3D".into()),
        keep_within_daily: Some("1M".into()),
        ..Retention::default()
    };
    let mut newest_first = parsed.clone();
    newest_first.reverse();
    let mut shuffled = parsed.clone();
    let mut s: u64 = 7;
    for i in (1..shuffled.len()).rev() {
        s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        shuffled.swap(i, (s >> 33) as usize % (i + 1));
    }
    // Worst case: rules that keep everything walk all 100k snapshots (the usual rules stop
    // early, once every counter is spent and keep-within is behind).
    let all = Retention {
        keep_last: Some(Count::from(N as u32)),
        keep_hourly: Some(Count::from(N as u32)),
        keep_within: Some("100Y".into()),
        ..r.clone()
    };
    for (name, times, rules) in [
        ("oldest first", &parsed, &r),
        ("newest first", &newest_first, &r),
        ("shuffled", &shuffled, &r),
        ("shuffled, keeping all", &shuffled, &all),
    ] {
        let runs: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let d = retention::decide(times, rules).unwrap_or_else(|e| panic!("{e}"));
                let elapsed = start.elapsed();
                assert_eq!(d.len(), N);
                elapsed
            })
            .collect();
        let (best, med) = best_and_median(runs);
        println!(
            "  decide alone, {name:21} {:7.2} ms  (median {:.2})",
            ms(best),
            ms(med)
        );
    }
    let start = Instant::now();
    let n = texts
        .iter()
        .filter(|t| DateTime::parse_from_rfc3339(t).is_ok())
        .count();
    println!(
        "  parsing {n} RFC 3339 lines          {:7.2} ms",
        ms(start.elapsed())
    );
}
