//! How a drill ends: its outcome logged (what it found, or why it failed, with the command
//! that repeats it), recorded in `<state_dir>/verify/<job>.json` and in its metrics file,
//! and turned into bakrun's exit code.

use std::path::Path;

use chrono::{DateTime, FixedOffset, Local};

use super::record::{self, DrillResult, DumpResult, LastPass, VerifyStatus};
use super::{count, repeat_command, Found, Options, VerifyError};
use crate::spec::JobSpec;
use crate::{log, signals};
use bakgen_spec::exit::Exit;

/// bakrun's exit code for a drill that ended as `status` says.
pub fn status_exit(status: &VerifyStatus) -> Exit {
    match status.result {
        DrillResult::Passed => Exit::Ok,
        _ => Exit::Failed,
    }
}

/// Logs the outcome and writes the record and the metrics.
#[allow(clippy::too_many_arguments)]
pub fn finish(
    spec: &JobSpec,
    options: &Options,
    start: DateTime<FixedOffset>,
    seed: u64,
    snapshot: Option<String>,
    outcome: Result<Found, VerifyError>,
    state_dir: &Path,
) -> VerifyStatus {
    let end = Local::now().fixed_offset();
    let previous = match record::read(state_dir, &spec.job) {
        Ok(p) => p,
        Err(e) => {
            log::warn(format!("{e}; the last passed drill is forgotten"));
            None
        }
    };
    let mut status = VerifyStatus {
        host: spec.host.clone(),
        job: spec.job.clone(),
        result: DrillResult::Failed,
        exit_code: Exit::Failed.code(),
        start,
        end,
        snapshot: snapshot.clone(),
        seed: Some(seed),
        files_sampled: 0,
        files_checked: 0,
        mismatch_count: 0,
        mismatches: Vec::new(),
        changed: 0,
        changed_paths: Vec::new(),
        dumps: Vec::new(),
        count: None,
        message: None,
        last_success: previous.and_then(|p| p.last_success),
    };
    let again = repeat_command(spec, options, seed);
    match outcome {
        Ok(found) => {
            let passed = found.passed();
            status.files_sampled = found.sampled;
            status.files_checked = found.checked;
            status.mismatch_count = found.mismatches.len() as u64;
            status.changed = found.changed.len() as u64;
            status.changed_paths = found
                .changed
                .iter()
                .take(record::CHANGED_NAMED)
                .cloned()
                .collect();
            for m in &found.mismatches {
                log::error(format!("{}: {}", m.path, m.reason));
            }
            let failed_dumps: Vec<&DumpResult> = found.dumps.iter().filter(|d| !d.passed).collect();
            status.mismatches = found
                .mismatches
                .into_iter()
                .take(record::MISMATCHES_NAMED)
                .collect();
            status.dumps = found.dumps.clone();
            status.count = found.count;
            let summary = format!(
                "{} of {} files checked, {} changed since the run, {} corrupt{}{}",
                status.files_checked,
                status.files_sampled,
                status.changed,
                status.mismatch_count,
                if status.dumps.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} of {} dumps failed",
                        failed_dumps.len(),
                        status.dumps.len()
                    )
                },
                found
                    .count
                    .as_ref()
                    .map_or_else(String::new, count::summary)
            );
            if passed {
                status.result = DrillResult::Passed;
                status.exit_code = Exit::Ok.code();
                status.last_success = snapshot.map(|s| LastPass { end, snapshot: s });
                log::info(format!("drill passed: {summary}"));
                status.message = Some(summary);
            } else {
                let mut words = format!("drill failed: {summary}");
                if let Some(first) = status.mismatches.first() {
                    words.push_str(&format!("; first: {} ({})", first.path, first.reason));
                }
                if let Some(c) = found.count.filter(|c| !c.passed) {
                    words.push_str(&format!("; {}", count::failure(&c)));
                }
                if let Some(d) = failed_dumps.first() {
                    words.push_str(&format!(
                        "; dump {}: {}",
                        d.file_name,
                        d.failure.as_deref().unwrap_or("failed")
                    ));
                }
                words.push_str(&format!("; repeat with `{again}`"));
                log::error(&words);
                status.message = Some(words);
            }
        }
        Err(e) => {
            if matches!(e, VerifyError::Interrupted) || signals::stop_requested() {
                status.result = DrillResult::Interrupted;
            }
            let words = format!("drill {}: {e}", status.result.as_str());
            log::error(&words);
            status.message = Some(words);
        }
    }
    if let Err(e) = record::write(state_dir, &status) {
        log::error(e.to_string());
    }
    if let Some(dir) = &spec.metrics_dir {
        let within = spec.verify.as_ref().map(|v| v.within_seconds);
        if let Err(e) = record::write_metrics(Path::new(dir), &status, within) {
            log::warn(e.to_string());
        }
    }
    status
}
