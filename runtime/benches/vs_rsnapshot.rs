//! `bakrun run` against Debian's `rsnapshot hourly` with equivalent settings (the same
//! rsync flags, `link_dest 1`), first and unchanged second run, alternating; then the
//! disk use of the two snapshots each leaves. Targets: time ratio ≤ 1.0 at the same
//! durability, equal disk use. Every measurement starts after a `sync`: rsnapshot never
//! flushes its writes, and without it bakrun's own `syncfs` would pay for rsnapshot's run
//! before it. bakrun flushes the destination before it calls a snapshot complete (a power
//! cut never leaves a snapshot that says it is whole and is not); rsnapshot does not, so
//! both ratios are printed: against rsnapshot alone, and against rsnapshot followed by
//! `sync -f` of its snapshot root (the same durability), timed apart.
//!
//! `BAKRUN_BENCH_FILES=5000 BAKRUN_BENCH_MIB=100 cargo bench -p bakrun --bench vs_rsnapshot`

mod common;

use std::path::Path;
use std::process::Command;

use bakrun::engine::rsync::RSYNC_FLAGS;
use common::*;

/// rsnapshot's configuration: fields separated by tabs, as rsnapshot requires.
fn rsnapshot_conf(work: &Path, source: &Path) -> std::path::PathBuf {
    let short = RSYNC_FLAGS
        .iter()
        .find(|f| !f.starts_with("--"))
        .copied()
        .unwrap_or("-a");
    let long: Vec<&str> = RSYNC_FLAGS
        .iter()
        .filter(|f| f.starts_with("--"))
        .copied()
        .collect();
    let conf = format!(
        "config_version\t1.2\n\
         snapshot_root\t{root}/\n\
         cmd_rsync\t/usr/bin/rsync\n\
         cmd_cp\t/bin/cp\n\
         cmd_rm\t/bin/rm\n\
         retain\thourly\t24\n\
         verbose\t1\n\
         loglevel\t1\n\
         lockfile\t{work}/rsnapshot.pid\n\
         link_dest\t1\n\
         rsync_short_args\t{short}\n\
         rsync_long_args\t{long}\n\
         backup\t{source}\tlocalhost/\n",
        root = work.join("rsnapshot").display(),
        work = work.display(),
        long = long.join(" "),
        source = source.display(),
    );
    let path = work.join("rsnapshot.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let config = Config::from_env();
    let source = source_tree(&config);
    let work = bench_work_dir("vs-rsnapshot");
    let work = work.path().to_owned();
    let spec = write_spec(&work, &source, &work.join("dest"));
    let conf = rsnapshot_conf(&work, &source);
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let (mut bf, mut bs, mut nf, mut ns) = (vec![], vec![], vec![], vec![]);
    let (mut nf_synced, mut ns_synced) = (vec![], vec![]);
    let mut du = (0, 0);
    for round in 0..config.rounds {
        fresh_dir(&work.join("dest"));
        fresh_dir(&work.join("state"));
        fresh_dir(&work.join("rsnapshot"));
        settle();
        let synced = |cmd: &mut Command| {
            let _ = Command::new("sync").status();
            timed(cmd)
        };
        let bakrun = || synced(Command::new(BAKRUN).args(["run", "-q"]).arg(&spec));
        // rsnapshot, and then the flush it leaves to the kernel.
        let rsnapshot = || {
            let ran = synced(Command::new("rsnapshot").arg("-c").arg(&conf).arg("hourly"));
            let flushed = timed(Command::new("sync").arg("-f").arg(work.join("rsnapshot")));
            (ran, flushed)
        };
        let (b1, n1, f1, b2, n2, f2);
        if round % 2 == 0 {
            b1 = bakrun();
            (n1, f1) = rsnapshot();
            b2 = bakrun();
            (n2, f2) = rsnapshot();
        } else {
            (n1, f1) = rsnapshot();
            b1 = bakrun();
            (n2, f2) = rsnapshot();
            b2 = bakrun();
        }
        println!(
            "round {round}: first bakrun {b1:.2}s rsnapshot {n1:.2}s (+sync {f1:.2}s) | second bakrun {b2:.2}s rsnapshot {n2:.2}s (+sync {f2:.2}s)"
        );
        bf.push(b1);
        bs.push(b2);
        nf.push(n1);
        ns.push(n2);
        nf_synced.push(n1 + f1);
        ns_synced.push(n2 + f2);
        first.push(b1 / n1);
        second.push(b2 / n2);
        du = (
            du_kib(&[&work.join("dest/bench/tree")]),
            du_kib(&[&work.join("rsnapshot")]),
        );
    }
    println!(
        "tree: {} files, {} MiB; medians of {} rounds",
        config.files, config.mib, config.rounds
    );
    println!(
        "first run:  bakrun/rsnapshot = {:.3} (median of ratios {:.3})   bakrun/(rsnapshot+sync) = {:.3}",
        ratio_of_sums(&bf, &nf),
        median(&mut first),
        ratio_of_sums(&bf, &nf_synced),
    );
    println!(
        "second run: bakrun/rsnapshot = {:.3} (median of ratios {:.3})   bakrun/(rsnapshot+sync) = {:.3}   (target <= 1.0 at the same durability)",
        ratio_of_sums(&bs, &ns),
        median(&mut second),
        ratio_of_sums(&bs, &ns_synced),
    );
    println!(
        "disk use after two runs: bakrun {} KiB, rsnapshot {} KiB (ratio {:.4})",
        du.0,
        du.1,
        du.0 as f64 / du.1.max(1) as f64
    );
}
