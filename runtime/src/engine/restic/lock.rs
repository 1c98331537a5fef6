//! restic's repository locks, as bakrun reads and clears them.
//!
//! restic 0.14 refuses to start on a repository another restic has locked and leaves its
//! lock behind when it dies without cleaning up (SIGKILL, the OOM killer, power loss, and
//! also SIGTERM, which 0.14 does not handle). Such a stale lock fails every later `forget`,
//! `prune` and `check`, and every `backup` after a stale exclusive lock. bakrun reads the
//! holder from restic's complaint, judges it by restic's own rule for stale locks (older
//! than 30 minutes, or made on this host by a process that is gone) and only then runs
//! `restic unlock` (without `--remove-all`, which would also remove live locks).
//!
//! One case is stricter than restic: restic 0.14 probes a lock's process with SIGHUP, so a
//! lock whose PID now belongs to another program would make `restic unlock` hang that
//! program up. bakrun leaves such a lock until it is old enough to be stale by age, which
//! restic checks before sending any signal.

use std::time::Duration;

/// restic's age after which a lock is stale whoever holds it (restic 0.14 refreshes live
/// locks every 5 minutes).
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);

/// What restic says holds the repository: "repository is already locked [exclusively] by
/// PID N on HOST by USER (UID u, GID g)\nlock was created at TIME (AGE ago)\nstorage ID S".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    pub exclusive: bool,
    /// When restic says the lock was made, in the holder's local time, as restic prints it.
    pub created: Option<String>,
    /// How old the lock was when restic looked.
    pub age: Option<Duration>,
    /// The short id of the lock file.
    pub storage_id: Option<String>,
}

/// The words restic prints when a lock stops it.
pub const LOCKED: &str = "repository is already locked";

impl Holder {
    /// The holder named in restic's standard error, if it says the repository is locked.
    pub fn parse(stderr: &str) -> Option<Holder> {
        let start = stderr.find(LOCKED)?;
        let rest = &stderr[start + LOCKED.len()..];
        let (exclusive, rest) = match rest.strip_prefix(" exclusively") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let rest = rest.strip_prefix(" by PID ")?;
        let (pid, rest) = rest.split_once(" on ")?;
        let (host, rest) = rest.split_once(" by ")?;
        let (user, rest) = rest.split_once(" (UID ")?;
        let (uid, rest) = rest.split_once(", GID ")?;
        let (gid, rest) = rest.split_once(')')?;
        let mut holder = Holder {
            pid: pid.trim().parse().ok()?,
            host: host.to_owned(),
            user: user.to_owned(),
            uid: uid.trim().parse().ok()?,
            gid: gid.trim().parse().ok()?,
            exclusive,
            created: None,
            age: None,
            storage_id: None,
        };
        for line in rest.lines().map(str::trim) {
            if let Some(at) = line.strip_prefix("lock was created at ") {
                let (time, age) = match at.split_once(" (") {
                    Some((t, a)) => (t, a.strip_suffix(" ago)")),
                    None => (at, None),
                };
                holder.created = Some(time.to_owned());
                holder.age = age.and_then(go_duration);
            } else if let Some(id) = line.strip_prefix("storage ID ") {
                holder.storage_id = Some(id.to_owned());
            }
        }
        Some(holder)
    }

    /// Whether `restic unlock` may remove this lock now, and why (see the module comment).
    pub fn judge(&self, this_host: &str) -> Verdict {
        if self.age.is_some_and(|a| a >= STALE_AFTER) {
            return Verdict::Stale("it is over 30 minutes old, so no restic refreshes it".into());
        }
        if self.host != this_host {
            return Verdict::Live(format!(
                "it was made on host {}, where bakrun cannot see whether its restic still runs; restic counts it stale once it is 30 minutes old",
                self.host
            ));
        }
        match process_name(self.pid) {
            None => Verdict::Stale(format!(
                "process {} no longer runs on this host",
                self.pid
            )),
            Some(name) if name == "restic" => Verdict::Live(
                format!("restic process {} still runs on this host", self.pid),
            ),
            Some(name) => Verdict::Live(format!(
                "process {} is now `{name}`, not restic, so the lock is stale, but `restic unlock` would send `{name}` SIGHUP; bakrun leaves the lock until it is 30 minutes old",
                self.pid
            )),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PID {} on host {} by {} (UID {}, GID {})",
            self.pid, self.host, self.user, self.uid, self.gid
        )?;
        if let Some(created) = &self.created {
            write!(f, ", made at {created}")?;
        }
        if let Some(age) = self.age {
            write!(f, " ({} old)", human(age))?;
        }
        if let Some(id) = &self.storage_id {
            write!(f, ", lock {id}")?;
        }
        if self.exclusive {
            f.write_str(", exclusive")?;
        }
        Ok(())
    }
}

/// What bakrun makes of a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `restic unlock` removes it, and nothing alive is harmed.
    Stale(String),
    /// Left alone: its restic may be running, or removing it is not safe yet.
    Live(String),
}

/// The command name of a running process, `None` when no process has that PID.
fn process_name(pid: u32) -> Option<String> {
    match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        Ok(name) => Some(name.trim_end().to_owned()),
        // /proc unreadable for another reason (hidepid): a process may exist; say so.
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Some("(unknown)".into()),
        Err(_) => None,
    }
}

/// This machine's host name as restic reads it (`os.Hostname`: the kernel's nodename).
pub fn this_host() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A Go `time.Duration` as printed (`956.49ms`, `1m2.5s`, `2h0m3s`, `15µs`).
fn go_duration(text: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = text.trim();
    if rest == "0s" {
        return Some(Duration::ZERO);
    }
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(split);
        let value: f64 = number.parse().ok()?;
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let scale = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "µs" | "us" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += value * scale;
        rest = after;
    }
    Some(Duration::from_secs_f64(total))
}

/// `1h02m`, `5m03s`, `12s`: a lock's age for people.
fn human(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAID: &str = "unable to create lock in backend: repository is already locked exclusively by PID 9654 on web2 by root (UID 0, GID 0)\nlock was created at 2026-12-01 10:14:16 (1m2.496757s ago)\nstorage ID 10a5bb52\nthe `unlock` command can be used to remove stale locks\n";

    #[test]
    fn reads_the_holder_restic_names() {
        let h = Holder::parse(SAID).unwrap();
        assert_eq!(
            (h.pid, h.host.as_str(), h.user.as_str(), h.uid, h.gid),
            (9654, "web2", "root", 0, 0)
        );
        assert!(h.exclusive);
        assert_eq!(h.created.as_deref(), Some("2026-12-01 10:14:16"));
        assert_eq!(h.age.map(|a| a.as_millis()), Some(62_496));
        assert_eq!(h.storage_id.as_deref(), Some("10a5bb52"));
        assert_eq!(
            h.to_string(),
            "PID 9654 on host web2 by root (UID 0, GID 0), made at 2026-12-01 10:14:16 (1m02s old), lock 10a5bb52, exclusive"
        );
        let shared = SAID.replace(" exclusively", "");
        assert!(!Holder::parse(&shared).unwrap().exclusive);
        assert_eq!(Holder::parse("Fatal: wrong password or no key found"), None);
        assert_eq!(
            Holder::parse("repository is already locked by PID x on"),
            None
        );
    }

    #[test]
    fn reads_go_durations() {
        let d = |t| go_duration(t).map(|d| d.as_secs_f64());
        assert_eq!(d("956.5ms"), Some(0.9565));
        assert_eq!(d("2h0m3s"), Some(7203.0));
        assert_eq!(d("15µs"), Some(0.000015));
        assert_eq!(d("0s"), Some(0.0));
        assert_eq!(d("3 days"), None);
    }

    #[test]
    fn judges_locks_by_restics_rule_without_harming_other_processes() {
        let mut h = Holder::parse(SAID).unwrap();
        // Another host, young: alive as far as anyone here can tell.
        assert!(matches!(h.judge("web1"), Verdict::Live(_)));
        // Another host, over 30 minutes: stale.
        h.age = Some(STALE_AFTER);
        assert!(matches!(h.judge("web1"), Verdict::Stale(_)));
        // This host, process gone: stale. PIDs above the kernel's maximum never run.
        h.age = Some(Duration::from_secs(1));
        h.pid = 4_194_304 + 1;
        assert!(matches!(h.judge("web2"), Verdict::Stale(_)));
        // This host, the PID now another program (this test): left alone.
        h.pid = std::process::id();
        match h.judge("web2") {
            Verdict::Live(why) => assert!(why.contains("SIGHUP"), "{why}"),
            v => panic!("{v:?}"),
        }
        assert!(!this_host().is_empty());
    }
}
