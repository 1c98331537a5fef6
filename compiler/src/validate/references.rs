//! Every name a policy refers to is defined: destinations, secrets, hosts to pull from,
//! Prometheus hosts.

use std::collections::BTreeMap;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::{DestinationKind, Policy, Spanned};
use crate::resolve::ResolvedJob;
use crate::suggest::did_you_mean;

pub fn check(policy: &Policy, jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    let destinations: Vec<&str> = policy
        .destinations
        .iter()
        .map(|d| d.name.value.as_str())
        .collect();
    let secrets: Vec<&str> = policy
        .secrets
        .iter()
        .map(|s| s.name.value.as_str())
        .collect();
    let hosts: BTreeMap<&str, _> = policy
        .hosts
        .iter()
        .map(|h| (h.name.value.as_str(), h))
        .collect();

    // A reference written once in a template is reported once, not once per job using it.
    let mut reported = std::collections::BTreeSet::new();
    let mut report = |d: Diagnostic, diags: &mut Diagnostics| {
        if reported.insert(d.primary.span.clone()) {
            diags.push(d);
        }
    };

    for d in &policy.destinations {
        if let DestinationKind::Restic(r) = &d.kind {
            for secret in r
                .password_secret
                .iter()
                .chain(r.environment.iter().map(|(_, s)| s))
            {
                if let Some(d) = undefined_secret(secret, &secrets) {
                    report(d, diags);
                }
            }
        }
    }
    for job in jobs {
        let s = &job.settings;
        if let Some(to) = &s.to {
            if !destinations.contains(&to.value.as_str()) {
                report(
                    undefined(
                        "destination",
                        to,
                        &destinations,
                        "destination \"NAME\" { path \"/srv/backups\" }",
                    ),
                    diags,
                );
            }
        }
        let ping_secret = match s.ping.as_ref().map(|p| &p.target) {
            Some(crate::policy::PingTarget::Secret(name)) => Some(name),
            _ => None,
        };
        let dump_secrets = s
            .dumps
            .iter()
            .flatten()
            .filter_map(|d| d.password_secret.as_ref());
        for secret in dump_secrets.chain(ping_secret) {
            if let Some(d) = undefined_secret(secret, &secrets) {
                report(d, diags);
            }
        }
        if let Some(from) = &s.from {
            match hosts.get(from.host.value.as_str()) {
                None => {
                    let names: Vec<&str> = hosts.keys().copied().collect();
                    report(
                        undefined(
                            "host",
                            &from.host,
                            &names,
                            "host \"NAME\" address=\"name.example.net\"",
                        ),
                        diags,
                    );
                }
                Some(h) if h.address.is_none() => report(
                    Diagnostic::error(
                        "bakgen::missing-value",
                        format!("host `{}` has no address to pull from", h.name.value),
                        from.host.span.clone(),
                    )
                    .label("pulled over ssh")
                    .with(h.name.span.clone(), "defined here without address=")
                    .help(format!("add address=\"…\" to host \"{}\"", h.name.value)),
                    diags,
                ),
                Some(_) => {}
            }
        }
    }
    for host in policy.monitoring.iter().flat_map(|m| &m.prometheus) {
        if !hosts.contains_key(host.value.as_str()) {
            let names: Vec<&str> = hosts.keys().copied().collect();
            report(undefined("host", host, &names, "host \"NAME\""), diags);
        }
    }
}

/// The error for a reference to a secret not among `known`, if it is not.
fn undefined_secret(secret: &Spanned<String>, known: &[&str]) -> Option<Diagnostic> {
    (!known.contains(&secret.value.as_str())).then(|| {
        undefined(
            "secret",
            secret,
            known,
            "secret \"NAME\" file=\"/etc/bakgen/secrets/NAME\"",
        )
    })
}

pub(super) fn undefined(
    kind: &str,
    name: &Spanned<String>,
    known: &[&str],
    example: &str,
) -> Diagnostic {
    let code = match kind {
        "destination" => "bakgen::undefined-destination",
        "secret" => "bakgen::undefined-secret",
        _ => "bakgen::undefined-host",
    };
    let d = Diagnostic::error(
        code,
        format!("no {kind} is named `{}`", name.value),
        name.span.clone(),
    )
    .label(format!("undefined {kind}"));
    match did_you_mean(&name.value, known.iter().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None if known.is_empty() => d.help(format!(
            "define it: {}",
            example.replace("NAME", &name.value)
        )),
        None => d.help(format!("defined {kind}s: {}", known.join(", "))),
    }
}
