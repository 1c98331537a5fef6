//! `bakrun run` of a restic job against the same `restic backup` run by hand, on the same
//! tree of unique pseudo-random bytes (nothing restic can deduplicate or compress away),
//! alternating in the same process: first backup into a fresh local repository, then an
//! unchanged second backup. Each side gets a fresh repository and cache every round.
//! Target: bakrun / restic ≤ 1.03.
//!
//! The by-hand command is the one `bakrun run --dry-run` prints for a twin job (same
//! flags, host, tags and excludes; the bench checks it word for word), with the password
//! from the same 0600 file. bakrun does more than that one command: it lists the job's
//! snapshots first (to name the run and forget interrupted ones), applies the job's
//! retention after (`keep-last`, default 1, so the second run forgets the first one as
//! every run does once retention is in its steady state) and counts the snapshots for the
//! status file. The figures say so: the main ratio is against `restic backup` alone, a
//! second one against `restic backup` + `restic forget --keep-last` by hand, and bakrun's
//! time outside `restic backup` is broken down from its log file.
//!
//! `cargo bench -p bakrun --bench vs_restic`, sized by `BAKRUN_BENCH_MIB` (default 1024),
//! `BAKRUN_BENCH_FILES` (default 5000), `BAKRUN_BENCH_ROUNDS` (default 3),
//! `BAKRUN_BENCH_KEEP_LAST` (default 1); repositories go under `BAKRUN_BENCH_DIR` (default
//! the temp folder), e.g.
//! `BAKRUN_BENCH_MIB=100 BAKRUN_BENCH_FILES=1000 cargo bench -p bakrun --bench vs_restic`.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use bakrun::command::shell_quote;
use bakrun::engine::restic::tags;
use chrono::{DateTime, FixedOffset, Local};
use common::*;

const HOST: &str = "bench";
const JOB: &str = "tree";
const EXCLUDES: [&str; 2] = ["*.tmp", "*/cache/*"];

/// One side's repository, cache, state and job spec.
struct Side {
    repo: PathBuf,
    cache: PathBuf,
    state: PathBuf,
    spec: PathBuf,
}

impl Side {
    fn new(work: &Path, name: &str, source: &Path, password: &Path, keep_last: u64) -> Self {
        let side = Side {
            repo: work.join(format!("repo-{name}")),
            cache: work.join(format!("cache-{name}")),
            state: work.join(format!("state-{name}")),
            spec: work.join(format!("{name}.json")),
        };
        let spec = serde_json::json!({
            "version": 1,
            "host": HOST,
            "job": JOB,
            "unit": format!("bakgen-{JOB}.service"),
            "sources": [source.to_string_lossy()],
            "excludes": EXCLUDES,
            "destination": {
                "engine": "restic",
                "repository": side.repo.to_string_lossy(),
                "password": {"from": "file", "path": password.to_string_lossy()},
                "cache-dir": side.cache.to_string_lossy(),
            },
            "schedule": {"calendar": "hourly", "late-after-seconds": 7200},
            "retention": {"keep-last": keep_last},
            "state-dir": side.state.to_string_lossy(),
        });
        fs::write(&side.spec, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
        side
    }

    /// A fresh, empty repository (made by `bakrun init`, outside the timings), cache and
    /// state.
    fn reset(&self) {
        for dir in [&self.repo, &self.cache, &self.state] {
            let _ = fs::remove_dir_all(dir);
        }
        fs::create_dir_all(&self.state).unwrap();
        timed(Command::new(BAKRUN).args(["init", "-q"]).arg(&self.spec));
    }

    /// `restic` as bakrun starts it: the global flags, and the repository and password
    /// file in the environment (the other password variables set empty).
    fn restic(&self, password: &Path) -> (Command, Vec<String>) {
        let mut cmd = Command::new("restic");
        cmd.env("RESTIC_REPOSITORY", &self.repo)
            .env("RESTIC_PASSWORD", "")
            .env("RESTIC_PASSWORD_COMMAND", "")
            .env("RESTIC_PASSWORD_FILE", password);
        let words = vec![
            "restic".to_owned(),
            "--cache-dir".to_owned(),
            self.cache.to_string_lossy().into_owned(),
        ];
        (cmd, words)
    }
}

/// The arguments of bakrun's `restic backup` (engine/restic/backup.rs, `backup_command`
/// and the sources part of `backup_at`), with run tag `run`.
fn backup_words(run: &str, source: &Path) -> Vec<String> {
    let mut words: Vec<String> = ["backup", "--json", "--host", HOST]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for tag in tags::run(HOST, JOB, run, 1) {
        words.push("--tag".into());
        words.push(tag);
    }
    words.extend(EXCLUDES.iter().map(|p| format!("--exclude={p}")));
    words.push("--".into());
    words.push(source.to_string_lossy().into_owned());
    words
}

fn shell_line(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The by-hand `restic backup`, checked word for word against what
/// `bakrun run --dry-run` prints for the same side.
fn hand_backup(side: &Side, password: &Path, source: &Path) -> Command {
    let out = Command::new(BAKRUN)
        .args(["run", "--dry-run"])
        .arg(&side.spec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    let line = printed
        .lines()
        .find(|l| l.starts_with("restic ") && l.contains(" backup "))
        .unwrap_or_else(|| panic!("no restic backup in the dry run:\n{printed}"));
    let run = line
        .split(' ')
        .find_map(|w| w.strip_prefix("run="))
        .unwrap()
        .to_owned();
    let (mut cmd, global) = side.restic(password);
    let expected = [global.clone(), backup_words(&run, source)].concat();
    assert_eq!(
        shell_line(&expected),
        line,
        "the by-hand command differs from bakrun's"
    );
    // A run tag of its own, as bakrun names each run by its start.
    let now = bakrun::engine::run_name::snapshot_name(&Local::now().fixed_offset());
    cmd.args(&global[1..]).args(backup_words(&now, source));
    cmd
}

fn command_words(cmd: &Command) -> Vec<String> {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|w| w.to_string_lossy().into_owned())
        .collect()
}

fn hand_forget(side: &Side, password: &Path, keep_last: u64) -> Command {
    let (mut cmd, words) = side.restic(password);
    cmd.args(&words[1..])
        .args(["forget", "--host", HOST, "--tag"])
        .arg(tags::job_filter(JOB))
        .arg(format!("--keep-last={keep_last}"));
    cmd
}

/// Where one `bakrun run` spent its time, from its `--log-file`.
#[derive(Default, Clone, Copy)]
struct Phases {
    total: f64,
    /// Start to `restic backup` (listings, interrupted runs).
    before: f64,
    /// `restic backup` itself.
    backup: f64,
    /// After it: retention (listing, forget) and the status file (listing).
    after: f64,
    listings: usize,
    forgets: usize,
}

fn bakrun_run(side: &Side, log: &Path) -> Phases {
    let _ = fs::remove_file(log);
    let start = Local::now().fixed_offset();
    let total = timed(
        Command::new(BAKRUN)
            .args(["run", "-q", "--log-file"])
            .arg(log)
            .arg(&side.spec),
    );
    let text = fs::read_to_string(log).unwrap_or_default();
    let at = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|t| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.3f%:z").ok())
    };
    let secs = |a: DateTime<FixedOffset>, b: DateTime<FixedOffset>| {
        (b - a).num_milliseconds() as f64 / 1000.0
    };
    let backup_started = at(" backup --json ").expect("bakrun logs its restic backup");
    let backup_done = at("complete: ").expect("bakrun logs the snapshot");
    let count = |needle: &str| {
        text.lines()
            .filter(|l| l.contains("running: restic") && l.contains(needle))
            .count()
    };
    let before = secs(start, backup_started).max(0.0);
    let backup = secs(backup_started, backup_done);
    Phases {
        total,
        before,
        backup,
        after: (total - before - backup).max(0.0),
        listings: count(" snapshots "),
        forgets: count(" forget "),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists; nothing to list here.
    }
    let config = Config::from_env_or(5000, 3);
    let keep_last = env_number("BAKRUN_BENCH_KEEP_LAST", 1).max(1);
    let source = unique_tree(&config);
    let work = bench_work_dir("vs-restic");
    let work = work.path().to_owned();
    let password = work.join("password");
    fs::write(&password, "correct horse battery staple\n").unwrap();
    fs::set_permissions(&password, fs::Permissions::from_mode(0o600)).unwrap();
    let ours = Side::new(&work, "bakrun", &source, &password, keep_last);
    let hand = Side::new(&work, "restic", &source, &password, keep_last);
    let log = work.join("bakrun.log");

    let (mut bf, mut bs, mut rf, mut rs, mut rforget) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut pf, mut ps) = (vec![], vec![]);
    let mut rows = Vec::new();
    for round in 0..config.rounds {
        ours.reset();
        hand.reset();
        // Alternate who goes first so the page cache and the disk favour neither.
        let b = |what: &mut Vec<Phases>| {
            settle();
            let p = bakrun_run(&ours, &log);
            what.push(p);
            p.total
        };
        let r = |first: bool| {
            let mut cmd = hand_backup(&hand, &password, &source);
            if first && round == 0 {
                println!("by hand: {}", shell_line(&command_words(&cmd)));
            }
            settle();
            timed(&mut cmd)
        };
        let (b1, r1, b2, r2);
        if round % 2 == 0 {
            b1 = b(&mut pf);
            r1 = r(true);
            b2 = b(&mut ps);
            r2 = r(false);
        } else {
            r1 = r(true);
            b1 = b(&mut pf);
            r2 = r(false);
            b2 = b(&mut ps);
        }
        // What a script doing the same retention would add.
        let f2 = timed(&mut hand_forget(&hand, &password, keep_last));
        let (p1, p2) = (pf[pf.len() - 1], ps[ps.len() - 1]);
        rows.push(format!(
            "round {round}: first bakrun {b1:.2}s (restic backup {:.2}s) restic {r1:.2}s | second bakrun {b2:.2}s (restic backup {:.2}s) restic {r2:.2}s (+ forget by hand {f2:.2}s)",
            p1.backup, p2.backup
        ));
        bf.push(b1);
        bs.push(b2);
        rf.push(r1);
        rs.push(r2);
        rforget.push(r2 + f2);
    }
    for row in rows {
        println!("{row}");
    }
    println!(
        "tree: {} files, {} MiB of unique bytes; retention keep-last {keep_last}; medians of {} rounds",
        config.files, config.mib, config.rounds
    );
    let (mbf, mrf, mbs, mrs) = (
        median(&mut bf),
        median(&mut rf),
        median(&mut bs),
        median(&mut rs),
    );
    println!("first backup:  bakrun {mbf:.2}s  restic {mrf:.2}s");
    println!("second backup: bakrun {mbs:.2}s  restic {mrs:.2}s (unchanged tree)");
    println!(
        "ratio bakrun/restic first={:.3} second={:.3}   (target <= 1.03)",
        mbf / mrf,
        mbs / mrs
    );
    println!(
        "ratio bakrun/(restic backup + restic forget --keep-last={keep_last} by hand) second={:.3}",
        mbs / median(&mut rforget)
    );
    // restic's own noise apart from bakrun's: the same command, inside and outside bakrun.
    let inside =
        |phases: &[Phases]| median(&mut phases.iter().map(|p| p.backup).collect::<Vec<_>>());
    println!(
        "ratio of restic backup inside bakrun / by hand (same command) first={:.3} second={:.3}",
        inside(&pf) / mrf,
        inside(&ps) / mrs
    );
    // bakrun's own cost is its time outside `restic backup`; steadier than restic's.
    let mut own = Vec::new();
    for (what, phases, by_hand) in [("first", &pf, mrf), ("second", &ps, mrs)] {
        let field = |f: fn(&Phases) -> f64| median(&mut phases.iter().map(f).collect::<Vec<_>>());
        let (before, backup, after) =
            (field(|p| p.before), field(|p| p.backup), field(|p| p.after));
        let outside = field(|p| p.before + p.after);
        let p = phases[0];
        println!(
            "bakrun {what} run (medians): {before:.2}s before restic backup, {backup:.2}s in it, {after:.2}s after; {} restic snapshots, {} restic forget",
            p.listings, p.forgets
        );
        own.push((outside, (by_hand + outside) / by_hand));
    }
    println!(
        "bakrun's own time outside restic backup: first +{:.2}s, second +{:.2}s; as a ratio to restic's median: first={:.3} second={:.3}",
        own[0].0, own[1].0, own[0].1, own[1].1
    );
}
