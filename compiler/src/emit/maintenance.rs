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
use crate::policy::{DestinationKind, ResticRepository, Schedule, Settings};
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
        let prune = format!("prune --repository-only {}", spec_args.join(" "));
        for (timer, exec) in timers(repo, name).into_iter().zip([prune, check]) {
            let kind = timer.kind;
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
            let data = TimerData {
                description: verbatim(&format!(
                    "Timer of bakgen restic {kind} of destination {name}"
                )),
                calendar: verbatim(&timer.normalized()),
                timer: TimerData::jitter(timer.jitter_seconds),
                service,
            };
            b.add(
                format!("{UNIT_DIR}/{}", timer.unit),
                templates.render("timer", &data)?,
                0o644,
            );
        }
    }
    Ok(())
}

/// One maintenance timer of a restic destination, as its host's bundle has it.
#[derive(Debug, Clone)]
pub struct MaintenanceTimer {
    /// `prune` or `check`.
    pub kind: &'static str,
    /// `bakgen-<kind>-<destination>.timer`.
    pub unit: String,
    /// The expression as written, or the default's.
    pub expression: String,
    /// `None` only for an expression `validate` refused.
    pub calendar: Option<CalendarSpec>,
    pub jitter_seconds: u64,
}

impl MaintenanceTimer {
    /// The timer's `OnCalendar=`.
    pub fn normalized(&self) -> String {
        self.calendar
            .as_ref()
            .map_or_else(|| self.expression.clone(), CalendarSpec::normalized)
    }
}

/// The prune and check timers of restic destination `name`, in that order.
pub fn timers(repo: &ResticRepository, name: &str) -> [MaintenanceTimer; 2] {
    let fragment = name_fragment(name);
    [
        ("prune", &repo.prune_schedule, DEFAULT_PRUNE),
        ("check", &repo.check_schedule, DEFAULT_CHECK),
    ]
    .map(|(kind, schedule, default)| {
        let (expression, calendar, jitter_seconds) = calendar_of(schedule.as_ref(), default);
        MaintenanceTimer {
            kind,
            unit: format!("bakgen-{kind}-{fragment}.timer"),
            expression,
            calendar,
            jitter_seconds,
        }
    })
}

/// The expression, calendar and jitter of a maintenance schedule, or the default's; a
/// schedule without `jitter=` gets the default jitter.
fn calendar_of(schedule: Option<&Schedule>, default: &str) -> (String, Option<CalendarSpec>, u64) {
    match schedule {
        Some(s) => (
            s.calendar.value.clone(),
            s.spec.clone(),
            // Omitted, the jitter is the default's too: a fleet's maintenance should not
            // reach one repository server in the same minute; `jitter="0s"` opts out.
            s.jitter
                .as_ref()
                .map_or(DEFAULT_JITTER_SECONDS, |j| j.value.approx_seconds()),
        ),
        None => (
            default.to_owned(),
            CalendarSpec::parse(default).ok(),
            DEFAULT_JITTER_SECONDS,
        ),
    }
}
