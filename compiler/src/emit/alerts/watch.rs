//! The watch's alerts, one group per watching host: per job it judges, "late" as the
//! watch found it in the destination (`bakgen_watch_late`); "watch absent" when its
//! metrics do not reach Prometheus, and "watch stale" when they do but say it last judged
//! longer ago than it runs (its last file left in the textfile folder by a watch that
//! stopped). Every series names the watching host (`bakgen_watcher`), so two watches of
//! one destination are told apart.

use bakgen_spec::metrics::{
    DESTINATION_LABEL, HOST_LABEL, JOB_LABEL, WATCHER_LABEL, WATCH_LAST_RUN, WATCH_LATE,
};

use super::rules::{absent_for, labels};
use super::text::{humanized, promql};
use super::{Alert, AlertJob, AlertWatch, Piece};
use crate::emit::paths::METRICS_DIR;

fn t(s: String) -> Piece {
    Piece::Text(s)
}

/// The labels the watch writes on each job's series.
pub(super) fn series(w: &AlertWatch, j: &AlertJob) -> Vec<(&'static str, String)> {
    vec![
        (WATCHER_LABEL, w.host.clone()),
        (HOST_LABEL, j.host.clone()),
        (JOB_LABEL, j.job.clone()),
        (DESTINATION_LABEL, j.destination.clone()),
    ]
}

/// The labels of the watch's own series (its last run).
fn watcher(w: &AlertWatch) -> Vec<(&'static str, String)> {
    vec![(WATCHER_LABEL, w.host.clone())]
}

fn selector(labels: &[(&'static str, String)]) -> String {
    let parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", promql(v)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

pub(super) fn late(w: &AlertWatch, j: &AlertJob) -> Alert {
    let (host, job, d) = (&j.host, &j.job, &j.destination);
    let mut labels = labels("critical", j);
    labels.push((WATCHER_LABEL, w.host.clone()));
    Alert {
        name: "BakgenWatchLate",
        expr: format!("{WATCH_LATE}{} == 1", selector(&series(w, j))),
        for_seconds: 0,
        series_labels: series(w, j),
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

/// Fires when the watch's last run has not reached Prometheus for its own late-after in
/// whole hours; `None` for a watch that judges no job or never runs twice.
pub(super) fn absent(w: &AlertWatch) -> Option<Alert> {
    if w.jobs.is_empty() || w.late_after == 0 {
        return None;
    }
    let after = absent_for(w.late_after);
    let host = &w.host;
    Some(Alert {
        name: "BakgenWatchAbsent",
        expr: format!("absent({WATCH_LAST_RUN}{})", selector(&watcher(w))),
        for_seconds: after,
        series_labels: watcher(w),
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

/// Fires when the watch last judged longer ago than its own late-after: its timer is
/// stopped, its service fails before writing or its clock is stuck, while the textfile
/// folder still holds its last findings. `None` as for [`absent`].
pub(super) fn stale(w: &AlertWatch) -> Option<Alert> {
    if w.jobs.is_empty() || w.late_after == 0 {
        return None;
    }
    let host = &w.host;
    Some(Alert {
        name: "BakgenWatchStale",
        expr: format!(
            "time() - {WATCH_LAST_RUN}{} > {}",
            selector(&watcher(w)),
            w.late_after
        ),
        for_seconds: 0,
        series_labels: watcher(w),
        labels: vec![
            (WATCHER_LABEL, host.clone()),
            ("severity", "critical".to_owned()),
        ],
        summary: vec![t(format!("The watch on host {host} has stopped judging"))],
        description: vec![
            t(format!("The watch on {host} last finished judging ")),
            Piece::Age,
            t(format!(
                " ago; it must judge within {}. Its findings (bakgen_watch.prom in {METRICS_DIR}) \
                 are left from then and no longer tell whether backups land. On {host}: \
                 `systemctl list-timers bakgen-watch.timer`, `journalctl -u \
                 bakgen-watch.service`, `timedatectl`.",
                humanized(w.late_after)
            )),
        ],
    })
}

/// Every alert of one watch, in a fixed order.
pub(super) fn alerts(w: &AlertWatch) -> Vec<Alert> {
    absent(w)
        .into_iter()
        .chain(stale(w))
        .chain(w.jobs.iter().map(|j| late(w, j)))
        .collect()
}
