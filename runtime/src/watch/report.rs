//! What the watch says: the Prometheus textfile metrics (`<metrics-dir>/bakgen_watch.prom`),
//! the JSON report (`<state-dir>/watch/report.json`) and the rows of the table.

use std::path::{Path, PathBuf};

use chrono::SecondsFormat;

use super::{JobReport, Report};
use crate::metrics::{gauge, label};
use bakgen_spec::metrics::{
    DESTINATION_LABEL, HOST_LABEL, JOB_LABEL, WATCHER_LABEL, WATCH_EXPECTED_WITHIN,
    WATCH_LAST_COMPLETE, WATCH_LAST_RUN, WATCH_LATE,
};

/// The metrics file in the textfile collector's folder.
pub fn metrics_path(metrics_dir: &Path) -> PathBuf {
    metrics_dir.join("bakgen_watch.prom")
}

/// The report, beside what was last told.
pub fn report_path(state_dir: &Path) -> PathBuf {
    state_dir.join("watch").join("report.json")
}

fn watcher(report: &Report) -> String {
    format!("{WATCHER_LABEL}=\"{}\"", label(&report.host))
}

fn labels(report: &Report, j: &JobReport) -> String {
    format!(
        "{},{HOST_LABEL}=\"{}\",{JOB_LABEL}=\"{}\",{DESTINATION_LABEL}=\"{}\"",
        watcher(report),
        label(&j.host),
        label(&j.job),
        label(&j.destination)
    )
}

/// When the watch judged, then three families per job: the newest complete run (absent
/// when there is none, or the store is unreadable), whether the job needs someone, and
/// its expected age. Every series names the watching host.
pub fn metrics(report: &Report) -> String {
    let mut out = String::new();
    gauge(
        &mut out,
        WATCH_LAST_RUN,
        "Unix time at which this watch last finished judging.",
        &[(watcher(report), report.at.timestamp() as f64)],
    );
    let each = |value: &dyn Fn(&JobReport) -> Option<f64>| -> Vec<(String, f64)> {
        report
            .jobs
            .iter()
            .filter_map(|j| value(j).map(|v| (labels(report, j), v)))
            .collect()
    };
    gauge(
        &mut out,
        WATCH_LAST_COMPLETE,
        "Unix time at which the newest complete run in the destination started.",
        &each(&|j| j.newest_complete.map(|t| t.timestamp() as f64)),
    );
    gauge(
        &mut out,
        WATCH_LATE,
        "1 when the job is late, never ran or its destination is unreadable; else 0.",
        &each(&|j| Some(if j.state.is_bad() { 1.0 } else { 0.0 })),
    );
    gauge(
        &mut out,
        WATCH_EXPECTED_WITHIN,
        "The age the newest complete run must stay under.",
        &each(&|j| Some(j.expected_within_seconds as f64)),
    );
    out
}

/// The table's header.
pub const HEADER: [&str; 7] = [
    "HOST",
    "JOB",
    "DESTINATION",
    "NEWEST COMPLETE RUN",
    "AGE",
    "DUE BY",
    "STATE",
];

/// A job's row; the age as `age` writes it. An unreadable store's reason follows its
/// state.
pub fn row(j: &JobReport, age: impl Fn(i64) -> String) -> [String; 7] {
    let time = |t: Option<chrono::DateTime<chrono::FixedOffset>>| {
        t.map_or_else(
            || "-".to_owned(),
            |t| t.to_rfc3339_opts(SecondsFormat::Secs, false),
        )
    };
    let state = match &j.reason {
        Some(why) => format!("{}: {why}", j.state.as_str()),
        None => j.state.as_str().to_owned(),
    };
    [
        j.host.clone(),
        j.job.clone(),
        j.destination.clone(),
        j.newest_complete
            .map_or_else(|| "never".to_owned(), |t| time(Some(t))),
        j.age_seconds.map_or_else(|| "-".to_owned(), age),
        time(j.due_by),
        state,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::State;

    #[test]
    fn metrics_name_each_job_and_leave_out_a_missing_run() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-04-01T12:00:00+00:00").unwrap();
        let job = |job: &str, state, newest| JobReport {
            host: "web1".into(),
            job: job.into(),
            destination: "usb".into(),
            state,
            newest_complete: newest,
            age_seconds: None,
            due_by: None,
            expected_within_seconds: 3600,
            reason: None,
        };
        let report = Report {
            host: "backup1".into(),
            at,
            jobs: vec![
                job("etc", State::Ok, Some(at)),
                job("db", State::Never, None),
            ],
        };
        let text = metrics(&report);
        let l = |j: &str| {
            format!(
                "bakgen_watcher=\"backup1\",bakgen_host=\"web1\",bakgen_job=\"{j}\",bakgen_destination=\"usb\""
            )
        };
        assert!(
            text.contains(
                "bakgen_watch_last_run_timestamp_seconds{bakgen_watcher=\"backup1\"} 1775044800\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "bakgen_watch_last_complete_timestamp_seconds{{{}}} 1775044800\n",
                l("etc")
            )),
            "{text}"
        );
        assert!(!text.contains(&format!(
            "bakgen_watch_last_complete_timestamp_seconds{{{}}}",
            l("db")
        )));
        assert!(text.contains(&format!("bakgen_watch_late{{{}}} 1\n", l("db"))));
        assert!(text.contains(&format!("bakgen_watch_late{{{}}} 0\n", l("etc"))));
        assert!(text.contains(&format!(
            "bakgen_watch_expected_within_seconds{{{}}} 3600\n",
            l("db")
        )));
        assert_eq!(text.matches("# TYPE").count(), 4);
    }
}
