//! Real servers on loopback for the restic and dump tests, each stopped by its Drop guard
//! (also when a test panics): a REST server (rclone), an S3 server (moto), PostgreSQL 15
//! and MariaDB. A missing program fails the test loudly: nothing is skipped.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "../rng/mod.rs"]
mod rng;
#[allow(unused_imports)] // not every test that uses `support` picks at random
pub use rng::Rng;

mod restic_processes;
#[allow(unused_imports)] // not every test that uses `support` watches restic processes
pub use restic_processes::*;

use crate::common::{assert_code, awkward_tree, bakrun, differences, free_port, sh, TempDir};

pub const PASSWORD: &str = "correct horse battery staple";

fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn(cmd: &mut Command, what: &str) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what} (scripts/packages.txt installs it): {e}"))
}

/// A secret file with mode 0600 holding `value`.
pub fn secret_file(dir: &Path, name: &str, value: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("{value}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// A restic job spec: `job` of host `h1` backing up `sources` to `repository`, password
/// from the file `password_file`.
pub fn restic_spec(
    root: &Path,
    job: &str,
    repository: &str,
    password_file: &Path,
    sources: &[&Path],
) -> Value {
    json!({
        "version": 1,
        "host": "h1",
        "job": job,
        "unit": format!("bakgen-{job}.service"),
        "sources": sources.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>(),
        "destination": {
            "engine": "restic",
            "repository": repository,
            "password": {"from": "file", "path": password_file.to_string_lossy()},
            "cache-dir": root.join("cache").to_string_lossy(),
        },
        "schedule": {"calendar": "*-*-* *:00:00", "late-after-seconds": 7200},
        "retention": {"keep-last": 2},
        "state-dir": root.join("state").to_string_lossy(),
        "metrics-dir": root.join("metrics").to_string_lossy(),
    })
}

pub fn write_spec_named(root: &Path, name: &str, spec: &Value) -> PathBuf {
    let path = root.join(format!("{name}.json"));
    fs::write(&path, serde_json::to_string_pretty(spec).unwrap()).unwrap();
    path
}

/// `restic` run directly against a repository, for checks the test makes itself.
pub fn restic(
    repository: &str,
    password_file: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> String {
    let out = Command::new("restic")
        .args(args)
        .env("RESTIC_REPOSITORY", repository)
        .env("RESTIC_PASSWORD_FILE", password_file)
        .envs(env.iter().copied())
        .output()
        .expect("restic must be installed");
    assert!(
        out.status.success(),
        "restic {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `rclone serve restic` on a loopback port: restic's REST backend.
pub struct RestServer {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl RestServer {
    pub fn start() -> Self {
        let dir = TempDir::new("rest");
        let port = free_port();
        let child = spawn(
            Command::new("rclone")
                .args(["serve", "restic", "--addr"])
                .arg(format!("127.0.0.1:{port}"))
                .arg(dir.path()),
            "rclone",
        );
        let s = RestServer {
            child,
            port,
            _dir: dir,
        };
        wait_port(port, "rclone serve restic");
        s
    }
    pub fn url(&self, path: &str) -> String {
        format!("rest:http://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for RestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto's S3 server on a loopback port, with one bucket made by an HTTP PUT.
pub struct S3Server {
    child: Child,
    pub port: u16,
}

pub const S3_KEY_ID: &str = "AKIDBAKGENTEST";
pub const S3_SECRET: &str = "s3-secret-value-never-printed";

impl S3Server {
    pub fn start(bucket: &str) -> Self {
        let port = free_port();
        let child = spawn(
            Command::new("moto_server").args(["-H", "127.0.0.1", "-p", &port.to_string()]),
            "moto_server (pip install 'moto[server]')",
        );
        let mut s = S3Server { child, port };
        wait_port(port, "moto_server");
        // moto may take the connection a moment before it serves requests (a bucket
        // creation once failed right after the port opened, under load): a few tries,
        // and what went wrong said if none works.
        let url = format!("http://127.0.0.1:{port}/{bucket}");
        let mut said = String::new();
        for _ in 0..40 {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!(
                    "moto_server on port {port} exited ({status}) before bucket {bucket} was made"
                );
            }
            let out = Command::new("curl")
                .args(["-sS", "-f", "-X", "PUT", &url])
                .output()
                .expect("curl");
            if out.status.success() {
                return s;
            }
            said = String::from_utf8_lossy(&out.stderr).into_owned();
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("moto_server on port {port} did not make bucket {bucket} in 10 s: {said}");
    }
    pub fn url(&self, bucket_and_prefix: &str) -> String {
        format!("s3:http://127.0.0.1:{}/{bucket_and_prefix}", self.port)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A private PostgreSQL 15 cluster (trust auth) on a loopback port.
pub struct Postgres {
    pub port: u16,
    pub socket_dir: PathBuf,
    data: PathBuf,
    _dir: TempDir,
}

impl Postgres {
    pub fn start() -> Self {
        Self::start_with_socket(None)
    }

    /// With `Some(dir)`, the Unix socket goes there (`/var/run/postgresql` is where
    /// pg_dump looks without a host).
    pub fn start_with_socket(socket: Option<&Path>) -> Self {
        let dir = TempDir::new("pg");
        let data = dir.join("data");
        let socket_dir = socket.map_or_else(|| dir.join("sock"), Path::to_owned);
        fs::create_dir_all(&socket_dir).unwrap();
        // initdb refuses to run as root: the cluster belongs to the postgres user.
        sh(&format!("chown -R postgres: '{}'", dir.path().display()));
        let port = free_port();
        sh(&format!(
            "runuser -u postgres -- {PG_BIN}/initdb -D '{}' -A trust -N -U postgres >/dev/null",
            data.display()
        ));
        sh(&format!(
            "runuser -u postgres -- {PG_BIN}/pg_ctl -D '{}' -l '{}' -o \"-p {port} -k {} -c listen_addresses=127.0.0.1\" -w start >/dev/null",
            data.display(),
            dir.join("log").display(),
            socket_dir.display()
        ));
        Postgres {
            port,
            socket_dir,
            data,
            _dir: dir,
        }
    }

    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(format!("{PG_BIN}/psql"))
            .args(["-X", "-q", "-At", "-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .args(["-d", db, "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(format!("{PG_BIN}/pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A private MariaDB server on a loopback port; root logs in with a password.
pub struct Mariadb {
    child: Child,
    pub port: u16,
    pub socket: PathBuf,
    _dir: TempDir,
}

pub const MYSQL_ROOT_PASSWORD: &str = "my'sql\"pass";

impl Mariadb {
    pub fn start() -> Self {
        let dir = TempDir::new("maria");
        let data = dir.join("data");
        fs::create_dir_all(&data).unwrap();
        sh(&format!("chown -R mysql: '{}'", dir.path().display()));
        // Two tests installing at once have failed once under load, saying nothing (the
        // output was discarded): try three times, and show what it said when it still fails.
        let install = format!(
            "mariadb-install-db --user=mysql --datadir='{}' --auth-root-authentication-method=normal --skip-test-db 2>&1",
            data.display()
        );
        let mut said = String::new();
        let installed = (0..3).any(|attempt| {
            if attempt > 0 {
                std::thread::sleep(std::time::Duration::from_secs(1));
                let _ = fs::remove_dir_all(&data);
                fs::create_dir_all(&data).unwrap();
                sh(&format!("chown -R mysql: '{}'", dir.path().display()));
            }
            let out = Command::new("sh").arg("-c").arg(&install).output().unwrap();
            said = String::from_utf8_lossy(&out.stdout).into_owned();
            out.status.success()
        });
        assert!(
            installed,
            "`{install}` failed three times; last said:\n{said}"
        );
        let port = free_port();
        let socket = dir.join("mysqld.sock");
        let child = spawn(
            Command::new("mariadbd")
                .arg("--no-defaults")
                .arg("--user=mysql")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--socket={}", socket.display()))
                .arg(format!("--port={port}"))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--pid-file={}", dir.join("pid").display()))
                .arg("--skip-log-bin"),
            "mariadbd",
        );
        let m = Mariadb {
            child,
            port,
            socket,
            _dir: dir,
        };
        wait_port(port, "mariadbd");
        m.sql_as_root_nopw(&format!(
            "ALTER USER 'root'@'localhost' IDENTIFIED BY '{}'; CREATE USER 'backup'@'127.0.0.1' IDENTIFIED BY '{}'; GRANT ALL ON *.* TO 'backup'@'127.0.0.1'; FLUSH PRIVILEGES;",
            MYSQL_ROOT_PASSWORD.replace('\'', "''"),
            MYSQL_ROOT_PASSWORD.replace('\'', "''")
        ));
        m
    }

    fn sql_as_root_nopw(&self, sql: &str) {
        let out = Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["-u", "root", "-e", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mariadb {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs SQL as `backup` over TCP (the password on argv is fine in a test).
    pub fn sql(&self, sql: &str) -> String {
        let out = Command::new("mariadb")
            .arg("--no-defaults")
            .args([
                "-h",
                "127.0.0.1",
                "-P",
                &self.port.to_string(),
                "-u",
                "backup",
            ])
            .arg(format!("-p{MYSQL_ROOT_PASSWORD}"))
            .args(["-N", "-B", "-e", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mariadb {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prints how long a step took, for the test log (`--nocapture`).
pub fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let v = f();
    eprintln!("timing: {what}: {:.2}s", start.elapsed().as_secs_f64());
    v
}

/// The runs `bakrun snapshots SPEC --format json` lists, oldest first.
pub fn runs_of(spec: &str) -> Vec<Value> {
    let out = bakrun(&["snapshots", spec, "--format", "json"]);
    assert_code(&out, 0);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The whole restic cycle on a job whose spec at `spec` backs up `<root>/source tree`
/// with keep-last 2: init (twice: the second finds it), three runs with the tree changing
/// in between, the first run forgotten, the older remaining run listed and restored at its
/// date, prune, `check --read-data 100%`, the newest restored. Each restore is compared
/// with the tree as it was (content, owners, modes, times, ACLs, xattrs, hard links).
/// Returns the id of the forgotten first run.
pub fn full_cycle(backend: &str, root: &Path, spec: &Path) -> String {
    let p = spec.to_str().unwrap();
    let src = root.join("source tree");
    awkward_tree(&src);
    assert_code(
        &timed(&format!("init on {backend}"), || bakrun(&["init", p])),
        0,
    );
    let out = bakrun(&["init", p, "-v"]);
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));

    assert_code(
        &timed(&format!("backup 1 on {backend}"), || bakrun(&["run", p])),
        0,
    );
    let first = runs_of(p)[0]["id"].as_str().unwrap().to_owned();
    let job: Value = serde_json::from_str(&fs::read_to_string(spec).unwrap()).unwrap();
    let status_file = root.join(format!(
        "state/status/{}.json",
        job["job"].as_str().unwrap()
    ));
    let status =
        || -> Value { serde_json::from_str(&fs::read_to_string(&status_file).unwrap()).unwrap() };
    assert!(
        status()["files_new"].as_u64().unwrap() >= 10,
        "{}",
        status()
    );
    fs::write(src.join("plain.txt"), "second version\n").unwrap();
    fs::write(src.join("sub dir/new file"), "added in run 2\n").unwrap();
    assert_code(&bakrun(&["run", p]), 0);
    // restic's summary, as the status file records it.
    assert_eq!(status()["files_new"], 1, "{}", status());
    assert_eq!(status()["files_changed"], 1, "{}", status());
    let at_second = root.join("as of run 2");
    sh(&format!(
        "rsync -aHAXS --numeric-ids '{}/' '{}/'",
        src.display(),
        at_second.display()
    ));
    fs::write(src.join("plain.txt"), "third version\n").unwrap();
    fs::remove_file(src.join("sub dir/new file")).unwrap();
    assert_code(&bakrun(&["run", p]), 0);

    // keep-last 2: the first run is forgotten, by bakrun's own retention.
    let listed = runs_of(p);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|s| s["id"] != first.as_str()));
    let at = listed[0]["time"].as_str().unwrap().to_owned();
    let out = bakrun(&["snapshots", p, "--at", &at]);
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("sub dir/new file"));

    let to = root.join("restored 2");
    let out = timed(&format!("restore at a date from {backend}"), || {
        bakrun(&[
            "restore",
            p,
            src.to_str().unwrap(),
            "--at",
            &at,
            "--to",
            to.to_str().unwrap(),
        ])
    });
    assert_code(&out, 0);
    assert_eq!(differences(&at_second, &to.join("source tree")), "");

    assert_code(
        &timed(&format!("prune on {backend}"), || {
            bakrun(&["prune", p, "--repository-only"])
        }),
        0,
    );
    assert_code(&bakrun(&["check", p, "--read-data", "100%"]), 0);
    let to = root.join("restored 3");
    let out = bakrun(&[
        "restore",
        p,
        src.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
    ]);
    assert_code(&out, 0);
    assert_eq!(differences(&src, &to.join("source tree")), "");
    first
}

/// The status file's text and JSON; the text must parse.
pub fn status_of(root: &Path, job: &str) -> (String, Value) {
    let text = fs::read_to_string(root.join(format!("state/status/{job}.json"))).unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status file is not valid JSON ({e}):\n{text}"));
    (text, value)
}

/// What a run printed on standard error.
pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// A restic job `files` of host `h1` in a fresh folder: `<root>/src` backed up into the
/// local repository `<root>/repo` with keep-last 2, its spec changed by `edit` and written
/// to `<root>/files.json`. The repository is not initialised.
pub struct LocalJob {
    _t: TempDir,
    pub root: PathBuf,
    pub repo: PathBuf,
    pub pw: PathBuf,
    pub src: PathBuf,
    pub spec: PathBuf,
}

impl LocalJob {
    pub fn new(tag: &str, edit: impl FnOnce(&Path, &mut Value)) -> Self {
        let t = TempDir::new(tag);
        let root = t.path().to_owned();
        let pw = secret_file(&root, "password", PASSWORD);
        let src = root.join("src");
        fs::create_dir_all(&src).unwrap();
        let repo = root.join("repo");
        let mut spec = restic_spec(&root, "files", repo.to_str().unwrap(), &pw, &[&src]);
        edit(&root, &mut spec);
        let spec = write_spec_named(&root, "files", &spec);
        LocalJob {
            _t: t,
            root,
            repo,
            pw,
            src,
            spec,
        }
    }
    pub fn p(&self) -> &str {
        self.spec.to_str().unwrap()
    }
    pub fn runs(&self) -> Vec<Value> {
        runs_of(self.p())
    }
    pub fn locks(&self) -> Vec<String> {
        crate::common::entries(&self.repo.join("locks"))
    }
    /// The job's status file.
    pub fn status(&self) -> Value {
        let text = fs::read_to_string(self.root.join("state/status/files.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}
