//! A run killed mid-transfer (SIGKILL: power loss, OOM killer; SIGTERM: systemd stop or
//! timeout) leaves no complete snapshot, only an `.incomplete` folder that the next run
//! renames to its own name and finishes.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::*;

struct Setup {
    root: TempDir,
    src: PathBuf,
    spec_path: PathBuf,
}

/// Small files first (rsync sends in name order), then a big one sent slowly.
fn setup(tag: &str) -> Setup {
    let root = TempDir::new(tag);
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    for i in 0..20 {
        fs::write(src.join(format!("a-small-{i:02}")), format!("small {i}\n")).unwrap();
    }
    fs::write(src.join("zz-big"), vec![42u8; 16 * 1024 * 1024]).unwrap();
    let mut spec = spec(root.path(), &[&src]);
    spec["limits"] = serde_json::json!({"upload-kib": 1024});
    let spec_path = write_spec(root.path(), &spec);
    Setup {
        root,
        src,
        spec_path,
    }
}

fn incomplete(root: &Path) -> Vec<String> {
    entries(&job_dir(root))
        .into_iter()
        .filter(|n| n.ends_with(".incomplete"))
        .collect()
}

/// Starts a slow run and waits until the small files are in its `.incomplete` tree.
fn start_slow_run(s: &Setup) -> Child {
    let child = Command::new(BAKRUN)
        .args(["run", s.spec_path.to_str().unwrap()])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "the transfer never started");
        if let Some(name) = incomplete(s.root.path()).first() {
            let inside = job_dir(s.root.path())
                .join(name)
                .join(s.src.strip_prefix("/").unwrap());
            if inside.join("a-small-19").exists() {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child
}

/// rsync processes still writing into this test's folder.
fn leftover_rsyncs(root: &Path) -> Vec<String> {
    let needle = root.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.starts_with("rsync") && text.contains(&needle) {
            found.push(text);
        }
    }
    found
}

fn wait_no_rsync(root: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !leftover_rsyncs(root).is_empty() {
        assert!(
            Instant::now() < deadline,
            "rsync kept running after bakrun was stopped: {:?}",
            leftover_rsyncs(root)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The next run finishes the interrupted tree: the small files are the very same inodes.
fn next_run_reuses_the_incomplete(s: &Setup) {
    let root = s.root.path();
    let left = incomplete(root);
    assert_eq!(left.len(), 1, "{left:?}");
    let rel = s.src.strip_prefix("/").unwrap();
    let small = job_dir(root).join(&left[0]).join(rel).join("a-small-00");
    let small_inode = inode(&small);

    let mut spec: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&s.spec_path).unwrap()).unwrap();
    spec.as_object_mut().unwrap().remove("limits");
    write_spec(root, &spec);
    let out = run_job(&s.spec_path);
    assert_code(&out, 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reusing interrupted transfer"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(incomplete(root).is_empty());
    let snaps = snapshots(root);
    assert_eq!(snaps.len(), 1);
    let done = job_dir(root).join(&snaps[0]).join(rel);
    assert_eq!(
        inode(&done.join("a-small-00")),
        small_inode,
        "small file sent again"
    );
    assert_eq!(differences(&s.src, &done), "");
    let status: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(root.join("state/status/files.json")).unwrap())
            .unwrap();
    assert_eq!(status["result"], "success");
    assert!(
        status["files_transferred"].as_u64().unwrap() < 21,
        "everything was sent again: {status}"
    );
}

#[test]
#[ignore = "tier: system — needs root (numeric owners, the postgres user); run by scripts/test"]
fn sigkill_leaves_only_an_incomplete_tree_that_the_next_run_finishes() {
    require_root();
    let s = setup("sigkill");
    let mut child = start_slow_run(&s);
    // SIGKILL to bakrun alone: rsync must not run on unsupervised (parent-death signal).
    child.kill().unwrap();
    child.wait().unwrap();
    wait_no_rsync(s.root.path());
    assert!(
        snapshots(s.root.path()).is_empty(),
        "a killed run left a complete snapshot"
    );
    assert!(!job_dir(s.root.path()).join("latest").exists());
    next_run_reuses_the_incomplete(&s);
}

#[test]
#[ignore = "tier: system — needs root (numeric owners, the postgres user); run by scripts/test"]
fn sigterm_stops_rsync_and_exits_non_zero_cleanly() {
    require_root();
    let s = setup("sigterm");
    let mut child = start_slow_run(&s);
    let started = Instant::now();
    // SAFETY: plain kill(2) of our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "slow to stop");
    assert_eq!(status.code(), Some(1), "{status:?}");
    wait_no_rsync(s.root.path());
    assert!(snapshots(s.root.path()).is_empty());
    let recorded = fs::read_to_string(s.root.join("state/status/files.json")).unwrap();
    assert!(recorded.contains("\"interrupted\""), "{recorded}");
    let metrics = fs::read_to_string(s.root.join("metrics/bakgen_files.prom")).unwrap();
    assert!(
        metrics.contains("bakgen_job_last_run_result{bakgen_host=\"h1\",bakgen_job=\"files\"} 1"),
        "{metrics}"
    );
    next_run_reuses_the_incomplete(&s);
}

#[test]
#[ignore = "tier: system — needs root (numeric owners, the postgres user); run by scripts/test"]
fn several_leftover_incomplete_trees_are_reduced_to_one_snapshot() {
    require_root();
    let s = setup("leftovers");
    let dir = job_dir(s.root.path());
    fs::create_dir_all(dir.join("20200101T000000+0000.incomplete/old")).unwrap();
    fs::create_dir_all(dir.join("20200102T000000+0000.incomplete/newer")).unwrap();
    fs::create_dir_all(dir.join("20200103T000000+0000.deleting/gone")).unwrap();
    let mut spec: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&s.spec_path).unwrap()).unwrap();
    spec.as_object_mut().unwrap().remove("limits");
    write_spec(s.root.path(), &spec);
    assert_code(&run_job(&s.spec_path), 0);
    let names = entries(&dir);
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[1], "latest");
    // --delete removed what the reused tree held that the source does not.
    assert!(!dir.join(&names[0]).join("newer").exists());
}

/// A reused `.incomplete` tree holds hard links into the previous snapshot. If a file's
/// mode changed meanwhile, finishing the tree must not chmod the shared inode, which would
/// rewrite history in the previous snapshot.
#[test]
#[ignore = "tier: system — needs root (numeric owners, the postgres user); run by scripts/test"]
fn finishing_a_reused_tree_never_changes_the_previous_snapshot() {
    use std::os::unix::fs::PermissionsExt;
    require_root();
    let s = setup("history");
    let root = s.root.path();
    let mut fast: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&s.spec_path).unwrap()).unwrap();
    let slow = fast.clone();
    fast.as_object_mut().unwrap().remove("limits");
    write_spec(root, &fast);
    assert_code(&run_job(&s.spec_path), 0);
    let first = snapshots(root);
    let rel = s.src.strip_prefix("/").unwrap();
    let old_small = job_dir(root).join(&first[0]).join(rel).join("a-small-00");

    fs::write(s.src.join("zz-big"), vec![43u8; 16 * 1024 * 1024]).unwrap();
    write_spec(root, &slow);
    let mut child = start_slow_run(&s);
    child.kill().unwrap();
    child.wait().unwrap();
    wait_no_rsync(root);
    let left = incomplete(root);
    assert_eq!(left.len(), 1);
    let linked = job_dir(root).join(&left[0]).join(rel).join("a-small-00");
    assert_eq!(
        inode(&linked),
        inode(&old_small),
        "expected a hard link into the last snapshot"
    );

    fs::set_permissions(s.src.join("a-small-00"), fs::Permissions::from_mode(0o600)).unwrap();
    write_spec(root, &fast);
    assert_code(&run_job(&s.spec_path), 0);
    let mode = fs::metadata(&old_small).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o644, "the previous snapshot was changed");
    let snaps = snapshots(root);
    assert_eq!(snaps.len(), 2);
    let new_small = job_dir(root).join(&snaps[1]).join(rel).join("a-small-00");
    assert_eq!(
        fs::metadata(&new_small).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    assert_eq!(
        differences(&s.src, &job_dir(root).join(&snaps[1]).join(rel)),
        ""
    );
}

/// After SIGKILL of bakrun, its rsync processes die too, and until the last of them is
/// gone the job's lock stays taken: a new run can never write into the same tree.
#[test]
#[ignore = "tier: system — needs root (numeric owners, the postgres user); run by scripts/test"]
fn sigkill_keeps_the_lock_until_every_child_is_gone() {
    require_root();
    let s = setup("sigkill-lock");
    let root = s.root.path();
    let mut child = start_slow_run(&s);
    assert!(!job_processes(root).is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
    let lock_path = root.join("state/lock/files.lock");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut held = 0;
    loop {
        let file = fs::File::open(&lock_path).unwrap();
        match file.try_lock() {
            Ok(()) => {
                let left = job_processes(root);
                assert!(left.is_empty(), "lock free while these still run: {left:?}");
                break;
            }
            Err(fs::TryLockError::WouldBlock) => held += 1,
            Err(e) => panic!("{e}"),
        }
        assert!(
            Instant::now() < deadline,
            "bakrun's children outlived it: {:?}",
            job_processes(root)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("lock seen held {held} time(s) after bakrun died");
    assert!(snapshots(root).is_empty());
    next_run_reuses_the_incomplete(&s);
}

/// A program that ignores SIGTERM (here a pg_dump stand-in) cannot keep a stopped run
/// alive: bakrun kills it after a grace period and ends.
#[test]
#[ignore = "tier: system — needs root (numeric owners, the postgres user); run by scripts/test"]
fn a_child_that_ignores_sigterm_is_killed_and_the_run_ends() {
    use std::os::unix::fs::PermissionsExt;
    require_root();
    let root = TempDir::new("deaf-child");
    let bin = root.join("bin");
    fs::create_dir_all(&bin).unwrap();
    // pg_dump runs as the postgres user: its marker goes where anyone may write.
    let marks = root.join("marks");
    fs::create_dir_all(&marks).unwrap();
    fs::set_permissions(&marks, fs::Permissions::from_mode(0o1777)).unwrap();
    let started = marks.join("dump-started");
    fs::write(
        bin.join("pg_dump"),
        format!(
            "#!/bin/sh\ntrap '' TERM\ntouch '{}'\nexec sleep 120\n",
            started.display()
        ),
    )
    .unwrap();
    fs::set_permissions(bin.join("pg_dump"), fs::Permissions::from_mode(0o755)).unwrap();
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), "x\n").unwrap();
    let mut spec = spec(root.path(), &[&src]);
    spec["steps"] = serde_json::json!([{"step": "postgres", "databases": ["app"]}]);
    let spec_path = write_spec(root.path(), &spec);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut child = Command::new(BAKRUN)
        .args(["run", spec_path.to_str().unwrap()])
        .env("PATH", path)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the dump never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let stopped = Instant::now();
    // SAFETY: plain kill(2) of our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("bakrun waited for a child that ignores SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(stopped.elapsed() < Duration::from_secs(15), "slow to stop");
    assert_eq!(status.code(), Some(1));
    assert!(job_processes(root.path()).is_empty());
    assert!(snapshots(root.path()).is_empty());
    let recorded = fs::read_to_string(root.join("state/status/files.json")).unwrap();
    assert!(recorded.contains("\"interrupted\""), "{recorded}");
}
