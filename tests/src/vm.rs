//! A small VM for what this machine's kernel cannot do: it has no device-mapper, so real
//! LVM snapshots need Debian's own kernel (`linux-image-amd64`) booted with virtme-ng.
//!
//! `vng -r /boot/vmlinuz-<version> --disable-kvm --force-9p --memory 1G --rwdir DIR
//! --exec 'bash DIR/.bakgen-vm/script.sh'` shares the host's root read-only into the guest
//! (so built binaries are there) and `DIR` read-write at the same path. `/dev/kvm` exists
//! here but hangs, hence software emulation. The guest's `/tmp` is its own: images and
//! results belong in the rwdir.
//!
//! The script gets a prelude that `cd`s to the rwdir, runs `modprobe loop` and
//! `modprobe dm-snapshot`, and records "started" and the exit status in marker files, so
//! "the VM never started" or "died half-way" is an error, never a test that passes empty.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::error::HarnessError;
use crate::process::{self, read_lossy, require_root, require_tool};

/// Override the kernel the VM boots (a `/boot/vmlinuz-*` path).
pub const KERNEL_ENV: &str = "BAKGEN_E2E_KERNEL";

const MARKER_DIR: &str = ".bakgen-vm";

/// Kernel command line added by default. Under software emulation the guest's udev spends
/// most of the boot loading (and signature-checking) modules for devices and CPU features
/// no storage test uses — kvm alone took ≈20 s. Blacklisting them (only their automatic
/// loading by alias; an explicit `modprobe` still works) cut the guest's boot from ≈56 s
/// to ≈35 s under load. Generic versions of the crypto helpers remain for ext4 and dm.
pub const DEFAULT_APPEND: &str = "modprobe.blacklist=kvm,kvm_amd,kvm_intel,sr_mod,cdrom,sg,\
iTCO_wdt,iTCO_vendor_support,lpc_ich,i6300esb,i2c_i801,i2c_smbus,powernow_k8,pcspkr,joydev,\
evdev,psmouse,serio_raw,button,ahci,libahci,libata,qemu_fw_cfg,crct10dif_pclmul,crc32_pclmul,\
crc32c_intel,ghash_clmulni_intel,sha512_ssse3,sha256_ssse3,sha1_ssse3,aesni_intel,crypto_simd,\
cryptd";

/// What the guest ran: its exit code and what vng printed (guest console included).
#[derive(Debug, Clone)]
pub struct VmOutput {
    /// The script's exit status inside the guest.
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Wall time of the whole VM cycle: boot, script, power-off.
    pub duration: Duration,
    pub kernel: PathBuf,
}

impl VmOutput {
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// `self` when the script exited 0, else an error with the output.
    pub fn ensure_success(self) -> Result<Self, HarnessError> {
        if self.success() {
            Ok(self)
        } else {
            Err(HarnessError::Vm {
                reason: format!("script exited {}", self.exit_code),
                kernel: self.kernel,
                stdout: self.stdout,
                stderr: self.stderr,
            })
        }
    }
}

/// A configured VM runner: which kernel, how much memory.
#[derive(Debug, Clone)]
pub struct LvmVm {
    kernel: PathBuf,
    memory: String,
    append: String,
}

impl LvmVm {
    /// Checks root and every tool, and finds the kernel (see [`find_kernel`]).
    pub fn new() -> Result<Self, HarnessError> {
        require_root()?;
        require_tool(
            "vng",
            "pip install virtme-ng (scripts/test does it), and put its bin folder on PATH",
        )?;
        require_tool("qemu-system-x86_64", "apt-get install qemu-system-x86")?;
        require_tool("busybox", "apt-get install busybox-static")?;
        for tool in ["lvm", "pvcreate", "lvcreate"] {
            require_tool(tool, "apt-get install lvm2")?;
        }
        let (kernel, _) = find_kernel()?;
        Ok(LvmVm {
            kernel,
            memory: "1G".to_string(),
            append: DEFAULT_APPEND.to_string(),
        })
    }

    /// Boot this kernel image instead of the one found.
    pub fn with_kernel(mut self, kernel: impl Into<PathBuf>) -> Self {
        self.kernel = kernel.into();
        self
    }

    /// Guest memory, as qemu's `-m` takes it.
    pub fn memory(mut self, memory: &str) -> Self {
        self.memory = memory.to_string();
        self
    }

    /// Replace the extra kernel command line ([`DEFAULT_APPEND`]); empty for none.
    pub fn append(mut self, cmdline: &str) -> Self {
        self.append = cmdline.to_string();
        self
    }

    pub fn kernel(&self) -> &Path {
        &self.kernel
    }

    /// Boots the VM and runs `script` with bash (`set -euo pipefail`, cwd = `rwdir`,
    /// `$RWDIR` set, loop and dm-snapshot loaded, `LVM_SUPPRESS_FD_WARNINGS=1`).
    ///
    /// `Ok` whenever the script ran to its end, whatever its exit code (see
    /// [`VmOutput::ensure_success`]); an error when the VM did not start, died, or
    /// `timeout` passed (then the VM is killed).
    pub fn run(
        &self,
        script: &str,
        rwdir: &Path,
        timeout: Duration,
    ) -> Result<VmOutput, HarnessError> {
        let rwdir = fs::canonicalize(rwdir)
            .map_err(|e| HarnessError::io(format!("rwdir {}", rwdir.display()), e))?;
        let shown = rwdir.to_string_lossy();
        if shown.contains(|c: char| c.is_whitespace() || "'\"\\$`=,".contains(c)) {
            return Err(HarnessError::Invalid(format!(
                "rwdir {shown} must be a plain path (it goes into vng's --exec and --rwdir)"
            )));
        }
        let markers = rwdir.join(MARKER_DIR);
        // Stale markers from an earlier run would make a VM that never started look fine.
        match fs::remove_dir_all(&markers) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(HarnessError::io(
                    format!("clearing {}", markers.display()),
                    e,
                ))
            }
        }
        fs::create_dir(&markers).map_err(|e| HarnessError::io("mkdir marker folder", e))?;
        let script_path = markers.join("script.sh");
        fs::write(&script_path, wrap_script(&rwdir, script))
            .map_err(|e| HarnessError::io("writing the VM script", e))?;

        let mut cmd = Command::new("vng");
        cmd.arg("-r")
            .arg(&self.kernel)
            .args(["--disable-kvm", "--force-9p", "--memory", &self.memory])
            .arg("--rwdir")
            .arg(&rwdir)
            .arg("--exec")
            .arg(format!("bash {}", script_path.display()));
        if !self.append.is_empty() {
            cmd.arg("--append").arg(&self.append);
        }
        let started = Instant::now();
        let out = process::run(&mut cmd, None, timeout)?;
        let duration = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let fail = |reason: String| HarnessError::Vm {
            reason,
            kernel: self.kernel.clone(),
            stdout: stdout.clone(),
            stderr: stderr.clone(),
        };
        if !markers.join("started").exists() {
            return Err(fail(format!(
                "the VM did not start the script (vng {})",
                out.status
            )));
        }
        let status = read_lossy(&markers.join("status"));
        let exit_code = status.trim().parse::<i32>().map_err(|_| {
            fail(format!(
                "the VM died before the script ended (vng {})",
                out.status
            ))
        })?;
        Ok(VmOutput {
            exit_code,
            stdout,
            stderr,
            duration,
            kernel: self.kernel.clone(),
        })
    }
}

/// [`LvmVm::new`] then [`LvmVm::run`]: boots the VM, runs `script` with `rwdir` shared.
pub fn run_in_vm(script: &str, rwdir: &Path, timeout: Duration) -> Result<VmOutput, HarnessError> {
    LvmVm::new()?.run(script, rwdir, timeout)
}

fn wrap_script(rwdir: &Path, script: &str) -> String {
    let markers = rwdir.join(MARKER_DIR);
    format!(
        r#"#!/bin/bash
set -euo pipefail
export RWDIR='{rw}'
trap 'echo $? > {m}/status' EXIT
echo started > {m}/started
cd "$RWDIR"
export LVM_SUPPRESS_FD_WARNINGS=1
modprobe loop
modprobe dm-snapshot
{script}
"#,
        rw = rwdir.display(),
        m = markers.display(),
    )
}

/// The kernel to boot: `$BAKGEN_E2E_KERNEL`, else the newest `/boot/vmlinuz-<version>`
/// whose modules are installed (`/lib/modules/<version>`; the VM loads dm-snapshot from
/// there). Returns the image and its version.
pub fn find_kernel() -> Result<(PathBuf, String), HarnessError> {
    if let Some(k) = std::env::var_os(KERNEL_ENV) {
        let k = PathBuf::from(k);
        let version = k
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("vmlinuz-"))
            .map(str::to_string)
            .ok_or_else(|| {
                HarnessError::NoKernel(format!(
                    "{KERNEL_ENV}={} is not a vmlinuz-<version>",
                    k.display()
                ))
            })?;
        return Ok((k, version));
    }
    let entries =
        fs::read_dir("/boot").map_err(|e| HarnessError::NoKernel(format!("reading /boot: {e}")))?;
    let mut found: Vec<(Vec<u64>, String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let version = name.strip_prefix("vmlinuz-")?.to_string();
            Path::new("/lib/modules")
                .join(&version)
                .is_dir()
                .then(|| (version_key(&version), version, e.path()))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, version, path)| (path, version))
        .ok_or_else(|| {
            HarnessError::NoKernel("no /boot/vmlinuz-* with /lib/modules/<version>".into())
        })
}

/// "6.1.0-56-amd64" → [6, 1, 0, 56]: numeric parts compare as numbers.
fn version_key(v: &str) -> Vec<u64> {
    v.split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically() {
        assert!(version_key("6.1.0-10-amd64") > version_key("6.1.0-9-amd64"));
    }

    #[test]
    fn prelude_loads_modules_and_records_status() {
        let s = wrap_script(Path::new("/tmp/x"), "echo hi");
        assert!(s.contains("modprobe dm-snapshot"));
        assert!(s.contains("/tmp/x/.bakgen-vm/status"));
        assert!(s.ends_with("echo hi\n"));
    }
}
