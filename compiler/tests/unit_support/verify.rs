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

/// `systemd-analyze verify` with the built bakrun at the ExecStart= path (the packaged
/// `/usr/bin/bakrun`, in a copy-on-write overlay of `/usr/bin`), inside a private mount
/// namespace so the host's `/usr/bin` is untouched. Any stderr is a failure. `--man=no`:
/// `Documentation=man:bakrun(1)` is checked where the man page is installed, by the
/// package's end-to-end test (tests/tests/e2e_deb.rs).
pub fn verify(files: &[PathBuf]) {
    let mut script = format!(
        "mount -t tmpfs tmpfs /mnt && mkdir /mnt/up /mnt/work \
         && mount -t overlay overlay -o lowerdir=/usr/bin,upperdir=/mnt/up,workdir=/mnt/work /usr/bin \
         && cp '{}' /usr/bin/bakrun && exec systemd-analyze verify --man=no",
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
