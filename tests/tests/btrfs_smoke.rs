//! Proves the btrfs helper: a read-only snapshot on a loop device keeps the old content,
//! in a private mount namespace that leaves the host's mount table as it was.

use std::time::{Duration, Instant};

use bakgen_e2e::btrfs::run_on_btrfs;
use bakgen_e2e::process;

const SCRIPT: &str = r#"
btrfs -q subvolume create data
echo old > data/file
btrfs -q subvolume snapshot -r data snap
echo new > data/file
echo "live=$(cat data/file)"
echo "snap=$(cat snap/file)"
btrfs property get -ts snap ro
if touch snap/other 2>/dev/null; then echo snap-writable; else echo snap-readonly; fi
findmnt -n -o FSTYPE --target "$MNT"
"#;

#[test]
#[ignore = "tier: system — needs root and btrfs on a loop device; run by scripts/test"]
fn readonly_snapshot_keeps_old_content() {
    let before = process::mounts().expect("mountinfo");
    let t = Instant::now();
    let out = run_on_btrfs(SCRIPT, Duration::from_secs(60)).expect("btrfs script");
    println!("btrfs cycle: {:.2?}\n{out}", t.elapsed());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["live=new", "snap=old", "ro=true", "snap-readonly", "btrfs"],
        "{out}"
    );
    assert_eq!(
        process::mounts().expect("mountinfo"),
        before,
        "host mounts changed"
    );
}

#[test]
#[ignore = "tier: system — needs root and btrfs on a loop device; run by scripts/test"]
fn a_failing_script_is_an_error_with_its_output() {
    let err = run_on_btrfs("echo about-to-fail; false", Duration::from_secs(60))
        .expect_err("false fails");
    assert!(err.to_string().contains("about-to-fail"), "{err}");
}
