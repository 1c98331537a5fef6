//! What every job must end up with after inheritance, and retention that keeps something.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::resolve::ResolvedJob;

pub fn check(jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    let mut reported = std::collections::BTreeSet::new();
    for job in jobs {
        let s = &job.settings;
        let here = job.name().span.clone();
        let name = &job.name().value;
        let has_dumps = s.dumps.as_ref().is_some_and(|d| !d.is_empty());
        let missing = [
            ("to", s.to.is_none(), "to \"usb\" (a destination's name)"),
            (
                "schedule",
                s.schedule.is_none(),
                "schedule \"daily\" (here, in its template or in defaults)",
            ),
            (
                "retention",
                s.retention.is_none(),
                "retention keep-daily=7 keep-weekly=4 (here, in its template or in defaults)",
            ),
            (
                "source",
                s.sources.is_none() && !has_dumps,
                "source \"/etc\", or a database dump such as postgres \"app\"",
            ),
        ];
        for (what, absent, example) in missing {
            if absent {
                diags.push(
                    Diagnostic::error(
                        "bakgen::missing-value",
                        format!("job `{name}` has no `{what}`"),
                        here.clone(),
                    )
                    .label(format!("no {what} set or inherited"))
                    .help(format!("add {example}")),
                );
            }
        }
        if let Some(r) = &s.retention {
            let Some(span) = r.span.clone() else { continue };
            if !reported.insert(span.clone()) {
                continue;
            }
            let any_count = r
                .counts()
                .iter()
                .any(|c| c.as_ref().is_some_and(|c| c.value.is_rule()));
            let any_within = r
                .durations()
                .iter()
                .any(|d| d.as_ref().is_some_and(|d| !d.value.is_zero()));
            if !any_count && !any_within {
                let all_absent = r.counts().iter().all(|c| c.is_none())
                    && r.durations().iter().all(|d| d.is_none());
                let msg = if all_absent {
                    "retention keeps nothing: no rule is given"
                } else {
                    "retention keeps nothing: every rule is zero"
                };
                diags.push(
                    Diagnostic::error("bakgen::empty-retention", msg, span)
                        .label("empty retention")
                        .help("give at least one rule, e.g. retention keep-daily=7 keep-weekly=4 keep-monthly=12"),
                );
            }
        }
    }
}
