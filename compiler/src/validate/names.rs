//! Names are unique: hosts, templates, destinations and secrets across all files, and jobs
//! within a host.

use std::collections::BTreeMap;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::{Policy, Spanned};

pub fn check(policy: &Policy, diags: &mut Diagnostics) {
    unique("host", policy.hosts.iter().map(|h| &h.name), diags);
    unique("template", policy.templates.iter().map(|t| &t.name), diags);
    unique(
        "destination",
        policy.destinations.iter().map(|d| &d.name),
        diags,
    );
    unique("secret", policy.secrets.iter().map(|s| &s.name), diags);
    for host in &policy.hosts {
        unique("job", host.jobs.iter().map(|j| &j.name), diags);
    }
}

fn unique<'a>(
    kind: &str,
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
                    "{kind} names are unique across all files of a policy; rename or merge one"
                )),
            ),
            None => {
                first.insert(&name.value, name);
            }
        }
    }
}
