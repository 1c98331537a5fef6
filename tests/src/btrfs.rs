//! A scratch btrfs file system for snapshot tests, seen by nothing but the test's script.
//!
//! The image is a sparse file in a temp folder; the script runs in a private mount
//! namespace (`unshare -m --propagation private`), and the file system is mounted with
//! `-o loop`, whose loop device the kernel frees (autoclear) as soon as the mount goes —
//! which also happens when that namespace dies with its last process, so even a killed
//! test leaks neither a mount nor a loop device.

use std::fs;
use std::process::Command;
use std::time::Duration;

use crate::error::HarnessError;
use crate::process::{self, require_root, require_tool};

/// Size of the sparse image: above mkfs.btrfs's minimum (≈114 MiB) with room for data.
pub const IMAGE_SIZE: u64 = 256 * 1024 * 1024;

/// mkfs.btrfs prints a release note on stdout even with -q: silenced so the caller's
/// script alone owns stdout.
const PRELUDE: &str = r#"set -euo pipefail
mkfs.btrfs -q "$IMG" >/dev/null
mount -o loop "$IMG" "$MNT"
trap 'cd /; umount "$MNT"' EXIT
cd "$MNT"
"#;

/// Runs `script` with bash (`set -euo pipefail`) in a private mount namespace where a
/// fresh, empty btrfs is mounted at `$MNT` (also the working folder). The script must not
/// set its own EXIT trap (the prelude's unmounts). Returns stdout; a non-zero exit is an
/// error with the output.
pub fn run_on_btrfs(script: &str, timeout: Duration) -> Result<String, HarnessError> {
    require_root()?;
    require_tool("mkfs.btrfs", "apt-get install btrfs-progs")?;
    require_tool("btrfs", "apt-get install btrfs-progs")?;
    require_tool("unshare", "apt-get install util-linux")?;
    require_tool("losetup", "apt-get install mount")?;

    let dir = process::make_temp_dir("bakgen-e2e-btrfs")?;
    let result = (|| {
        let img = dir.join("btrfs.img");
        let mnt = dir.join("mnt");
        fs::create_dir(&mnt).map_err(|e| HarnessError::io("mkdir mnt", e))?;
        let file = fs::File::create(&img).map_err(|e| HarnessError::io("creating image", e))?;
        file.set_len(IMAGE_SIZE)
            .map_err(|e| HarnessError::io("sizing image", e))?;
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "--", "bash", "-c"])
            .arg(format!("{PRELUDE}{script}"))
            .env("IMG", &img)
            .env("MNT", &mnt);
        process::run_ok(&mut cmd, None, timeout)
    })();
    // The namespace is gone, so nothing is mounted below `dir`; remove_temp_dir checks.
    let cleanup = process::remove_temp_dir(&dir);
    let out = result?;
    cleanup?;
    Ok(out)
}
