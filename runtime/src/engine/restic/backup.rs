//! `restic backup` for a run: each dump streamed in through `--stdin`, then the sources;
//! a run that fails part way is removed whole.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use super::failure::{self, Exit, ResticFailure, Said};
use super::listing::short;
use super::{namespace, tags, Restic};
use crate::command::{Command, Exec, Finished};
use crate::dump::{self, pipe};
use crate::engine::run_name::snapshot_name;
use crate::engine::{BackupOutcome, EngineError, Snapshot, TransferStats};
use crate::log;
use crate::source_view::SourceView;

/// restic's `backup --json` summary line.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Summary {
    #[serde(default)]
    pub files_new: u64,
    #[serde(default)]
    pub files_changed: u64,
    #[serde(default)]
    pub total_files_processed: u64,
    #[serde(default)]
    pub data_added: u64,
    #[serde(default)]
    pub total_bytes_processed: u64,
    #[serde(default)]
    pub snapshot_id: Option<String>,
}

/// The last `"message_type":"summary"` line of `restic backup --json`.
pub fn parse_summary(lines: &[String]) -> Option<Summary> {
    lines.iter().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        if v.get("message_type")?.as_str()? != "summary" {
            return None;
        }
        serde_json::from_value(v).ok()
    })
}

impl Summary {
    fn add_to(&self, stats: &mut TransferStats) {
        stats.files_total += self.total_files_processed;
        stats.files_transferred += self.files_new + self.files_changed;
        stats.files_new = Some(stats.files_new.unwrap_or(0) + self.files_new);
        stats.files_changed = Some(stats.files_changed.unwrap_or(0) + self.files_changed);
        stats.bytes_total += self.total_bytes_processed;
        stats.bytes_transferred += self.data_added;
    }
}

impl Restic {
    /// [`crate::engine::Engine::backup_from`].
    pub(super) fn backup_through(
        &self,
        exec: &Exec,
        view: &SourceView<'_>,
    ) -> Result<BackupOutcome, EngineError> {
        self.note_env(exec);
        // When this cache knows the last run, the repository is listed while the backup
        // runs (each restic command pays half a second to open the repository): the list
        // is only needed afterwards, for clearing cut-short runs and for retention.
        let last = if exec.dry_run { None } else { self.last_run() };
        let Some(last) = last else {
            let existing = self.complete_runs()?;
            self.clear_incomplete(exec)?;
            return self.new_run(exec, view, existing.iter().map(|s| s.time).max());
        };
        let listing = self.list_beside()?;
        let result = self.new_run(exec, view, Some(last));
        let listed = self.joined_listing(listing);
        match (result, listed) {
            // The listing says why better than the backup's exit code (wrong password,
            // missing repository, unreachable).
            (Err(EngineError::Restic(ResticFailure::Exit { .. })), Err(e)) => Err(e),
            (Err(e), _) => Err(e),
            (Ok(outcome), Ok(mut list)) => {
                let (made, all_known) = self.made.borrow().clone();
                if all_known {
                    for m in made {
                        if !list.iter().any(|s| s.id == m.id) {
                            list.push(m);
                        }
                    }
                    *self.listed.borrow_mut() = Some(list);
                    self.clear_incomplete(exec)?;
                } else {
                    *self.listed.borrow_mut() = None;
                }
                Ok(outcome)
            }
            (Ok(outcome), Err(e)) => {
                // The backup is good; retention will list again and say what is wrong.
                log::warn(format!("listing the repository during the backup: {e}"));
                *self.listed.borrow_mut() = None;
                Ok(outcome)
            }
        }
    }

    /// `restic backup` with the job's tags, for sources or (with `--stdin`) a dump.
    /// `parts` is how many restic snapshots the run makes: a run with fewer was cut short
    /// (bakrun killed, power loss) and is never listed, like rsync's `.incomplete`.
    fn backup_command(&self, run: &str, parts: usize) -> Result<Command, EngineError> {
        let mut cmd = self
            .restic()?
            .args(["backup", "--json", "--host"])
            .arg(&self.spec.host)
            .progress(crate::progress::Format::Restic);
        for tag in self.run_tags(run, parts) {
            cmd = cmd.arg("--tag").arg(tag);
        }
        Ok(cmd)
    }

    /// What a sources backup reads, added to `cmd`: the job's excludes and its sources.
    /// The backup and the count of the live files ([`Restic::count_live`]) read the
    /// same files this way.
    pub(super) fn selection(&self, mut cmd: Command) -> Command {
        for pattern in &self.spec.excludes {
            cmd = cmd.arg(format!("--exclude={pattern}"));
        }
        // `--` so that a source starting with `-` is never read as an option.
        cmd.arg("--").args(self.spec.sources.iter().cloned())
    }

    /// The tags of every snapshot of a run, in the order `backup_command` gives them.
    fn run_tags(&self, run: &str, parts: usize) -> Vec<String> {
        tags::run(&self.spec.host, &self.spec.job, run, parts)
    }

    /// The backup proper, as the run that starts at `time`.
    fn backup_at(
        &self,
        exec: &Exec,
        view: &SourceView<'_>,
        time: DateTime<FixedOffset>,
    ) -> Result<BackupOutcome, EngineError> {
        let run = snapshot_name(&time);
        if !exec.dry_run {
            // Before anything is made: a run cut short still counts as the last one.
            let file = self.last_run_file();
            if let Err(e) = crate::atomic_file::write(&file, format!("{run}\n").as_bytes()) {
                log::warn(format!("cannot write {}: {e}", file.display()));
            }
        }
        let dumps = dump::plan(&self.spec).map_err(|e| EngineError::Invalid(e.to_string()))?;
        if self.spec.sources.is_empty() && dumps.is_empty() {
            return Err(EngineError::Invalid(
                "the job has neither sources nor database dumps".into(),
            ));
        }
        let parts = dumps.len() + usize::from(!self.spec.sources.is_empty());
        let mut stats = TransferStats::default();
        let mut warnings = Vec::new();
        let mut representative: Option<String> = None;

        // Dumps first: they are the likelier to fail, and a failure then costs no upload
        // of the sources.
        for d in &dumps {
            let stdin_name = format!("{}/{}/{}", self.spec.host, self.spec.job, d.file_name);
            let consumer = self
                .backup_command(&run, parts)?
                .arg("--tag")
                .arg(tags::dump(&d.file_name))
                .args(["--stdin", "--stdin-filename"])
                .arg(&stdin_name);
            // A dump stopped by restic's lock is taken again once the lock is gone:
            // restic reads nothing before it has the lock, so nothing was stored.
            let piped = self.until_unlocked(|| {
                let f = pipe::run(exec, &d.command, &consumer)?;
                let failed = !f.consumer.success() && !f.consumer.interrupted;
                let said = failed.then(|| f.consumer_stderr.clone());
                Ok((f, said))
            });
            let finished = match piped {
                Ok(f) => f,
                Err(e) => {
                    self.discard_run(exec, &run, None);
                    return Err(e);
                }
            };
            let summary = parse_summary(&finished.consumer.stdout);
            if !finished.success() {
                // restic saves whatever arrived before the dump died: that truncated
                // stream must not survive as a snapshot.
                let made = summary.as_ref().and_then(|s| s.snapshot_id.clone());
                self.discard_run(exec, &run, made.as_deref());
                if finished.producer.interrupted || finished.consumer.interrupted {
                    return Err(EngineError::Interrupted);
                }
                if finished.producer.success() {
                    let exit = match (finished.consumer_signal, finished.consumer.code) {
                        (Some(signal), _) => Exit::Signal(signal),
                        (None, code) => Exit::Code(code.unwrap_or(-1)),
                    };
                    return Err(self.failure(exit, &Said::from_text(&finished.consumer_stderr)));
                }
                let program = d.command.program.to_string_lossy().into_owned();
                return Err(EngineError::Failed {
                    program: format!("dump {} ({program})", d.file_name),
                    status: status_text(&finished.producer),
                });
            }
            let mut dump_tags = self.run_tags(&run, parts);
            dump_tags.push(tags::dump(&d.file_name));
            self.note_made(
                exec,
                summary.as_ref().and_then(|s| s.snapshot_id.as_deref()),
                &time,
                vec![format!("/{stdin_name}")],
                dump_tags,
            );
            if let Some(s) = summary {
                s.add_to(&mut stats);
                representative = representative.or(s.snapshot_id.clone());
                log::info(format!(
                    "dump {} stored as {stdin_name} in snapshot {}",
                    d.file_name,
                    s.snapshot_id.as_deref().unwrap_or("?")
                ));
            }
        }

        if !self.spec.sources.is_empty() {
            let mut cmd = self.backup_command(&run, parts)?;
            let record = self.records_run_files() && !exec.dry_run;
            if record {
                cmd = cmd.arg("-vv");
            }
            cmd = self.selection(cmd);
            if !view.is_live() {
                cmd = namespace::in_snapshot_view(cmd, view, &self.spec.sources);
            }
            let ran = if record {
                self.run_recording(&cmd, &self.run_files_path())
            } else {
                self.run(exec, &cmd).map(|ran| (ran, None))
            };
            let (ran, recorder) = match ran {
                Ok(f) => f,
                Err(e) => {
                    self.discard_run(exec, &run, None);
                    return Err(e);
                }
            };
            let summary = parse_summary(&ran.finished.stdout);
            match ran.exit {
                _ if ran.finished.interrupted => {
                    self.discard_run(exec, &run, None);
                    return Err(EngineError::Interrupted);
                }
                Exit::Code(0) => {}
                Exit::Code(failure::PARTIAL) if summary.is_some() => {
                    warnings.push(failure::unreadable(&ran.said))
                }
                exit => {
                    self.discard_run(exec, &run, None);
                    return Err(self.failure(exit, &ran.said));
                }
            }
            // A snapshot that stopped being faithful (an LVM snapshot that overflowed while
            // restic read it) must not survive as a run.
            if let Err(e) = view.check_intact() {
                self.discard_run(exec, &run, None);
                return Err(e.into());
            }
            self.note_made(
                exec,
                summary.as_ref().and_then(|s| s.snapshot_id.as_deref()),
                &time,
                self.spec.sources.clone(),
                self.run_tags(&run, parts),
            );
            if let (Some(recorder), Some(id)) = (
                recorder,
                summary.as_ref().and_then(|s| s.snapshot_id.as_deref()),
            ) {
                if let Err(e) = recorder.finish(&run, id) {
                    log::warn(format!(
                        "cannot record the run's files: {e}; the next drill lists the run instead"
                    ));
                }
            }
            if let Some(s) = summary {
                s.add_to(&mut stats);
                // The sources snapshot names the run.
                representative = s.snapshot_id.clone().or(representative);
            }
        }
        drop(dumps);
        let id = representative.unwrap_or_else(|| {
            if exec.dry_run {
                "(dry-run)".into()
            } else {
                run.clone()
            }
        });
        Ok(BackupOutcome {
            snapshot: Snapshot {
                id: short(&id).to_owned(),
                time,
                path: None,
            },
            stats,
            warnings,
        })
    }

    /// The backup as a new run named after the newest run `after` (see
    /// [`crate::engine::clock::run_time_after`]: now, or just after a run dated in the future, with
    /// a warning that goes into the run's status).
    fn new_run(
        &self,
        exec: &Exec,
        view: &SourceView<'_>,
        after: Option<DateTime<FixedOffset>>,
    ) -> Result<BackupOutcome, EngineError> {
        let run_time = crate::engine::clock::run_time_after(after)?;
        if let Some(w) = &run_time.warning {
            log::warn(w);
        }
        let mut outcome = self.backup_at(exec, view, run_time.time)?;
        outcome.warnings.splice(0..0, run_time.warning);
        Ok(outcome)
    }
}

fn status_text(f: &Finished) -> String {
    if f.interrupted {
        "a stop signal".into()
    } else {
        f.code
            .map_or("a signal".into(), |c| format!("exit code {c}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_summary_line() {
        let lines: Vec<String> = [
            r#"{"message_type":"status","percent_done":0.5}"#,
            r#"{"message_type":"summary","files_new":2,"files_changed":1,"files_unmodified":5,"data_added":123,"total_files_processed":8,"total_bytes_processed":999,"snapshot_id":"abcdef12"}"#,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let s = parse_summary(&lines).unwrap();
        let mut stats = TransferStats::default();
        s.add_to(&mut stats);
        assert_eq!(stats.files_transferred, 3);
        assert_eq!(stats.files_total, 8);
        assert_eq!(stats.bytes_transferred, 123);
        assert_eq!(s.snapshot_id.as_deref(), Some("abcdef12"));
        assert!(parse_summary(&lines[..1]).is_none());
        assert_eq!((stats.files_new, stats.files_changed), (Some(2), Some(1)));
    }
}
