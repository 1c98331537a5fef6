//! Meaning checks over the decoded policy and its resolved jobs. Each file is one family of
//! checks; all of them run, so one `bakgen check` reports every problem.

mod engines;
mod names;
mod paths;
mod plan;
mod references;
mod required;
mod retention_runs;
mod snapshots;
mod unit_values;
pub(crate) mod verify;
mod warnings;
mod watch;

use crate::diagnostic::Diagnostics;
use crate::policy::Policy;
use crate::resolve::ResolvedJob;

pub use plan::{
    plan, Plan, PlannedDump, PlannedJob, PlannedPing, PlannedPingUrl, PlannedVerify, PlannedWatch,
    Remote, ResticTarget, Target, WatchedTarget, WATCH_SCHEDULE,
};

pub fn validate(policy: &Policy, jobs: &[ResolvedJob<'_>]) -> Diagnostics {
    let mut diags = Diagnostics::default();
    names::check(policy, &mut diags);
    references::check(policy, jobs, &mut diags);
    required::check(jobs, &mut diags);
    engines::check(policy, jobs, &mut diags);
    paths::check(policy, jobs, &mut diags);
    snapshots::check(jobs, &mut diags);
    unit_values::check(policy, jobs, &mut diags);
    warnings::check(policy, jobs, &mut diags);
    retention_runs::check(jobs, &mut diags);
    watch::check(policy, jobs, &mut diags);
    verify::check(jobs, &mut diags);
    diags
}
