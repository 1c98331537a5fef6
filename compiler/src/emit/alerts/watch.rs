//! The watch's alerts, one group per watching host: per job it judges, "late" as the
//! watch found it in the destination (`bakgen_watch_late`), and "watch absent" when none
//! of the watch's metrics reach Prometheus.

use bakgen_spec::metrics::{
    DESTINATION_LABEL, HOST_LABEL, JOB_LABEL, WATCH_EXPECTED_WITHIN, WATCH_LATE,
};

use super::rules::{absent_for, labels};
use super::text::{humanized, promql};
use super::{Alert, AlertJob, AlertWatch, Piece};
use crate::emit::paths::METRICS_DIR;

/// The label naming the watching host on its alerts: the watch's metrics name the jobs
/// they judge, not the host that judged.
pub(super) const WATCHER_LABEL: &str = "bakgen_watcher";

fn t(s: String) -> Piece {
    Piece::Text(s)
}

/// The labels the watch writes on each job's series.
pub(super) fn series(j: &AlertJob) -> Vec<(&'static str, String)> {
    vec![
        (HOST_LABEL, j.host.clone()),
        (JOB_LABEL, j.job.clone()),
        (DESTINATION_LABEL, j.destination.clone()),
    ]
}

fn selector(j: &AlertJob) -> String {
    let parts: Vec<String> = series(j)
        .into_iter()
        .map(|(k, v)| format!("{k}={}", promql(&v)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

pub(super) fn late(w: &AlertWatch, j: &AlertJob) -> Alert {
    let (host, job, d) = (&j.host, &j.job, &j.destination);
    let mut labels = labels("critical", j);
    labels.push((WATCHER_LABEL, w.host.clone()));
    Alert {
        name: "BakgenWatchLate",
        expr: format!("{WATCH_LATE}{} == 1", selector(j)),
        for_seconds: 0,
        series_labels: series(j),
        labels,
        summary: vec![t(format!(
            "Backup job {job} of host {host} is late in destination {d}"
        ))],
        description: vec![t(format!(
            "The watch on {} finds no complete run of job {job} of host {host} in destination \
             {d} younger than {} (or cannot read the destination). This is what landed, \
             whatever {host} reports. On {}: `bakrun watch --format table`, `journalctl -u \
             bakgen-watch.service`.",
            w.host,
            humanized(j.late_after),
            w.host
        ))],
    }
}

/// Fires when none of the watch's series has reached Prometheus for its own late-after
/// in whole hours; `None` for a watch that judges no job or never runs twice.
pub(super) fn absent(w: &AlertWatch) -> Option<Alert> {
    if w.jobs.is_empty() || w.late_after == 0 {
        return None;
    }
    let after = absent_for(w.late_after);
    // `count(…)` has no labels, so neither has the alert, however many places it names.
    let mut destinations: Vec<&str> = w.jobs.iter().map(|j| j.destination.as_str()).collect();
    destinations.sort_unstable();
    destinations.dedup();
    let any: Vec<String> = destinations
        .iter()
        .map(|d| {
            format!(
                "{WATCH_EXPECTED_WITHIN}{{{DESTINATION_LABEL}={}}}",
                promql(d)
            )
        })
        .collect();
    let host = &w.host;
    Some(Alert {
        name: "BakgenWatchAbsent",
        expr: format!("absent(count({}))", any.join(" or ")),
        for_seconds: after,
        series_labels: Vec::new(),
        labels: vec![
            (WATCHER_LABEL, host.clone()),
            ("severity", "critical".to_owned()),
        ],
        summary: vec![t(format!("No watch metrics from host {host}"))],
        description: vec![t(format!(
            "Prometheus has had none of the metrics of the watch on {host} for {}: the host, \
             its node exporter or its textfile collector ({METRICS_DIR}) is down, or the watch \
             never ran. On {host}: `systemctl list-timers bakgen-watch.timer`, `journalctl -u \
             bakgen-watch.service`.",
            humanized(after)
        ))],
    })
}

/// Every alert of one watch, in a fixed order.
pub(super) fn alerts(w: &AlertWatch) -> Vec<Alert> {
    absent(w)
        .into_iter()
        .chain(w.jobs.iter().map(|j| late(w, j)))
        .collect()
}
