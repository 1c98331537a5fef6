//! A throwaway database server in a private folder, reachable only through a Unix socket
//! in that folder (PostgreSQL `listen_addresses=''`, MariaDB `--skip-networking`): no TCP
//! port, nothing shared with a server the host runs. [`Throwaway`] owns the folder and the
//! server process; dropping it stops the server (its own shutdown signal, then a kill of it
//! and everything below it after [`STOP_GRACE`]) and then removes the folder, on every way
//! out of a drill. A stop signal reaching bakrun is passed on to the server meanwhile (it is
//! tracked like every child, see [`crate::process`]), and if bakrun dies the parent-death
//! signal stops it.
//!
//! Layout: `<folder>/` (bakrun's, 0700; 0711 when the server runs as another user) holds
//! the dump file, the programs' logs and `server/` (the server user's, 0700): the data
//! folder and the socket.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::account::Account;
use super::binaries;
use super::scan::DRILL_SUPERUSER;
use super::DrillError;
use crate::command::Command;
use crate::process::{self, Running, Stop};
use crate::{log, signals};

/// How long a server may take to shut down before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long initialising and starting a server may take (mariadb-install-db takes seconds
/// on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// The PostgreSQL socket's port number (only its file name: nothing listens on a port).
pub(super) const PG_PORT: &str = "5432";

/// A drill's folder and, once started, its server.
#[derive(Debug)]
pub(super) struct Throwaway {
    folder: PathBuf,
    server: Option<Running>,
    account: Account,
}

/// How to reach a started server with its client.
#[derive(Debug, Clone)]
pub(super) enum Client {
    Postgres {
        psql: PathBuf,
        /// The folder holding `.s.PGSQL.5432`.
        socket_dir: PathBuf,
        version: String,
    },
    Mariadb {
        client: PathBuf,
        socket: PathBuf,
        version: String,
    },
}

#[derive(Debug)]
pub(super) enum StartError {
    Interrupted,
    Failed(String),
}

impl Throwaway {
    /// Makes `folder` (new, private) and `folder/server`, handed to the server user.
    pub(super) fn new(folder: &Path, account: &Account) -> Result<Self, DrillError> {
        let io = |source| DrillError::Folder {
            path: folder.to_owned(),
            source,
        };
        use std::os::unix::fs::DirBuilderExt;
        let mode = if account.switches() { 0o711 } else { 0o700 };
        std::fs::DirBuilder::new()
            .mode(mode)
            .create(folder)
            .map_err(io)?;
        // From here the folder is removed on drop.
        let t = Throwaway {
            folder: folder.to_owned(),
            server: None,
            account: account.clone(),
        };
        let server = t.server_dir();
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&server)
            .map_err(io)?;
        account.own(&server).map_err(io)?;
        Ok(t)
    }

    /// Where the dump read back from the backup goes.
    pub(super) fn dump_file(&self) -> PathBuf {
        self.folder.join("dump.sql")
    }

    fn server_dir(&self) -> PathBuf {
        self.folder.join("server")
    }

    /// `initdb` then `postgres` on a socket in the server folder.
    pub(super) fn start_postgres(
        &mut self,
        bins: &binaries::Postgres,
    ) -> Result<Client, StartError> {
        let server = self.server_dir();
        let data = server.join("data");
        let initdb = Command::new(&bins.initdb)
            .arg("-D")
            .arg(&data)
            .args([
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ])
            .arg(format!("--username={DRILL_SUPERUSER}"));
        self.run_to_end(&initdb, "initdb")?;
        // A drill never needs durability: nothing is kept.
        let postgres = Command::new(&bins.postgres)
            // Fast shutdown: SIGTERM would wait for the clients to leave.
            .stop_with(libc::SIGINT)
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(&server)
            .args(["-p", PG_PORT])
            .args([
                "-c",
                "listen_addresses=",
                "-c",
                "unix_socket_permissions=0700",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "synchronous_commit=off",
                // No code generated at run time: a unit with MemoryDenyWriteExecute= allows none.
                "-c",
                "jit=off",
            ]);
        self.start_server(&postgres, "postgres", || {
            // postmaster.pid's eighth line turns `ready` once connections are accepted.
            std::fs::read_to_string(data.join("postmaster.pid"))
                .is_ok_and(|t| t.lines().nth(7).is_some_and(|l| l.trim() == "ready"))
        })?;
        Ok(Client::Postgres {
            psql: bins.psql.clone(),
            socket_dir: server,
            version: version_of(&bins.postgres),
        })
    }

    /// `mariadb-install-db` then `mariadbd --skip-networking` on a socket in the server folder.
    pub(super) fn start_mariadb(&mut self, bins: &binaries::Mariadb) -> Result<Client, StartError> {
        let server = self.server_dir();
        let data = server.join("data");
        let socket = server.join("mysqld.sock");
        let tmp = server.join("tmp");
        // `root` without a password, reachable only through the private socket.
        let install = Command::new(&bins.install_db)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ]);
        self.run_to_end(&install, "mariadb-install-db")?;
        let mariadbd = Command::new(&bins.server)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!(
                "--pid-file={}",
                server.join("mysqld.pid").display()
            ))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args([
                "--skip-networking",
                "--skip-log-bin",
                "--max-allowed-packet=1G",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
            ]);
        let mkdir = std::fs::create_dir(&tmp).and_then(|()| self.account.own(&tmp));
        if let Err(e) = mkdir {
            return Err(StartError::Failed(format!(
                "cannot create {}: {e}",
                tmp.display()
            )));
        }
        self.start_server(&mariadbd, "mariadbd", || {
            std::os::unix::net::UnixStream::connect(&socket).is_ok()
        })?;
        Ok(Client::Mariadb {
            client: bins.client.clone(),
            socket,
            version: version_of(&bins.server),
        })
    }

    /// The log file of program `name`, in bakrun's part of the folder.
    fn log_file(&self, name: &str) -> Result<(std::fs::File, PathBuf), StartError> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.folder.join(format!("{name}.log"));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map(|f| (f, path.clone()))
            .map_err(|e| StartError::Failed(format!("cannot create {}: {e}", path.display())))
    }

    /// `cmd` as the server user in the server folder, its output into its log.
    fn spawn(&self, cmd: &Command, name: &str) -> Result<(Running, PathBuf), StartError> {
        let (log, path) = self.log_file(name)?;
        let mut p = process::process(cmd);
        self.account.apply(&mut p);
        p.current_dir(self.server_dir()).stdin(Stdio::null());
        let err = log
            .try_clone()
            .map_err(|e| StartError::Failed(format!("cannot use {}: {e}", path.display())))?;
        p.stdout(Stdio::from(log)).stderr(Stdio::from(err));
        log::debug(format!(
            "running{}: {}",
            self.account.describe(),
            cmd.display()
        ));
        let running = Running::spawn(p, cmd, Stop::Forward)
            .map_err(|e| StartError::Failed(format!("cannot start {name}: {e}")))?;
        Ok((running, path))
    }

    fn run_to_end(&self, cmd: &Command, name: &str) -> Result<(), StartError> {
        let (running, log) = self.spawn(cmd, name)?;
        let status = running.wait();
        if signals::stop_requested() {
            return Err(StartError::Interrupted);
        }
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(StartError::Failed(format!(
                "{name} failed ({s}){}",
                log_tail(&log)
            ))),
            Err(e) => Err(StartError::Failed(format!("waiting for {name}: {e}"))),
        }
    }

    /// Starts the server and waits until `ready` says it accepts connections.
    fn start_server(
        &mut self,
        cmd: &Command,
        name: &str,
        ready: impl Fn() -> bool,
    ) -> Result<(), StartError> {
        let (running, log) = self.spawn(cmd, name)?;
        let server = self.server.insert(running);
        let started = Instant::now();
        loop {
            if signals::stop_requested() {
                return Err(StartError::Interrupted);
            }
            match server.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    return Err(StartError::Failed(format!(
                        "{name} ended before accepting connections ({status}){}",
                        log_tail(&log)
                    )))
                }
                Err(e) => return Err(StartError::Failed(format!("waiting for {name}: {e}"))),
            }
            if ready() {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(StartError::Failed(format!(
                    "{name} did not accept connections within {} s{}",
                    START_TIMEOUT.as_secs(),
                    log_tail(&log)
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let program = server.program().to_owned();
            if let Err(e) = server.stop(STOP_GRACE) {
                log::warn(format!("stopping the drill's {program}: {e}"));
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&self.folder) {
            if e.kind() != std::io::ErrorKind::NotFound {
                log::warn(format!(
                    "cannot remove the drill's folder {}: {e}",
                    self.folder.display()
                ));
            }
        }
    }
}

impl Client {
    /// The check line that says what was started.
    pub(super) fn describe(&self) -> String {
        match self {
            Client::Postgres { version, .. } => {
                format!("throwaway PostgreSQL {version} started, Unix socket only")
            }
            Client::Mariadb { version, .. } => {
                format!("throwaway MariaDB {version} started, Unix socket only")
            }
        }
    }
}

/// `15.18` of `postgres (PostgreSQL) 15.18 (Debian …)`, `10.11.14-MariaDB…` of mariadbd's
/// `--version`; empty when the program will not say.
fn version_of(program: &Path) -> String {
    let cmd = Command::new(program).arg("--version");
    let text = process::output_stoppable(process::process(&cmd), &cmd)
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    text.split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .map(|w| w.split('-').next().unwrap_or(w).to_owned())
        .unwrap_or_default()
}

/// The last lines of a program's log, for a failure message.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {tail}")
    }
}
