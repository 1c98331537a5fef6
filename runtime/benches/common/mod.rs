//! Shared by the benchmarks: a generated source tree (made once, then reused), job specs,
//! timing and medians.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub const BAKRUN: &str = env!("CARGO_BIN_EXE_bakrun");

pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Size of the tree: `BAKRUN_BENCH_FILES` files (default 50 000) holding
/// `BAKRUN_BENCH_MIB` MiB (default 1024); `BAKRUN_BENCH_ROUNDS` alternations (default 4).
pub struct Config {
    pub files: u64,
    pub mib: u64,
    pub rounds: u64,
}

impl Config {
    pub fn from_env() -> Self {
        // Even, so that each side goes first equally often.
        Self::from_env_or(50_000, 4)
    }

    /// The same variables with other defaults for the file count and the rounds.
    pub fn from_env_or(files: u64, rounds: u64) -> Self {
        Config {
            files: env_number("BAKRUN_BENCH_FILES", files),
            mib: env_number("BAKRUN_BENCH_MIB", 1024),
            rounds: env_number("BAKRUN_BENCH_ROUNDS", rounds).max(1),
        }
    }
}

/// The source tree for `config`, generated on first use into the temp folder and kept for
/// later runs (a `complete` marker is written last, so a cut-short generation is redone).
pub fn source_tree(config: &Config) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "bakrun-bench-tree-{}f-{}m",
        config.files, config.mib
    ));
    let marker = dir.join(".complete");
    if marker.exists() {
        return dir.join("data");
    }
    let _ = fs::remove_dir_all(&dir);
    let data = dir.join("data");
    let started = Instant::now();
    // Incompressible, non-zero content: zero blocks would become holes under rsync -S.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pool: Vec<u8> = (0..4 * 1024 * 1024)
        .map(|_| (next() >> 24) as u8 | 1)
        .collect();
    let sizes = file_sizes(config, &mut next);
    let mut written = 0u64;
    for (i, &size) in sizes.iter().enumerate() {
        let mut f = fs::File::create(file_path(&data, i)).unwrap();
        let mut left = size as usize;
        let mut offset = (i * 7919) % (pool.len() / 2);
        while left > 0 {
            let n = left.min(pool.len() - offset);
            f.write_all(&pool[offset..offset + n]).unwrap();
            left -= n;
            offset = 0;
        }
        written += size;
    }
    fs::write(&marker, "").unwrap();
    println!(
        "generated {} files, {:.0} MiB in {:.1} s at {}",
        config.files,
        written as f64 / 1048576.0,
        started.elapsed().as_secs_f64(),
        data.display()
    );
    data
}

/// File sizes for `config`: mostly small files, a few large ones, as in /etc + /home;
/// scaled so that they add up to `config.mib` MiB.
fn file_sizes(config: &Config, next: &mut impl FnMut() -> u64) -> Vec<u64> {
    let total = config.mib * 1024 * 1024;
    let mean = (total / config.files.max(1)).max(1);
    let raw: Vec<u64> = (0..config.files)
        .map(|_| {
            let r = next() % 1000;
            if r < 5 {
                mean * 40
            } else if r < 100 {
                mean * 3
            } else {
                1 + next() % mean
            }
        })
        .collect();
    let raw_total: u64 = raw.iter().sum();
    raw.iter()
        .map(|size| size * total / raw_total.max(1))
        .collect()
}

/// Where file `i` of a generated tree goes (its folder is made with the first file in it).
fn file_path(data: &Path, i: usize) -> PathBuf {
    let sub = data.join(format!("d{:03}/e{:02}", i % 500, (i / 500) % 20));
    if i < 500 * 20 {
        fs::create_dir_all(&sub).unwrap();
    }
    sub.join(format!("file-{i:06}.dat"))
}

/// Like [`source_tree`], but every file holds bytes of its own from a cheap PRNG
/// (xorshift64, eight bytes a step): nothing that a deduplicating engine such as restic
/// finds twice, nothing to compress. Kept in the temp folder as
/// `bakrun-bench-unique-<files>f-<mib>m`.
pub fn unique_tree(config: &Config) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "bakrun-bench-unique-{}f-{}m",
        config.files, config.mib
    ));
    let marker = dir.join(".complete");
    if marker.exists() {
        return dir.join("data");
    }
    let _ = fs::remove_dir_all(&dir);
    let data = dir.join("data");
    let started = Instant::now();
    let xorshift = |seed: &mut u64| {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let sizes = file_sizes(config, &mut || xorshift(&mut seed));
    let mut buf = vec![0u8; 1024 * 1024];
    let mut written = 0u64;
    for (i, &size) in sizes.iter().enumerate() {
        let mut f = fs::File::create(file_path(&data, i)).unwrap();
        // A seed per file (never 0, which xorshift would keep).
        let mut state = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut left = size as usize;
        while left > 0 {
            let n = left.min(buf.len());
            for chunk in buf[..n].chunks_mut(8) {
                let word = xorshift(&mut state).to_le_bytes();
                chunk.copy_from_slice(&word[..chunk.len()]);
            }
            f.write_all(&buf[..n]).unwrap();
            left -= n;
        }
        written += size;
    }
    fs::write(&marker, "").unwrap();
    println!(
        "generated {} files, {:.0} MiB of unique pseudo-random bytes in {:.1} s at {}",
        config.files,
        written as f64 / 1048576.0,
        started.elapsed().as_secs_f64(),
        data.display()
    );
    data
}

/// A job spec backing up `source` into `dest`, state under `work`.
pub fn write_spec(work: &Path, source: &Path, dest: &Path) -> PathBuf {
    let spec = serde_json::json!({
        "version": 1,
        "host": "bench",
        "job": "tree",
        "unit": "bakgen-tree.service",
        "sources": [source.to_string_lossy()],
        "destination": {"engine": "snapshots", "path": dest.to_string_lossy()},
        "schedule": {"calendar": "hourly", "late-after-seconds": 7200},
        "retention": {},
        "state-dir": work.join("state").to_string_lossy(),
    });
    let path = work.join("job.json");
    fs::write(&path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    path
}

/// Runs a command, panicking on failure, and returns the seconds it took.
pub fn timed(cmd: &mut Command) -> f64 {
    let started = Instant::now();
    let out = cmd.output().unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    secs
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Disk use in KiB as `du -sk` counts it (hard links once).
pub fn du_kib(paths: &[&Path]) -> u64 {
    let out = Command::new("du").arg("-skc").args(paths).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .last()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

pub fn fresh_dir(path: &Path) {
    let _ = fs::remove_dir_all(path);
    fs::create_dir_all(path).unwrap();
}

/// Lets the file system finish the previous round's removals and writeback, so that the
/// first measurement of a round does not pay for them.
pub fn settle() {
    let _ = Command::new("sync").status();
    std::thread::sleep(std::time::Duration::from_secs(2));
}

/// Sum of the one side over the sum of the other: with alternating order, the fairest
/// single figure when rounds are noisy.
pub fn ratio_of_sums(a: &[f64], b: &[f64]) -> f64 {
    a.iter().sum::<f64>() / b.iter().sum::<f64>()
}

/// Where the destinations go: `BAKRUN_BENCH_DIR` (for example `/dev/shm`, a tmpfs, to keep
/// other writers of a shared disk out of the figures), else the temp folder. A new folder
/// `bakrun-bench-<tag>-XXXXXX` there, removed when dropped.
pub fn bench_work_dir(tag: &str) -> tempfile::TempDir {
    let base = std::env::var_os("BAKRUN_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new()
        .prefix(&format!("bakrun-bench-{tag}-"))
        .tempdir_in(base)
        .unwrap()
}
