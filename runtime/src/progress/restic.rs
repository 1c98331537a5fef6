//! restic's `--json` status lines (`"message_type":"status"`), printed by `restic backup`
//! several times a second:
//!
//! `{"message_type":"status","percent_done":0.39,"total_files":30,"files_done":11,
//!   "total_bytes":139500000,"bytes_done":54432512,"current_files":[…]}`
//!
//! Fields restic has nothing to say about yet are left out. The `summary` line and any
//! other output are not progress.

use serde::Deserialize;

use super::Progress;

#[derive(Deserialize)]
struct Status {
    message_type: String,
    #[serde(default)]
    percent_done: Option<f64>,
    #[serde(default)]
    total_files: Option<u64>,
    #[serde(default)]
    files_done: Option<u64>,
    #[serde(default)]
    total_bytes: Option<u64>,
    #[serde(default)]
    bytes_done: Option<u64>,
}

/// One status line, or `None` for any other line.
pub fn parse(line: &str) -> Option<Progress> {
    // Cheap refusal first: restic prints several a second, the summary once.
    if !line.contains("\"status\"") {
        return None;
    }
    let s: Status = serde_json::from_str(line).ok()?;
    if s.message_type != "status" {
        return None;
    }
    Some(Progress {
        files_done: Some(s.files_done.unwrap_or(0)),
        files_total: s.total_files,
        files_transferred: None,
        bytes_done: s.bytes_done.unwrap_or(0),
        bytes_total: s.total_bytes,
        percent: s.percent_done.map(|p| p * 100.0),
    })
}
