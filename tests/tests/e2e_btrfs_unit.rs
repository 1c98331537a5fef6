//! The unit `bakgen build` writes for a `btrfs-snapshot` job really runs it under systemd:
//! its sandbox (root with a bounded capability set, `SystemCallFilter=@mount`,
//! `ProtectSystem=strict` with the subvolume in `ReadWritePaths=`, no `ProtectHome=` for
//! `/home`) lets bakrun snapshot, mount, back up and remove the snapshot. systemd runs as
//! PID 1 in a container; the btrfs is an image on a loop device (attached on the host, never
//! mounted there) handed to the container. Needs root, systemd-container, btrfs-progs, and
//! built `bakgen` and `bakrun` (`cargo build`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use bakgen_e2e::binaries::built_binary as built;
use bakgen_e2e::{process, ContainerOptions, SystemdContainer};

const POLICY: &str = r#"
destination "disk" { path "/srv/backup"; }
host "fileserver" {
    job "home" {
        btrfs-snapshot "/home"
        source "/home"
        to "disk"
        schedule "daily"
        retention keep-daily=7
    }
}
"#;

/// A loop device attached to a btrfs image, detached on drop.
struct Loop(String);

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
#[ignore = "tier: system — needs root, a real systemd in an nspawn container and btrfs on a loop device; run by scripts/test"]
fn generated_btrfs_unit_runs_under_systemd() {
    let t = Instant::now();
    let tmp = process::TempDir::new("bakgen-e2e-btrfs-unit").expect("temp dir");
    let dir = tmp.path();
    let policy = dir.join("policy.kdl");
    fs::write(&policy, POLICY).expect("policy");
    let out = dir.join("out");
    run(Command::new(built("bakgen"))
        .args(["build"])
        .arg(&policy)
        .arg("--out")
        .arg(&out)
        // Its build stamp in this test's folder, not in the user's cache.
        .env("XDG_CACHE_HOME", dir.join("cache")));
    let img = dir.join("btrfs.img");
    fs::File::create(&img)
        .and_then(|f| f.set_len(256 * 1024 * 1024))
        .expect("image");
    run(Command::new("mkfs.btrfs").arg("-q").arg(&img));
    let dev = Loop(run(Command::new("losetup")
        .args(["-f", "--show"])
        .arg(&img)));
    let bakrun = built("bakrun");
    let ct = SystemdContainer::boot(ContainerOptions {
        seed: Some(out.join("fileserver")),
        binds: vec![(bakrun, PathBuf::from("/usr/bin/bakrun"), true)],
        extra_nspawn_args: vec![
            format!("--bind={}", dev.0),
            format!("--property=DeviceAllow={} rw", dev.0),
        ],
        ..ContainerOptions::default()
    })
    .expect("container boots");
    let booted = t.elapsed();
    ct.sh(&format!(
        "mount {dev} /home && mkdir -p /home/alice /srv/backup && echo hello > /home/alice/file",
        dev = dev.0
    ))
    .expect("btrfs mounted in the container");
    let started = Instant::now();
    let run_unit = ct.exec(&["systemctl", "start", "bakgen-home.service"]);
    let ran = started.elapsed();
    let journal = ct
        .sh("journalctl -u bakgen-home.service --no-pager -o cat")
        .unwrap_or_default();
    println!("boot {booted:.2?}, unit run {ran:.2?}\njournal:\n{journal}");
    let run_unit = run_unit.expect("systemctl ran");
    assert!(run_unit.status.success(), "the unit failed:\n{journal}");
    assert_eq!(
        ct.unit_property("bakgen-home.service", "Result")
            .expect("Result"),
        "success"
    );
    let backed_up = ct
        .sh("cat /srv/backup/fileserver/home/latest/home/alice/file")
        .expect("backup holds the original path");
    assert_eq!(backed_up.trim(), "hello");
    let left = ct
        .sh("ls -A /home; findmnt -rn -o TARGET | grep -c /var/lib/bakgen/snapshots || true")
        .expect("listing");
    assert_eq!(
        left.trim(),
        "alice\n0",
        "snapshot or mount left:\n{journal}"
    );

    // Why the unit has no ProtectHome=read-only: systemd lets it win over
    // ReadWritePaths=/home, and the snapshot could not be created.
    ct.write_file(
        "/etc/systemd/system/bakgen-home.service.d/protect-home.conf",
        b"[Service]\nProtectHome=read-only\n",
    )
    .expect("drop-in");
    ct.exec_ok(&["systemctl", "daemon-reload"]).expect("reload");
    let again = ct
        .exec(&["systemctl", "start", "bakgen-home.service"])
        .expect("systemctl ran");
    let journal = ct
        .sh("journalctl -u bakgen-home.service --no-pager -o cat | tail -n 8")
        .unwrap_or_default();
    println!("with ProtectHome=read-only:\n{journal}");
    assert!(!again.status.success(), "{journal}");
    assert!(journal.contains("Read-only file system"), "{journal}");
    drop(ct);
    assert!(Path::new(&dev.0).exists());
}
