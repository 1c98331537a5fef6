//! Prometheus text-format metrics for node_exporter's textfile collector:
//! `<metrics_dir>/bakgen_<job>.prom`, replaced atomically after every run.
//!
//! Every series is labelled `bakgen_host` and `bakgen_job`. Alert on
//! `time() - bakgen_job_last_success_timestamp_seconds > bakgen_job_late_after_seconds`
//! (a job that is late) and on `bakgen_job_last_run_result != 0` (exit code of the last run).

use std::fmt::Write as _;
use std::path::Path;

use crate::atomic_file;
use crate::status::Status;

pub use crate::installed::metrics_file as metrics_path;

/// Label values escaped as the exposition format requires.
pub(crate) fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The names alerting rules query, shared with the compiler.
pub use bakgen_spec::metrics::{HOST_LABEL, JOB_LABEL, LAST_RESULT, LAST_SUCCESS, LATE_AFTER};

fn job_labels(host: &str, job: &str) -> String {
    format!(
        "{HOST_LABEL}=\"{}\",{JOB_LABEL}=\"{}\"",
        label(host),
        label(job)
    )
}

/// Extra figures that only `bakrun status` knows (it compares with the clock).
#[derive(Debug, Clone, Copy, Default)]
pub struct Freshness {
    pub late: bool,
}

/// The metrics of one job. `HELP`/`TYPE` lines come first for each family, so several
/// jobs' texts must not simply be concatenated; use [`render_many`] for that.
pub fn render(
    host: &str,
    job: &str,
    status: Option<&Status>,
    late_after_seconds: u64,
    freshness: Option<Freshness>,
) -> String {
    render_many(&[(
        host.to_owned(),
        job.to_owned(),
        status.cloned(),
        late_after_seconds,
        freshness,
    )])
}

type JobFigures = (String, String, Option<Status>, u64, Option<Freshness>);

pub fn render_many(jobs: &[JobFigures]) -> String {
    #[allow(clippy::type_complexity)]
    let families: &[(&str, &str, &dyn Fn(&JobFigures) -> Option<f64>)] = &[
        (
            LAST_SUCCESS,
            "Unix time at which the last successful run ended.",
            &|j| {
                j.2.as_ref()
                    .and_then(|s| s.last_success.as_ref())
                    .map(|l| l.end.timestamp_millis() as f64 / 1000.0)
            },
        ),
        (
            "bakgen_job_last_run_timestamp_seconds",
            "Unix time at which the last run ended.",
            &|j| {
                j.2.as_ref()
                    .map(|s| s.end.timestamp_millis() as f64 / 1000.0)
            },
        ),
        (
            LAST_RESULT,
            "Exit code of the last run: 0 ok, 1 failed, 11 destination not mounted.",
            &|j| j.2.as_ref().map(|s| f64::from(s.exit_code)),
        ),
        (
            "bakgen_job_duration_seconds",
            "Duration of the last run.",
            &|j| j.2.as_ref().map(|s| s.duration_seconds),
        ),
        (
            "bakgen_job_files_transferred",
            "Regular files whose content the last run transferred.",
            &|j| j.2.as_ref().map(|s| s.files_transferred as f64),
        ),
        (
            "bakgen_job_files_new",
            "New files the last run stored (restic).",
            &|j| j.2.as_ref().and_then(|s| s.files_new).map(|n| n as f64),
        ),
        (
            "bakgen_job_files_changed",
            "Changed files the last run stored (restic).",
            &|j| j.2.as_ref().and_then(|s| s.files_changed).map(|n| n as f64),
        ),
        (
            "bakgen_job_bytes_transferred",
            "Bytes of file content the last run transferred.",
            &|j| j.2.as_ref().map(|s| s.bytes_transferred as f64),
        ),
        (
            "bakgen_job_source_bytes",
            "Total size of the files in the last snapshot.",
            &|j| j.2.as_ref().map(|s| s.bytes_total as f64),
        ),
        (
            "bakgen_job_snapshots",
            "Complete snapshots kept after the last run.",
            &|j| j.2.as_ref().and_then(|s| s.snapshots).map(|n| n as f64),
        ),
        (
            LATE_AFTER,
            "A job whose last success is older than this is late.",
            &|j| Some(j.3 as f64),
        ),
        (
            "bakgen_job_late",
            "1 when the job is late or never succeeded.",
            &|j| j.4.map(|f| if f.late { 1.0 } else { 0.0 }),
        ),
    ];
    let mut out = String::new();
    for (name, help, value) in families {
        let values: Vec<(String, f64)> = jobs
            .iter()
            .filter_map(|j| value(j).map(|v| (job_labels(&j.0, &j.1), v)))
            .collect();
        gauge(&mut out, name, help, &values);
    }
    // The snapshot the last run made, as a label: an id is no number.
    let made: Vec<String> = jobs
        .iter()
        .filter_map(|j| {
            let snapshot = j.2.as_ref()?.snapshot.as_ref()?;
            Some(format!(
                "{},snapshot=\"{}\"",
                job_labels(&j.0, &j.1),
                label(snapshot)
            ))
        })
        .collect();
    if !made.is_empty() {
        let name = "bakgen_job_last_snapshot_info";
        let _ = writeln!(
            out,
            "# HELP {name} Always 1; the snapshot label is the id of the snapshot the last run made."
        );
        let _ = writeln!(out, "# TYPE {name} gauge");
        for labels in made {
            let _ = writeln!(out, "{name}{{{labels}}} 1");
        }
    }
    out
}

/// One gauge family: its `HELP` and `TYPE` lines, then a line per labelled value;
/// nothing when there is no value.
pub(crate) fn gauge(out: &mut String, name: &str, help: &str, values: &[(String, f64)]) {
    if values.is_empty() {
        return;
    }
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (labels, v) in values {
        let _ = writeln!(out, "{name}{{{labels}}} {v}");
    }
}

/// The mode of every metrics file: they hold no secret, and node_exporter reads them as its
/// own user while the units run bakrun with `UMask=0077`.
pub const METRICS_FILE_MODE: u32 = 0o644;

pub fn write(metrics_dir: &Path, job: &str, text: &str) -> std::io::Result<()> {
    write_file(&metrics_path(metrics_dir, job), text)
}

/// Writes a metrics file (a run's, the watch's, a drill's) atomically, mode
/// [`METRICS_FILE_MODE`].
pub fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    atomic_file::write_with_mode(
        path,
        text.as_bytes(),
        atomic_file::FileMode::Exact(METRICS_FILE_MODE),
    )
}

/// What a status says when a run's metrics could not be written: the run's result stands,
/// but monitoring that reads the metrics does not see it.
pub fn not_written(reason: &std::io::Error, path: &Path) -> String {
    format!("metrics not written: {}: {reason}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let text = render("h", "j", None, 90, None);
        assert_eq!(
            text,
            "# HELP bakgen_job_late_after_seconds A job whose last success is older than this is late.\n\
             # TYPE bakgen_job_late_after_seconds gauge\n\
             bakgen_job_late_after_seconds{bakgen_host=\"h\",bakgen_job=\"j\"} 90\n"
        );
    }
}
