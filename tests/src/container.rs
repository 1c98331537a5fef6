//! A real systemd as PID 1 in a container, without touching the host.
//!
//! How (see `/work/shared/TESTING.md`, "A real systemd as PID 1"):
//! 1. `unshare -m --propagation private` gives the container its own mount namespace, so
//!    nothing it mounts is ever seen by the host, and everything it mounted vanishes with
//!    its last process, even when the test process is killed.
//! 2. In it, a shell mounts a tmpfs, and on it an overlay whose lower layer is `/`: a
//!    copy-on-write clone of the host's root (with an optional "seed" folder layered over
//!    `/`, so files such as units and `*.wants/` links are there before systemd boots). It also mounts a tmpfs on
//!    `/run/systemd/nspawn` (nspawn's lock and propagation folders, which would otherwise
//!    be left on the host's disk) and joins a cgroup of its own (below).
//! 3. It execs `systemd-nspawn --register=no --keep-unit -b --console=pipe
//!    --private-network --directory=…`, so the pid we spawned *is* nspawn's.
//! 4. The container's systemd is the nspawn child whose `/proc/PID/exe` is systemd; we
//!    run commands inside with `nsenter -t PID -a`.
//!
//! Pitfall fixed here: with `--keep-unit` nspawn puts its `payload` and `supervisor`
//! cgroups below its *own* cgroup. A test process in the root cgroup would make every
//! container share `/payload`, so two containers at once would manage each other's
//! cgroups, and the empty folders stayed behind. Each container therefore first joins
//! `…/bakgen-e2e/<machine>` in every cgroup hierarchy, and teardown removes that subtree.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::error::HarnessError;
use crate::process::{self, kill_pid, pid_alive, read_lossy, require_root, require_tool, tail};

/// How long one command inside the container may run unless told otherwise.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(120);

/// Daemons that packages installed for other tests (ssh, database servers) would start in
/// every container: they slow the boot and could fail it, and no unit test needs them.
/// Tests that do need one clear [`ContainerOptions::mask_units`].
pub const DEFAULT_MASKED_UNITS: &[&str] = &[
    "ssh.service",
    "postgresql.service",
    "mariadb.service",
    "mysql.service",
];

/// Lines of the container console quoted in errors.
const CONSOLE_TAIL: usize = 60;

/// The shell run inside the private mount namespace; it ends by exec'ing nspawn with "$@".
/// Paths come in the environment so no quoting of them is needed (`set -f`: the unquoted
/// lists are split on spaces but never globbed). The seed is copied onto
/// the tmpfs first: a lower layer inside `/` (also a lower layer) is an overlapping layer,
/// which overlayfs refuses with ELOOP. `cp -a` copies symlinks as symlinks, into a fresh
/// tmpfs folder, so nothing of the host is written. The cloned /etc/hostname
/// is replaced (rm first: never write through a symlink into the host) so the guest's
/// systemd keeps the machine name instead of taking the host's.
const BOOT_SCRIPT: &str = r#"set -euf
for cg in $BAKT_CGROUPS; do mkdir -p "$cg"; echo $$ > "$cg/cgroup.procs"; done
mkdir -p /run/systemd/nspawn
mount -t tmpfs -o mode=0755 bakgen-e2e-nspawn /run/systemd/nspawn
mount -t tmpfs -o mode=0755 bakgen-e2e-ovl "$BAKT_W/ovl"
mkdir "$BAKT_W/ovl/up" "$BAKT_W/ovl/work" "$BAKT_W/ovl/seed"
lower=/
if [ -n "$BAKT_SEED" ]; then cp -a "$BAKT_SEED/." "$BAKT_W/ovl/seed/"; lower="$BAKT_W/ovl/seed:/"; fi
mount -t overlay bakgen-e2e-root -o "lowerdir=$lower,upperdir=$BAKT_W/ovl/up,workdir=$BAKT_W/ovl/work" "$BAKT_W/root"
rm -f "$BAKT_W/root/etc/hostname"; echo "$BAKT_NAME" > "$BAKT_W/root/etc/hostname"
for u in $BAKT_MASK; do ln -sfn /dev/null "$BAKT_W/root/etc/systemd/system/$u"; done
exec systemd-nspawn "$@"
"#;

/// How to boot a [`SystemdContainer`].
#[derive(Debug, Clone)]
pub struct ContainerOptions {
    /// `(host path, guest path, read_only)`: `--bind=` / `--bind-ro=`. The container's
    /// `/tmp` is private, so this is how files reach it. Paths must be absolute, no `:`.
    pub binds: Vec<(PathBuf, PathBuf, bool)>,
    /// Units masked (linked to /dev/null) before boot; see [`DEFAULT_MASKED_UNITS`].
    pub mask_units: Vec<String>,
    /// `--private-network` (only loopback inside, the default); false shares the host's
    /// network namespace.
    pub private_network: bool,
    /// From spawning nspawn to `running`.
    pub boot_timeout: Duration,
    /// Accept `degraded` instead of failing with the `systemctl --failed` list.
    pub allow_degraded: bool,
    /// More `systemd-nspawn` arguments, e.g. `--setenv=…`.
    pub extra_nspawn_args: Vec<String>,
    /// A host folder laid over `/` as the top lower layer of the overlay, so its files
    /// (e.g. `bakgen build`'s root overlay: units, `*.wants/` links, job specs) are in
    /// place *before* systemd boots. It is copied onto the container's tmpfs at boot (keep
    /// it small) and never written. Absolute, no `:` or `,`.
    pub seed: Option<PathBuf>,
}

impl Default for ContainerOptions {
    fn default() -> Self {
        ContainerOptions {
            binds: Vec::new(),
            mask_units: DEFAULT_MASKED_UNITS.iter().map(|s| s.to_string()).collect(),
            private_network: true,
            boot_timeout: Duration::from_secs(90),
            allow_degraded: false,
            extra_nspawn_args: Vec::new(),
            seed: None,
        }
    }
}

/// A booted container; dropping it stops it and removes every trace (also on panic).
///
/// Note: nspawn is spawned with `PR_SET_PDEATHSIG=SIGTERM`, so it also stops when the
/// *thread* that booted it ends (or the test process dies). Boot it in the test that uses
/// it, not in a helper thread that returns.
#[derive(Debug)]
pub struct SystemdContainer {
    machine: String,
    workdir: PathBuf,
    cgroups: Vec<PathBuf>,
    nspawn: Option<Child>,
    nspawn_pid: u32,
    systemd_pid: u32,
    boot_time: Duration,
    stopped: bool,
    /// When nspawn was spawned: boot time counts from here.
    started: Instant,
}

impl SystemdContainer {
    /// Boots a container and waits until its systemd says `running`.
    pub fn boot(opts: ContainerOptions) -> Result<Self, HarnessError> {
        require_root()?;
        require_tool("systemd-nspawn", "apt-get install systemd-container")?;
        for tool in ["unshare", "nsenter", "mount"] {
            require_tool(tool, "apt-get install util-linux mount")?;
        }
        let nspawn_args = Self::validate(&opts)?;

        let machine = process::unique_name("bakt");
        let workdir = process::make_named_dir(&format!("bakgen-e2e-{machine}"))?;
        check_plain_path(&workdir)?;
        for sub in ["ovl", "root"] {
            let p = workdir.join(sub);
            fs::create_dir(&p)
                .map_err(|e| HarnessError::io(format!("mkdir {}", p.display()), e))?;
        }
        match Self::spawn(&opts, nspawn_args, machine.clone(), workdir.clone()) {
            Ok(ct) => ct.wait_booted(&opts),
            Err(e) => {
                // Nothing was started: only the folder to remove.
                let _ = process::remove_temp_dir(&workdir);
                Err(e)
            }
        }
    }

    /// Starts nspawn; the returned value owns everything and its `Drop` cleans up.
    fn spawn(
        opts: &ContainerOptions,
        nspawn_args: Vec<String>,
        machine: String,
        workdir: PathBuf,
    ) -> Result<Self, HarnessError> {
        let cgroups = cgroup_dirs(&machine)?;
        sweep_stale_cgroups(&cgroups);
        let console_path = workdir.join("console.log");
        let console = fs::File::create(&console_path)
            .map_err(|e| HarnessError::io("creating console.log", e))?;
        let console_err = console
            .try_clone()
            .map_err(|e| HarnessError::io("cloning console.log", e))?;

        let mut cmd = Command::new("unshare");
        cmd.args([
            "-m",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            BOOT_SCRIPT,
            "sh",
        ])
        .arg(format!("--machine={machine}"))
        .args(["--register=no", "--keep-unit", "-b", "--console=pipe"])
        .arg(format!("--directory={}", workdir.join("root").display()))
        .args(&nspawn_args)
        .env("BAKT_W", &workdir)
        .env("BAKT_NAME", &machine)
        .env("BAKT_CGROUPS", join_paths(&cgroups))
        .env("BAKT_MASK", opts.mask_units.join(" "))
        .env("BAKT_SEED", opts.seed.as_deref().unwrap_or(Path::new("")))
        .stdin(Stdio::null())
        .stdout(console)
        .stderr(console_err);
        // SAFETY: the closure only calls prctl(2), which is async-signal-safe, and
        // allocates nothing. It makes nspawn stop the container if we die without Drop.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let started = Instant::now();
        let child = cmd
            .spawn()
            .map_err(|e| HarnessError::io("spawning unshare/systemd-nspawn", e))?;
        Ok(SystemdContainer {
            machine,
            workdir,
            cgroups,
            nspawn_pid: child.id(),
            nspawn: Some(child),
            systemd_pid: 0,
            boot_time: Duration::ZERO,
            stopped: false,
            started,
        })
    }

    /// Waits for `running`; on error `self` is dropped, which tears everything down.
    fn wait_booted(mut self, opts: &ContainerOptions) -> Result<Self, HarnessError> {
        let deadline = self.started + opts.boot_timeout;
        self.systemd_pid = self.find_systemd(deadline)?;
        self.wait_running(deadline, opts.allow_degraded)?;
        self.boot_time = self.started.elapsed();
        Ok(self)
    }

    fn validate(opts: &ContainerOptions) -> Result<Vec<String>, HarnessError> {
        let mut args = Vec::new();
        if let Some(seed) = &opts.seed {
            if !seed.is_absolute() || !seed.is_dir() {
                return Err(HarnessError::Invalid(format!(
                    "seed {} must be an absolute path to a folder",
                    seed.display()
                )));
            }
            check_plain_path(seed)?;
        }
        for (host, guest, ro) in &opts.binds {
            for p in [host, guest] {
                if !p.is_absolute() || p.to_string_lossy().contains(':') {
                    return Err(HarnessError::Invalid(format!(
                        "bind path {} must be absolute and contain no ':'",
                        p.display()
                    )));
                }
            }
            if !host.exists() {
                return Err(HarnessError::Invalid(format!(
                    "bind source {} does not exist",
                    host.display()
                )));
            }
            let flag = if *ro { "--bind-ro" } else { "--bind" };
            args.push(format!("{flag}={}:{}", host.display(), guest.display()));
        }
        for unit in &opts.mask_units {
            if unit.is_empty() || unit.contains(['/', ' ', '\t', '\n']) {
                return Err(HarnessError::Invalid(format!(
                    "bad unit name to mask: {unit:?}"
                )));
            }
        }
        if opts.private_network {
            args.push("--private-network".to_string());
        }
        args.extend(opts.extra_nspawn_args.iter().cloned());
        Ok(args)
    }

    /// Waits for the nspawn child that is systemd (a short-lived network helper may come
    /// first with `--private-network`).
    fn find_systemd(&mut self, deadline: Instant) -> Result<u32, HarnessError> {
        loop {
            if let Some(pid) = children_of(self.nspawn_pid)
                .into_iter()
                .find(|&pid| is_systemd(pid))
            {
                return Ok(pid);
            }
            self.fail_if_exited("nspawn exited before systemd started")?;
            if Instant::now() >= deadline {
                return Err(self.boot_error("no systemd child of nspawn appeared in time"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_running(
        &mut self,
        deadline: Instant,
        allow_degraded: bool,
    ) -> Result<(), HarnessError> {
        let mut last = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.boot_error(&format!(
                    "not `running` in time; last `is-system-running`: {last}"
                )));
            }
            // Before systemd listens, this fails at once: poll until it can wait itself.
            let state =
                match self.exec_with(&["systemctl", "is-system-running", "--wait"], None, left) {
                    Ok(out) => String::from_utf8_lossy(&out.stdout).trim().to_string(),
                    Err(HarnessError::Timeout { stdout, .. }) => stdout.trim().to_string(),
                    Err(e) => return Err(e),
                };
            match state.as_str() {
                "running" => return Ok(()),
                "degraded" if allow_degraded => return Ok(()),
                "degraded" => {
                    let failed = self
                        .exec(&["systemctl", "--failed", "--no-pager", "--full"])
                        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                        .unwrap_or_else(|e| format!("(systemctl --failed: {e})"));
                    return Err(HarnessError::Degraded {
                        machine: self.machine.clone(),
                        failed,
                        console: tail(&self.console_log(), CONSOLE_TAIL),
                    });
                }
                _ => {
                    last = state;
                    self.fail_if_exited("nspawn exited during boot")?;
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    fn fail_if_exited(&mut self, reason: &str) -> Result<(), HarnessError> {
        let exited = match self.nspawn.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => Some(status.to_string()),
            Some(Ok(None)) => None,
            Some(Err(e)) => Some(e.to_string()),
            None => Some("already reaped".to_string()),
        };
        match exited {
            Some(status) => Err(self.boot_error(&format!("{reason} ({status})"))),
            None => Ok(()),
        }
    }

    fn boot_error(&self, reason: &str) -> HarnessError {
        HarnessError::Boot {
            machine: self.machine.clone(),
            reason: reason.to_string(),
            console: tail(&self.console_log(), CONSOLE_TAIL),
        }
    }

    /// The machine (and host) name, unique per container.
    pub fn machine(&self) -> &str {
        &self.machine
    }
    /// Host pid of the container's systemd (PID 1 inside).
    pub fn systemd_pid(&self) -> u32 {
        self.systemd_pid
    }
    /// Host pid of systemd-nspawn.
    pub fn nspawn_pid(&self) -> u32 {
        self.nspawn_pid
    }
    /// From spawning nspawn to `running`.
    pub fn boot_time(&self) -> Duration {
        self.boot_time
    }
    /// This container's temp folder on the host (console.log lives there).
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }
    /// Everything the container wrote to its console so far.
    pub fn console_log(&self) -> String {
        read_lossy(&self.workdir.join("console.log"))
    }

    /// Runs `argv` inside the container (all its namespaces, its root, as root) with a
    /// clean environment, waiting up to [`DEFAULT_EXEC_TIMEOUT`]. A non-zero exit is not
    /// an error here: see [`Self::exec_ok`].
    pub fn exec<S: AsRef<OsStr>>(&self, argv: &[S]) -> Result<Output, HarnessError> {
        self.exec_with(argv, None, DEFAULT_EXEC_TIMEOUT)
    }

    /// [`Self::exec`] with stdin bytes and a timeout.
    pub fn exec_with<S: AsRef<OsStr>>(
        &self,
        argv: &[S],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, HarnessError> {
        process::run(&mut self.command(argv)?, stdin, timeout)
    }

    /// Runs `argv` inside; a non-zero exit is an error with the output. Returns stdout.
    pub fn exec_ok<S: AsRef<OsStr>>(&self, argv: &[S]) -> Result<String, HarnessError> {
        process::run_ok(&mut self.command(argv)?, None, DEFAULT_EXEC_TIMEOUT)
    }

    /// `sh -c SCRIPT` inside; a non-zero exit is an error. Returns stdout.
    pub fn sh(&self, script: &str) -> Result<String, HarnessError> {
        self.exec_ok(&["sh", "-c", script])
    }

    fn command<S: AsRef<OsStr>>(&self, argv: &[S]) -> Result<Command, HarnessError> {
        if self.stopped || self.systemd_pid == 0 {
            return Err(HarnessError::Invalid(format!(
                "container {} is not running",
                self.machine
            )));
        }
        if argv.is_empty() {
            return Err(HarnessError::Invalid("exec needs a program".into()));
        }
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.systemd_pid.to_string(), "-a", "--"])
            .args(argv)
            // A fixed environment: the test runner's variables must not leak into the
            // guest, and systemctl must neither page nor colour its output.
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LANG", "C.UTF-8")
            .env("TERM", "dumb")
            .env("SYSTEMD_PAGER", "")
            .env("SYSTEMD_COLORS", "0");
        Ok(cmd)
    }

    /// `systemctl show -p PROP --value UNIT` inside.
    pub fn unit_property(&self, unit: &str, prop: &str) -> Result<String, HarnessError> {
        Ok(self
            .exec_ok(&["systemctl", "show", "-p", prop, "--value", unit])?
            .trim()
            .to_string())
    }

    /// Writes `bytes` to `path` inside the container (parents made, mode from umask 022).
    ///
    /// Done by a shell inside rather than through `/proc/PID/root` or the overlay's upper
    /// folder, because those would resolve absolute symlinks (`/var/run` → `/run`) against
    /// the *host's* root.
    pub fn write_file(&self, path: impl AsRef<Path>, bytes: &[u8]) -> Result<(), HarnessError> {
        let path = path.as_ref();
        if !path.is_absolute() {
            return Err(HarnessError::Invalid(format!(
                "guest path {} must be absolute",
                path.display()
            )));
        }
        let script = r#"mkdir -p "$(dirname "$1")" && cat > "$1""#;
        let argv: [&OsStr; 4] = ["sh".as_ref(), "-c".as_ref(), script.as_ref(), "sh".as_ref()];
        let mut cmd = self.command(&argv)?;
        cmd.arg(path);
        process::run_ok(&mut cmd, Some(bytes), DEFAULT_EXEC_TIMEOUT).map(drop)
    }

    /// Reads a file inside the container.
    pub fn read_file(&self, path: impl AsRef<Path>) -> Result<Vec<u8>, HarnessError> {
        let mut cmd = self.command(&["cat", "--"])?;
        cmd.arg(path.as_ref());
        let what = process::describe(&cmd);
        let out = process::run(&mut cmd, None, DEFAULT_EXEC_TIMEOUT)?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            process::check(&what, out).map(String::into_bytes)
        }
    }

    /// Stops the container and removes everything it left; returns how long that took.
    /// Errors (a process that would not die, a cgroup or mount left) are returned here;
    /// `Drop` does the same but can only print them.
    pub fn shutdown(mut self) -> Result<Duration, HarnessError> {
        let t = Instant::now();
        self.stop()?;
        Ok(t.elapsed())
    }

    fn stop(&mut self) -> Result<(), HarnessError> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let mut first_err: Option<HarnessError> = None;
        let mut note = |e: HarnessError| {
            if first_err.is_none() {
                first_err = Some(e);
            }
        };

        if let Some(mut child) = self.nspawn.take() {
            // SIGTERM asks nspawn to halt the container cleanly (≈2 s); a second SIGTERM
            // makes it terminate at once; SIGKILL of systemd kills the whole pid namespace.
            let start = Instant::now();
            kill_pid(self.nspawn_pid, libc::SIGTERM);
            let mut second_sent = false;
            let status = loop {
                match child.try_wait() {
                    Ok(Some(s)) => break Some(s),
                    Ok(None) => {}
                    Err(e) => {
                        note(HarnessError::io("waiting for nspawn", e));
                        break None;
                    }
                }
                let waited = start.elapsed();
                if waited > Duration::from_secs(10) && !second_sent {
                    kill_pid(self.nspawn_pid, libc::SIGTERM);
                    second_sent = true;
                }
                if waited > Duration::from_secs(20) {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            if status.is_none() {
                if self.systemd_pid != 0 {
                    kill_pid(self.systemd_pid, libc::SIGKILL);
                }
                let _ = child.kill();
                let _ = child.wait();
                note(HarnessError::Invalid(format!(
                    "container {} did not stop within 20 s; killed",
                    self.machine
                )));
            }
        }

        // nspawn has exited; its pid namespace must be gone too before cgroups can go.
        if self.systemd_pid != 0 && is_systemd(self.systemd_pid) {
            let gone =
                process::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
                    Ok(!pid_alive(self.systemd_pid))
                })
                .unwrap_or(false);
            if !gone {
                kill_pid(self.systemd_pid, libc::SIGKILL);
            }
        }

        if let Err(e) = remove_cgroups(&self.cgroups) {
            note(e);
        }
        if let Err(e) = process::remove_temp_dir(&self.workdir) {
            note(e);
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for SystemdContainer {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("bakgen-e2e: tearing down container {}: {e}", self.machine);
        }
    }
}

/// Paths with characters that break overlay options (`,` `:`) or our unquoted lists.
fn check_plain_path(p: &Path) -> Result<(), HarnessError> {
    let s = p.to_string_lossy();
    if s.contains([',', ':', ' ', '\t', '\n', '\\']) {
        return Err(HarnessError::Invalid(format!(
            "{s} has characters overlayfs options cannot carry (, : space \\); for a temp folder set TMPDIR"
        )));
    }
    Ok(())
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One cgroup folder per hierarchy nspawn uses: pure cgroup v2 has one, the hybrid
/// layout of this machine has the unified one and the `name=systemd` v1 one.
fn cgroup_dirs(machine: &str) -> Result<Vec<PathBuf>, HarnessError> {
    let mounts = process::mounts()?;
    let fs_at = |mp: &str| {
        mounts
            .iter()
            .find(|m| m.mount_point == mp)
            .map(|m| m.fs_type.clone())
    };
    let roots: Vec<&str> = if fs_at("/sys/fs/cgroup").as_deref() == Some("cgroup2") {
        vec!["/sys/fs/cgroup"]
    } else {
        ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"]
            .into_iter()
            .filter(|mp| fs_at(mp).is_some())
            .collect()
    };
    if roots.is_empty() {
        return Err(HarnessError::Invalid(
            "no cgroup2 or name=systemd hierarchy mounted under /sys/fs/cgroup".into(),
        ));
    }
    Ok(roots
        .into_iter()
        .map(|r| Path::new(r).join("bakgen-e2e").join(machine))
        .collect())
}

/// Removes each cgroup subtree deepest first; cgroups refuse (EBUSY) while exiting tasks
/// linger, so it retries for a few seconds.
fn remove_cgroups(dirs: &[PathBuf]) -> Result<(), HarnessError> {
    for dir in dirs {
        let mut last_err = None;
        let removed =
            process::wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
                match remove_cgroup_tree(dir) {
                    Ok(()) => Ok(true),
                    Err(e) => {
                        last_err = Some(e);
                        Ok(false)
                    }
                }
            })?;
        if !removed {
            if let Some(e) = last_err {
                return Err(HarnessError::io(
                    format!("removing cgroup {}", dir.display()),
                    e,
                ));
            }
        }
        // The shared parent goes too when it is empty; a concurrent test recreates it.
        if let Some(parent) = dir.parent() {
            let _ = fs::remove_dir(parent);
        }
    }
    Ok(())
}

/// Removes the cgroups of containers whose test process died without `Drop` (their
/// nspawn stopped through PR_SET_PDEATHSIG, but nobody removed the folders). Once per
/// test process; a cgroup of a live process is left alone.
fn sweep_stale_cgroups(ours: &[PathBuf]) {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| {
        for parent in ours.iter().filter_map(|d| d.parent()) {
            let Ok(entries) = fs::read_dir(parent) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let stale = name
                    .to_str()
                    .and_then(process::pid_of_unique_name)
                    .is_some_and(|pid| !pid_alive(pid));
                if stale && entry.path().is_dir() {
                    let _ = remove_cgroup_tree(&entry.path());
                }
            }
        }
    });
}

fn remove_cgroup_tree(dir: &Path) -> std::io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        // Only sub-cgroups are folders; the control files cannot (and need not) be removed.
        if entry.file_type()?.is_dir() {
            remove_cgroup_tree(&entry.path())?;
        }
    }
    fs::remove_dir(dir)
}

/// Pids whose parent is `ppid`, from `/proc/*/stat`.
fn children_of(ppid: u32) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // Fields after "(comm)": state, ppid, …
                    let (_, rest) = stat.rsplit_once(')')?;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(ppid)
        })
        .collect()
}

fn is_systemd(pid: u32) -> bool {
    fs::read_link(format!("/proc/{pid}/exe"))
        .map(|exe| exe.file_name() == Some(OsStr::new("systemd")))
        .unwrap_or(false)
}
