//! What a failed restic run says in its status, against real restic 0.14: a full disk
//! under the repository and a restic killed by SIGKILL (what the OOM killer does) are
//! named as such, not as "restic failed with exit code 1".

mod common;
mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use common::{assert_code, bakrun, sh, TempDir};
use support::*;

fn status(root: &Path) -> Value {
    let text = fs::read_to_string(root.join("state/status/files.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn message(root: &Path) -> String {
    status(root)["message"]
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
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut bytes = Vec::with_capacity(mib << 20);
    while bytes.len() < mib << 20 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    fs::write(path, bytes).unwrap();
}

#[test]
fn a_full_disk_is_named_as_such() {
    common::require_root();
    let t = TempDir::new("restic-full");
    let root = t.path();
    let _disk = SmallDisk::mount(&root.join("disk"));
    let pw = secret_file(root, "password", PASSWORD);
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    random_file(&src.join("big"), 48);
    let repo = root.join("disk/repo");
    let spec = write_spec_named(
        root,
        "files",
        &restic_spec(root, "files", repo.to_str().unwrap(), &pw, &[&src]),
    );
    assert_code(&bakrun(&["init", spec.to_str().unwrap()]), 0);
    let out = bakrun(&["run", spec.to_str().unwrap()]);
    assert_code(&out, 1);
    let message = message(root);
    assert!(
        message.starts_with("restic ran out of disk space (no space left on device): ")
            && message.contains(&repo.display().to_string()),
        "{message}"
    );
    assert_eq!(status(root)["result"], "failed");
}

#[test]
fn a_restic_killed_by_sigkill_is_named_with_the_likely_cause() {
    let t = TempDir::new("restic-oom");
    let root = t.path();
    let pw = secret_file(root, "password", PASSWORD);
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    random_file(&src.join("big"), 64);
    let repo = root.join("repo");
    let spec = write_spec_named(
        root,
        "files",
        &restic_spec(root, "files", repo.to_str().unwrap(), &pw, &[&src]),
    );
    assert_code(&bakrun(&["init", spec.to_str().unwrap()]), 0);
    let mut child = Command::new(common::BAKRUN)
        .args(["run", spec.to_str().unwrap()])
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
    let message = message(root);
    assert_eq!(
        message,
        "restic was killed by SIGKILL (often the kernel's out-of-memory killer: see `journalctl -k`)"
    );
    // Its lock is stale: the next run removes it and succeeds.
    assert_code(&bakrun(&["run", spec.to_str().unwrap()]), 0);
}
