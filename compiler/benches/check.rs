//! `bakgen check` on a generated 1,000-host × 10-job policy, against the bare KDL parse of
//! the same text measured in the same run. Target: ratio ≤ 1.5.
//!
//! Run: `cargo bench -p bakgen --bench check`

use std::time::{Duration, Instant};

use bakgen::ops::check::check;
use bakgen::source::{SourceFile, SourceSet};

#[path = "../tests/support/fleet.rs"]
mod fleet;
use fleet::policy;

fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let text = policy(1000, 10);
    println!("policy: 1000 hosts x 10 jobs, {} bytes", text.len());
    let runs = 5;
    // Alternate the two so that machine noise hits both alike; keep the best of each.
    let mut parse = Duration::MAX;
    let mut full = Duration::MAX;
    for _ in 0..runs {
        parse = parse.min(best_of(1, || {
            let doc = kdl::KdlDocument::parse_v2(&text).expect("generated policy parses");
            std::hint::black_box(doc);
        }));
        full = full.min(best_of(1, || {
            let mut set = SourceSet::default();
            set.add(SourceFile::new("bench.kdl", text.clone()));
            let checked = check(set);
            assert_eq!(checked.errors(), 0, "the generated policy is valid");
            std::hint::black_box(checked);
        }));
    }
    let ratio = full.as_secs_f64() / parse.as_secs_f64();
    println!("bare kdl parse: {:.1} ms", parse.as_secs_f64() * 1e3);
    println!("bakgen check:   {:.1} ms", full.as_secs_f64() * 1e3);
    println!("ratio check/parse: {ratio:.2} (target <= 1.5)");
}
