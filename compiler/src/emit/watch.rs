//! The watching host's files: `etc/bakgen/watch.json` (the runtime's `WatchSpec`: every
//! place it reads and the jobs landing there), `bakgen-watch.service` (`bakrun watch`) and
//! `bakgen-watch.timer`.

use std::collections::BTreeMap;

use bakgen_spec::watch::{
    Read, Store, WatchSpec, WatchedJob, WATCH_SPEC, WATCH_UNIT, WATCH_VERSION,
};

use super::bundle::{unit_data, Bundle, TimerData};
use super::escape::verbatim;
use super::job::{environment, job_spec, notify, repository, secret_ref, sftp_ssh};
use super::paths::{CACHE_DIR, METRICS_DIR, STATE_DIR, UNIT_DIR};
use super::render::{RenderError, Templates};
use super::schedule::GapCache;
use super::service::{watch_unit, WatchNeeds};
use crate::policy::{Repository, Secret};
use crate::validate::{Plan, PlannedJob, PlannedWatch, Target, WatchedTarget};

pub const WATCH_TIMER: &str = "bakgen-watch.timer";

/// The jobs that write to `target`'s destination, each with the age its newest complete
/// run must stay under. A job whose schedule fires fewer than twice is never late, so it
/// is not watched.
fn watched<'a>(
    plan: &'a Plan,
    target: &WatchedTarget,
    gaps: &mut GapCache,
) -> Vec<(&'a PlannedJob, WatchedJob)> {
    plan.jobs()
        .iter()
        .filter(|j| j.destination.name.value == target.destination.name.value)
        .filter_map(|j| {
            let late = job_spec(j, gaps).schedule.late_after_seconds;
            (late > 0).then(|| {
                (
                    j,
                    WatchedJob {
                        host: j.host.value.clone(),
                        job: j.name.value.clone(),
                        expected_within_seconds: late,
                    },
                )
            })
        })
        .collect()
}

/// Where a store is read, to sort stores by.
fn place(read: &Read) -> &str {
    match read {
        Read::Snapshots { path, .. } | Read::ResticFileTimes { path } => path,
        Read::Restic { repository, .. } => repository,
    }
}

/// The stores of one watched destination: one snapshot folder, or one per repository
/// its jobs' `{host}`/`{job}` make.
fn stores(plan: &Plan, target: &WatchedTarget, gaps: &mut GapCache) -> Vec<Store> {
    let name = &target.destination.name.value;
    let jobs = watched(plan, target, gaps);
    let w = &target.watched;
    let mut out = Vec::new();
    match &target.target {
        Target::Snapshots(f) => {
            let (path, mount_point) = match &w.at {
                Some(at) => (at.value.clone(), None),
                // An unmounted disk's empty folder must read as unreadable, not as "never".
                None => (
                    f.path.value.clone(),
                    f.device.as_ref().map(|_| f.path.value.clone()),
                ),
            };
            out.push(Store {
                destination: name.clone(),
                read: Read::Snapshots { path, mount_point },
                jobs: jobs.into_iter().map(|(_, j)| j).collect(),
            });
        }
        Target::Restic(r) => {
            let template = w.at.as_ref().unwrap_or(&r.repository.url);
            let file_times = w.file_times.as_ref().is_some_and(|f| f.value);
            let mut by_repository: BTreeMap<String, Vec<WatchedJob>> = BTreeMap::new();
            for (job, watched) in jobs {
                by_repository
                    .entry(repository(
                        &template.value,
                        &job.host.value,
                        &job.name.value,
                    ))
                    .or_default()
                    .push(watched);
            }
            for (repository, jobs) in by_repository {
                let read = if file_times {
                    Read::ResticFileTimes { path: repository }
                } else {
                    let sftp = Repository::parse(&repository).is_some_and(|l| l.is_sftp());
                    Read::Restic {
                        repository,
                        password: secret_ref(&r.password),
                        environment: environment(r),
                        cache_dir: CACHE_DIR.to_owned(),
                        ssh: r.repository.ssh.as_ref().filter(|_| sftp).map(sftp_ssh),
                    }
                };
                out.push(Store {
                    destination: name.clone(),
                    read,
                    jobs,
                });
            }
        }
    }
    // A place where no job that can be late writes has nothing to judge.
    out.retain(|s| !s.jobs.is_empty());
    for store in &mut out {
        store
            .jobs
            .sort_by(|a, b| (&a.host, &a.job).cmp(&(&b.host, &b.job)));
    }
    out
}

/// The watch spec of a planned watch.
fn watch_spec(plan: &Plan, w: &PlannedWatch, gaps: &mut GapCache) -> WatchSpec {
    let mut stores: Vec<Store> = w
        .destinations
        .iter()
        .flat_map(|t| stores(plan, t, gaps))
        .collect();
    stores.sort_by(|a, b| (&a.destination, place(&a.read)).cmp(&(&b.destination, place(&b.read))));
    WatchSpec {
        version: WATCH_VERSION,
        host: w.watch.host.value.clone(),
        stores,
        on_late: w.watch.on_late.as_ref().map(notify),
        state_dir: STATE_DIR.to_owned(),
        metrics_dir: Some(METRICS_DIR.to_owned()),
    }
}

/// Adds the watch's spec, service and timer to the watching host's bundle.
pub(super) fn add(
    templates: &Templates,
    b: &mut Bundle,
    plan: &Plan,
    w: &PlannedWatch,
    gaps: &mut GapCache,
) -> Result<(), RenderError> {
    let spec = watch_spec(plan, w, gaps);
    let mut needs = WatchNeeds {
        network: spec.on_late.is_some(),
        restic: false,
        reads: Vec::new(),
        secrets: Vec::new(),
    };
    for store in &spec.stores {
        match &store.read {
            Read::Snapshots { path, .. } | Read::ResticFileTimes { path } => {
                needs.reads.push(path.clone())
            }
            Read::Restic { repository, .. } => {
                needs.restic = true;
                match Repository::parse(repository) {
                    Some(l) if l.is_local() => needs.reads.push(repository.clone()),
                    _ => needs.network = true,
                }
            }
        }
    }
    needs.secrets = w
        .destinations
        .iter()
        .filter(|t| !t.watched.file_times.as_ref().is_some_and(|f| f.value))
        .flat_map(|t| match &t.target {
            Target::Restic(r) => std::iter::once(&r.password)
                .chain(r.environment.iter().map(|(_, s)| s))
                .collect::<Vec<&Secret>>(),
            Target::Snapshots(_) => Vec::new(),
        })
        .collect();
    let unit = watch_unit(&needs);
    b.add(
        format!("{UNIT_DIR}/{WATCH_UNIT}"),
        templates.render("service", &unit_data(&unit))?,
        0o644,
    );
    let timer = TimerData {
        description: verbatim(&format!("Timer of the bakgen watch of host {}", spec.host)),
        calendar: verbatim(&w.calendar.normalized()),
        timer: TimerData::jitter(w.jitter_seconds),
        service: WATCH_UNIT.to_owned(),
    };
    b.add(
        format!("{UNIT_DIR}/{WATCH_TIMER}"),
        templates.render("timer", &timer)?,
        0o644,
    );
    let mut json = serde_json::to_string_pretty(&spec).unwrap_or_default();
    json.push('\n');
    b.add(WATCH_SPEC.trim_start_matches('/').to_owned(), json, 0o600);
    Ok(())
}
