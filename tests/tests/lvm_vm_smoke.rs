//! Proves `run_in_vm`: Debian's kernel boots under virtme-ng (software emulation), and
//! real LVM works there: an `lvcreate -s` snapshot, mounted read-only, shows the content
//! from before a change. Results come back through the rwdir. Needs root, qemu, vng and
//! linux-image-amd64; fails (never skips) without them.

use std::fs;
use std::time::Duration;

use bakgen_e2e::{process, run_in_vm, HarnessError, LvmVm};

/// Each step's time goes to timings.txt, to see where a slow VM spends it.
const SCRIPT: &str = r#"
t() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" >> timings.txt; }
t booted
truncate -s 256M disk.img
LOOP=$(losetup -f --show disk.img)
pvcreate -q "$LOOP"
vgcreate -q bakvg "$LOOP"
lvcreate -q -y -L 96M -n data bakvg
mkfs.ext4 -q /dev/bakvg/data
t lvm-ready
M=$(mktemp -d)
mkdir "$M/live" "$M/snap"
mount /dev/bakvg/data "$M/live"
echo old > "$M/live/file"
sync
lvcreate -q -y -s -L 32M -n snap bakvg/data
t snapshot
echo new > "$M/live/file"
sync
mount -o ro,noload /dev/bakvg/snap "$M/snap"
cat "$M/snap/file" > snap-content
cat "$M/live/file" > live-content
if touch "$M/snap/x" 2>/dev/null; then echo writable; else echo readonly; fi > snap-mode
lvs --noheadings -o lv_name,origin bakvg | awk '{print $1, $2}' > lvs.txt
umount "$M/snap" "$M/live"
# Each LVM command costs seconds under software emulation: vgremove -f also removes the
# LVs, and the PV label goes with the image file.
vgremove -q -f bakvg
losetup -d "$LOOP"
rm disk.img
t done
echo ok > result
"#;

#[test]
#[ignore = "tier: system — needs root and a virtme-ng VM (LVM snapshots need device-mapper); run by scripts/test"]
fn lvm_snapshot_in_vm_shows_old_content() {
    let tmp = process::TempDir::new("bakgen-e2e-vm").expect("rwdir");
    let rwdir = tmp.path();
    let out = run_in_vm(SCRIPT, rwdir, Duration::from_secs(600)).expect("VM ran");
    let read = |name: &str| fs::read_to_string(rwdir.join(name)).unwrap_or_default();
    println!(
        "VM cycle ({}): {:.2?}\nguest uptime at each step:\n{}",
        out.kernel.display(),
        out.duration,
        read("timings.txt")
    );
    let out = out.ensure_success().expect("script succeeded");
    assert_eq!(read("result"), "ok\n", "{}", out.stdout);
    assert_eq!(read("snap-content"), "old\n");
    assert_eq!(read("live-content"), "new\n");
    assert_eq!(read("snap-mode"), "readonly\n");
    assert_eq!(read("lvs.txt"), "data \nsnap data\n");
    assert!(
        !rwdir.join("disk.img").exists(),
        "the guest's teardown did not run"
    );
}

/// A VM that cannot boot is an error carrying vng's output, never a pass or a skip.
#[test]
#[ignore = "tier: system — needs root and a virtme-ng VM (LVM snapshots need device-mapper); run by scripts/test"]
fn a_vm_that_cannot_boot_is_an_error() {
    let tmp = process::TempDir::new("bakgen-e2e-vm").expect("rwdir");
    let rwdir = tmp.path();
    let vm = LvmVm::new()
        .expect("tools present")
        .with_kernel("/nonexistent/vmlinuz-0.0.0");
    let err = vm
        .run("echo never", rwdir, Duration::from_secs(120))
        .expect_err("no kernel, no VM");
    assert!(matches!(err, HarnessError::Vm { .. }), "{err}");
}
