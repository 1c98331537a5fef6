//! `bakrun run` against raw rsync with the same flags, on the same tree, alternating in
//! the same process: first run (everything copied) and unchanged second run (everything
//! hard-linked). Target: bakrun / rsync ≤ 1.03.
//!
//! bakrun flushes the destination file system (syncfs) before a snapshot is called
//! complete; raw rsync does not. Both ratios are printed: against rsync alone, and against
//! rsync followed by `sync -f` (the same durability).
//!
//! `BAKRUN_BENCH_FILES=5000 BAKRUN_BENCH_MIB=100 cargo bench -p bakrun --bench vs_rsync`

mod common;

use std::path::Path;
use std::process::Command;

use bakrun::engine::rsync::RSYNC_FLAGS;
use common::*;

fn raw_rsync(source: &Path, target: &Path, link_dest: Option<&Path>) -> Command {
    let mut cmd = Command::new("rsync");
    cmd.args(RSYNC_FLAGS);
    if let Some(prev) = link_dest {
        cmd.arg(format!("--link-dest={}", prev.display()));
    }
    cmd.arg(source).arg(format!("{}/", target.display()));
    cmd
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists; nothing to list here.
    }
    let config = Config::from_env();
    let source = source_tree(&config);
    let work = bench_work_dir("vs-rsync");
    let work = work.path().to_owned();
    let spec = write_spec(&work, &source, &work.join("dest"));
    let raw_dest = work.join("raw");
    let (mut first_ratio, mut second_ratio) = (Vec::new(), Vec::new());
    let (mut first_sync_ratio, mut second_sync_ratio) = (Vec::new(), Vec::new());
    // Per side: first-run and second-run times (rsync alone, and rsync + sync).
    let (mut bf, mut bs, mut rf, mut rs, mut rfs, mut rss) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut rows = Vec::new();
    // bakrun's own time per run, outside rsync and outside the file-system flush.
    let overheads = std::cell::RefCell::new(Vec::new());
    for round in 0..config.rounds {
        fresh_dir(&work.join("dest"));
        fresh_dir(&work.join("state"));
        fresh_dir(&raw_dest);
        let log = work.join("bakrun.log");
        let bakrun = |w: &Path| {
            let _ = std::fs::remove_file(&log);
            let total = timed(
                Command::new(BAKRUN)
                    .args(["run", "-q", "--log-file"])
                    .arg(&log)
                    .arg(w),
            );
            let (rsync, flush) = phases(&log);
            overheads.borrow_mut().push((total - rsync - flush, flush));
            total
        };
        let sync = || timed(Command::new("sync").arg("-f").arg(&raw_dest));
        let raw1 = raw_dest.join("s1");
        let raw2 = raw_dest.join("s2");
        std::fs::create_dir_all(&raw1).unwrap();
        std::fs::create_dir_all(&raw2).unwrap();
        settle();
        // Alternate who goes first so the page cache favours neither.
        let (b1, r1, s1, b2, r2, s2);
        if round % 2 == 0 {
            b1 = bakrun(&spec);
            r1 = timed(&mut raw_rsync(&source, &raw1, None));
            s1 = sync();
            b2 = bakrun(&spec);
            r2 = timed(&mut raw_rsync(&source, &raw2, Some(&raw1)));
            s2 = sync();
        } else {
            r1 = timed(&mut raw_rsync(&source, &raw1, None));
            s1 = sync();
            b1 = bakrun(&spec);
            r2 = timed(&mut raw_rsync(&source, &raw2, Some(&raw1)));
            s2 = sync();
            b2 = bakrun(&spec);
        }
        rows.push(format!(
            "round {round}: first bakrun {b1:.2}s rsync {r1:.2}s (+sync {s1:.2}s) | second bakrun {b2:.2}s rsync {r2:.2}s (+sync {s2:.2}s)"
        ));
        bf.push(b1);
        bs.push(b2);
        rf.push(r1);
        rs.push(r2);
        rfs.push(r1 + s1);
        rss.push(r2 + s2);
        first_ratio.push(b1 / r1);
        second_ratio.push(b2 / r2);
        first_sync_ratio.push(b1 / (r1 + s1));
        second_sync_ratio.push(b2 / (r2 + s2));
    }
    for row in rows {
        println!("{row}");
    }
    println!(
        "tree: {} files, {} MiB; medians of {} rounds",
        config.files, config.mib, config.rounds
    );
    println!(
        "first run:  bakrun/rsync = {:.3} (median of ratios {:.3})   bakrun/(rsync+sync) = {:.3} (median {:.3})",
        ratio_of_sums(&bf, &rf),
        median(&mut first_ratio),
        ratio_of_sums(&bf, &rfs),
        median(&mut first_sync_ratio)
    );
    println!(
        "second run: bakrun/rsync = {:.3} (median of ratios {:.3})   bakrun/(rsync+sync) = {:.3} (median {:.3})   (target <= 1.03)",
        ratio_of_sums(&bs, &rs),
        median(&mut second_ratio),
        ratio_of_sums(&bs, &rss),
        median(&mut second_sync_ratio)
    );
    let overheads = overheads.into_inner();
    let own: Vec<f64> = overheads.iter().map(|o| o.0).collect();
    let flush: Vec<f64> = overheads.iter().map(|o| o.1).collect();
    println!(
        "bakrun's own time per run (outside rsync and syncfs): max {:.3}s, mean {:.3}s; syncfs: max {:.3}s, mean {:.3}s",
        own.iter().cloned().fold(0.0, f64::max),
        own.iter().sum::<f64>() / own.len().max(1) as f64,
        flush.iter().cloned().fold(0.0, f64::max),
        flush.iter().sum::<f64>() / flush.len().max(1) as f64,
    );
}

/// From bakrun's `--log-file`: seconds rsync ran, and seconds the flush took.
fn phases(log: &Path) -> (f64, f64) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let at = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|t| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.3f%:z").ok())
    };
    let secs = |a: Option<chrono::DateTime<chrono::FixedOffset>>,
                b: Option<chrono::DateTime<chrono::FixedOffset>>| match (a, b) {
        (Some(a), Some(b)) => (b - a).num_milliseconds() as f64 / 1000.0,
        _ => 0.0,
    };
    let started = at("running: rsync");
    let exited = at("rsync exited");
    let flushed = at("file system flushed");
    (secs(started, exited), secs(exited, flushed))
}
