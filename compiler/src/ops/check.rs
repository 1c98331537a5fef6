//! `check`: parse, resolve and validate a policy, collecting every diagnostic, and plan it
//! when it has no error. Every command that reads a policy (check, build, schedule, diff,
//! apply) goes through here, so each resolves the policy once.

use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::policy::{parse_policy, Policy};
use crate::resolve::resolve;
use crate::source::SourceSet;
use crate::validate::{plan, validate, Plan};

/// A checked policy: the model and everything found wrong with it, sorted.
pub struct Checked {
    pub sources: SourceSet,
    pub policy: Policy,
    pub diagnostics: Vec<Diagnostic>,
    /// Present exactly when there is no error.
    plan: Option<Plan>,
}

impl Checked {
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    /// What to emit; `None` when the policy has errors.
    pub fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    pub fn jobs(&self) -> usize {
        self.policy.hosts.iter().map(|h| h.jobs.len()).sum()
    }
}

pub fn check(sources: SourceSet) -> Checked {
    let (policy, mut diags) = parse_policy(&sources);
    let (jobs, resolve_diags) = resolve(&policy);
    diags.extend(resolve_diags);
    diags.extend(validate(&policy, &jobs));
    let plan = if diags.has_errors() {
        None
    } else {
        match plan(&policy, &jobs) {
            Ok(plan) => Some(plan),
            Err(gaps) => {
                diags.extend(gaps);
                None
            }
        }
    };
    drop(jobs);
    Checked {
        plan,
        diagnostics: Diagnostics::sorted(diags),
        sources,
        policy,
    }
}
