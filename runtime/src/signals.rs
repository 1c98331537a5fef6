//! SIGTERM/SIGINT/SIGHUP handling for a run. systemd stops a job with SIGTERM; bakrun must
//! then stop the engine it started, clean up and exit non-zero, rather than die with a
//! half-renamed snapshot. The handler only sets a flag and forwards SIGTERM to the child
//! that is running, both async-signal-safe.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);
static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(_signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe; pid is a child we spawned and still own.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

/// Installs the handlers. Called once by `bakrun run` and `bakrun prune`.
pub fn install() {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction is valid; the handler only touches atomics and kill(2).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// True once a stop signal arrived.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Records the running child so that a stop signal reaches it. If the signal came between
/// the spawn and this call, the child is told at once.
pub fn set_child(pid: u32) {
    let pid = i32::try_from(pid).unwrap_or(0);
    CHILD.store(pid, Ordering::SeqCst);
    if pid > 0 && stop_requested() {
        // SAFETY: plain kill(2) of our own child.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

pub fn clear_child() {
    CHILD.store(0, Ordering::SeqCst);
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
