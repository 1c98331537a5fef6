//! `lvm-snapshot` for real, in the small VM (this machine's kernel has no device-mapper):
//! bakrun backs up an ext4 logical volume from its snapshot while the origin is written,
//! and the snapshot is gone after success, a failing engine, SIGTERM, and SIGKILL once the
//! next run has started; a snapshot that overflows fails the job. A restic job reads the
//! same snapshot at the original paths. One VM boot runs every
//! case (a boot costs 40–130 s). Needs root, vng, qemu, lvm2 and a built bakrun
//! (`cargo build -p bakrun`); fails loudly — never skips — when the VM cannot start.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use bakgen_e2e::{process, run_in_vm};
use serde_json::json;

/// The bakrun binary of this build; `BAKRUN_BIN` overrides it.
fn bakrun() -> PathBuf {
    match std::env::var_os("BAKRUN_BIN") {
        Some(p) => PathBuf::from(p),
        None => bakgen_e2e::binaries::built_binary("bakrun"),
    }
}

/// Guest paths: everything but the disk image lives on a tmpfs of the guest's own.
const LIVE: &str = "/run/bk/live";

fn spec(size: &str, sources: &[&str]) -> String {
    spec_to(
        size,
        sources,
        json!({"engine": "snapshots", "path": "/run/bk/dest"}),
    )
}

/// The same job into a restic repository in the guest (password from a 0600 file).
fn restic_spec(sources: &[&str]) -> String {
    spec_to(
        "50%ORIGIN",
        sources,
        json!({
            "engine": "restic",
            "repository": "/run/bk/repo",
            "password": {"from": "file", "path": "/run/bk/password"},
            "cache-dir": "/run/bk/cache",
        }),
    )
}

fn spec_to(size: &str, sources: &[&str], destination: serde_json::Value) -> String {
    let v = json!({
        "version": 1,
        "host": "h1",
        "job": "files",
        "unit": "bakgen-files.service",
        "sources": sources,
        "destination": destination,
        "schedule": {"calendar": "*-*-* *:00:00", "late-after-seconds": 7200},
        "retention": {"keep-last": 10},
        "steps": [{"step": "lvm-snapshot", "volume": "bakvg/data", "size": size, "origin-path": LIVE}],
        "state-dir": "/run/bk/state",
    });
    serde_json::to_string_pretty(&v).expect("json")
}

const SCRIPT: &str = r#"
t() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" >> timings.txt; }
r() { echo "$*" >> results.txt; }
left() { lvs --noheadings -o lv_name bakvg | tr -d ' ' | grep -c '^bakgen-' || true; }
mounts() { findmnt -rn -o TARGET | grep -c '^/run/bk/state' || true; }
complete() { ls /run/bk/dest/h1/files 2>/dev/null | grep -c '^[0-9]*T[0-9]*[+-][0-9]*$' || true; }
paused() {
    rm -f go go.waiting
    BAKRUN_TEST_PAUSE_AFTER_SNAPSHOT="$RWDIR/go" "$BAKRUN" run "$1" 2> "$2" &
    P=$!
    for _ in $(seq 600); do [ -e go.waiting ] && return 0; kill -0 $P 2>/dev/null || break; sleep 0.1; done
    echo "the paused run never reached its pause" >&2; cat "$2" >&2; return 1
}
t booted
mkdir -p /run/bk && mount -t tmpfs tmpfs /run/bk
truncate -s 160M disk.img
LOOP=$(losetup -f --show disk.img)
pvcreate -q "$LOOP"
vgcreate -q bakvg "$LOOP"
lvcreate -q -y -L 64M -n data bakvg
mkfs.ext4 -q /dev/bakvg/data
mkdir -p "$LIVE" && mount /dev/bakvg/data "$LIVE"
mkdir "$LIVE/etc" && echo old > "$LIVE/etc/file" && sync
t lvm-ready

"$BAKRUN" run --dry-run ok.json > dry.txt 2> dry.err && c=0 || c=$?
r "dry exit=$c left=$(left) mounts=$(mounts)"
t dry-run

paused ok.json consistent.err
echo new > "$LIVE/etc/file"; echo added > "$LIVE/etc/added"; sync
touch go; wait $P && c=0 || c=$?
L=/run/bk/dest/h1/files/latest$LIVE/etc
r "consistent exit=$c file=$(cat $L/file) added=$(test -e $L/added && echo yes || echo no) left=$(left) mounts=$(mounts)"
t consistent

# restic reads the snapshot at the original paths (bind mounts in its own namespace).
printf 'vm restic password\n' > /run/bk/password && chmod 600 /run/bk/password
"$BAKRUN" init restic.json 2> restic-init.err && ci=0 || ci=$?
paused restic.json restic.err
echo newer > "$LIVE/etc/file"; sync
touch go; wait $P && c=0 || c=$?
R=$(RESTIC_PASSWORD_FILE=/run/bk/password restic -r /run/bk/repo --no-cache dump latest "$LIVE/etc/file" 2>> restic.err)
r "restic init=$ci exit=$c file=$R left=$(left) mounts=$(mounts)"
t restic

"$BAKRUN" run fail.json 2> fail.err && c=0 || c=$?
r "failing exit=$c left=$(left) mounts=$(mounts)"
t failing

paused ok.json term.err
kill -TERM $P; wait $P && c=0 || c=$?
r "sigterm exit=$c left=$(left) mounts=$(mounts)"
t sigterm

paused ok.json kill.err
kill -KILL $P; wait $P && c=0 || c=$?
r "sigkill left=$(left) mounts=$(mounts)"
"$BAKRUN" run ok.json 2> after-kill.err && c=0 || c=$?
r "after-kill exit=$c left=$(left) mounts=$(mounts)"
t sigkill

before=$(complete)
paused small.json overflow.err
dd if=/dev/urandom of="$LIVE/big" bs=1M count=16 conv=fsync status=none
touch go; wait $P && c=0 || c=$?
r "overflow exit=$c new-complete=$(( $(complete) - before )) left=$(left) mounts=$(mounts)"
t overflow

# Never touch what bakgen did not make: an untagged LV with bakgen's name stops the run;
# an LV carrying the job's tag under another name is left alone.
lvcreate -q -y -s -L 8M -n bakgen-files bakvg/data
lvcreate -q -y -s -L 8M -n other --addtag bakgen-job-files bakvg/data
"$BAKRUN" run ok.json 2> foreign.err && c=0 || c=$?
r "foreign exit=$c lvs=$(lvs --noheadings -o lv_name bakvg | tr -d ' ' | grep -v '^data$' | sort | tr '\n' ,)"
lvremove -q -y bakvg/bakgen-files
"$BAKRUN" run ok.json 2> tagged.err && c=0 || c=$?
r "tagged exit=$c lvs=$(lvs --noheadings -o lv_name bakvg | tr -d ' ' | grep -v '^data$' | sort | tr '\n' ,)"
t foreign

umount "$LIVE"
vgremove -q -f bakvg
losetup -d "$LOOP"
rm disk.img
t done
"#;

#[test]
#[ignore = "tier: system — needs root and a virtme-ng VM (LVM snapshots need device-mapper); run by scripts/test"]
fn lvm_snapshot_steps_in_vm() {
    let tmp = process::TempDir::new("bakgen-e2e-lvm-steps").expect("rwdir");
    let rw = tmp.path();
    let write = |name: &str, text: String| fs::write(rw.join(name), text).expect("write spec");
    let etc = format!("{LIVE}/etc");
    let missing = format!("{LIVE}/missing");
    write("ok.json", spec("50%ORIGIN", &[&etc]));
    write("fail.json", spec("50%ORIGIN", &[&etc, &missing]));
    // One 4 MiB extent: 16 MiB written to the origin overflows it.
    write("small.json", spec("4M", &[&etc]));
    write("restic.json", restic_spec(&[&etc]));
    let script = format!(
        "export BAKRUN='{}' LIVE='{LIVE}'\n{SCRIPT}",
        bakrun().display()
    );
    let out = run_in_vm(&script, rw, Duration::from_secs(900)).expect("the VM must start");
    let read = |name: &str| fs::read_to_string(rw.join(name)).unwrap_or_default();
    println!(
        "VM cycle: {:.2?}\nguest uptime at each step:\n{}\nresults:\n{}",
        out.duration,
        read("timings.txt"),
        read("results.txt")
    );
    let logs = || {
        [
            "consistent.err",
            "restic-init.err",
            "restic.err",
            "fail.err",
            "term.err",
            "kill.err",
            "after-kill.err",
            "overflow.err",
        ]
        .iter()
        .map(|f| format!("--- {f}\n{}", read(f)))
        .collect::<String>()
    };
    let out = match out.ensure_success() {
        Ok(o) => o,
        Err(e) => panic!("{e}\n{}", logs()),
    };
    let results = read("results.txt");
    let expected = [
        "dry exit=0 left=0 mounts=0",
        "consistent exit=0 file=old added=no left=0 mounts=0",
        "restic init=0 exit=0 file=new left=0 mounts=0",
        "failing exit=1 left=0 mounts=0",
        "sigterm exit=1 left=0 mounts=0",
        "sigkill left=1 mounts=1",
        "after-kill exit=0 left=0 mounts=0",
        "overflow exit=1 new-complete=0 left=0 mounts=0",
        "foreign exit=1 lvs=bakgen-files,other,",
        "tagged exit=0 lvs=other,",
    ];
    assert_eq!(
        results.lines().collect::<Vec<_>>(),
        expected,
        "{}\n{}",
        out.stdout,
        logs()
    );
    let dry = read("dry.txt");
    for word in [
        "lvcreate --snapshot --name bakgen-files --addtag bakgen --addtag bakgen-job-files -l 50%ORIGIN bakvg/data",
        "mount -o ro,noload -t ext4 /dev/bakvg/bakgen-files /run/bk/state/snapshots/files/root/run/bk/live",
        "umount /run/bk/state/snapshots/files/root/run/bk/live",
        "lvremove -y bakvg/bakgen-files",
        "/run/bk/state/snapshots/files/root/./run/bk/live/etc",
    ] {
        assert!(dry.contains(word), "dry run lacks `{word}`:\n{dry}");
    }
    assert!(read("after-kill.err").contains("leftover"), "{}", logs());
    assert!(read("overflow.err").contains("overflowed"), "{}", logs());
    assert!(read("foreign.err").contains("never removes"), "{}", logs());
}
