//! `systemd-analyze verify` of built units, with the built bakrun where their
//! `ExecStart=` expects it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bakrun_binary() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_bakgen")).with_file_name("bakrun");
    assert!(
        p.exists(),
        "{} is missing: build the workspace's binaries first (cargo build --bins)",
        p.display()
    );
    p
}

/// `systemd-analyze verify` with the built bakrun at the ExecStart= path, inside a private
/// mount namespace so the host's /usr/local/bin is untouched. Any stderr is a failure.
pub fn verify(files: &[PathBuf]) {
    let mut script = format!(
        "mount -t tmpfs tmpfs /usr/local/bin && cp '{}' /usr/local/bin/bakrun && exec systemd-analyze verify",
        bakrun_binary().display()
    );
    for f in files {
        script.push_str(&format!(
            " '{}'",
            f.display().to_string().replace('\'', "'\\''")
        ));
    }
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare runs (needs root)");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.trim().is_empty(),
        "systemd-analyze verify:\n{err}"
    );
}

/// `systemd-analyze security --offline=true`'s overall exposure of one unit file.
#[allow(dead_code)] // not every test that verifies units scores them
pub fn security_score(unit: &Path) -> f64 {
    let o = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(unit)
        .output()
        .expect("systemd-analyze runs");
    let text = String::from_utf8_lossy(&o.stdout);
    text.lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no score for {}: {text}", unit.display()))
}
