//! A child's output streams, each read in a thread of its own so that waiting for the
//! child never depends on them: line by line into a [`LineSink`] (logged, with what
//! explains a failure kept), or whole as bytes.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::thread::JoinHandle;

use crate::log;

/// Where a child's lines go, one at a time, as they come.
pub trait LineSink: Default + Send + 'static {
    fn line(&mut self, line: String);
}

/// Reads `stream` line by line in a thread of its own (bytes that are not UTF-8 made
/// readable), giving each line to `sink`; the thread returns the sink.
pub fn lines<R: Read + Send + 'static, S: LineSink>(
    stream: Option<R>,
    mut sink: S,
) -> JoinHandle<S> {
    std::thread::spawn(move || {
        if let Some(stream) = stream {
            for line in BufReader::new(stream).split(b'\n').map_while(Result::ok) {
                sink.line(String::from_utf8_lossy(&line).into_owned());
            }
        }
        sink
    })
}

/// What a reader thread gathered; nothing if it panicked.
pub fn joined<S: Default>(thread: JoinHandle<S>) -> S {
    thread.join().unwrap_or_default()
}

/// Reads `stream` to its end in a thread of its own.
pub fn bytes<R: Read + Send + 'static>(stream: Option<R>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut s) = stream {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    })
}

/// Standard output: every line logged at debug level and kept (rsync's `--stats`,
/// restic's `--json` summary).
#[derive(Debug, Default)]
pub struct Stdout(pub Vec<String>);

impl LineSink for Stdout {
    fn line(&mut self, line: String) {
        log::debug(&line);
        self.0.push(line);
    }
}

/// Standard error: every line logged as a warning (what rsync, restic or a dump prints
/// there is worth seeing), prefixed with the program where several share the log, and
/// the last lines kept, where the cause of a failure is.
#[derive(Debug, Default)]
pub struct Stderr {
    prefix: Option<String>,
    kept: usize,
    last: VecDeque<String>,
}

impl Stderr {
    /// Keeps the last `kept` lines; each is logged prefixed with `prefix` if given.
    pub fn new(prefix: Option<String>, kept: usize) -> Self {
        Self {
            prefix,
            kept,
            last: VecDeque::new(),
        }
    }

    pub fn into_lines(self) -> Vec<String> {
        self.last.into()
    }
}

impl LineSink for Stderr {
    fn line(&mut self, line: String) {
        match &self.prefix {
            Some(name) => log::warn(format!("{name}: {line}")),
            None => log::warn(&line),
        }
        if self.last.len() == self.kept {
            self.last.pop_front();
        }
        if self.kept > 0 {
            self.last.push_back(line);
        }
    }
}
