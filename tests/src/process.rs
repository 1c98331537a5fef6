//! Running commands with a deadline, and the small host checks every harness shares.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::HarnessError;

/// Fails unless we are root: the harnesses mount file systems and boot containers.
pub fn require_root() -> Result<(), HarnessError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        Ok(())
    } else {
        Err(HarnessError::NotRoot { euid })
    }
}

/// The absolute path of `tool` found on PATH (or the sbin folders, which a non-login
/// root shell may lack), or a `MissingTool` error naming what to install.
pub fn require_tool(tool: &str, hint: &str) -> Result<PathBuf, HarnessError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(extra)
        .map(|dir| dir.join(tool))
        .find(|p| is_executable(p))
        .ok_or_else(|| HarnessError::MissingTool {
            tool: tool.to_string(),
            hint: hint.to_string(),
        })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A name unique on this machine for this run: used for machine names and temp folders,
/// so concurrent tests (and concurrent engineers) never collide. Valid as a hostname.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{:x}", std::process::id(), nanos % 0x10000)
}

/// The pid inside a name made by [`unique_name`] (`<prefix>-<pid>-<n>-<hex>`).
pub fn pid_of_unique_name(name: &str) -> Option<u32> {
    let mut parts = name.rsplitn(4, '-');
    let (_hex, _n, pid) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next()?;
    pid.parse().ok()
}

/// Makes a new empty folder `<temp>/<prefix>-<pid>-<n>-<hex>`.
pub fn make_temp_dir(prefix: &str) -> Result<PathBuf, HarnessError> {
    make_named_dir(&unique_name(prefix))
}

/// Makes the new empty folder `<temp>/<name>`, `name` from [`unique_name`]. The first
/// call of a test process also sweeps `bakgen-e2e-*` folders left by test processes that
/// died without running their `Drop` (SIGKILL, timeout).
pub(crate) fn make_named_dir(name: &str) -> Result<PathBuf, HarnessError> {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(sweep_stale_temp_dirs);
    let dir = std::env::temp_dir().join(name);
    fs::create_dir(&dir).map_err(|e| HarnessError::io(format!("mkdir {}", dir.display()), e))?;
    Ok(dir)
}

/// Removes `<temp>/bakgen-e2e-*` folders whose creating process is gone. Best effort:
/// a folder with a mount below it, or of a live process, is left alone.
fn sweep_stale_temp_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with("bakgen-e2e-") {
            continue;
        }
        if let Some(pid) = pid_of_unique_name(name) {
            if !pid_alive(pid) {
                let _ = remove_temp_dir(&entry.path());
            }
        }
    }
}

/// A temp folder removed (with [`remove_temp_dir`]'s mount check) when dropped, so a
/// failing test leaves nothing behind either.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> Result<Self, HarnessError> {
        Ok(TempDir {
            path: make_temp_dir(prefix)?,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = remove_temp_dir(&self.path) {
            eprintln!("bakgen-e2e: {e}");
        }
    }
}

/// Text of a command line, for error messages.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s: &OsStr| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` to completion with `timeout`, in its own process group, feeding `stdin`.
///
/// Output goes to files, not pipes: a grandchild that keeps a pipe open (a daemon, qemu)
/// would otherwise block us forever after the child itself has exited. On timeout the
/// whole process group is killed and `HarnessError::Timeout` carries the partial output.
pub fn run(
    cmd: &mut Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, HarnessError> {
    let what = describe(cmd);
    let scratch = make_temp_dir("bakgen-e2e-io")?;
    let result = run_in(&scratch, cmd, &what, stdin, timeout);
    // Best effort: a leftover scratch folder is harmless, and the result matters more.
    let _ = fs::remove_dir_all(&scratch);
    result
}

fn run_in(
    scratch: &Path,
    cmd: &mut Command,
    what: &str,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, HarnessError> {
    let io = |ctx: &str, e| HarnessError::io(format!("{ctx} for `{what}`"), e);
    let out_path = scratch.join("stdout");
    let err_path = scratch.join("stderr");
    let stdin_cfg = match stdin {
        Some(bytes) => {
            let in_path = scratch.join("stdin");
            fs::write(&in_path, bytes).map_err(|e| io("writing stdin", e))?;
            Stdio::from(File::open(&in_path).map_err(|e| io("opening stdin", e))?)
        }
        None => Stdio::null(),
    };
    let out = File::create(&out_path).map_err(|e| io("creating stdout file", e))?;
    let err = File::create(&err_path).map_err(|e| io("creating stderr file", e))?;
    cmd.stdin(stdin_cfg)
        .stdout(out)
        .stderr(err)
        .process_group(0);
    // SAFETY: the closure only calls prctl(2), async-signal-safe and allocation-free.
    // A test process killed mid-command (CI timeout) then takes the command with it.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| io("spawning", e))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().map_err(|e| io("waiting", e))? {
            Some(status) => break Some(status),
            None if Instant::now() >= deadline => break None,
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let status = match status {
        Some(s) => s,
        None => {
            kill_group(child.id(), libc::SIGKILL);
            let _ = child.wait();
            return Err(HarnessError::Timeout {
                what: what.to_string(),
                after: timeout,
                stdout: read_lossy(&out_path),
                stderr: read_lossy(&err_path),
            });
        }
    };
    let stdout = fs::read(&out_path).map_err(|e| io("reading stdout", e))?;
    let stderr = fs::read(&err_path).map_err(|e| io("reading stderr", e))?;
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Like [`run`], but a non-zero exit is an error carrying the output; returns stdout.
pub fn run_ok(
    cmd: &mut Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<String, HarnessError> {
    let out = run(cmd, stdin, timeout)?;
    check(&describe(cmd), out)
}

/// A finished command's exit code, stdout and stderr, for a test's failure message.
pub fn output_text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Turns a finished command into its stdout, or a `CommandFailed` error.
pub fn check(what: &str, out: Output) -> Result<String, HarnessError> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(HarnessError::CommandFailed {
            what: what.to_string(),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

pub(crate) fn read_lossy(p: &Path) -> String {
    fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The last `lines` lines of a text.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Sends `sig` to every process of the group `pgid` (ESRCH when it is gone is fine).
pub(crate) fn kill_group(pgid: u32, sig: libc::c_int) {
    if let Ok(pgid) = libc::pid_t::try_from(pgid) {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory involved.
        unsafe { libc::kill(-pgid, sig) };
    }
}

/// Sends `sig` to one process.
pub(crate) fn kill_pid(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory preconditions; a stale pid only yields ESRCH.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Whether a process with this pid exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Polls `f` every `every` until it returns true or `timeout` passes; returns whether it did.
pub fn wait_until(
    timeout: Duration,
    every: Duration,
    mut f: impl FnMut() -> Result<bool, HarnessError>,
) -> Result<bool, HarnessError> {
    let deadline = Instant::now() + timeout;
    loop {
        if f()? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(every);
    }
}

/// One line of `/proc/self/mountinfo`, the fields the harnesses look at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MountEntry {
    pub mount_point: String,
    pub fs_type: String,
    pub source: String,
    /// The whole line, so two snapshots of the table can be compared exactly.
    pub line: String,
}

/// The mount table of this process's mount namespace (the host's, for a test process).
pub fn mounts() -> Result<Vec<MountEntry>, HarnessError> {
    let text = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| HarnessError::io("reading /proc/self/mountinfo", e))?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split(' ').nth(4)?;
            let mut right = right.split(' ');
            Some(MountEntry {
                mount_point: unescape_mountinfo(mount_point),
                fs_type: right.next()?.to_string(),
                source: right.next()?.to_string(),
                line: line.to_string(),
            })
        })
        .collect())
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = std::str::from_utf8(&bytes[i + 1..i + 4]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(digits, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mounts of this namespace at or below `dir`.
pub fn mounts_under(dir: &Path) -> Result<Vec<MountEntry>, HarnessError> {
    Ok(mounts()?
        .into_iter()
        .filter(|m| Path::new(&m.mount_point).starts_with(dir))
        .collect())
}

/// Removes a harness's temp folder, but refuses while anything is mounted below it:
/// deleting through a live mount (say an overlay whose lower layer is `/`) would be a
/// disaster, so a stray mount is an error to report, not something to delete through.
pub fn remove_temp_dir(dir: &Path) -> Result<(), HarnessError> {
    let live = mounts_under(dir)?;
    if !live.is_empty() {
        return Err(HarnessError::Invalid(format!(
            "not removing {}: still mounted below it: {:?}",
            dir.display(),
            live.iter().map(|m| &m.mount_point).collect::<Vec<_>>()
        )));
    }
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(HarnessError::io(format!("removing {}", dir.display()), e)),
    }
}

/// Every pid whose command line contains `needle` (for leak checks in tests).
pub fn pids_with_cmdline(needle: &str) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && pid_alive(pid))
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_mountinfo_octal() {
        assert_eq!(unescape_mountinfo(r"/a\040b"), "/a b");
        assert_eq!(unescape_mountinfo(r"/plain"), "/plain");
        assert_eq!(unescape_mountinfo(r"/end\"), r"/end\");
    }

    #[test]
    fn run_reports_timeout_and_output() {
        let err = run(
            Command::new("sh").args(["-c", "echo hi; sleep 5"]),
            None,
            Duration::from_millis(300),
        )
        .err();
        match err {
            Some(HarnessError::Timeout { stdout, .. }) => assert_eq!(stdout.trim(), "hi"),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    #[test]
    fn run_feeds_stdin() {
        let out = run_ok(
            &mut Command::new("cat"),
            Some(b"abc"),
            Duration::from_secs(5),
        );
        assert_eq!(out.ok().as_deref(), Some("abc"));
    }

    #[test]
    fn pid_is_read_back_from_a_unique_name() {
        let name = unique_name("bakgen-e2e-bakt");
        assert_eq!(pid_of_unique_name(&name), Some(std::process::id()));
        assert_eq!(pid_of_unique_name("bakgen-e2e"), None);
    }

    #[test]
    fn names_are_unique() {
        assert_ne!(unique_name("x"), unique_name("x"));
    }
}
