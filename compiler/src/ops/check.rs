//! `check`: parse, resolve and validate a policy, collecting every diagnostic.

use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::policy::{parse_policy, Policy};
use crate::resolve::resolve;
use crate::source::SourceSet;
use crate::validate::validate;

/// A checked policy: the model and everything found wrong with it, sorted.
pub struct Checked {
    pub sources: SourceSet,
    pub policy: Policy,
    pub diagnostics: Vec<Diagnostic>,
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

    pub fn jobs(&self) -> usize {
        self.policy.hosts.iter().map(|h| h.jobs.len()).sum()
    }
}

pub fn check(sources: SourceSet) -> Checked {
    let (policy, mut diags) = parse_policy(&sources);
    let (jobs, resolve_diags) = resolve(&policy);
    diags.extend(resolve_diags);
    diags.extend(validate(&policy, &jobs));
    drop(jobs);
    Checked {
        diagnostics: Diagnostics::sorted(diags),
        sources,
        policy,
    }
}
