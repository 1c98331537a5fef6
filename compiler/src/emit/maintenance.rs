//! Repository maintenance for restic destinations: per destination used on a host,
//! `bakgen-prune-<dest>.{service,timer}` (`bakrun prune --repository-only`, which runs
//! `restic prune` to free the data that jobs' retention forgot) and
//! `bakgen-check-<dest>.{service,timer}` (`bakrun check`, `restic check`, reading a share
//! of the data back when the policy says `read-data=`).
//!
//! Jobs only `forget` (cheap, and scoped to their own host and job); pruning rewrites
//! pack files for every job of the repository and takes restic's exclusive lock, so it
//! runs once per repository on its own, rarer schedule instead of after every backup.

use bakgen_spec::job::JobSpec;

use super::bundle::{unit_data, Bundle, TimerData};
use super::escape::{exec_arg, name_fragment, verbatim};
use super::paths::{installed_spec, UNIT_DIR};
use super::render::{RenderError, Templates};
use super::service::service_unit;
use crate::policy::{DestinationKind, Schedule, Settings};
use crate::schedule::CalendarSpec;
use crate::validate::PlannedJob;

const DEFAULT_PRUNE: &str = "weekly";
const DEFAULT_CHECK: &str = "monthly";
/// Spreads a fleet's default maintenance over an hour, so that hosts sharing one server
/// do not all prune at the same minute.
const DEFAULT_JITTER_SECONDS: u64 = 3600;

/// Adds the maintenance units of every restic destination among `jobs` (a job and its
/// spec, in job order).
pub(super) fn add(
    templates: &Templates,
    b: &mut Bundle,
    jobs: &[(&PlannedJob, JobSpec)],
) -> Result<(), RenderError> {
    let mut seen: Vec<&str> = Vec::new();
    for (job, first) in jobs {
        let dest = &job.destination;
        let DestinationKind::Restic(repo) = &dest.kind else {
            continue;
        };
        let name = dest.name.value.as_str();
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let specs: Vec<&JobSpec> = jobs
            .iter()
            .filter(|(j, _)| j.destination.name.value == name)
            .map(|(_, s)| s)
            .collect();
        // `job` is the destination's first job: its spec gives the unit its repository,
        // secrets and sandbox; without its steps, pull, notification and ping, so the unit gets
        // only the destination's credentials and capabilities.
        let mut base = first.clone();
        base.steps.clear();
        base.remote = None;
        base.on_failure = None;
        base.ping = None;
        let spec_args: Vec<String> = specs
            .iter()
            .map(|s| exec_arg(&installed_spec(&s.job)))
            .collect();
        let fragment = name_fragment(name);
        let mut check = format!("check {}", spec_args.join(" "));
        if let Some(r) = &repo.check_read_data {
            check.push_str(&format!(" --read-data {}", exec_arg(&r.value)));
        }
        for (kind, exec, schedule, default) in [
            (
                "prune",
                format!("prune --repository-only {}", spec_args.join(" ")),
                &repo.prune_schedule,
                DEFAULT_PRUNE,
            ),
            ("check", check, &repo.check_schedule, DEFAULT_CHECK),
        ] {
            let mut unit = service_unit(job, &Settings::default(), &base);
            unit.description = verbatim(&format!(
                "bakgen restic {kind} of destination {name} from host {}",
                base.host
            ));
            unit.bakrun_args = exec;
            // Exit 11 is a run's absent snapshots folder; prune and check of a restic
            // repository never end with it.
            unit.service
                .retain(|l| !l.starts_with("SuccessExitStatus="));
            let service = format!("bakgen-{kind}-{fragment}.service");
            b.add(
                format!("{UNIT_DIR}/{service}"),
                templates.render("service", &unit_data(&unit))?,
                0o644,
            );
            let (calendar, jitter) = calendar_of(schedule.as_ref(), default);
            let timer = TimerData {
                description: verbatim(&format!(
                    "Timer of bakgen restic {kind} of destination {name}"
                )),
                calendar: verbatim(&calendar),
                timer: TimerData::jitter(jitter),
                service,
            };
            b.add(
                format!("{UNIT_DIR}/bakgen-{kind}-{fragment}.timer"),
                templates.render("timer", &timer)?,
                0o644,
            );
        }
    }
    Ok(())
}

/// The normalized calendar and jitter of a maintenance schedule, or the default's; a
/// schedule without `jitter=` gets the default jitter.
fn calendar_of(schedule: Option<&Schedule>, default: &str) -> (String, u64) {
    match schedule {
        Some(s) => (
            s.spec
                .as_ref()
                .map_or_else(|| s.calendar.value.clone(), |c| c.normalized()),
            // Omitted, the jitter is the default's too: a fleet's maintenance should not
            // reach one repository server in the same minute; `jitter="0s"` opts out.
            s.jitter
                .as_ref()
                .map_or(DEFAULT_JITTER_SECONDS, |j| j.value.approx_seconds()),
        ),
        None => (
            CalendarSpec::parse(default).map_or_else(|_| default.to_owned(), |c| c.normalized()),
            DEFAULT_JITTER_SECONDS,
        ),
    }
}
