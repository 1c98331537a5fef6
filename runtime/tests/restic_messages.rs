//! What a failed restic run says in its status, against real restic 0.14: a full disk
//! under the repository and a restic killed by SIGKILL (what the OOM killer does) are
//! named as such, not as "restic failed with exit code 1".

mod common;
mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{assert_code, bakrun, sh};
use support::*;

fn message(job: &LocalJob) -> String {
    job.status()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A 24 MiB tmpfs, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(at: &Path) -> Self {
        fs::create_dir_all(at).unwrap();
        sh(&format!(
            "mount -t tmpfs -o size=24M tmpfs '{}'",
            at.display()
        ));
        SmallDisk(at.to_owned())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn random_file(path: &Path, mib: usize) {
    fs::write(path, Rng(mib as u64).bytes(mib << 20)).unwrap();
}

/// An initialised job whose `src` holds `mib` MiB that do not compress, with its
/// repository at `repository` (under the job's root) when given.
fn job(tag: &str, mib: usize, repository: Option<&str>) -> LocalJob {
    let job = LocalJob::new(tag, |root, spec| {
        if let Some(r) = repository {
            spec["destination"]["repository"] = root.join(r).to_string_lossy().into();
        }
    });
    random_file(&job.src.join("big"), mib);
    job
}

#[test]
#[ignore = "tier: system — needs root (a full file system mounted from a loop device); run by scripts/test"]
fn a_full_disk_is_named_as_such() {
    common::require_root();
    let job = job("restic-full", 48, Some("disk/repo"));
    let _disk = SmallDisk::mount(&job.root.join("disk"));
    assert_code(&bakrun(&["init", job.p()]), 0);
    let out = bakrun(&["run", job.p()]);
    assert_code(&out, 1);
    let message = message(&job);
    assert!(
        message.starts_with("restic ran out of disk space (no space left on device): ")
            && message.contains(&job.root.join("disk/repo").display().to_string()),
        "{message}"
    );
    assert_eq!(job.status()["result"], "failed");
}

#[test]
#[ignore = "tier: system — long: a restic killed mid-backup, 8 s; run by scripts/test"]
fn a_restic_killed_by_sigkill_is_named_with_the_likely_cause() {
    let job = job("restic-oom", 64, None);
    assert_code(&bakrun(&["init", job.p()]), 0);
    let mut child = Command::new(common::BAKRUN)
        .args(["run", job.p()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let restic = restic_below(&mut child, " backup ").expect("bakrun ran no backup");
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) of the restic bakrun started.
    unsafe {
        libc::kill(restic as i32, libc::SIGKILL);
    }
    let out: Output = child.wait_with_output().unwrap();
    assert_code(&out, 1);
    assert_eq!(
        message(&job),
        "restic was killed by SIGKILL (often the kernel's out-of-memory killer: see `journalctl -k`)"
    );
    // Its lock is stale: the next run removes it and succeeds.
    assert_code(&bakrun(&["run", job.p()]), 0);
}
