//! restic processes as the lock and stop tests watch them: the locks a restic made, a
//! restic stopped (or killed) while it holds one, and the restic below a running bakrun.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The complete lock files in the local `repository` that are not in `before`. restic's
/// local backend writes a file in place and makes it read-only when complete: a lock
/// killed half-written is ignored by restic, so it does not count.
pub fn new_locks(repository: &Path, before: &[String]) -> Vec<String> {
    let locks = repository.join("locks");
    crate::common::entries(&locks)
        .into_iter()
        .filter(|l| !before.contains(l))
        .filter(|l| {
            fs::metadata(locks.join(l))
                .is_ok_and(|m| m.len() > 0 && m.permissions().mode() & 0o222 == 0)
        })
        .collect()
}

/// Starts `restic ARGS` on the local `repository` (through `wrap`, e.g. `unshare --uts …`,
/// when not empty) and stops it with `signal` as soon as it holds a lock (restic waits
/// 200 ms after making its lock before it checks for others). With SIGKILL this leaves the
/// lock of a dead process, as the OOM killer or a power loss does; with SIGSTOP a live
/// restic holding it. Returns the process and the lock files restic made.
pub fn signal_while_locked(
    repository: &Path,
    password_file: &Path,
    wrap: &[&str],
    args: &[&str],
    signal: i32,
) -> (Child, Vec<String>) {
    let before = crate::common::entries(&repository.join("locks"));
    let mut words: Vec<&str> = wrap.to_vec();
    words.push("restic");
    words.extend_from_slice(args);
    let mut child = Command::new(words[0])
        .args(&words[1..])
        .env("RESTIC_REPOSITORY", repository)
        .env("RESTIC_PASSWORD_FILE", password_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("restic must be installed");
    let deadline = Instant::now() + Duration::from_secs(30);
    let made = loop {
        let now = new_locks(repository, &before);
        if !now.is_empty() {
            break now;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "restic {args:?} ended before it was seen holding a lock"
        );
        assert!(Instant::now() < deadline, "restic {args:?} never locked");
        std::thread::sleep(Duration::from_millis(1));
    };
    // SAFETY: kill(2) of a child this function started and has not reaped.
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    if signal == libc::SIGKILL {
        let _ = child.wait();
    }
    (child, made)
}

/// Every process below `pid`, with its command line (words joined by spaces).
pub fn descendants(pid: u32) -> Vec<(u32, String)> {
    let mut parent_of: Vec<(u32, u32, String)> = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some(after) = stat.rsplit_once(')').map(|(_, a)| a) else {
            continue;
        };
        let ppid: u32 = after
            .split_whitespace()
            .nth(1)
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        let cmdline = fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        parent_of.push((p, ppid, cmdline));
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (p, pp, cmd) in &parent_of {
            if *pp == parent {
                out.push((*p, cmd.clone()));
                frontier.push(*p);
            }
        }
    }
    out
}

/// The PID of the restic below `bakrun` whose command line holds `words`, polled for until
/// it appears; `None` when bakrun ends first. Gives up after a minute.
pub fn restic_below(bakrun: &mut Child, words: &str) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = descendants(bakrun.id())
            .into_iter()
            .find(|(_, cmd)| cmd.starts_with("restic ") && cmd.contains(words));
        if let Some((pid, _)) = found {
            return Some(pid);
        }
        if bakrun.try_wait().unwrap().is_some() {
            return None;
        }
        assert!(
            Instant::now() < deadline,
            "no restic `{words}` within a minute"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}
