//! A child's output streams, each read in a thread of its own so that waiting for the
//! child never depends on them: line by line into a [`LineSink`] (logged, with what
//! explains a failure kept), or whole as bytes.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::thread::JoinHandle;

use super::Command;
use crate::{log, progress};

/// Where a child's lines go, one at a time, as they come.
pub trait LineSink: Default + Send + 'static {
    fn line(&mut self, line: String);

    /// Whether a carriage return also ends a line: a program that rewrites one line in
    /// place (rsync's `--info=progress2`) sends each update ended by one.
    fn splits_at_carriage_return(&self) -> bool {
        false
    }
}

/// Reads `stream` line by line in a thread of its own (bytes that are not UTF-8 made
/// readable), giving each line to `sink`; the thread returns the sink.
pub fn lines<R: Read + Send + 'static, S: LineSink>(
    stream: Option<R>,
    mut sink: S,
) -> JoinHandle<S> {
    std::thread::spawn(move || {
        if let Some(stream) = stream {
            let at_cr = sink.splits_at_carriage_return();
            let mut reader = BufReader::new(stream);
            while let Some((line, ended_by)) = next_line(&mut reader, at_cr) {
                // An update ended by a carriage return that is empty is only the return
                // itself (the first one, before any figure).
                if ended_by == Some(b'\r') && line.is_empty() {
                    continue;
                }
                sink.line(String::from_utf8_lossy(&line).into_owned());
            }
        }
        sink
    })
}

/// The next line of `reader` and the byte that ended it (`None` at the end of the
/// stream); `None` once nothing is left or the stream fails.
fn next_line(reader: &mut impl BufRead, at_cr: bool) -> Option<(Vec<u8>, Option<u8>)> {
    let mut line = Vec::new();
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return (!line.is_empty()).then_some((line, None)),
        };
        if buf.is_empty() {
            return (!line.is_empty()).then_some((line, None));
        }
        let end = buf
            .iter()
            .position(|&b| b == b'\n' || (at_cr && b == b'\r'));
        match end {
            Some(i) => {
                let ended_by = buf[i];
                line.extend_from_slice(&buf[..i]);
                reader.consume(i + 1);
                return Some((line, Some(ended_by)));
            }
            None => {
                let n = buf.len();
                line.extend_from_slice(buf);
                reader.consume(n);
            }
        }
    }
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

/// Standard output counted, never kept: the lines `counts` accepts (a listing of a whole
/// file tree, which could not be held in memory line by line).
#[derive(Debug, Default)]
pub struct Counted {
    pub counts: Option<fn(&str) -> bool>,
    pub lines: u64,
}

impl Counted {
    pub fn of(counts: fn(&str) -> bool) -> Self {
        Self {
            counts: Some(counts),
            lines: 0,
        }
    }
}

impl LineSink for Counted {
    fn line(&mut self, line: String) {
        if self.counts.is_some_and(|counts| counts(&line)) {
            self.lines += 1;
        }
    }
}

/// Standard output: every line logged at debug level and kept (rsync's `--stats`,
/// restic's `--json` summary); a program's progress shown while it runs, when its command
/// says how it prints it ([`Stdout::of`]).
#[derive(Debug, Default)]
pub struct Stdout(pub Vec<String>, Option<(progress::Format, progress::Task)>);

impl Stdout {
    /// The standard output of `cmd`, its progress shown from now until the output ends.
    pub fn of(cmd: &Command) -> Self {
        let task = cmd.progress.map(|format| {
            let program = std::path::Path::new(&cmd.program);
            let label = program.file_name().unwrap_or(program.as_os_str());
            (format, progress::Task::start(&label.to_string_lossy()))
        });
        Self(Vec::new(), task)
    }
}

impl LineSink for Stdout {
    fn line(&mut self, line: String) {
        let line = match &self.1 {
            Some((format, task)) => format.take(line, task),
            None => Some(line),
        };
        if let Some(line) = line {
            log::debug(&line);
            self.0.push(line);
        }
    }

    fn splits_at_carriage_return(&self) -> bool {
        matches!(self.1, Some((progress::Format::Rsync, _)))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Digits masked: the two recordings differ in times and rates.
    fn shape(lines: &[String]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.replace(|c: char| c.is_ascii_digit(), "#"))
            .collect()
    }

    #[test]
    fn rsync_progress_leaves_what_is_kept_and_logged_as_it_was() {
        let with = include_bytes!("../../tests/fixtures/progress/rsync-progress2.out");
        let without = include_str!("../../tests/fixtures/progress/rsync-stats.out");
        let cmd = Command::new("rsync").progress(progress::Format::Rsync);
        let read = joined(lines(Some(std::io::Cursor::new(with)), Stdout::of(&cmd)));
        let plain: Vec<String> = without.lines().map(str::to_owned).collect();
        assert_eq!(shape(&read.0), shape(&plain));
        // The same bytes read by a command that shows no progress keep every record.
        let read = joined(lines(
            Some(std::io::Cursor::new(with)),
            Stdout::of(&Command::new("rsync")),
        ));
        assert_eq!(read.0.len(), plain.len() + 1);
        assert!(read.0[0].contains("to-chk=0/33"));
    }
}
