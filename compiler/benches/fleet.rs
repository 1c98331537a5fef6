//! `bakgen build` and `bakgen check` at fleet scale: a generated fleet (tests/support/fleet.rs:
//! 10 jobs of mixed kinds per host, several destinations, dumps, snapshot steps, calendar
//! expressions of each host's own) of 100, 1,000 and 5,000 hosts, each command run as a
//! child process, against floors measured in the same run:
//!
//! - check / parse floor: `bakgen check` against a bare KDL parse of the same text (target ≤ 1.5);
//! - build / atomic floor: a first `bakgen build` against writing the same files with a
//!   temporary file and a rename each, folders created as needed, no fsync — what a build
//!   does, by the smallest program (target ≤ 2);
//! - no-change / check: a rebuild with nothing changed against `bakgen check` (target ≤ 1.5);
//! - peak RSS of build and of check (getrusage of each child, `wait4`; target build ≤ 2× check),
//!   and how time and RSS grow per host from one size to the next (linear expected).
//!
//! Rounds are interleaved (the order of the measurements rotates each round) and the page
//! cache is synced before each measurement, so no measurement pays for another's writes.
//! The best round of each is kept.
//!
//! `cargo bench -p bakgen --bench fleet`; `BAKGEN_FLEET_SIZES=100,1000` chooses the sizes,
//! `BAKGEN_FLEET_ROUNDS` the rounds (default 3), `BAKGEN_FLEET_BIN` another `bakgen` to
//! measure (an earlier build, for a before/after).

#[path = "../tests/support/fleet.rs"]
mod fleet;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The `bakgen` measured: this build's, or `BAKGEN_FLEET_BIN` (another build, to compare).
fn bakgen_bin() -> String {
    std::env::var("BAKGEN_FLEET_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_bakgen").to_owned())
}

/// A child's wall time, CPU time in user space and in the kernel, and peak resident set
/// (KiB). On a shared machine the kernel's part (file creation, page reclaim) varies most.
#[derive(Clone, Copy)]
struct Run {
    time: Duration,
    user: Duration,
    system: Duration,
    rss_kib: u64,
}

fn seconds(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

fn sync() {
    // SAFETY: sync(2) takes no argument and cannot fail.
    unsafe { libc::sync() };
}

/// Runs `bakgen ARGS…` and waits for it with `wait4`, which gives that child's own peak RSS.
fn bakgen(args: &[&str]) -> Run {
    let t = Instant::now();
    // Reaped by wait4 below, which std's wait cannot do: it gives the child's rusage.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(bakgen_bin())
        .args(args)
        // Build stamps under the target folder, not in the user's cache.
        .env(
            "XDG_CACHE_HOME",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bakgen starts");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: pid is our own child, not yet waited for; status and usage are valid pointers.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let time = t.elapsed();
    assert_eq!(waited, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "bakgen {args:?} failed: {status}"
    );
    Run {
        time,
        user: seconds(usage.ru_utime),
        system: seconds(usage.ru_stime),
        rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
    }
}

/// The host folders of a built tree, sorted.
fn host_dirs(out: &Path) -> Vec<PathBuf> {
    let mut hosts: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("out")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    hosts.sort();
    hosts
}

/// A host folder's files: (path relative to it, bytes).
fn read_host(host: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).expect("readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(root, &p, files);
            } else {
                let rel = p.strip_prefix(root).expect("inside").to_path_buf();
                files.push((rel, std::fs::read(&p).expect("file")));
            }
        }
    }
    let mut files = Vec::new();
    walk(host, host, &mut files);
    files
}

/// The atomic-write floor: the same files written into `into` as a build writes them (a
/// temporary file beside, then a rename; folders made as needed; no fsync). One host's
/// files are read from the built tree at a time, outside the clock, so the floor holds as
/// little memory as the build does.
fn atomic_floor(built: &Path, into: &Path) -> Duration {
    let mut total = Duration::ZERO;
    for host in host_dirs(built) {
        let files = read_host(&host);
        let to = into.join(host.file_name().expect("name"));
        let t = Instant::now();
        for (rel, bytes) in &files {
            let target = to.join(rel);
            let dir = target.parent().expect("parent");
            std::fs::create_dir_all(dir).expect("mkdir");
            let tmp = dir.join(format!(
                ".{}.tmp",
                target.file_name().expect("name").to_string_lossy()
            ));
            let mut f = std::fs::File::create(&tmp).expect("create");
            f.write_all(bytes).expect("write");
            drop(f);
            std::fs::rename(&tmp, &target).expect("rename");
        }
        total += t.elapsed();
    }
    total
}

/// The best of each measurement at one size.
struct Figures {
    hosts: usize,
    files: usize,
    parse: Duration,
    check: Run,
    build: Run,
    rebuild: Run,
    floor: Duration,
}

fn measure(hosts: usize, rounds: usize, base: &Path) -> Figures {
    let text = fleet::policy(hosts, 10);
    let dir = base.join(format!("fleet{hosts}"));
    std::fs::create_dir_all(&dir).expect("dir");
    let policy = dir.join("fleet.kdl");
    std::fs::write(&policy, &text).expect("policy");
    let policy = policy.to_str().expect("utf-8").to_owned();
    // The tree rebuilds run against, and the floor copies.
    let warm = dir.join("warm");
    let warm_s = warm.to_str().expect("utf-8").to_owned();
    bakgen(&["build", &policy, "--out", &warm_s]);
    bakgen(&["build", &policy, "--out", &warm_s]);
    let files: usize = host_dirs(&warm).iter().map(|h| read_host(h).len()).sum();

    // The best time and CPU time, the highest peak.
    let best = |a: Option<Run>, b: Run| {
        Some(match a {
            Some(a) => Run {
                time: a.time.min(b.time),
                user: a.user.min(b.user),
                system: a.system.min(b.system),
                rss_kib: a.rss_kib.max(b.rss_kib),
            },
            None => b,
        })
    };
    let (mut parse, mut floor) = (Duration::MAX, Duration::MAX);
    let (mut check, mut build, mut rebuild) = (None, None, None);
    for round in 0..rounds {
        for step in 0..5 {
            sync();
            match (step + round) % 5 {
                0 => {
                    let t = Instant::now();
                    let doc = kdl::KdlDocument::parse_v2(&text).expect("parses");
                    parse = parse.min(t.elapsed());
                    std::hint::black_box(doc);
                }
                1 => check = best(check, bakgen(&["check", &policy])),
                2 => {
                    let out = dir.join("first");
                    let out_s = out.to_str().expect("utf-8");
                    build = best(build, bakgen(&["build", &policy, "--out", out_s]));
                    std::fs::remove_dir_all(&out).expect("rm");
                }
                3 => rebuild = best(rebuild, bakgen(&["build", &policy, "--out", &warm_s])),
                _ => {
                    let out = dir.join("floor");
                    floor = floor.min(atomic_floor(&warm, &out));
                    std::fs::remove_dir_all(&out).expect("rm");
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let unwrap = |r: Option<Run>| r.expect("at least one round");
    Figures {
        hosts,
        files,
        parse,
        check: unwrap(check),
        build: unwrap(build),
        rebuild: unwrap(rebuild),
        floor,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("BAKGEN_FLEET_SIZES")
        .unwrap_or_else(|_| "100,1000,5000".to_owned())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("BAKGEN_FLEET_SIZES: numbers, e.g. 100,1000")
        })
        .collect();
    let rounds: usize = std::env::var("BAKGEN_FLEET_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let base = tempfile::Builder::new()
        .prefix("bakgen-bench-fleet-")
        .tempdir()
        .expect("temp");
    println!("fleet: hosts x 10 mixed jobs; {rounds} interleaved rounds, synced before each measurement, best kept");
    let mut all: Vec<Figures> = Vec::new();
    for &hosts in &sizes {
        let f = measure(hosts, rounds, base.path());
        println!("\n{} hosts, {} files:", f.hosts, f.files);
        println!(
            "  check {:.0} ms / parse floor {:.0} ms = {:.2} (target <= 1.5)",
            ms(f.check.time),
            ms(f.parse),
            ratio(f.check.time, f.parse)
        );
        println!(
            "  build {:.0} ms / atomic-write floor {:.0} ms = {:.2} (target <= 2.0)",
            ms(f.build.time),
            ms(f.floor),
            ratio(f.build.time, f.floor)
        );
        println!(
            "  no-change rebuild {:.0} ms / check = {:.2} (target <= 1.5)",
            ms(f.rebuild.time),
            ratio(f.rebuild.time, f.check.time)
        );
        println!(
            "  CPU user + system: check {:.0} + {:.0} ms, build {:.0} + {:.0} ms, no-change rebuild {:.0} + {:.0} ms (user {:.2} x check)",
            ms(f.check.user),
            ms(f.check.system),
            ms(f.build.user),
            ms(f.build.system),
            ms(f.rebuild.user),
            ms(f.rebuild.system),
            ratio(f.rebuild.user, f.check.user)
        );
        println!(
            "  peak RSS: build {:.1} MiB, no-change rebuild {:.1} MiB, check {:.1} MiB; build / check = {:.2} (target <= 2.0)",
            f.build.rss_kib as f64 / 1024.0,
            f.rebuild.rss_kib as f64 / 1024.0,
            f.check.rss_kib as f64 / 1024.0,
            f.build.rss_kib as f64 / f.check.rss_kib.max(1) as f64
        );
        if let Some(prev) = all.last() {
            let n = (f.hosts - prev.hosts) as f64;
            let per = |a: Duration, b: Duration| (a.as_secs_f64() - b.as_secs_f64()) * 1e6 / n;
            println!(
                "  growth per host from {}: build {:.0} us, check {:.0} us, rebuild {:.0} us; RSS build {:.1} KiB, check {:.1} KiB",
                prev.hosts,
                per(f.build.time, prev.build.time),
                per(f.check.time, prev.check.time),
                per(f.rebuild.time, prev.rebuild.time),
                (f.build.rss_kib as f64 - prev.build.rss_kib as f64) / n,
                (f.check.rss_kib as f64 - prev.check.rss_kib as f64) / n
            );
        }
        all.push(f);
    }
    println!(
        "\nWhat remains of a first build beyond the floor is emission (rendering, hashing) and\n\
         the policy's parse and check; the floor itself is the kernel creating files\n\
         (open, write, rename of a new inode per file), which no build can avoid."
    );
}
