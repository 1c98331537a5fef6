//! `bakgen build` of a 1,000-host × 10-job policy, against the file-write floor: writing the
//! same number of files with the same bytes in the same run. Target ≤ 2.0. A second build
//! with no change must write nothing and take ≤ 0.5× the first. The three are measured in
//! rounds whose order rotates, each after a sync, so that none pays for another's writes.
//!
//! Run: `cargo bench -p bakgen --bench build`

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bakgen::ops::build::{build_with, BuildOptions};
use bakgen::ops::check::check;
use bakgen::source::{SourceFile, SourceSet};

#[path = "../tests/support/fleet.rs"]
mod fleet;

fn files_under(root: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for e in std::fs::read_dir(root).expect("readable") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            let bytes = std::fs::read(&p).expect("file");
            out.push((p, bytes));
        }
    }
}

fn sync() {
    // SAFETY: sync(2) takes no argument and cannot fail.
    unsafe { libc::sync() };
}

/// `bakgen build`'s work, its build stamps kept in `stamps`.
fn build_from_text(text: &str, out: &Path, stamps: &Path) -> bakgen::ops::build::BuildReport {
    let mut set = SourceSet::default();
    set.add(SourceFile::new("fleet.kdl", text.to_owned()));
    let checked = check(set);
    assert_eq!(checked.errors(), 0);
    let options = BuildOptions {
        host: None,
        stamps: Some(stamps.to_path_buf()),
    };
    build_with(checked.plan().expect("plan"), out, &options).expect("build")
}

fn main() {
    let text = fleet::policy(1000, 10);
    let base = tempfile::Builder::new()
        .prefix("bakgen-bench-build-")
        .tempdir()
        .expect("temp");
    // The tree no-change rebuilds run against, and the files the floor writes.
    let warm = base.path().join("warm");
    let stamps = base.path().join("stamps");
    build_from_text(&text, &warm, &stamps);
    let mut files = Vec::new();
    files_under(&warm, &mut files);

    let mut first = Duration::MAX;
    let mut second = Duration::MAX;
    let mut floor = Duration::MAX;
    let mut written = 0;
    // Interleaved: the order rotates each round, and the page cache is synced before each
    // measurement, so none pays for the writes of the one before.
    for round in 0..3 {
        for step in 0..3 {
            sync();
            match (step + round) % 3 {
                0 => {
                    // First build: parse, check, emit, write every file.
                    let out = base.path().join("first");
                    let t = Instant::now();
                    let report = build_from_text(&text, &out, &stamps);
                    first = first.min(t.elapsed());
                    written = report.written.len();
                    let _ = std::fs::remove_dir_all(&out);
                }
                1 => {
                    // Nothing changed.
                    let t = Instant::now();
                    let report = build_from_text(&text, &warm, &stamps);
                    second = second.min(t.elapsed());
                    assert!(
                        report.written.is_empty(),
                        "an unchanged build wrote {} files",
                        report.written.len()
                    );
                }
                _ => {
                    // The floor: the same files and bytes (create dirs, write, rename).
                    let floor_out = base.path().join("floor");
                    let t = Instant::now();
                    for (p, bytes) in &files {
                        let target = floor_out.join(p.strip_prefix(&warm).expect("inside"));
                        let dir = target.parent().expect("parent");
                        std::fs::create_dir_all(dir).expect("mkdir");
                        let tmp = dir.join(".tmp");
                        let mut f = std::fs::File::create(&tmp).expect("create");
                        f.write_all(bytes).expect("write");
                        std::fs::rename(&tmp, &target).expect("rename");
                    }
                    floor = floor.min(t.elapsed());
                    let _ = std::fs::remove_dir_all(&floor_out);
                }
            }
        }
    }
    // Where the time of a first build goes.
    let t = Instant::now();
    let mut set = SourceSet::default();
    set.add(SourceFile::new("fleet.kdl", text.clone()));
    let checked = check(set);
    let parse_check = t.elapsed();
    let t = Instant::now();
    let bundles = bakgen::ops::build::bundles(checked.plan().expect("plan")).expect("emit");
    let emit = t.elapsed();
    std::hint::black_box(bundles);
    println!(
        "parse + check: {:.0} ms; emit (render units and specs): {:.0} ms",
        parse_check.as_secs_f64() * 1e3,
        emit.as_secs_f64() * 1e3
    );
    println!("policy: 1000 hosts x 10 jobs; {written} files written by the first build");
    println!(
        "file-write floor:        {:.0} ms",
        floor.as_secs_f64() * 1e3
    );
    println!(
        "bakgen build (first):    {:.0} ms  ratio to floor {:.2} (target <= 2.0)",
        first.as_secs_f64() * 1e3,
        first.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "bakgen build (no change): {:.0} ms  ratio to first {:.2} (target <= 0.5)",
        second.as_secs_f64() * 1e3,
        second.as_secs_f64() / first.as_secs_f64()
    );
}
