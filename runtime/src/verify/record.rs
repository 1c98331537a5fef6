//! The record of a job's last restore drill, `<state_dir>/verify/<job>.json` (read by
//! `bakrun status` and `bakrun notify`), and its metrics file
//! `<metrics_dir>/bakgen-verify_<job>.prom`. Like a run's status it carries the last
//! success forward, so a failed drill does not hide how old the last good one is.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::atomic_file;
use crate::installed::{verify_metrics_file_name, verify_status_file};
use crate::metrics::{gauge, label};
use bakgen_spec::metrics::{
    HOST_LABEL, JOB_LABEL, VERIFY_EXPECTED_WITHIN, VERIFY_FILES_CHECKED, VERIFY_LAST_SUCCESS,
    VERIFY_MISMATCHES,
};

/// How many mismatching and changed paths the record names (the counts are whole).
pub const MISMATCHES_NAMED: usize = 100;
pub const CHANGED_NAMED: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DrillResult {
    Passed,
    Failed,
    /// Stopped by SIGTERM/SIGINT.
    Interrupted,
}

impl DrillResult {
    pub fn as_str(self) -> &'static str {
        match self {
            DrillResult::Passed => "passed",
            DrillResult::Failed => "failed",
            DrillResult::Interrupted => "interrupted",
        }
    }
}

/// A backed-up file that differs from its unchanged live file (or could not be restored
/// or read): corruption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    pub path: String,
    pub reason: String,
}

/// One dump loaded into a throwaway server (the dump drill's own result, as it reports it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpResult {
    pub file_name: String,
    pub passed: bool,
    pub checks: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// A drill's count (`count` in its spec): the run's files against the live ones now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountResult {
    /// Files in the run the drill read (as its sample is drawn from them).
    pub run: u64,
    /// Files the sources hold now, as a run would read them.
    pub live: u64,
    pub tolerance_per_mille: u32,
    /// Whether the run holds at least the live files less the tolerance.
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastPass {
    pub end: DateTime<FixedOffset>,
    pub snapshot: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyStatus {
    pub host: String,
    pub job: String,
    pub result: DrillResult,
    pub exit_code: u8,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    /// The run the drill read (absent when there was none to read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// `bakrun verify JOB --seed <seed>` draws the same sample again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Files drawn (random sample plus critical paths).
    #[serde(default)]
    pub files_sampled: u64,
    /// Files compared with an unchanged live file.
    #[serde(default)]
    pub files_checked: u64,
    #[serde(default)]
    pub mismatch_count: u64,
    /// The first [`MISMATCHES_NAMED`] of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<Mismatch>,
    /// Files changed or removed on the live side since the run: not compared, no error.
    #[serde(default)]
    pub changed: u64,
    /// The first [`CHANGED_NAMED`] of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dumps: Vec<DumpResult>,
    /// The count of files, when the drill has `count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<CountResult>,
    /// Why the drill failed, or what it found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<LastPass>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot read the drill record {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the drill record {} is not valid: {source}", path.display())]
    Invalid {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The last drill of `job`, `None` when it never had one.
pub fn read(state_dir: &Path, job: &str) -> Result<Option<VerifyStatus>, RecordError> {
    let path = verify_status_file(state_dir, job);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(RecordError::Read { path, source }),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| RecordError::Invalid { path, source })
}

pub fn write(state_dir: &Path, status: &VerifyStatus) -> Result<(), RecordError> {
    let path = verify_status_file(state_dir, &status.job);
    let mut text = serde_json::to_string_pretty(status).unwrap_or_default();
    text.push('\n');
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| RecordError::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    atomic_file::write(&path, text.as_bytes()).map_err(|source| RecordError::Write { path, source })
}

/// The drill's metrics (docs/operations.md, "Metrics of the restore drill").
pub fn render(status: &VerifyStatus, within_seconds: Option<u64>) -> String {
    let labels = format!(
        "{HOST_LABEL}=\"{}\",{JOB_LABEL}=\"{}\"",
        label(&status.host),
        label(&status.job)
    );
    let one = |v: Option<f64>| -> Vec<(String, f64)> {
        v.map(|v| vec![(labels.clone(), v)]).unwrap_or_default()
    };
    let mut out = String::new();
    gauge(
        &mut out,
        VERIFY_LAST_SUCCESS,
        "Unix time at which the last restore drill that passed ended.",
        &one(status
            .last_success
            .as_ref()
            .map(|l| l.end.timestamp_millis() as f64 / 1000.0)),
    );
    gauge(
        &mut out,
        VERIFY_FILES_CHECKED,
        "Files the last restore drill compared with unchanged live files.",
        &one(Some(status.files_checked as f64)),
    );
    gauge(
        &mut out,
        VERIFY_MISMATCHES,
        "Backed-up files of the last restore drill that differ from their unchanged live file.",
        &one(Some(status.mismatch_count as f64)),
    );
    gauge(
        &mut out,
        VERIFY_EXPECTED_WITHIN,
        "A job whose last passed restore drill is older than this is overdue.",
        &one(within_seconds.map(|w| w as f64)),
    );
    out
}

pub fn write_metrics(
    metrics_dir: &Path,
    status: &VerifyStatus,
    within: Option<u64>,
) -> Result<(), RecordError> {
    let path = metrics_dir.join(verify_metrics_file_name(&status.job));
    atomic_file::write(&path, render(status, within).as_bytes())
        .map_err(|source| RecordError::Write { path, source })
}

/// Where a job's drills stand, for `bakrun status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrillState {
    /// `ok` (passed within `within_seconds`), `overdue`, `failed` (the last drill failed or
    /// was interrupted) or `never`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_result: Option<DrillResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_drill_end: Option<DateTime<FixedOffset>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<DateTime<FixedOffset>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_seconds: Option<u64>,
}

impl DrillState {
    /// `verified 2D5h ago`, `verify failed`, `verify overdue`, `never verified`.
    pub fn words(&self, age_text: impl Fn(i64) -> String) -> String {
        match (self.state, self.age_seconds) {
            ("failed", _) => "verify failed".into(),
            ("overdue", _) => "verify overdue".into(),
            ("ok", Some(age)) => format!("verified {} ago", age_text(age)),
            _ => "never verified".into(),
        }
    }
}

/// Judges the last drill: `None` for a job with neither a drill in its spec nor a record.
pub fn judge(
    last: Option<&VerifyStatus>,
    within_seconds: Option<u64>,
    now: DateTime<FixedOffset>,
) -> Option<DrillState> {
    if last.is_none() && within_seconds.is_none() {
        return None;
    }
    let success = last.and_then(|l| l.last_success.as_ref()).map(|l| l.end);
    let age = success.map(|end| (now - end).num_seconds());
    let overdue = match (age, within_seconds) {
        (Some(age), Some(w)) => age > i64::try_from(w).unwrap_or(i64::MAX),
        (None, _) => true,
        _ => false,
    };
    let state = match last.map(|l| l.result) {
        Some(DrillResult::Failed | DrillResult::Interrupted) => "failed",
        None => "never",
        Some(DrillResult::Passed) if overdue => "overdue",
        Some(DrillResult::Passed) => "ok",
    };
    Some(DrillState {
        state,
        last_result: last.map(|l| l.result),
        last_drill_end: last.map(|l| l.end),
        last_success: success,
        age_seconds: age,
        within_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> VerifyStatus {
        let t = DateTime::parse_from_rfc3339("2026-12-01T10:00:00+00:00").unwrap();
        VerifyStatus {
            host: "h\"1".into(),
            job: "etc".into(),
            result: DrillResult::Failed,
            exit_code: 1,
            start: t,
            end: t,
            snapshot: Some("20261201T020000+0000".into()),
            seed: Some(7),
            files_sampled: 12,
            files_checked: 10,
            mismatch_count: 1,
            mismatches: vec![Mismatch {
                path: "/etc/hosts".into(),
                reason: "content differs".into(),
            }],
            changed: 2,
            changed_paths: vec![],
            dumps: vec![],
            count: None,
            message: None,
            last_success: Some(LastPass {
                end: t,
                snapshot: "x".into(),
            }),
        }
    }

    #[test]
    fn metrics_carry_the_last_pass_and_escape_labels() {
        let text = render(&status(), Some(86_400));
        assert!(text.contains(
            "bakgen_verify_last_success_timestamp_seconds{bakgen_host=\"h\\\"1\",bakgen_job=\"etc\"} 1796119200\n"
        ), "{text}");
        assert!(text
            .contains("bakgen_verify_mismatches{bakgen_host=\"h\\\"1\",bakgen_job=\"etc\"} 1\n"));
        assert!(text.contains("bakgen_verify_expected_within_seconds{"));
        assert!(!render(&status(), None).contains("expected_within"));
    }

    #[test]
    fn drills_are_judged_by_their_last_result_and_age() {
        let mut s = status();
        let now = s.end + chrono::Duration::days(2);
        let age = |a: i64| format!("{a}s");
        assert_eq!(judge(None, None, now), None);
        assert_eq!(judge(None, Some(10), now).unwrap().state, "never");
        assert_eq!(
            judge(Some(&s), Some(86_400), now).unwrap().words(age),
            "verify failed"
        );
        s.result = DrillResult::Passed;
        assert_eq!(
            judge(Some(&s), Some(86_400), now).unwrap().words(age),
            "verify overdue"
        );
        assert_eq!(
            judge(Some(&s), Some(3 * 86_400), now).unwrap().words(age),
            "verified 172800s ago"
        );
        // Checked by hand, no drill in the spec: never overdue.
        assert_eq!(judge(Some(&s), None, now).unwrap().state, "ok");
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &status()).unwrap();
        assert_eq!(read(dir.path(), "etc").unwrap(), Some(status()));
        assert_eq!(read(dir.path(), "other").unwrap(), None);
    }
}
