//! `btrfs-snapshot` for real: a btrfs on a loop device, mounted in a private mount namespace
//! (`unshare -m --propagation private`) that a parked process keeps alive; bakrun runs in
//! it through `nsenter -m`, so neither the file system nor the snapshot's mounts are ever
//! seen by the host. Needs root, btrfs-progs, util-linux.

mod common;
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A btrfs with subvolume `<mnt>/data` in a private namespace, torn down on drop.
struct Btrfs {
    ns: Child,
    mnt: PathBuf,
}

impl Btrfs {
    fn new(root: &Path) -> Self {
        require_root();
        let img = root.join("btrfs.img");
        let mnt = root.join("mnt");
        fs::create_dir_all(&mnt).unwrap();
        fs::File::create(&img)
            .unwrap()
            .set_len(256 * 1024 * 1024)
            .unwrap();
        let ready = root.join("ns-ready");
        // `exec sleep`: the namespace lives exactly as long as this process; `-o loop`
        // autoclears its loop device when the namespace goes.
        let script = format!(
            "set -e; mkfs.btrfs -q {img} >/dev/null; mount -o loop {img} {mnt}; \
             btrfs -q subvolume create {mnt}/data; touch {ready}; exec sleep 600",
            img = img.display(),
            mnt = mnt.display(),
            ready = ready.display()
        );
        let ns = Command::new("unshare")
            .args([
                "-m",
                "--propagation",
                "private",
                "--",
                "bash",
                "-c",
                &script,
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("unshare (util-linux) must be installed");
        let me = Self { ns, mnt };
        wait_for(&ready, Duration::from_secs(30), "the btrfs namespace");
        me
    }

    fn data(&self) -> PathBuf {
        self.mnt.join("data")
    }

    /// A command run inside the namespace (nsenter execs it: same pid, signals reach it).
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg("-t")
            .arg(self.ns.id().to_string())
            .args(["-m", "--", program]);
        c
    }

    fn sh(&self, script: &str) -> String {
        let out = self.command("bash").args(["-c", script]).output().unwrap();
        assert!(out.status.success(), "{script}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Subvolumes and mounts left around: both empty when bakrun cleaned up.
    fn leftovers(&self, root: &Path) -> String {
        self.sh(&format!(
            "btrfs subvolume list -o {data}; findmnt -rn -o TARGET | grep -F {state} || true",
            data = self.data().display(),
            state = root.join("state/snapshots").display()
        ))
    }
}

impl Drop for Btrfs {
    fn drop(&mut self) {
        let _ = self.ns.kill();
        let _ = self.ns.wait();
    }
}

fn wait_for(path: &Path, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    while !path.exists() {
        assert!(Instant::now() < deadline, "{what} never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

struct Case {
    // Dropped first: the namespace goes before the folder is removed.
    fs: Btrfs,
    root: TempDir,
    spec_path: PathBuf,
    go: PathBuf,
}

fn case(tag: &str, sources: &[&str]) -> Case {
    let root = TempDir::new(tag);
    let fs = Btrfs::new(root.path());
    let data = fs.data();
    fs.sh(&format!(
        "mkdir -p {d}/etc && echo old > {d}/etc/file && echo keep > {d}/other",
        d = data.display()
    ));
    let sources: Vec<PathBuf> = sources.iter().map(|s| data.join(s)).collect();
    let refs: Vec<&Path> = sources.iter().map(PathBuf::as_path).collect();
    let mut spec = spec(root.path(), &refs);
    spec["steps"] = serde_json::json!([{
        "step": "btrfs-snapshot",
        "subvolume": data.to_string_lossy(),
        "origin-path": data.to_string_lossy(),
    }]);
    let spec_path = write_spec(root.path(), &spec);
    let go = root.join("go");
    Case {
        fs,
        root,
        spec_path,
        go,
    }
}

impl Case {
    fn run(&self) -> Output {
        self.fs
            .command(BAKRUN)
            .args(["run", self.spec_path.to_str().unwrap()])
            .output()
            .unwrap()
    }

    /// A run that stops after the snapshot is mounted, until `go` appears.
    fn start_paused(&self) -> Child {
        let child = self
            .fs
            .command(BAKRUN)
            .args(["run", self.spec_path.to_str().unwrap()])
            .env("BAKRUN_TEST_PAUSE_AFTER_SNAPSHOT", &self.go)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for(
            &self.root.join("go.waiting"),
            Duration::from_secs(30),
            "the paused run",
        );
        child
    }

    fn backed_up(&self, origin: &Path) -> Option<String> {
        let latest = job_dir(self.root.path()).join("latest");
        fs::read_to_string(latest.join(origin.strip_prefix("/").unwrap())).ok()
    }
}

#[test]
#[ignore = "tier: system — needs root and btrfs on a loop device; run by scripts/test"]
fn backup_reads_the_snapshot_and_records_original_paths() {
    let t = Instant::now();
    let c = case("btrfs-consistent", &["etc", "other"]);
    let setup = t.elapsed();
    let child = c.start_paused();
    let paused = t.elapsed();
    // The origin changes after the snapshot, before rsync reads anything.
    let data = c.fs.data();
    c.fs.sh(&format!(
        "echo new > {d}/etc/file; echo added > {d}/etc/added; rm {d}/other",
        d = data.display()
    ));
    fs::write(&c.go, "").unwrap();
    let out = child.wait_with_output().unwrap();
    println!(
        "btrfs: setup {setup:.2?}, snapshot ready {:.2?}, run done {:.2?}",
        paused - setup,
        t.elapsed() - paused
    );
    assert_code(&out, 0);
    assert_eq!(
        c.backed_up(&data.join("etc/file")).as_deref(),
        Some("old\n")
    );
    assert_eq!(c.backed_up(&data.join("other")).as_deref(), Some("keep\n"));
    assert_eq!(c.backed_up(&data.join("etc/added")), None);
    // Nothing of the private tree leaks into the backup.
    let latest = job_dir(c.root.path()).join("latest");
    assert!(!latest
        .join(c.root.path().join("state").strip_prefix("/").unwrap())
        .exists());
    assert_eq!(c.fs.leftovers(c.root.path()), "");
    // Listing and restore speak original paths.
    let listed = bakrun(&[
        "snapshots",
        c.spec_path.to_str().unwrap(),
        "--at",
        "2099-01-01",
    ]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains(&format!("{}/etc/file", data.display())),
        "{listed}"
    );
}

#[test]
#[ignore = "tier: system — needs root and btrfs on a loop device; run by scripts/test"]
fn a_failing_engine_still_removes_the_snapshot() {
    let c = case("btrfs-fail", &["etc", "missing"]);
    let t = Instant::now();
    let out = c.run();
    println!("btrfs failing run: {:.2?}", t.elapsed());
    assert_code(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rsync"),
        "{}",
        text(&out)
    );
    assert_eq!(c.fs.leftovers(c.root.path()), "");
    assert!(snapshots(c.root.path()).is_empty());
}

#[test]
#[ignore = "tier: system — needs root and btrfs on a loop device; run by scripts/test"]
fn sigterm_removes_the_snapshot() {
    let c = case("btrfs-term", &["etc"]);
    let child = c.start_paused();
    let t = Instant::now();
    // SAFETY: plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    println!("btrfs SIGTERM to exit: {:.2?}", t.elapsed());
    assert_code(&out, 1);
    assert_eq!(c.fs.leftovers(c.root.path()), "");
}

#[test]
#[ignore = "tier: system — needs root and btrfs on a loop device; run by scripts/test"]
fn after_sigkill_the_next_run_removes_the_leftover_first() {
    let c = case("btrfs-kill", &["etc"]);
    let mut child = c.start_paused();
    child.kill().unwrap();
    child.wait().unwrap();
    let left = c.fs.leftovers(c.root.path());
    assert!(left.contains(".bakgen-files"), "{left}");
    assert!(left.contains("state/snapshots"), "{left}");
    let t = Instant::now();
    let out = c.run();
    println!("btrfs run after SIGKILL: {:.2?}", t.elapsed());
    assert_code(&out, 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("leftover"),
        "{}",
        text(&out)
    );
    assert_eq!(c.fs.leftovers(c.root.path()), "");
    assert_eq!(
        c.backed_up(&c.fs.data().join("etc/file")).as_deref(),
        Some("old\n")
    );
}

#[test]
#[ignore = "tier: system — needs root and btrfs on a loop device; run by scripts/test"]
fn a_folder_bakgen_did_not_make_is_never_removed() {
    let c = case("btrfs-foreign", &["etc"]);
    let foreign = c.fs.data().join(".bakgen-files");
    c.fs.sh(&format!(
        "mkdir {f} && echo mine > {f}/x",
        f = foreign.display()
    ));
    let out = c.run();
    assert_code(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("never removes"),
        "{}",
        text(&out)
    );
    assert_eq!(c.fs.sh(&format!("cat {}/x", foreign.display())), "mine\n");
    // A writable subvolume of the same name is not bakgen's snapshot either.
    c.fs.sh(&format!(
        "rm -r {f} && btrfs -q subvolume create {f}",
        f = foreign.display()
    ));
    assert_code(&c.run(), 1);
    assert!(c.fs.leftovers(c.root.path()).contains(".bakgen-files"));
}

#[test]
#[ignore = "tier: system — needs root and btrfs on a loop device; run by scripts/test"]
fn dry_run_prints_the_snapshot_commands_and_changes_nothing() {
    let c = case("btrfs-dry", &["etc"]);
    let out =
        c.fs.command(BAKRUN)
            .args(["run", "--dry-run", c.spec_path.to_str().unwrap()])
            .output()
            .unwrap();
    assert_code(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let data = c.fs.data();
    for expected in [
        format!(
            "btrfs -q subvolume snapshot -r {d} {d}/.bakgen-files",
            d = data.display()
        ),
        format!(
            "mount --bind -o ro {d}/.bakgen-files {}",
            c.root
                .join("state/snapshots/files/root")
                .join(data.strip_prefix("/").unwrap())
                .display(),
            d = data.display()
        ),
        format!("btrfs -q subvolume delete {}/.bakgen-files", data.display()),
    ] {
        assert!(
            stdout.contains(&expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("/./"),
        "rsync reads through the anchor:\n{stdout}"
    );
    assert_eq!(c.fs.leftovers(c.root.path()), "");
    assert!(!c.root.join("state/snapshots/files/root").exists());
}

#[test]
#[ignore = "tier: system — needs root and btrfs on a loop device; run by scripts/test"]
fn restic_reads_the_snapshot_at_the_original_paths() {
    let c = case("btrfs-restic", &["etc", "other"]);
    let root = c.root.path();
    let pw = support::secret_file(root, "password", support::PASSWORD);
    let repo = root.join("repo").to_string_lossy().into_owned();
    let data = c.fs.data();
    let mut spec: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&c.spec_path).unwrap()).unwrap();
    let restic = support::restic_spec(root, "files", &repo, &pw, &[]);
    spec["destination"] = restic["destination"].clone();
    fs::write(&c.spec_path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    assert_code(&bakrun(&["init", c.spec_path.to_str().unwrap()]), 0);

    // The dry run shows the private namespace and the bind mounts.
    let out = bakrun(&["run", c.spec_path.to_str().unwrap(), "--dry-run"]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("unshare --mount --propagation private")
            && printed.contains(&format!("{}/etc", data.display())),
        "{printed}"
    );

    let child = c.start_paused();
    let d = data.display();
    c.fs.sh(&format!(
        "echo new > {d}/etc/file; echo added > {d}/etc/added; rm {d}/other"
    ));
    fs::write(&c.go, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_code(&out, 0);

    // restic recorded the original paths, with the contents of the snapshot's moment.
    let file = format!("{d}/etc/file");
    assert_eq!(
        support::restic(&repo, &pw, &["dump", "latest", &file], &[]),
        "old\n"
    );
    let listing = support::restic(&repo, &pw, &["ls", "latest"], &[]);
    assert!(listing.contains(&format!("{d}/other")), "{listing}");
    assert!(!listing.contains("added"), "{listing}");
    assert!(!listing.contains("state/snapshots"), "{listing}");
    // Snapshot, its mount and the bind mounts are gone.
    assert_eq!(c.fs.leftovers(root), "");
    let mounts = c.fs.sh("findmnt -rn -o TARGET");
    assert!(!mounts.contains(&format!("{d}/")), "{mounts}");
    // bakrun's own restore reads it back at the original path.
    let to = root.join("restored");
    let out = bakrun(&[
        "restore",
        c.spec_path.to_str().unwrap(),
        &format!("{d}/etc"),
        "--to",
        to.to_str().unwrap(),
    ]);
    assert_code(&out, 0);
    assert_eq!(fs::read_to_string(to.join("etc/file")).unwrap(), "old\n");
}
