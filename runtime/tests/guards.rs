//! What stops a run before it writes anything: a destination that is not mounted (exit 11,
//! with a real tmpfs in a private mount namespace), a held lock (exit 12), a spec from a
//! newer bakgen (exit 2); and `--dry-run`, which prints commands and writes nothing.

mod common;

use std::fs;
use std::fs::File;
use std::path::Path;
use std::process::Command;

use common::*;

fn tree_listing(dir: &Path) -> Vec<String> {
    let out = Command::new("find").arg(dir).output().unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    v
}

fn source(root: &TempDir) -> std::path::PathBuf {
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), "data\n").unwrap();
    src
}

/// Runs `script` in a private mount namespace: its mounts vanish when it ends and never
/// touch the host.
fn in_private_mounts(script: &str) -> std::process::Output {
    Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .output()
        .unwrap()
}

#[test]
#[ignore = "tier: system — needs root (mounts, numeric owners); run by scripts/test"]
fn a_visible_not_mounted_file_stops_the_run_with_11_and_writes_nothing() {
    require_root();
    let root = TempDir::new("sentinel");
    let src = source(&root);
    let dest = root.join("dest");
    fs::create_dir_all(&dest).unwrap();
    fs::write(dest.join("NOT_MOUNTED"), "").unwrap();
    let mut spec = spec(root.path(), &[&src]);
    spec["destination"]["sentinel"] = true.into();
    let spec_path = write_spec(root.path(), &spec);
    let before = tree_listing(&dest);

    let out = run_job(&spec_path);
    assert_code(&out, 11);
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT_MOUNTED"));
    assert_eq!(
        tree_listing(&dest),
        before,
        "the destination was written to"
    );
    let status = fs::read_to_string(root.join("state/status/files.json")).unwrap();
    assert!(status.contains("not-mounted"), "{status}");

    // With a file system mounted over the folder the sentinel is hidden and the run works.
    let script = format!(
        "mount -t tmpfs tmpfs '{dest}' && '{BAKRUN}' run '{spec}' && ls '{dest}/h1/files'",
        dest = dest.display(),
        spec = spec_path.display()
    );
    let out = in_private_mounts(&script);
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("latest"));
    assert_eq!(
        tree_listing(&dest),
        before,
        "the run wrote under the mount point"
    );
}

#[test]
#[ignore = "tier: system — needs root (mounts, numeric owners); run by scripts/test"]
fn a_destination_that_should_be_a_mount_point_and_is_not_gives_11() {
    require_root();
    let root = TempDir::new("mountpoint");
    let src = source(&root);
    let mnt = root.join("mnt");
    fs::create_dir_all(&mnt).unwrap();
    let mut spec = spec(root.path(), &[&src]);
    spec["destination"]["path"] = mnt.join("backups").to_string_lossy().into();
    spec["destination"]["mount-point"] = mnt.to_string_lossy().into();
    let spec_path = write_spec(root.path(), &spec);

    let out = run_job(&spec_path);
    assert_code(&out, 11);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mount point"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(entries(&mnt).is_empty(), "wrote into the unmounted folder");
    // --dry-run checks too.
    assert_code(
        &bakrun(&["run", "--dry-run", spec_path.to_str().unwrap()]),
        11,
    );

    let script = format!(
        "mount -t tmpfs tmpfs '{mnt}' && '{BAKRUN}' run '{spec}' && ls '{mnt}/backups/h1/files'",
        mnt = mnt.display(),
        spec = spec_path.display()
    );
    let out = in_private_mounts(&script);
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("latest"));
    assert!(
        entries(&mnt).is_empty(),
        "the run wrote under the mount point"
    );
}

#[test]
#[ignore = "tier: system — needs root (mounts, numeric owners); run by scripts/test"]
fn a_held_lock_gives_12_and_writes_nothing() {
    require_root();
    let root = TempDir::new("lock");
    let src = source(&root);
    let spec_path = write_spec(root.path(), &spec(root.path(), &[&src]));
    fs::create_dir_all(root.join("state/lock")).unwrap();
    let lock = File::create(root.join("state/lock/files.lock")).unwrap();
    lock.lock().unwrap();

    let out = run_job(&spec_path);
    assert_code(&out, 12);
    assert!(String::from_utf8_lossy(&out.stderr).contains("lock"));
    assert!(
        !root.join("dest").exists(),
        "the destination was written to"
    );
    assert!(
        !root.join("state/status").exists(),
        "status was written by the loser"
    );
    assert_code(
        &bakrun(&["run", "--dry-run", spec_path.to_str().unwrap()]),
        12,
    );

    drop(lock);
    // Another test of this binary forking at the moment the lock is dropped shares the
    // lock's open file until its child execs; give such a window a moment to close.
    let mut out = run_job(&spec_path);
    for _ in 0..5 {
        if out.status.code() != Some(12) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        out = run_job(&spec_path);
    }
    assert_code(&out, 0);
}

#[test]
#[ignore = "tier: system — needs root (mounts, numeric owners); run by scripts/test"]
fn a_lock_held_by_a_running_bakrun_gives_12() {
    require_root();
    let root = TempDir::new("lock-live");
    let src = source(&root);
    fs::write(src.join("big"), vec![7u8; 4 * 1024 * 1024]).unwrap();
    let mut spec = spec(root.path(), &[&src]);
    spec["limits"] = serde_json::json!({"upload-kib": 1024});
    let spec_path = write_spec(root.path(), &spec);
    let mut first = Command::new(BAKRUN)
        .args(["run", spec_path.to_str().unwrap()])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !root.join("state/lock/files.lock").exists() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let out = run_job(&spec_path);
    assert_code(&out, 12);
    assert!(first.wait().unwrap().success());
    assert_eq!(snapshots(root.path()).len(), 1);
}

#[test]
#[ignore = "tier: system — needs root (mounts, numeric owners); run by scripts/test"]
fn dry_run_prints_the_commands_and_writes_nothing() {
    require_root();
    let root = TempDir::new("dry");
    let src = root.join("src with 'quote'");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), "data\n").unwrap();
    let mut spec = spec(root.path(), &[&src]);
    spec["excludes"] = serde_json::json!(["*.tmp", "cache dir/"]);
    let spec_path = write_spec(root.path(), &spec);
    let before = tree_listing(root.path());

    let out = bakrun(&["run", "--dry-run", spec_path.to_str().unwrap()]);
    assert_code(&out, 0);
    assert_eq!(tree_listing(root.path()), before, "dry run wrote something");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rsync_line = stdout
        .lines()
        .find(|l| l.starts_with("rsync "))
        .unwrap_or_else(|| panic!("no rsync command printed:\n{stdout}"));
    assert!(rsync_line.contains("-aHAXS --numeric-ids"), "{rsync_line}");
    assert!(
        rsync_line.contains("'--exclude=cache dir/'"),
        "{rsync_line}"
    );
    assert!(
        rsync_line.contains(&format!(
            "'{}'",
            src.display().to_string().replace('\'', "'\\''")
        )),
        "{rsync_line}"
    );
    assert!(stdout.contains(".incomplete"), "{stdout}");

    // The printed command really is a shell command: run it through sh.
    fs::create_dir_all(root.join("dest/h1/files")).unwrap();
    let incomplete = rsync_line.rsplit(' ').next().unwrap().trim_matches('\'');
    fs::create_dir_all(incomplete).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(rsync_line)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_spec_from_a_newer_bakgen_gives_2() {
    let root = TempDir::new("version");
    let src = source(&root);
    let mut spec = spec(root.path(), &[&src]);
    spec["version"] = 99.into();
    spec["some-future-field"] = true.into();
    let spec_path = write_spec(root.path(), &spec);
    let out = run_job(&spec_path);
    assert_code(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("version 99"), "{stderr}");
    assert!(!root.join("state").exists() && !root.join("dest").exists());

    let out = bakrun(&["run", root.join("missing.json").to_str().unwrap()]);
    assert_code(&out, 2);
}

/// Values the run would trip over only later (a keep-within read by retention after the
/// whole transfer, a source that rsync would take for an option) stop it at once, with
/// exit 2 and the field named, before the lock, the destination or rsync.
#[test]
fn bad_values_give_2_before_anything_runs() {
    let root = TempDir::new("bad-values");
    let src = source(&root);
    let mut spec = spec(root.path(), &[&src]);
    spec["retention"]["keep-within"] = "a week".into();
    spec["sources"] = serde_json::json!([src.to_string_lossy(), "-e"]);
    let spec_path = write_spec(root.path(), &spec);
    let out = run_job(&spec_path);
    assert_code(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`retention.keep-within`: `a week` is not a duration"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`sources[1]`: `-e` is not an absolute path"),
        "{stderr}"
    );
    assert!(!root.join("state").exists() && !root.join("dest").exists());

    spec["sources"] = serde_json::json!([src.to_string_lossy()]);
    spec["retention"]["keep-within"] = "7D".into();
    spec["version"] = "1".into();
    let out = run_job(&write_spec(root.path(), &spec));
    assert_code(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`version` is \"1\", not an integer"),
        "{stderr}"
    );
}
