//! The files of a job's last run, recorded while restic saved them: a restore drill draws
//! its sample from them instead of listing the run (`restic ls` of a large run costs a
//! second or more, half of it opening the repository once more), so a drill costs about
//! what restoring its sample by hand costs.
//!
//! Only for a job with a drill (`verify` in its spec): its sources backup runs with
//! `-vv`, which makes restic name each file it saves (`"message_type":"verbose_status"`,
//! action `new`, `modified` or `unchanged`), whether its content changed or not. Those
//! lines are written to a file as they come, never kept in memory, and never logged.
//! Directories are left out, and restic names no other kind of file (links, devices):
//! the record holds the run's regular files, the same as a listing filtered to them
//! ([`super::listing`]).
//!
//! The record is a cache in the restic cache folder, beside the last run's name:
//! `bakgen-run-files-<host>-<job>`, one JSON string per line, sorted by nothing, then a
//! last line `{"run": …, "snapshot": …}` naming the run and its sources snapshot. It is
//! renamed into place only once the run's snapshot is made, so a record names a run that
//! was completed. A drill still checks the record against the repository's newest
//! complete run (listing the runs beside its restore) and lists the run itself when they
//! differ or when the record is missing or unreadable: the record saves time, it is never
//! trusted to say which run is the newest.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Restic;
use crate::log;
use crate::process::output::{LineSink, Stdout};

/// A recorded run, as [`Restic::recorded_run`] reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRun {
    /// The run's name (its `run=` tag).
    pub run: String,
    /// The id restic gave the run's sources snapshot (short or full).
    pub snapshot: String,
    /// Its regular files, sorted, each once.
    pub files: Vec<String>,
}

impl RecordedRun {
    /// The sources snapshot's short id, as a run is named ([`super::listing::short`]).
    pub fn short_id(&self) -> &str {
        super::listing::short(&self.snapshot)
    }
}

/// The record's last line.
#[derive(Debug, Serialize, Deserialize)]
struct Trailer {
    run: String,
    snapshot: String,
}

/// One `restic backup --json -vv` line naming a file or folder it saved.
#[derive(Deserialize)]
struct Verbose {
    message_type: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    item: String,
}

/// `line` as a `verbose_status` line; `None` for any other.
fn verbose(line: &str) -> Option<Verbose> {
    if !line.contains("\"verbose_status\"") {
        return None;
    }
    serde_json::from_str::<Verbose>(line)
        .ok()
        .filter(|v| v.message_type == "verbose_status")
}

impl Verbose {
    /// The file this line says restic saves (new, modified or unchanged): the rule of what
    /// a record holds, and of what a count of the live files counts. Folders are not.
    fn saved_file(&self) -> Option<&str> {
        let saved = matches!(self.action.as_str(), "new" | "modified" | "unchanged");
        (saved && !self.item.is_empty() && !self.item.ends_with('/')).then_some(self.item.as_str())
    }
}

/// Whether a `restic backup --json -vv` line names a file restic saves (or, in a dry
/// run, would save).
pub(super) fn names_saved_file(line: &str) -> bool {
    verbose(line).is_some_and(|v| v.saved_file().is_some())
}

impl Restic {
    /// The record of this job's runs in the restic cache folder.
    pub(super) fn run_files_path(&self) -> PathBuf {
        Path::new(&self.cache_dir).join(format!(
            "bakgen-run-files-{}-{}",
            self.spec.host, self.spec.job
        ))
    }

    /// Whether runs of this job record their files: only for a job with a drill, which
    /// is the only reader.
    pub(super) fn records_run_files(&self) -> bool {
        self.spec.verify.is_some()
    }

    /// The last recorded run; `None` when there is none, or it cannot be read (then said
    /// at debug level: the drill lists the run instead, which is only slower).
    pub fn recorded_run(&self) -> Option<RecordedRun> {
        let path = self.run_files_path();
        match read(&path) {
            Ok(r) => Some(r),
            Err(e) => {
                log::debug(format!(
                    "no usable record of the last run's files in {}: {e}",
                    path.display()
                ));
                None
            }
        }
    }
}

/// Reads a record; any line that is not what [`Recorder`] writes makes it unusable.
fn read(path: &Path) -> std::io::Result<RecordedRun> {
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let mut lines: Vec<String> = BufReader::new(File::open(path)?)
        .lines()
        .collect::<Result<_, _>>()?;
    let last = lines.pop().ok_or_else(|| bad("empty".into()))?;
    let trailer: Trailer =
        serde_json::from_str(&last).map_err(|e| bad(format!("last line: {e}")))?;
    let mut files = lines
        .iter()
        .map(|l| serde_json::from_str::<String>(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("a file line: {e}")))?;
    files.sort();
    files.dedup();
    Ok(RecordedRun {
        run: trailer.run,
        snapshot: trailer.snapshot,
        files,
    })
}

/// A record being written: a hidden temporary file beside the record, renamed over it by
/// [`Recorder::finish`], removed when dropped unfinished (a failed or stopped backup).
#[derive(Debug)]
pub struct Recorder {
    partial: PathBuf,
    target: PathBuf,
    out: Option<BufWriter<File>>,
}

impl Recorder {
    /// Starts the record `target`; `None` (said as a warning) when it cannot be written:
    /// the backup goes on, and the next drill lists the run.
    pub fn create(target: &Path) -> Option<Self> {
        let name = target.file_name()?.to_string_lossy().into_owned();
        let partial = target.with_file_name(format!(".{name}.{}.partial", std::process::id()));
        let opened = target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&partial)
            });
        match opened {
            Ok(f) => Some(Self {
                partial,
                target: target.to_owned(),
                out: Some(BufWriter::new(f)),
            }),
            Err(e) => {
                log::warn(format!(
                    "cannot record the run's files in {}: {e}; the next drill lists the run instead",
                    partial.display()
                ));
                None
            }
        }
    }

    /// Takes a `verbose_status` line; anything else is not for the record (`false`).
    fn take(&mut self, line: &str) -> bool {
        match verbose(line) {
            None => false,
            Some(v) => {
                if let Some(file) = v.saved_file() {
                    self.write(file);
                }
                true
            }
        }
    }

    fn write(&mut self, item: &str) {
        let Some(out) = self.out.as_mut() else {
            return;
        };
        let written = serde_json::to_writer(&mut *out, item)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        if let Err(e) = written {
            log::warn(format!(
                "cannot record the run's files in {}: {e}; the next drill lists the run instead",
                self.partial.display()
            ));
            // Nothing more is written; the unfinished file goes with the recorder.
            self.out = None;
        }
    }

    /// Names the run and puts the record in place.
    pub fn finish(mut self, run: &str, snapshot: &str) -> std::io::Result<()> {
        let mut out = self.out.take().ok_or_else(|| {
            std::io::Error::other("an earlier write failed; the record is incomplete")
        })?;
        let trailer = Trailer {
            run: run.to_owned(),
            snapshot: snapshot.to_owned(),
        };
        serde_json::to_writer(&mut out, &trailer)?;
        out.write_all(b"\n")?;
        out.into_inner().map_err(|e| e.into_error())?;
        std::fs::rename(&self.partial, &self.target)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // After a finish the partial file is the record: gone under this name already.
        let _ = std::fs::remove_file(&self.partial);
    }
}

/// Standard output of a recording `restic backup`: the files it names go to the
/// [`Recorder`], every other line to [`Stdout`] as for any command.
#[derive(Debug, Default)]
pub struct Recording {
    pub stdout: Stdout,
    pub recorder: Option<Recorder>,
}

impl LineSink for Recording {
    fn line(&mut self, line: String) {
        if let Some(r) = self.recorder.as_mut() {
            if r.take(&line) {
                return;
            }
        }
        self.stdout.line(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verbose(action: &str, item: &str) -> String {
        serde_json::json!({"message_type": "verbose_status", "action": action, "item": item})
            .to_string()
    }

    #[test]
    fn records_saved_files_only_and_reads_them_back_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("cache/record");
        let mut sink = Recording {
            stdout: Stdout::default(),
            recorder: Recorder::create(&target),
        };
        for line in [
            verbose("unchanged", "/src/b"),
            verbose("new", "/src/a\nwith a line break"),
            verbose("modified", "/src/"),
            verbose("scan_finished", ""),
            r#"{"message_type":"status","percent_done":0.5}"#.to_owned(),
            verbose("modified", "/src/c"),
            verbose("unchanged", "/src/b"),
        ] {
            sink.line(line);
        }
        // Not yet a record: the run is not made.
        assert!(!target.exists());
        assert_eq!(sink.stdout.0.len(), 1, "{:?}", sink.stdout.0);
        sink.recorder.unwrap().finish("run-1", "abcd1234").unwrap();
        let r = read(&target).unwrap();
        assert_eq!(r.run, "run-1");
        assert_eq!(r.snapshot, "abcd1234");
        assert_eq!(r.files, ["/src/a\nwith a line break", "/src/b", "/src/c"]);
        // Nothing else is left beside the record.
        let names: Vec<_> = std::fs::read_dir(target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["record"]);
    }

    #[test]
    fn an_unfinished_record_leaves_nothing_and_a_broken_one_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("record");
        let mut r = Recorder::create(&target).unwrap();
        r.take(&verbose("new", "/src/a"));
        drop(r);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        std::fs::write(&target, "\"/src/a\"\n").unwrap();
        assert!(read(&target).is_err(), "a record without its run line");
        std::fs::write(&target, "/src/a\n{\"run\":\"r\",\"snapshot\":\"s\"}\n").unwrap();
        assert!(read(&target).is_err(), "a line that is no JSON string");
        std::fs::write(&target, "").unwrap();
        assert!(read(&target).is_err());
    }
}
