//! Helpers shared by the integration tests: temporary folders, job specs, source trees
//! with every awkward kind of file, and a private sshd on loopback.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const BAKRUN: &str = env!("CARGO_BIN_EXE_bakrun");

/// These tests mount, chown and run sshd: they need root and say so loudly.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    assert_eq!(
        uid, 0,
        "this test needs root (mounts, numeric owners, sshd); run it as root as CI does"
    );
}

/// A folder `bakrun-test-<tag>-XXXXXX` removed when the test ends, even on panic; a
/// removal that fails (a mount left inside, a root-owned file) is ignored, never a panic.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        // 0755 as before, not tempfile's 0700: tests run tools as other users (postgres,
        // sshd's checks, dropped privileges) that must reach files inside.
        let dir = tempfile::Builder::new()
            .prefix(&format!("bakrun-test-{tag}-"))
            .permissions(fs::Permissions::from_mode(0o755))
            .tempdir()
            .unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        self.0.path()
    }
    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.path().join(p)
    }
}

/// A job spec for a local snapshots destination under `root`.
pub fn spec(root: &Path, sources: &[&Path]) -> Value {
    json!({
        "version": 1,
        "host": "h1",
        "job": "files",
        "unit": "bakgen-files.service",
        "sources": sources.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>(),
        "destination": {"engine": "snapshots", "path": root.join("dest").to_string_lossy()},
        "schedule": {"calendar": "*-*-* *:00:00", "late-after-seconds": 7200},
        "retention": {"keep-last": 3},
        "state-dir": root.join("state").to_string_lossy(),
        "metrics-dir": root.join("metrics").to_string_lossy(),
    })
}

pub fn write_spec(root: &Path, spec: &Value) -> PathBuf {
    let path = root.join("job.json");
    fs::write(&path, serde_json::to_string_pretty(spec).unwrap()).unwrap();
    path
}

pub fn job_dir(root: &Path) -> PathBuf {
    root.join("dest/h1/files")
}

pub fn bakrun(args: &[&str]) -> Output {
    Command::new(BAKRUN).args(args).output().unwrap()
}

pub fn run_job(spec_path: &Path) -> Output {
    bakrun(&["run", spec_path.to_str().unwrap()])
}

pub fn assert_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Names of complete snapshots, oldest first (their names sort by time here: one offset).
pub fn snapshots(root: &Path) -> Vec<String> {
    entries(&job_dir(root))
        .into_iter()
        .filter(|n| n.len() == 20 && n.as_bytes()[8] == b'T')
        .collect()
}

pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

pub fn inode(p: &Path) -> u64 {
    fs::symlink_metadata(p).unwrap().ino()
}

pub fn sh(cmd: &str) -> Output {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A tree with what breaks naive backups: hard links, symlinks (also dangling), a sparse
/// file, odd permissions, a foreign numeric owner, an ACL, an extended attribute, and names
/// with spaces, unicode, a leading dash and a newline-free odd character.
pub fn awkward_tree(dir: &Path) {
    fs::create_dir_all(dir.join("sub dir/deeper")).unwrap();
    fs::write(dir.join("plain.txt"), "plain\n").unwrap();
    fs::write(dir.join("sub dir/with space.txt"), "space\n").unwrap();
    fs::write(dir.join("sub dir/deeper/ünïcödé — файл.txt"), "unicode\n").unwrap();
    fs::write(dir.join("-leading-dash"), "dash\n").unwrap();
    fs::write(dir.join("quote's \"and\" $dollar"), "quotes\n").unwrap();
    fs::write(dir.join("hard-a"), "linked content\n").unwrap();
    fs::hard_link(dir.join("hard-a"), dir.join("sub dir/hard-b")).unwrap();
    std::os::unix::fs::symlink("plain.txt", dir.join("link-to-plain")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", dir.join("dangling")).unwrap();
    let mut sparse = fs::File::create(dir.join("sparse.img")).unwrap();
    sparse.write_all(b"start").unwrap();
    sparse.set_len(64 * 1024 * 1024).unwrap();
    drop(sparse);
    fs::write(dir.join("secret"), "0600\n").unwrap();
    fs::set_permissions(dir.join("secret"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(dir.join("setuid"), "4750\n").unwrap();
    fs::set_permissions(dir.join("setuid"), fs::Permissions::from_mode(0o4750)).unwrap();
    fs::write(dir.join("foreign-owner"), "uid 12345\n").unwrap();
    std::os::unix::fs::chown(dir.join("foreign-owner"), Some(12345), Some(54321)).unwrap();
    fs::create_dir(dir.join("locked dir")).unwrap();
    fs::write(dir.join("locked dir/inside"), "x\n").unwrap();
    fs::set_permissions(dir.join("locked dir"), fs::Permissions::from_mode(0o500)).unwrap();
    sh(&format!(
        "setfacl -m u:4242:rw- '{}' && setfattr -n user.bakgen -v hello '{}'",
        dir.join("plain.txt").display(),
        dir.join("plain.txt").display()
    ));
}

/// Lines of `rsync --itemize-changes` that tell how `copy` differs from `original` in
/// content (checksums), owners, permissions, times, ACLs, xattrs and hard links. Empty
/// means the same.
pub fn differences(original: &Path, copy: &Path) -> String {
    let out = Command::new("rsync")
        .args(["-naHAXSc", "--numeric-ids", "--delete", "--itemize-changes"])
        .arg("--exclude=*.skip")
        .arg(format!("{}/", original.display()))
        .arg(format!("{}/", copy.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A private sshd on a free loopback port, with a host key and a client key made here.
/// Stopped when dropped, also when the test panics.
pub struct Sshd {
    child: Child,
    pub port: u16,
    pub client_key: PathBuf,
    pub known_hosts: PathBuf,
    _dir: TempDir,
}

impl Sshd {
    pub fn start() -> Self {
        let dir = TempDir::new("sshd");
        let d = dir.path();
        // sshd refuses to start without its privilege-separation folder.
        fs::create_dir_all("/run/sshd").unwrap();
        sh(&format!(
            "ssh-keygen -q -t ed25519 -N '' -f '{0}/host_key' && ssh-keygen -q -t ed25519 -N '' -f '{0}/client_key'",
            d.display()
        ));
        fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let port = free_port();
        let config = d.join("sshd_config");
        fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {0}/host_key\nAuthorizedKeysFile {0}/authorized_keys\n\
                 PidFile none\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nLogLevel ERROR\n\
                 Subsystem sftp internal-sftp\n",
                d.display()
            ),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("sshd (package openssh-server) must be installed");
        let host_pub = fs::read_to_string(d.join("host_key.pub")).unwrap();
        let mut parts = host_pub.split_whitespace();
        let known = format!(
            "[127.0.0.1]:{port} {} {}\n",
            parts.next().unwrap(),
            parts.next().unwrap()
        );
        fs::write(d.join("known_hosts"), known).unwrap();
        let sshd = Sshd {
            child,
            port,
            client_key: d.join("client_key"),
            known_hosts: d.join("known_hosts"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd
    }

    /// Restricts the client key to `forced` (an `authorized_keys` forced command, with
    /// `restrict`), as docs/policy.md tells a pulled host to: sshd reads the file at each
    /// login, so this holds from the next connection on.
    pub fn restrict_to(&self, forced: &str) {
        let d = self._dir.path();
        let key = fs::read_to_string(d.join("client_key.pub")).unwrap();
        fs::write(
            d.join("authorized_keys"),
            format!("command=\"{forced}\",restrict {key}"),
        )
        .unwrap();
    }

    pub fn remote(&self) -> Value {
        json!({
            "address": "127.0.0.1",
            "user": "root",
            "port": self.port,
            "identity": self.client_key.to_string_lossy(),
            "known-hosts": self.known_hosts.to_string_lossy(),
        })
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on now and that no other test of this binary was
/// given: the kernel may hand a just-released port out again, and two servers started
/// by tests running side by side must never be told the same one.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Processes (other than zombies and this test) whose command line names `root`, with
/// their pids.
pub fn job_pids(root: &Path) -> Vec<(libc::pid_t, String)> {
    let needle = root.to_string_lossy().into_owned();
    let me = std::process::id() as libc::pid_t;
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(&needle) {
            found.push((pid, text));
        }
    }
    found
}

/// The command lines of [`job_pids`].
pub fn job_processes(root: &Path) -> Vec<String> {
    job_pids(root).into_iter().map(|(_, cmd)| cmd).collect()
}
