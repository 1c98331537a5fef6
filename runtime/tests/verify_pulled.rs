//! `bakrun verify` of a job pulled over ssh from a real sshd on 127.0.0.1: the live side is
//! compared through the job's own ssh (rsync --dry-run --checksum on the host): a clean
//! drill passes, a byte flipped in the snapshot (size and time kept) fails naming the
//! file, a file changed or removed on the host is a change; `count` counts the host's
//! files through the same ssh.

mod common;

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use common::*;

#[test]
#[ignore = "tier: system — needs root and an sshd; run by scripts/test"]
fn a_pulled_job_is_drilled_through_its_own_ssh() {
    require_root();
    let t = TempDir::new("verify-pulled");
    let src = t.join("src");
    fs::create_dir_all(&src).unwrap();
    for i in 0..20 {
        fs::write(
            src.join(format!("f{i:02}")),
            format!("data {i}\n").repeat(100),
        )
        .unwrap();
    }
    let sshd = Sshd::start();
    let mut s = spec(t.path(), &[&src]);
    s["remote"] = sshd.remote();
    s["verify"] = json!({"calendar": "daily", "sample": {"files": 20}, "within-seconds": 86400,
                         "count": {"tolerance-per-mille": 0}});
    let spec_path = write_spec(t.path(), &s);
    assert_code(&run_job(&spec_path), 0);
    let record = || -> Value {
        serde_json::from_str(&fs::read_to_string(t.join("state/verify/files.json")).unwrap())
            .unwrap()
    };

    let out = bakrun(&["verify", spec_path.to_str().unwrap()]);
    assert_code(&out, 0);
    assert_eq!(record()["files_checked"], 20, "{}", record());
    // The live files counted on the host, through the same ssh.
    assert_eq!(
        record()["count"],
        json!({"run": 20, "live": 20, "tolerance_per_mille": 0, "passed": true})
    );

    let snap = &snapshots(t.path())[0];
    let copy = job_dir(t.path())
        .join(snap)
        .join(src.strip_prefix("/").unwrap())
        .join("f05");
    let modified = fs::metadata(&copy).unwrap().modified().unwrap();
    let mut bytes = fs::read(&copy).unwrap();
    bytes[10] ^= 0x20;
    fs::write(&copy, &bytes).unwrap();
    fs::File::options()
        .write(true)
        .open(&copy)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    fs::write(src.join("f06"), "changed on the host\n").unwrap();
    fs::remove_file(src.join("f07")).unwrap();
    let out = bakrun(&["verify", spec_path.to_str().unwrap()]);
    assert_code(&out, 1);
    let r = record();
    let corrupt = src.join("f05").to_string_lossy().into_owned();
    assert_eq!(r["mismatch_count"], 1, "{r}");
    assert_eq!(r["mismatches"][0]["path"], corrupt.as_str());
    assert_eq!(r["changed"], 2, "{r}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&corrupt));
    assert_eq!(entries(&t.join("state/verify")), vec!["files.json"]);
}

/// The key as docs/policy.md has a pulled host install it, `command="/usr/bin/rrsync -ro
/// /",restrict`: the pull, the drill's comparison and its count all pass through it, and
/// the key runs nothing else.
#[test]
#[ignore = "tier: system — needs root and an sshd; run by scripts/test"]
fn the_documented_read_only_rrsync_key_lets_the_pull_and_the_drill_through() {
    require_root();
    let t = TempDir::new("verify-rrsync");
    let src = t.join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    for i in 0..6 {
        fs::write(src.join(format!("sub/f{i}")), format!("data {i}\n")).unwrap();
    }
    let sshd = Sshd::start();
    sshd.restrict_to("/usr/bin/rrsync -ro /");
    let mut s = spec(t.path(), &[&src]);
    s["remote"] = sshd.remote();
    s["verify"] = json!({"calendar": "daily", "sample": {"files": 6}, "within-seconds": 86400,
                         "count": {"tolerance-per-mille": 0}});
    let spec_path = write_spec(t.path(), &s);
    assert_code(&run_job(&spec_path), 0);
    let out = bakrun(&["verify", spec_path.to_str().unwrap()]);
    assert_code(&out, 0);
    let r: Value =
        serde_json::from_str(&fs::read_to_string(t.join("state/verify/files.json")).unwrap())
            .unwrap();
    assert_eq!(r["files_checked"], 6, "{r}");
    assert_eq!(
        r["count"],
        json!({"run": 6, "live": 6, "tolerance_per_mille": 0, "passed": true})
    );
    // The restriction holds: the key runs no shell command.
    let denied = std::process::Command::new("ssh")
        .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i"])
        .arg(&sshd.client_key)
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", sshd.known_hosts.display()))
        .args([
            "-p",
            &sshd.port.to_string(),
            "root@127.0.0.1",
            "touch",
            "/tmp/bakgen-rrsync-escaped",
        ])
        .output()
        .unwrap();
    assert!(!denied.status.success());
    assert!(!Path::new("/tmp/bakgen-rrsync-escaped").exists());
}
