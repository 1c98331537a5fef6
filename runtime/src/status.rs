//! The record of a job's last run, `<state_dir>/status/<job>.json`, which `bakrun status`
//! and monitoring read. It also carries the last success forward, so a failed run does
//! not hide how old the newest good backup is.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::atomic_file;
use crate::engine::TransferStats;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunResult {
    Success,
    Failed,
    /// Stopped by SIGTERM/SIGINT (systemd stop, timeout, shutdown).
    Interrupted,
    /// The destination was not mounted (exit 11).
    NotMounted,
}

impl RunResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Success => "success",
            RunResult::Failed => "failed",
            RunResult::Interrupted => "interrupted",
            RunResult::NotMounted => "not-mounted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastSuccess {
    pub end: DateTime<FixedOffset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub host: String,
    pub job: String,
    pub result: RunResult,
    pub exit_code: u8,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub duration_seconds: f64,
    /// The snapshot this run made, if it made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    #[serde(default)]
    pub files_total: u64,
    #[serde(default)]
    pub files_transferred: u64,
    #[serde(default)]
    pub bytes_total: u64,
    #[serde(default)]
    pub bytes_transferred: u64,
    /// New and changed files, when the engine tells them apart (restic's summary; their
    /// sum is `files_transferred`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_new: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_changed: Option<u64>,
    /// Complete snapshots after this run (after retention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<u64>,
    /// Why the run failed, or its warnings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<LastSuccess>,
    /// Why the run's metrics file could not be written (the run's result stands; `message`
    /// says it too: `ok, metrics not written: …` after a success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_error: Option<String>,
}

impl Status {
    /// Records that the metrics were not written, in `metrics_error` and in `message`.
    pub fn metrics_not_written(&mut self, why: String) {
        self.message = Some(match (self.message.take(), self.result) {
            (Some(m), _) => format!("{m}; {why}"),
            (None, RunResult::Success) => format!("ok, {why}"),
            (None, _) => why.clone(),
        });
        self.metrics_error = Some(why);
    }

    pub fn set_stats(&mut self, stats: &TransferStats) {
        self.files_total = stats.files_total;
        self.files_transferred = stats.files_transferred;
        self.bytes_total = stats.bytes_total;
        self.bytes_transferred = stats.bytes_transferred;
        self.files_new = stats.files_new;
        self.files_changed = stats.files_changed;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("cannot read status {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("status {} is not valid: {source}", path.display())]
    Invalid {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write status {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub use crate::installed::status_file as status_path;

/// The last recorded run, `None` when the job never ran.
pub fn read(state_dir: &Path, job: &str) -> Result<Option<Status>, StatusError> {
    let path = status_path(state_dir, job);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StatusError::Read { path, source }),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| StatusError::Invalid { path, source })
}

pub fn write(state_dir: &Path, status: &Status) -> Result<(), StatusError> {
    let path = status_path(state_dir, &status.job);
    let mut text = serde_json::to_string_pretty(status).unwrap_or_default();
    text.push('\n');
    atomic_file::write(&path, text.as_bytes()).map_err(|source| StatusError::Write { path, source })
}
