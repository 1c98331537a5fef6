//! Names are unique: hosts, templates, destinations and secrets across all files, and jobs
//! within a host.

use std::collections::BTreeMap;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::{Policy, Spanned};

pub fn check(policy: &Policy, diags: &mut Diagnostics) {
    const POLICY: &str = "across all files of a policy";
    unique("host", POLICY, policy.hosts.iter().map(|h| &h.name), diags);
    unique(
        "template",
        POLICY,
        policy.templates.iter().map(|t| &t.name),
        diags,
    );
    unique(
        "destination",
        POLICY,
        policy.destinations.iter().map(|d| &d.name),
        diags,
    );
    unique(
        "secret",
        POLICY,
        policy.secrets.iter().map(|s| &s.name),
        diags,
    );
    for host in &policy.hosts {
        // Units are per machine, so two hosts may each have a job `etc`.
        let scope = format!(
            "within host `{}` (other hosts may reuse them)",
            host.name.value
        );
        unique("job", &scope, host.jobs.iter().map(|j| &j.name), diags);
    }
    maintenance_clash(policy, diags);
}

/// A job named `prune-<dest>` or `check-<dest>` for a restic destination would share its
/// unit names with that destination's maintenance units (`bakgen-prune-<dest>.service`).
fn maintenance_clash(policy: &Policy, diags: &mut Diagnostics) {
    use crate::policy::DestinationKind;
    let restic: Vec<&str> = policy
        .destinations
        .iter()
        .filter(|d| matches!(d.kind, DestinationKind::Restic(_)))
        .map(|d| d.name.value.as_str())
        .collect();
    for job in policy.hosts.iter().flat_map(|h| &h.jobs) {
        let name = job.name.value.as_str();
        let clash = ["prune-", "check-"]
            .iter()
            .filter_map(|p| name.strip_prefix(p))
            .find(|rest| restic.contains(rest));
        if let Some(dest) = clash {
            diags.push(
                Diagnostic::error(
                    "bakgen::duplicate-name",
                    format!("job `{name}` would share its units with the maintenance of restic destination `{dest}`"),
                    job.name.span.clone(),
                )
                .label("clashes with bakgen-prune-/bakgen-check-<destination>")
                .help("rename the job; `prune-<destination>` and `check-<destination>` name the repository's maintenance units"),
            );
        }
    }
}

fn unique<'a>(
    kind: &str,
    scope: &str,
    names: impl Iterator<Item = &'a Spanned<String>>,
    diags: &mut Diagnostics,
) {
    let mut first: BTreeMap<&str, &Spanned<String>> = BTreeMap::new();
    for name in names {
        match first.get(name.value.as_str()) {
            Some(earlier) => diags.push(
                Diagnostic::error(
                    "bakgen::duplicate-name",
                    format!("two {kind}s are named `{}`", name.value),
                    name.span.clone(),
                )
                .label("second definition")
                .with(earlier.span.clone(), "first defined here")
                .help(format!(
                    "{kind} names are unique {scope}; rename or merge one"
                )),
            ),
            None => {
                first.insert(&name.value, name);
            }
        }
    }
}
