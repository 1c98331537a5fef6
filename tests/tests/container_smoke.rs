//! Proves `SystemdContainer`: a real systemd boots, runs a timer's service on time, and
//! teardown leaves no mount, process, cgroup or folder behind, also after a panic.
//! Needs root; fails (never skips) when anything is missing. Run with `--nocapture` to
//! see the timings.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bakgen_e2e::process::{self, pid_alive, pids_with_cmdline};
use bakgen_e2e::{ContainerOptions, HarnessError, SystemdContainer};

const SERVICE: &str = "[Unit]
Description=bakgen-e2e smoke service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo fired > /srv/out/ran; cat /srv/in/token >> /srv/out/ran'
";

const TIMER: &str = "[Unit]
Description=bakgen-e2e smoke timer

[Timer]
OnActiveSec=2s
AccuracySec=100ms
";

/// Makes a seed folder (laid over `/` before boot) with one service enabled at boot.
fn seed_with_enabled_service(seed: &Path, name: &str, exec: &str) {
    let dir = seed.join("etc/systemd/system");
    std::fs::create_dir_all(dir.join("multi-user.target.wants")).expect("mkdir seed");
    let unit = format!(
        "[Unit]\nDescription=bakgen-e2e seeded\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\n\
         ExecStart={exec}\n\n[Install]\nWantedBy=multi-user.target\n"
    );
    std::fs::write(dir.join(name), unit).expect("write seeded unit");
    std::os::unix::fs::symlink(
        format!("/etc/systemd/system/{name}"),
        dir.join("multi-user.target.wants").join(name),
    )
    .expect("enable seeded unit");
}

fn mount_lines() -> BTreeSet<String> {
    process::mounts()
        .expect("read host mountinfo")
        .into_iter()
        .map(|m| m.line)
        .collect()
}

/// What must be gone once a container is torn down.
struct Traces {
    machine: String,
    workdir: PathBuf,
    nspawn: u32,
    systemd: u32,
}

impl Traces {
    fn of(ct: &SystemdContainer) -> Self {
        Traces {
            machine: ct.machine().to_string(),
            workdir: ct.workdir().to_path_buf(),
            nspawn: ct.nspawn_pid(),
            systemd: ct.systemd_pid(),
        }
    }

    fn assert_gone(&self) {
        assert!(
            !pid_alive(self.nspawn),
            "nspawn {} still alive",
            self.nspawn
        );
        assert!(
            !pid_alive(self.systemd),
            "container systemd {} still alive",
            self.systemd
        );
        let left = pids_with_cmdline(&self.machine);
        assert!(
            left.is_empty(),
            "processes of {} left: {left:?}",
            self.machine
        );
        assert!(
            !self.workdir.exists(),
            "{} left behind",
            self.workdir.display()
        );
        for root in [
            "/sys/fs/cgroup/unified",
            "/sys/fs/cgroup/systemd",
            "/sys/fs/cgroup",
        ] {
            let cg = Path::new(root).join("bakgen-e2e").join(&self.machine);
            assert!(!cg.exists(), "cgroup {} left behind", cg.display());
        }
    }
}

#[test]
#[ignore = "tier: system — needs root and a real systemd in an nspawn container; run by scripts/test"]
fn timer_fires_service_in_real_systemd_and_teardown_is_clean() {
    let cycle = Instant::now();
    let mounts_before = mount_lines();
    let shared = process::TempDir::new("bakgen-e2e-smoke").expect("temp dir");
    let (input, output) = (shared.path().join("in"), shared.path().join("out"));
    std::fs::create_dir_all(&input).expect("mkdir in");
    std::fs::create_dir_all(&output).expect("mkdir out");
    std::fs::write(input.join("token"), "from-host\n").expect("write token");
    let seed = shared.path().join("seed");
    seed_with_enabled_service(
        &seed,
        "bakgen-seeded.service",
        "/bin/sh -c 'echo at-boot > /srv/out/seeded'",
    );

    let ct = SystemdContainer::boot(ContainerOptions {
        binds: vec![
            (input.clone(), "/srv/in".into(), true),
            (output.clone(), "/srv/out".into(), false),
        ],
        seed: Some(seed),
        ..ContainerOptions::default()
    })
    .expect("boot container");
    println!(
        "container {}: booted to `running` in {:.2?}",
        ct.machine(),
        ct.boot_time()
    );
    let traces = Traces::of(&ct);

    // The container's mounts live in its own namespace only.
    assert!(
        process::mounts_under(ct.workdir())
            .expect("mountinfo")
            .is_empty(),
        "the overlay is visible in the host's mount table"
    );
    assert_eq!(
        ct.exec_ok(&["hostname"]).expect("hostname").trim(),
        ct.machine()
    );
    assert_eq!(
        ct.exec_ok(&["cat", "/proc/1/comm"]).expect("pid 1").trim(),
        "systemd"
    );
    assert_eq!(
        ct.exec_ok(&["ls", "/sys/class/net"])
            .expect("ls net")
            .trim(),
        "lo",
        "--private-network leaves only loopback"
    );
    // The seeded unit was enabled before boot, so boot ran it.
    assert_eq!(
        std::fs::read_to_string(output.join("seeded")).expect("seeded unit ran at boot"),
        "at-boot\n"
    );
    assert_eq!(
        ct.unit_property("bakgen-seeded.service", "ActiveState")
            .expect("state"),
        "active"
    );
    let ro = ct.exec(&["touch", "/srv/in/nope"]).expect("exec touch");
    assert!(!ro.status.success(), "the read-only bind is writable");

    ct.write_file(
        "/etc/systemd/system/bakgen-smoke.service",
        SERVICE.as_bytes(),
    )
    .expect("write service");
    ct.write_file("/etc/systemd/system/bakgen-smoke.timer", TIMER.as_bytes())
        .expect("write timer");
    assert_eq!(
        ct.read_file("/etc/systemd/system/bakgen-smoke.timer")
            .expect("read back"),
        TIMER.as_bytes()
    );
    ct.exec_ok(&["systemctl", "daemon-reload"])
        .expect("daemon-reload");
    let armed = Instant::now();
    ct.exec_ok(&["systemctl", "start", "bakgen-smoke.timer"])
        .expect("start timer");

    let timers = ct
        .exec_ok(&["systemctl", "list-timers", "--all", "--output=json"])
        .expect("list-timers");
    let timers: serde_json::Value = serde_json::from_str(&timers).expect("list-timers is JSON");
    let ours = timers
        .as_array()
        .expect("list-timers gives an array")
        .iter()
        .find(|t| t["unit"] == "bakgen-smoke.timer")
        .unwrap_or_else(|| panic!("our timer is not listed: {timers}"));
    assert_eq!(ours["activates"], "bakgen-smoke.service");

    let ran = output.join("ran");
    let fired = process::wait_until(Duration::from_secs(20), Duration::from_millis(50), || {
        Ok(ran.exists()
            && ct.unit_property("bakgen-smoke.service", "ActiveState")? == "inactive"
            && ct.unit_property("bakgen-smoke.service", "Result")? == "success")
    })
    .expect("poll service");
    let fired_after = armed.elapsed();
    assert!(fired, "service did not run; journal:\n{}", journal(&ct));
    assert!(
        fired_after >= Duration::from_millis(1500),
        "fired after {fired_after:?}, before OnActiveSec=2s"
    );
    assert_eq!(
        std::fs::read_to_string(&ran).expect("read output"),
        "fired\nfrom-host\n"
    );
    assert_eq!(
        ct.unit_property("bakgen-smoke.service", "ExecMainStatus")
            .expect("status"),
        "0"
    );
    println!("timer fired its service {fired_after:.2?} after start");

    let teardown = ct.shutdown().expect("clean shutdown");
    println!("teardown took {teardown:.2?}");
    traces.assert_gone();
    assert_eq!(
        mount_lines(),
        mounts_before,
        "the host's mount table changed"
    );
    println!("whole container cycle: {:.2?}", cycle.elapsed());
}

fn journal(ct: &SystemdContainer) -> String {
    ct.exec(&[
        "journalctl",
        "--no-pager",
        "-u",
        "bakgen-smoke.service",
        "-u",
        "bakgen-smoke.timer",
    ])
    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    .unwrap_or_else(|e| e.to_string())
}

#[test]
#[ignore = "tier: system — needs root and a real systemd in an nspawn container; run by scripts/test"]
fn a_panicking_test_still_tears_the_container_down() {
    let mounts_before = mount_lines();
    let result = std::panic::catch_unwind(|| {
        let ct = SystemdContainer::boot(ContainerOptions::default()).expect("boot container");
        let traces = Traces::of(&ct);
        assert!(pid_alive(traces.systemd));
        // Smuggle the traces out through the panic payload.
        std::panic::panic_any(traces);
    });
    let payload = result.expect_err("the closure panics");
    let traces = payload.downcast::<Traces>().expect("our payload");
    traces.assert_gone();
    assert_eq!(
        mount_lines(),
        mounts_before,
        "the host's mount table changed"
    );
}

#[test]
#[ignore = "tier: system — needs root and a real systemd in an nspawn container; run by scripts/test"]
fn a_failed_unit_at_boot_is_reported_as_degraded() {
    let mounts_before = mount_lines();
    let seed = process::TempDir::new("bakgen-e2e-seed").expect("temp dir");
    seed_with_enabled_service(seed.path(), "bakgen-fails.service", "/bin/false");
    let err = SystemdContainer::boot(ContainerOptions {
        seed: Some(seed.path().to_path_buf()),
        ..ContainerOptions::default()
    })
    .expect_err("a failed unit makes the boot degraded");
    match &err {
        HarnessError::Degraded { failed, .. } => {
            assert!(failed.contains("bakgen-fails.service"), "{err}")
        }
        other => panic!("expected Degraded, got {other}"),
    }
    assert_eq!(
        mount_lines(),
        mounts_before,
        "the host's mount table changed"
    );
}

#[test]
#[ignore = "tier: system — needs root and a real systemd in an nspawn container; run by scripts/test"]
fn bad_options_fail_loudly_without_booting() {
    let err = SystemdContainer::boot(ContainerOptions {
        binds: vec![("/nonexistent/bakgen".into(), "/srv/x".into(), true)],
        ..ContainerOptions::default()
    })
    .expect_err("a missing bind source is an error");
    assert!(matches!(err, HarnessError::Invalid(_)), "{err}");
    let err = SystemdContainer::boot(ContainerOptions {
        binds: vec![("/tmp".into(), "relative".into(), false)],
        ..ContainerOptions::default()
    })
    .expect_err("a relative guest path is an error");
    assert!(matches!(err, HarnessError::Invalid(_)), "{err}");
}
