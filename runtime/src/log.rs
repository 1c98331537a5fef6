//! Logging for a job run: plain lines on standard error (journald keeps them, so no colours
//! and no timestamps of our own), and optionally every detail with timestamps in a log file.
//!
//! The last [`TAIL_KEPT`] lines at info level or above are also kept in memory ([`tail`]):
//! what a failure ping carries.
//!
//! When standard error is connected to the journal (`JOURNAL_STREAM` is set), each line gets
//! a `<N>` syslog priority prefix, which journald turns into the entry's priority.
//!
//! On a terminal, one transient line may stand below the log ([`status_line`], the live
//! progress of `crate::progress`): a log line clears it, is written, and it is drawn again,
//! so the two never mix. It never reaches the log file.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// Lines [`tail`] returns: enough to show why a run failed, short enough for a ping.
pub const TAIL_KEPT: usize = 20;

static TAIL: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

/// The last lines logged at info level or above, oldest first, warnings and errors
/// prefixed with their level.
pub fn tail() -> Vec<String> {
    TAIL.lock()
        .map(|t| t.iter().cloned().collect())
        .unwrap_or_default()
}

fn keep(t: &mut VecDeque<String>, level: Level, message: &str) {
    if level > Level::Info {
        return;
    }
    for line in message.lines() {
        if t.len() == TAIL_KEPT {
            t.pop_front();
        }
        t.push_back(if level <= Level::Warn {
            format!("{}: {line}", level.word())
        } else {
            line.to_owned()
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

impl Level {
    fn syslog_priority(self) -> u8 {
        match self {
            Level::Error => 3,
            Level::Warn => 4,
            Level::Info => 6,
            Level::Debug => 7,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

struct Logger {
    stderr_level: Level,
    journal: bool,
    file: Option<Mutex<File>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// The transient line shown on standard error, if any (see [`status_line`]).
static STATUS_LINE: Mutex<Option<String>> = Mutex::new(None);

/// Erases the current terminal line: back to its start, clear to its end.
const CLEAR_LINE: &str = "\r\x1b[K";

/// Shows `text` as the transient line on standard error (a terminal: the caller checked),
/// replacing the one shown; `None` clears it and leaves the cursor at the start of an
/// empty line.
pub fn status_line(text: Option<&str>) {
    let Ok(mut shown) = STATUS_LINE.lock() else {
        return;
    };
    let mut err = std::io::stderr().lock();
    let _ = match text {
        Some(t) => write!(err, "{CLEAR_LINE}{t}"),
        None if shown.is_some() => write!(err, "{CLEAR_LINE}"),
        None => Ok(()),
    };
    let _ = err.flush();
    *shown = text.map(str::to_owned);
}

/// Sets up logging once per process. `verbosity` is the number of `-v` minus the number of
/// `-q`: 0 shows info, 1 debug, -1 only warnings and errors.
pub fn init(verbosity: i8, log_file: Option<&Path>) -> std::io::Result<()> {
    let stderr_level = match verbosity {
        i8::MIN..=-2 => Level::Error,
        -1 => Level::Warn,
        0 => Level::Info,
        _ => Level::Debug,
    };
    let file = match log_file {
        Some(path) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        )),
        None => None,
    };
    let _ = LOGGER.set(Logger {
        stderr_level,
        journal: std::env::var_os("JOURNAL_STREAM").is_some(),
        file,
    });
    Ok(())
}

pub fn log(level: Level, message: &str) {
    if let Ok(mut t) = TAIL.lock() {
        keep(&mut t, level, message);
    }
    let Some(logger) = LOGGER.get() else {
        // Not initialised (a library caller): behave like the default level.
        if level <= Level::Info {
            eprintln!("{message}");
        }
        return;
    };
    if level <= logger.stderr_level {
        // Held while writing, so that the transient line is not redrawn in between.
        let shown = STATUS_LINE.lock();
        let transient = shown.as_ref().ok().and_then(|s| s.as_deref());
        let mut err = std::io::stderr().lock();
        if transient.is_some() {
            let _ = write!(err, "{CLEAR_LINE}");
        }
        let _ = if logger.journal {
            writeln!(err, "<{}>{message}", level.syslog_priority())
        } else if level <= Level::Warn {
            writeln!(err, "{}: {message}", level.word())
        } else {
            writeln!(err, "{message}")
        };
        if let Some(t) = transient {
            let _ = write!(err, "{t}");
            let _ = err.flush();
        }
    }
    if let Some(file) = &logger.file {
        if let Ok(mut f) = file.lock() {
            let now = chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.3f%:z");
            let _ = writeln!(f, "{now} {:<7} {message}", level.word());
        }
    }
}

pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message.as_ref());
}
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message.as_ref());
}
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message.as_ref());
}
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_lines_at_info_and_above() {
        // A buffer of its own: other tests log into the process's at the same time.
        let mut t = VecDeque::new();
        for i in 0..30 {
            keep(&mut t, Level::Info, &format!("line {i}"));
        }
        keep(&mut t, Level::Debug, "hidden detail");
        keep(&mut t, Level::Error, "it broke\nsecond line");
        assert_eq!(t.len(), TAIL_KEPT);
        assert_eq!(t[TAIL_KEPT - 2], "error: it broke");
        assert_eq!(t[TAIL_KEPT - 1], "error: second line");
        assert_eq!(t[0], "line 12");
        assert!(!t.iter().any(|l| l.contains("hidden")));
    }
}
