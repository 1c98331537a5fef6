//! Progress of long work (a backup's transfer, a restore, a verification): read from the
//! program's own progress output ([`rsync`]'s `--info=progress2` records, [`restic`]'s
//! `--json` status lines), shown by [`render`].
//!
//! Where it goes depends on standard error, decided once by [`init`]:
//! - a terminal: one line rewritten in place (files, bytes, rate, time elapsed), cleared
//!   when the task ends; log lines are written above it (`crate::log::status_line`);
//! - the journal (`JOURNAL_STREAM` set, no terminal): a task running longer than
//!   [`PERIODIC_EVERY`] logs one `progress: …` line at info level every [`PERIODIC_EVERY`];
//!   nothing else changes in the journal or the log file;
//! - anything else (a pipe, a file, a test), or `--quiet`: nothing.
//!
//! How a task uses it: a command whose output carries progress is marked with
//! [`crate::process::Command::progress`] (and given the option that makes the program print
//! it only when [`wanted`] says so); running it then shows its progress, from its start to
//! its end, with no more code. Work that is not one command holds a [`Task`] and calls
//! [`Task::update`] itself.

pub mod render;
pub mod restic;
pub mod rsync;

use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::log;

/// How often a long task logs its progress when no terminal shows it: often enough to
/// tell a slow run from a stuck one in the journal, rarely enough to stay a few lines an
/// hour.
pub const PERIODIC_EVERY: Duration = Duration::from_secs(300);

/// The variable that sets [`PERIODIC_EVERY`] in seconds instead (tests, impatient admins).
pub const INTERVAL_VARIABLE: &str = "BAKRUN_PROGRESS_INTERVAL";

/// What a program has said about its progress so far; each figure only when it said it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Files looked at (rsync: checked; restic: processed).
    pub files_done: Option<u64>,
    /// Files known so far (grows while the program still scans).
    pub files_total: Option<u64>,
    /// Files whose content was sent (rsync's `xfr#`).
    pub files_transferred: Option<u64>,
    /// Bytes done: rsync's transferred, restic's processed.
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
    /// Of the whole work, 0 to 100.
    pub percent: Option<f64>,
}

/// The progress output a program prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `--info=progress2` records on standard output.
    Rsync,
    /// `--json` status lines on standard output; a restic that prints none (restic 0.14's
    /// `restore`) still shows the time elapsed.
    Restic,
}

impl Format {
    /// The lines that remain ordinary output once the progress in `line` is taken out and
    /// given to `task`: rsync's records go (each read as a line of its own: its output is
    /// split at carriage returns too), so the log stays as it is without
    /// `--info=progress2`; restic's status lines stay, logged as before.
    pub fn take(self, line: String, task: &Task) -> Option<String> {
        match self {
            Format::Restic => {
                if let Some(p) = restic::parse(&line) {
                    task.update(p);
                }
                Some(line)
            }
            Format::Rsync => match rsync::parse(&line) {
                Some(p) => {
                    task.update(p);
                    None
                }
                None => Some(line),
            },
        }
    }
}

/// Where progress goes (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    Terminal,
    Periodic(Duration),
}

/// The mode for a standard error that is or is not a terminal, or the journal, at a
/// verbosity (`-q` is below 0).
pub fn mode_for(terminal: bool, journal: bool, verbosity: i8, every: Duration) -> Mode {
    if verbosity < 0 {
        Mode::Off
    } else if terminal {
        Mode::Terminal
    } else if journal {
        Mode::Periodic(every)
    } else {
        Mode::Off
    }
}

static MODE: OnceLock<Mode> = OnceLock::new();

/// Decides once per process where progress goes; before it, or without it, nowhere.
pub fn init(verbosity: i8) {
    // SAFETY: isatty has no preconditions.
    let terminal = unsafe { libc::isatty(libc::STDERR_FILENO) } == 1;
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let every = std::env::var(INTERVAL_VARIABLE)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&s: &u64| s > 0)
        .map_or(PERIODIC_EVERY, Duration::from_secs);
    let _ = MODE.set(mode_for(terminal, journal, verbosity, every));
}

fn mode() -> Mode {
    MODE.get().copied().unwrap_or(Mode::Off)
}

/// Whether progress is shown anywhere: a program need not be asked for it otherwise.
pub fn wanted() -> bool {
    mode() != Mode::Off
}

/// The shared state of the running task: the ticker thread and the output readers both
/// update it.
struct Shown {
    label: String,
    started: Instant,
    latest: Option<Progress>,
    drawn: Option<Instant>,
    logged: Instant,
}

/// One task whose progress is shown while it lives: cleared (on a terminal) when dropped.
/// Only one at a time is shown; a task started while another runs shows nothing.
pub struct Task {
    shown: Option<std::sync::Arc<Mutex<Shown>>>,
    ticker: Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Task")
    }
}

static ACTIVE: Mutex<bool> = Mutex::new(false);

/// How often the terminal line is redrawn at most, and the ticker's beat.
const REDRAW: Duration = Duration::from_millis(250);
const TICK: Duration = Duration::from_secs(1);

impl Task {
    /// A task named `label` (`rsync`, `restic`, `verify`), its time counted from now.
    pub fn start(label: &str) -> Task {
        let mode = mode();
        let inactive = Task {
            shown: None,
            ticker: None,
        };
        if mode == Mode::Off {
            return inactive;
        }
        let claimed = ACTIVE
            .lock()
            .map(|mut a| !std::mem::replace(&mut *a, true))
            .unwrap_or(false);
        if !claimed {
            return inactive;
        }
        let now = Instant::now();
        let shown = std::sync::Arc::new(Mutex::new(Shown {
            label: label.to_owned(),
            started: now,
            latest: None,
            drawn: None,
            logged: now,
        }));
        let (stop, stopped) = mpsc::channel::<()>();
        let beat = std::sync::Arc::clone(&shown);
        let ticker = std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                if let Ok(mut s) = beat.lock() {
                    show(&mut s, mode, true);
                }
            }
        });
        Task {
            shown: Some(shown),
            ticker: Some((stop, ticker)),
        }
    }

    /// The figures the program gave last.
    pub fn update(&self, p: Progress) {
        if let Some(shown) = &self.shown {
            if let Ok(mut s) = shown.lock() {
                s.latest = Some(p);
                show(&mut s, mode(), false);
            }
        }
    }
}

/// Shows the task as `mode` wants it: the terminal line at most every [`REDRAW`] (always
/// on the ticker's beat, so the time moves), the periodic line when due.
fn show(s: &mut Shown, mode: Mode, beat: bool) {
    let now = Instant::now();
    let elapsed = now - s.started;
    match mode {
        Mode::Terminal => {
            if beat || s.drawn.is_none_or(|d| now - d >= REDRAW) {
                let line = render::terminal(&s.label, s.latest.as_ref(), elapsed, width());
                log::status_line(Some(&line));
                s.drawn = Some(now);
            }
        }
        Mode::Periodic(every) => {
            if beat && now - s.logged >= every {
                log::info(render::periodic(&s.label, s.latest.as_ref(), elapsed));
                s.logged = now;
            }
        }
        Mode::Off => {}
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        let Some((stop, ticker)) = self.ticker.take() else {
            return;
        };
        drop(stop);
        let _ = ticker.join();
        if mode() == Mode::Terminal {
            log::status_line(None);
        }
        if let Ok(mut a) = ACTIVE.lock() {
            *a = false;
        }
    }
}

/// The terminal's width in columns (80 when it cannot be told).
fn width() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize we own; a failure leaves it zeroed.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSYNC: &str = include_str!("../../tests/fixtures/progress/rsync-progress2.out");
    const RESTIC: &str = include_str!("../../tests/fixtures/progress/restic-backup-json.out");

    fn rsync_records() -> Vec<Progress> {
        RSYNC.split(['\r', '\n']).filter_map(rsync::parse).collect()
    }

    #[test]
    fn rsync_records_are_read_and_nothing_else_is() {
        let all = rsync_records();
        assert!(all.len() > 30, "{} records", all.len());
        assert!(all.windows(2).all(|w| w[0].bytes_done <= w[1].bytes_done));
        let last = all.last().unwrap();
        assert_eq!(
            *last,
            Progress {
                files_done: Some(33),
                files_total: Some(33),
                files_transferred: Some(30),
                bytes_done: 139_500_000,
                bytes_total: None,
                percent: Some(100.0),
            }
        );
        // A record between two files carries no counts.
        let bare = all.iter().find(|p| p.files_total.is_none()).unwrap();
        assert_eq!(bare.files_transferred, None);
        for other in RSYNC
            .split(['\r', '\n'])
            .filter(|l| l.contains(':') && !l.contains('%'))
        {
            assert_eq!(rsync::parse(other), None, "{other}");
        }
        assert_eq!(
            rsync::parse("sent 139,535,886 bytes  received 598 bytes"),
            None
        );
        assert_eq!(rsync::parse(""), None);
    }

    #[test]
    fn rsync_counts_while_the_file_list_grows() {
        let p = rsync::parse("  1.234.567  12%  1,00MB/s  0:00:09 (xfr#4, ir-chk=1.000/1.200)");
        let p = p.unwrap();
        assert_eq!(p.bytes_done, 1_234_567);
        assert_eq!((p.files_done, p.files_total), (Some(200), Some(1200)));
    }

    #[test]
    fn restic_status_lines_are_read_and_the_summary_is_not() {
        let all: Vec<Progress> = RESTIC.lines().filter_map(restic::parse).collect();
        assert_eq!(all.len(), RESTIC.lines().count() - 1);
        let first = &all[0];
        assert_eq!(first.files_done, Some(0));
        assert_eq!(first.bytes_total, Some(300_000));
        let last = all.last().unwrap();
        assert_eq!(
            *last,
            Progress {
                files_done: Some(30),
                files_total: Some(30),
                files_transferred: None,
                bytes_done: 139_500_000,
                bytes_total: Some(139_500_000),
                percent: Some(100.0),
            }
        );
        let summary = RESTIC.lines().last().unwrap();
        assert!(summary.contains("\"summary\""));
        assert_eq!(restic::parse(summary), None);
        assert_eq!(restic::parse("not json \"status\""), None);
    }

    #[test]
    fn recorded_progress_renders() {
        let rsync = rsync_records();
        let elapsed = Duration::from_secs(7);
        assert_eq!(
            render::terminal("rsync", rsync.last(), elapsed, 120),
            "rsync: 33/33 files, 30 transferred, 133.0 MiB (100%), 19.0 MiB/s, 0:00:07"
        );
        // The 21st status line (56,700,000 of 139,500,000 bytes), as the journal shows it
        // five minutes in.
        let restic: Vec<Progress> = RESTIC.lines().filter_map(restic::parse).collect();
        assert_eq!(
            render::periodic("restic", restic.get(20), Duration::from_secs(300)),
            "progress: restic: 12/30 files, 54.1 MiB of 133.0 MiB (40%), 184.6 KiB/s, 0:05:00"
        );
    }

    #[test]
    fn progress_goes_to_a_terminal_or_the_journal_only() {
        let every = PERIODIC_EVERY;
        assert_eq!(mode_for(true, false, 0, every), Mode::Terminal);
        assert_eq!(mode_for(true, true, 0, every), Mode::Terminal);
        assert_eq!(mode_for(false, true, 0, every), Mode::Periodic(every));
        assert_eq!(mode_for(false, true, 1, every), Mode::Periodic(every));
        assert_eq!(mode_for(false, false, 0, every), Mode::Off);
        assert_eq!(mode_for(true, false, -1, every), Mode::Off);
        assert_eq!(mode_for(false, true, -1, every), Mode::Off);
    }
}
