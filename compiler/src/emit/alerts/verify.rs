//! The restore drill's alerts, beside each job's own: "verify overdue" (the last drill
//! that passed is older than the job's `verify` `within`) and "verify never passed" (the
//! host reports, but no drill of the job has passed for that long: its timer is stopped,
//! or every drill failed). A drill that fails also starts the job's `OnFailure=`
//! notification; these alerts catch the drill that stopped running too.

use bakgen_spec::metrics::{LATE_AFTER, VERIFY_LAST_SUCCESS};

use super::cases::{ages_around, case, pending_evals, selector as series_of, Eval, MINUTE, STEP};
use super::rules::{absent_for, labels, named, selector};
use super::text::humanized;
use super::{Alert, AlertJob, Piece};
use crate::emit::paths::METRICS_DIR;

fn t(s: String) -> Piece {
    Piece::Text(s)
}

/// Where to look on the host when a drill is overdue.
fn look(j: &AlertJob) -> String {
    format!(
        "On {}: `bakrun status`, `journalctl -u {}`, `systemctl list-timers {}`; `bakrun verify {}` runs one now.",
        j.host,
        crate::emit::verify_service_name(&j.job),
        crate::emit::verify_timer_name(&j.job),
        j.job
    )
}

pub(super) fn overdue(j: &AlertJob) -> Option<Alert> {
    if j.verify_within == 0 {
        return None;
    }
    let (host, job) = (&j.host, &j.job);
    Some(Alert {
        name: "BakgenVerifyOverdue",
        expr: format!(
            "time() - {VERIFY_LAST_SUCCESS}{} > {}",
            selector(host, Some(job)),
            j.verify_within
        ),
        for_seconds: 0,
        series_labels: named(j),
        labels: labels("warning", j),
        summary: vec![t(format!(
            "Backup job {job} of host {host} has not passed a restore drill in time"
        ))],
        description: vec![
            t(format!(
                "The last restore drill of job {job} of host {host} (destination {}) that passed ended ",
                j.destination
            )),
            Piece::Age,
            t(format!(
                " ago; the policy expects one within {}: its drills fail or stopped. {}",
                humanized(j.verify_within),
                look(j)
            )),
        ],
    })
}

pub(super) fn never_passed(j: &AlertJob) -> Option<Alert> {
    if j.verify_within == 0 {
        return None;
    }
    let (host, job) = (&j.host, &j.job);
    let after = absent_for(j.verify_within);
    Some(Alert {
        name: "BakgenVerifyNeverPassed",
        // A host that reports nothing at all is its host alert, not one per drill.
        expr: format!(
            "absent({VERIFY_LAST_SUCCESS}{}) unless on() absent({LATE_AFTER}{})",
            selector(host, Some(job)),
            selector(host, None)
        ),
        for_seconds: after,
        series_labels: named(j),
        labels: labels("warning", j),
        summary: vec![t(format!(
            "No restore drill of backup job {job} of host {host} has passed"
        ))],
        description: vec![t(format!(
            "Host {host} reports, but no restore drill of job {job} (destination {}) has passed \
             for {} (bakgen-verify_{job}.prom in {METRICS_DIR} has no last success). {}",
            j.destination,
            humanized(after),
            look(j)
        ))],
    })
}

/// The drill's alerts of one job, in a fixed order; none for a job without `verify`.
pub(super) fn alerts(j: &AlertJob) -> Vec<Alert> {
    overdue(j).into_iter().chain(never_passed(j)).collect()
}

/// Each drill's last pass is exactly its `within` old at step 0 (quiet) and one minute
/// older at step 1 (overdue). Then each host reports a run's metric but no drill's: each
/// job's never-passed alert fires at its hour and not the hour before, and no overdue one.
pub(super) fn cases(out: &mut String, jobs: &[AlertJob]) {
    let overdue: Vec<(u64, Alert)> = jobs
        .iter()
        .filter_map(|j| Some((j.verify_within, self::overdue(j)?)))
        .collect();
    if overdue.is_empty() {
        return;
    }
    let series = overdue
        .iter()
        .map(|(w, a)| {
            let (at_0, at_1) = ages_around(*w);
            (series_of(VERIFY_LAST_SUCCESS, a), format!("{at_0} {at_1}"))
        })
        .collect::<Vec<_>>();
    let evals: Vec<Eval<'_>> = vec![
        (0, "BakgenVerifyOverdue", Vec::new()),
        (
            STEP,
            "BakgenVerifyOverdue",
            overdue.iter().map(|(w, a)| (a, w + MINUTE)).collect(),
        ),
    ];
    case(
        out,
        "each drill is overdue one minute past its within, not at it",
        &series,
        &evals,
    );

    let never: Vec<Alert> = jobs.iter().filter_map(never_passed).collect();
    let never: Vec<&Alert> = never.iter().collect();
    let (end, evals) = pending_evals(&never, "BakgenVerifyNeverPassed", "BakgenVerifyOverdue");
    let mut hosts: Vec<&str> = jobs
        .iter()
        .filter(|j| j.verify_within > 0)
        .map(|j| j.host.as_str())
        .collect();
    hosts.dedup();
    let series = hosts
        .iter()
        .map(|host| {
            (
                format!("{LATE_AFTER}{}", selector(host, None)),
                format!("0x{}", end / STEP),
            )
        })
        .collect::<Vec<_>>();
    case(
        out,
        "a drill that never passed on a host that reports fires after its own within",
        &series,
        &evals,
    );
    // A host that reports nothing is its host alert's: no drill's alert then.
    let quiet = vec![(end, "BakgenVerifyNeverPassed", Vec::new())];
    case(
        out,
        "a host that reports nothing fires no drill's alert",
        &[],
        &quiet,
    );
}
