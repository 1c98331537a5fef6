//! Places: a job must not back up its own backups, and two destinations must not write the
//! same place.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::{Destination, DestinationKind, Policy, Spanned};
use crate::resolve::ResolvedJob;

/// True when `inner` is `outer` or lies below it.
pub fn contains(outer: &str, inner: &str) -> bool {
    let outer = outer.trim_end_matches('/');
    let inner = inner.trim_end_matches('/');
    outer.is_empty()
        || inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|r| r.starts_with('/'))
}

/// Local folders a destination writes or shows its data at.
fn local_places(d: &Destination) -> Vec<&Spanned<String>> {
    match &d.kind {
        DestinationKind::Snapshots(s) => std::iter::once(&s.path)
            .chain(s.read_only_view.as_ref())
            .collect(),
        DestinationKind::Restic(r) => r.local_path().into_iter().collect(),
    }
}

pub fn check(policy: &Policy, jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    let mut reported = Reported::new();
    // Jobs come grouped by host; every destination a host writes to is local to it.
    for host_jobs in jobs.chunk_by(|a, b| std::ptr::eq(a.host, b.host)) {
        let used: Vec<(&ResolvedJob<'_>, &Destination)> = host_jobs
            .iter()
            .filter_map(|other| {
                let to = other.settings.to.as_ref()?;
                let dest = policy
                    .destinations
                    .iter()
                    .find(|d| d.name.value == to.value)?;
                Some((other, dest))
            })
            .collect();
        for job in host_jobs.iter().filter(|j| j.settings.from.is_none()) {
            contains_destination(job, &used, &mut reported, diags);
        }
    }
    same_target(policy, diags);
}

type Reported = std::collections::BTreeSet<(crate::source::Span, crate::source::Span)>;

fn contains_destination(
    job: &ResolvedJob<'_>,
    used: &[(&ResolvedJob<'_>, &Destination)],
    reported: &mut Reported,
    diags: &mut Diagnostics,
) {
    let excludes = job.settings.excludes.as_deref().unwrap_or_default();
    for source in job.settings.sources.iter().flatten() {
        for (owner, dest) in used {
            for place in local_places(dest) {
                let excluded = excludes
                    .iter()
                    .any(|e| e.value.starts_with('/') && contains(&e.value, &place.value));
                if !contains(&source.value, &place.value) || excluded {
                    continue;
                }
                if !reported.insert((source.span.clone(), place.span.clone())) {
                    continue;
                }
                let whose = if std::ptr::eq(*owner, job) {
                    "its own destination".to_owned()
                } else {
                    format!("the destination of job `{}`", owner.name().value)
                };
                diags.push(
                    Diagnostic::error(
                        "bakgen::source-contains-destination",
                        format!(
                            "source `{}` of job `{}` contains {whose} `{}`",
                            source.value,
                            job.name().value,
                            place.value
                        ),
                        source.span.clone(),
                    )
                    .label("this source")
                    .with(place.span.clone(), "lies inside it")
                    .help(format!(
                        "each run would copy the backups again; add exclude \"{}\"",
                        place.value
                    )),
                );
            }
        }
    }
}

/// Two destinations on one place would mix or delete each other's snapshots. Each is
/// reported once, against the first before it on the same place: n copies of one path are
/// n - 1 errors, not n² / 2.
fn same_target(policy: &Policy, diags: &mut Diagnostics) {
    let dests = &policy.destinations;
    for (j, b) in dests.iter().enumerate() {
        for a in &dests[..j] {
            let clash = match (&a.kind, &b.kind) {
                (DestinationKind::Restic(ra), DestinationKind::Restic(rb))
                    if ra.url.value == rb.url.value =>
                {
                    Some((&rb.url, &ra.url))
                }
                _ => {
                    let pa = match &a.kind {
                        DestinationKind::Snapshots(s) => Some(&s.path),
                        DestinationKind::Restic(r) => r.local_path(),
                    };
                    let pb = match &b.kind {
                        DestinationKind::Snapshots(s) => Some(&s.path),
                        DestinationKind::Restic(r) => r.local_path(),
                    };
                    match (pa, pb) {
                        (Some(pa), Some(pb))
                            if contains(&pa.value, &pb.value) || contains(&pb.value, &pa.value) =>
                        {
                            Some((pb, pa))
                        }
                        _ => None,
                    }
                }
            };
            if let Some((second, first)) = clash {
                diags.push(
                    Diagnostic::error(
                        "bakgen::same-target",
                        format!("destinations `{}` and `{}` write the same place", a.name.value, b.name.value),
                        second.span.clone(),
                    )
                    .label(format!("`{}` writes here", b.name.value))
                    .with(first.span.clone(), format!("`{}` writes here", a.name.value))
                    .help("retention of one would delete the other's backups; give each destination its own folder or repository, or use one destination"),
                );
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::contains;

    #[test]
    fn containment_is_by_path_component() {
        assert!(contains("/", "/var/backups"));
        assert!(contains("/var", "/var/backups"));
        assert!(contains("/var/backups/", "/var/backups"));
        assert!(!contains("/var/back", "/var/backups"));
        assert!(!contains("/srv", "/var"));
    }
}
