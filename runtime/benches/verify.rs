//! The spot check of a restore drill (`bakrun verify JOB --sample 1000`) against restoring
//! the same files by hand, on a 30,000-file job: for a restic job, one `restic restore
//! --include …` of the 1,000 files; for an rsync snapshot job, `cp --parents` of them out
//! of the snapshot folder. Both sides in the same process, alternating which goes first,
//! the file system flushed and settled before each measurement. bakrun does more than the
//! by-hand restore (it draws the sample from the files the run recorded, lists the
//! repository's runs beside the restore to check that run is the newest, compares every
//! file with the live one byte for byte, writes its record): the target is bakrun / by
//! hand ≤ 1.2.
//!
//! Beside it, what `count` adds to a drill (counting the live files as a run would read
//! them: `rsync --list-only`, `restic backup --dry-run -vv`): the same drill with and
//! without it, reported as a ratio with no target.
//!
//! `cargo bench -p bakrun --bench verify`, sized by `BAKRUN_BENCH_FILES` (default 30000),
//! `BAKRUN_BENCH_MIB` (default 300), `BAKRUN_BENCH_SAMPLE` (default 1000) and
//! `BAKRUN_BENCH_ROUNDS` (default 4); work under `BAKRUN_BENCH_DIR` (default the temp
//! folder).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const SEED: &str = "1";

fn bakrun(args: &[&str]) -> String {
    let out = Command::new(BAKRUN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "bakrun {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The files the drill draws, as its dry run plans them.
fn planned(spec: &Path, sample: &str) -> Vec<String> {
    bakrun(&[
        "verify",
        spec.to_str().unwrap(),
        "--dry-run",
        "--sample",
        sample,
        "--seed",
        SEED,
    ])
    .lines()
    .filter_map(|l| l.strip_prefix("# file: ").map(str::to_owned))
    .collect()
}

fn restic_spec(work: &Path, source: &Path, password: &Path) -> PathBuf {
    let spec = serde_json::json!({
        "version": 1,
        "host": "bench",
        "job": "tree",
        "unit": "bakgen-tree.service",
        "sources": [source.to_string_lossy()],
        "destination": {
            "engine": "restic",
            "repository": work.join("repo").to_string_lossy(),
            "password": {"from": "file", "path": password.to_string_lossy()},
            "cache-dir": work.join("cache").to_string_lossy(),
        },
        "schedule": {"calendar": "hourly", "late-after-seconds": 7200},
        "retention": {},
        "state-dir": work.join("state-restic").to_string_lossy(),
        // A job with a drill: its runs record their files, which the drill draws from.
        "verify": {"calendar": "Sun 05:00", "sample": {"files": 1000}, "within-seconds": 691200},
    });
    let path = work.join("restic.json");
    fs::write(&path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    path
}

/// A copy of the spec at `spec` whose drill also counts the live files (`count`, 5 %).
fn with_count(spec: &Path) -> PathBuf {
    let mut json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(spec).unwrap()).unwrap();
    json["verify"] = serde_json::json!({
        "calendar": "Sun 05:00",
        "sample": {"files": 1000},
        "within-seconds": 691200,
        "count": {"tolerance-per-mille": 50},
    });
    let path = spec.with_extension("count.json");
    fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    path
}

fn report(what: &str, ours: &mut [f64], theirs: &mut [f64]) -> f64 {
    let ratio = ratio_of_sums(ours, theirs);
    println!(
        "{what}: bakrun verify {:.2} s, by hand {:.2} s (medians); ratio of sums {ratio:.2}",
        median(ours),
        median(theirs)
    );
    ratio
}

fn main() {
    let config = Config {
        files: env_number("BAKRUN_BENCH_FILES", 30_000),
        mib: env_number("BAKRUN_BENCH_MIB", 300),
        rounds: env_number("BAKRUN_BENCH_ROUNDS", 4).max(1),
    };
    let sample = env_number("BAKRUN_BENCH_SAMPLE", 1000).to_string();
    let tree = unique_tree(&config);
    let work = bench_work_dir("verify");
    let w = work.path();

    let rsync_spec = write_spec(w, &tree, &w.join("dest"));
    bakrun(&["run", rsync_spec.to_str().unwrap()]);
    let password = w.join("password");
    fs::write(&password, "bench\n").unwrap();
    fs::set_permissions(&password, fs::Permissions::from_mode(0o600)).unwrap();
    let restic = restic_spec(w, &tree, &password);
    bakrun(&["init", restic.to_str().unwrap()]);
    bakrun(&["run", restic.to_str().unwrap()]);

    let (rsync_count, restic_count) = (with_count(&rsync_spec), with_count(&restic));
    let rsync_files = planned(&rsync_spec, &sample);
    let restic_files = planned(&restic, &sample);
    assert_eq!(rsync_files.len().to_string(), sample);
    let snapshot_dir = fs::read_dir(w.join("dest/bench/tree"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir() && !p.ends_with("latest"))
        .unwrap();
    let restic_env = [
        ("RESTIC_REPOSITORY", w.join("repo")),
        ("RESTIC_PASSWORD_FILE", password.clone()),
    ];
    let listing = Command::new("restic")
        .args(["snapshots", "--json", "--latest", "1", "--no-lock"])
        .envs(restic_env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listing.stdout).unwrap();
    let snapshot_id = listed[0]["id"].as_str().unwrap().to_owned();
    println!(
        "job of {} files, {} MiB; sample {sample}, {} rounds",
        config.files, config.mib, config.rounds
    );

    let (mut ours_rsync, mut cp, mut ours_restic, mut by_hand) = (vec![], vec![], vec![], vec![]);
    let (mut counted_rsync, mut counted_restic) = (vec![], vec![]);
    let target = w.join("by-hand");
    for round in 0..config.rounds {
        let verify = |spec: &Path| {
            settle();
            timed(Command::new(BAKRUN).args([
                "verify",
                spec.to_str().unwrap(),
                "--sample",
                &sample,
                "--seed",
                SEED,
                "-q",
            ]))
        };
        let copy_by_hand = || {
            fresh_dir(&target);
            settle();
            timed(
                Command::new("cp")
                    .current_dir(&snapshot_dir)
                    .args(["-p", "--parents"])
                    .args(rsync_files.iter().map(|f| f.trim_start_matches('/')))
                    .arg(&target),
            )
        };
        let restore_by_hand = || {
            fresh_dir(&target);
            settle();
            let mut cmd = Command::new("restic");
            cmd.envs(restic_env.iter().map(|(k, v)| (k, v)))
                .env("RESTIC_CACHE_DIR", w.join("cache"))
                .args(["restore", &snapshot_id, "--target"])
                .arg(&target);
            for f in &restic_files {
                cmd.arg("--include").arg(f);
            }
            timed(&mut cmd)
        };
        if round % 2 == 0 {
            ours_rsync.push(verify(&rsync_spec));
            cp.push(copy_by_hand());
            counted_rsync.push(verify(&rsync_count));
            ours_restic.push(verify(&restic));
            by_hand.push(restore_by_hand());
            counted_restic.push(verify(&restic_count));
        } else {
            counted_rsync.push(verify(&rsync_count));
            cp.push(copy_by_hand());
            ours_rsync.push(verify(&rsync_spec));
            counted_restic.push(verify(&restic_count));
            by_hand.push(restore_by_hand());
            ours_restic.push(verify(&restic));
        }
    }
    for (what, with, without) in [
        ("rsync", &mut counted_rsync, &mut ours_rsync),
        ("restic", &mut counted_restic, &mut ours_restic),
    ] {
        println!(
            "{what} drill with count {:.2} s, without {:.2} s (medians); ratio of sums {:.2} (no target)",
            median(with),
            median(without),
            ratio_of_sums(with, without)
        );
    }
    let r1 = report("rsync snapshots vs cp", &mut ours_rsync, &mut cp);
    let r2 = report(
        "restic vs restic restore --include",
        &mut ours_restic,
        &mut by_hand,
    );
    println!(
        "target ≤ 1.2: rsync {}, restic {}",
        if r1 <= 1.2 { "met" } else { "MISSED" },
        if r2 <= 1.2 { "met" } else { "MISSED" }
    );
}
