//! SIGTERM/SIGINT/SIGHUP handling for a run. systemd stops a job with SIGTERM; bakrun must
//! then stop the engine it started, clean up and exit non-zero, rather than die with a
//! half-renamed snapshot. The handler only sets a flag and passes the stop on to every
//! child bakrun is running (a backup and the listing beside it, both ends of a dump's
//! pipe), each with the signal that makes that program clean up (SIGINT for restic, which
//! leaves its repository lock behind on SIGTERM): atomics and kill(2), async-signal-safe.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

static STOP: AtomicBool = AtomicBool::new(false);

/// How many children can be running at once (bakrun runs at most three).
const SLOTS: usize = 16;
/// A slot's child: 0 free, -1 being filled, else the pid.
static CHILDREN: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
/// The signal that stops the child of the same slot.
static STOP_SIGNALS: [AtomicI32; SLOTS] = [const { AtomicI32::new(libc::SIGTERM) }; SLOTS];

fn on_signal() {
    STOP.store(true, Ordering::SeqCst);
    for (child, signal) in CHILDREN.iter().zip(&STOP_SIGNALS) {
        let pid = child.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill(2) is async-signal-safe; pid is a child we spawned and have
            // not reaped (its slot is freed only after the wait).
            unsafe {
                libc::kill(pid, signal.load(Ordering::SeqCst));
            }
        }
    }
}

/// Installs the handlers, once however often it is called (by `bakrun run`, `bakrun prune`
/// and the repository commands). signal-hook refuses only signals that cannot be caught,
/// which these are not; should it ever refuse, the run goes on stoppable only by SIGKILL,
/// and says so.
pub fn install() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        for signal in [SIGTERM, SIGINT, SIGHUP] {
            // SAFETY: the action only touches atomics and calls kill(2), both
            // async-signal-safe; it allocates nothing and takes no lock.
            if let Err(e) = unsafe { signal_hook::low_level::register(signal, on_signal) } {
                crate::log::warn(format!(
                    "cannot handle signal {signal} ({e}): it will end bakrun without cleanup"
                ));
            }
        }
    });
}

/// True once a stop signal arrived.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// A running child that a stop signal reaches, until this is dropped: drop it only once
/// the child has been waited for.
#[derive(Debug)]
#[must_use = "the child is forgotten when this is dropped"]
pub struct Tracked(Option<usize>);

/// Records a running child so that a stop signal reaches it as `signal`. If the stop came
/// between the spawn and this call, the child is told at once.
pub fn track(pid: u32, signal: libc::c_int) -> Tracked {
    let Ok(pid) = i32::try_from(pid) else {
        return Tracked(None);
    };
    // The slot is reserved (-1) before its signal is set, so the handler never pairs a
    // pid with another child's signal.
    let slot = CHILDREN.iter().position(|c| {
        c.compare_exchange(0, -1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    });
    if let Some(i) = slot {
        STOP_SIGNALS[i].store(signal, Ordering::SeqCst);
        CHILDREN[i].store(pid, Ordering::SeqCst);
    } else {
        crate::log::warn(format!(
            "more than {SLOTS} children at once: process {pid} will not be told of a stop"
        ));
    }
    if pid > 0 && stop_requested() {
        // SAFETY: plain kill(2) of our own child, not yet reaped.
        unsafe {
            libc::kill(pid, signal);
        }
    }
    Tracked(slot)
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            CHILDREN[i].store(0, Ordering::SeqCst);
        }
    }
}

/// A stop signal arrived during [`sleep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// Sleeps for `duration`, waking within 50 ms of a stop signal: every wait in bakrun goes
/// through here so that SIGTERM always ends it promptly.
pub fn sleep(duration: std::time::Duration) -> Result<(), Stopped> {
    let deadline = std::time::Instant::now() + duration;
    loop {
        if stop_requested() {
            return Err(Stopped);
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(std::time::Duration::from_millis(50)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_and_each_keeps_its_signal() {
        let a = track(999_991, libc::SIGINT);
        let b = track(999_992, libc::SIGTERM);
        let (Some(ia), Some(ib)) = (a.0, b.0) else {
            panic!("no slot");
        };
        assert_ne!(ia, ib);
        assert_eq!(CHILDREN[ia].load(Ordering::SeqCst), 999_991);
        assert_eq!(STOP_SIGNALS[ia].load(Ordering::SeqCst), libc::SIGINT);
        assert_eq!(STOP_SIGNALS[ib].load(Ordering::SeqCst), libc::SIGTERM);
        drop(a);
        assert_eq!(CHILDREN[ia].load(Ordering::SeqCst), 0);
        drop(b);
    }
}
