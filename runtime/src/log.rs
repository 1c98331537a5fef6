//! Logging for a job run: plain lines on standard error (journald keeps them, so no colours
//! and no timestamps of our own), and optionally every detail with timestamps in a log file.
//!
//! When standard error is connected to the journal (`JOURNAL_STREAM` is set), each line gets
//! a `<N>` syslog priority prefix, which journald turns into the entry's priority.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

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
    let Some(logger) = LOGGER.get() else {
        // Not initialised (a library caller): behave like the default level.
        if level <= Level::Info {
            eprintln!("{message}");
        }
        return;
    };
    if level <= logger.stderr_level {
        let mut err = std::io::stderr().lock();
        let _ = if logger.journal {
            writeln!(err, "<{}>{message}", level.syslog_priority())
        } else if level <= Level::Warn {
            writeln!(err, "{}: {message}", level.word())
        } else {
            writeln!(err, "{message}")
        };
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
