//! A job's restore drill: the job spec's `verify`, and `bakgen-verify-<job>.service`
//! (`bakrun verify <spec>`, in the job's sandbox with read-only sources) and its `.timer`.

use bakgen_spec::job::JobSpec;
use bakgen_spec::verify::{Count, QueryEngine, Sample, Verify, VerifyQuery};

use super::bundle::{unit_data, Bundle, TimerData};
use super::escape::{name_fragment, verbatim};
use super::paths::UNIT_DIR;
use super::render::{RenderError, Templates};
use super::service::verify_unit;
use crate::policy::DumpKind;
use crate::validate::{PlannedJob, PlannedVerify};

/// The drill's service; `bakgen-verify-<job>.timer` starts it.
pub fn verify_service_name(job: &str) -> String {
    format!("bakgen-verify-{}.service", name_fragment(job))
}

pub fn verify_timer_name(job: &str) -> String {
    format!("bakgen-verify-{}.timer", name_fragment(job))
}

/// The job spec's `verify` (docs/job-spec.md).
pub fn verify_spec(v: &PlannedVerify) -> Verify {
    Verify {
        calendar: v.calendar.normalized(),
        jitter_seconds: v.jitter_seconds,
        sample: Sample {
            files: v.sample_files,
            per_mille: v.sample_per_mille,
        },
        critical: v.setting.critical.iter().map(|c| c.value.clone()).collect(),
        queries: v
            .queries
            .iter()
            .map(|(q, kind)| VerifyQuery {
                engine: match kind {
                    DumpKind::Postgres => QueryEngine::Postgres,
                    DumpKind::Mysql => QueryEngine::Mysql,
                },
                database: q.database.value.clone(),
                sql: q.sql.value.clone(),
                at_least: q.at_least.as_ref().map_or(1, |a| a.value),
            })
            .collect(),
        within_seconds: v.within_seconds,
        count: v.count_tolerance.map(|t| Count {
            tolerance_per_mille: t,
        }),
    }
}

/// Adds the drill's service and timer of `job`, whose spec is `spec`; nothing for a job
/// without `verify`.
pub(super) fn add(
    templates: &Templates,
    b: &mut Bundle,
    job: &PlannedJob,
    spec: &JobSpec,
) -> Result<(), RenderError> {
    let Some(v) = &spec.verify else {
        return Ok(());
    };
    let service = verify_service_name(&spec.job);
    let unit = verify_unit(job, spec);
    b.add(
        format!("{UNIT_DIR}/{service}"),
        templates.render("service", &unit_data(&unit))?,
        0o644,
    );
    let timer = TimerData {
        description: verbatim(&format!(
            "Timer of the restore drill of bakgen backup job {} of host {}",
            spec.job, spec.host
        )),
        calendar: verbatim(&v.calendar),
        timer: TimerData::jitter(v.jitter_seconds),
        service,
    };
    b.add(
        format!("{UNIT_DIR}/{}", verify_timer_name(&spec.job)),
        templates.render("timer", &timer)?,
        0o644,
    );
    Ok(())
}
