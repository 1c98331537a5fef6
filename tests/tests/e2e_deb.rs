//! The Debian package under a real systemd (PID 1 in an nspawn container): `dpkg -i` of the
//! package `dist deb` makes installs both binaries in /usr/bin, their man pages and the
//! `bakgen` user; a policy applied with the packaged `bakgen` runs its job with the packaged
//! `/usr/bin/bakrun`, and `systemd-analyze verify` finds the man page every unit names.
//! Needs root and the release binaries (`cargo build --release --bins`: `dist`, `bakgen`,
//! `bakrun`); fails (never skips) without them.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use bakgen_e2e::process::output_text as text;
use bakgen_e2e::{apply_policy, boot_with_deb, built_binary, start_ok};

const POLICY: &str = r#"
destination "local" { path "/srv/backups"; }
host "e2e" {
    job "etc" {
        source "/srv/data"
        to "local"
        schedule "*-*-* 03:00:00"
        retention keep-daily=7
    }
}
"#;

/// `dist deb --out DIR`, from the binaries beside `dist`; the package's path.
fn build_deb(dir: &std::path::Path) -> PathBuf {
    let o = Command::new(built_binary("dist"))
        .arg("--out")
        .arg(dir)
        .arg("deb")
        .output()
        .expect("run dist");
    assert!(o.status.success(), "dist deb failed: {}", text(&o));
    PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
}

#[test]
#[ignore = "tier: system — needs root, dpkg-deb and a real systemd in an nspawn container; run by scripts/test"]
fn the_package_installs_and_its_binaries_run_a_job_under_systemd() {
    let t = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let deb = build_deb(dir.path());
    println!("dist deb: {:.2?}", t.elapsed());
    let ct = boot_with_deb(&deb);
    println!("booted and installed: {:.2?}", t.elapsed());

    for (bin, page) in [("bakgen", "bakgen.1.gz"), ("bakrun", "bakrun.1.gz")] {
        let at = ct
            .sh(&format!("command -v {bin}"))
            .expect("the binary is on PATH");
        assert_eq!(at.trim(), format!("/usr/bin/{bin}"));
        let version = ct.exec_ok(&[bin, "--version"]).expect("--version");
        assert!(version.starts_with(&format!("{bin} ")), "{version}");
        let man = ct.exec_ok(&["man", "-w", bin]).expect("man -w");
        assert_eq!(man.trim(), format!("/usr/share/man/man1/{page}"));
    }
    let man = ct
        .exec_ok(&["man", "-w", "5", "bakgen.policy"])
        .expect("man -w 5 bakgen.policy");
    assert_eq!(man.trim(), "/usr/share/man/man5/bakgen.policy.5.gz");
    ct.exec_ok(&["getent", "passwd", "bakgen"])
        .expect("the package's postinst created the bakgen user");

    ct.sh("mkdir -p /srv/data /srv/backups && echo one > /srv/data/a")
        .expect("source and destination");
    apply_policy(&ct, POLICY, "e2e");
    let exec = ct
        .unit_property("bakgen-etc.service", "ExecStart")
        .expect("ExecStart");
    assert!(
        exec.contains("path=/usr/bin/bakrun ;"),
        "the unit runs the packaged bakrun: {exec}"
    );
    let verify = ct
        .exec(&[
            "systemd-analyze",
            "verify",
            "/etc/systemd/system/bakgen-etc.service",
            "/etc/systemd/system/bakgen-etc.timer",
        ])
        .expect("systemd-analyze verify");
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "verify, man pages checked: {}",
        text(&verify)
    );

    start_ok(&ct, "bakgen-etc.service");
    let status = ct
        .exec_ok(&["bakrun", "status", "--format", "json"])
        .expect("bakrun status");
    let rows: serde_json::Value = serde_json::from_str(&status).expect("status JSON");
    let etc = rows
        .as_array()
        .and_then(|r| r.iter().find(|j| j["job"] == "etc"))
        .unwrap_or_else(|| panic!("no job etc in {status}"));
    assert_eq!(etc["state"], "ok", "{status}");
    assert_eq!(etc["last_result"], "success", "{status}");
    let copied = ct
        .sh("find /srv/backups/e2e/etc -path '*/srv/data/a' -type f")
        .expect("find the copied file");
    assert!(
        copied.lines().any(|l| !l.contains(".incomplete")),
        "no complete snapshot holds the source's file: {copied}"
    );
    println!("whole cycle: {:.2?}", t.elapsed());
}
