//! Things that work but are probably not what was meant. They print; they fail the check
//! only with `--deny-warnings`.

use bakgen_spec::count::Count;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::Policy;
use crate::resolve::ResolvedJob;

pub fn check(policy: &Policy, jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    hourly_retention(jobs, diags);
    same_time_same_destination(jobs, diags);
    unused(policy, jobs, diags);
}

fn runs_hourly(spec: Option<&crate::schedule::CalendarSpec>) -> bool {
    spec.is_some_and(|s| s.normalized() == "*-*-* *:00:00")
}

fn hourly_retention(jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    let mut reported = std::collections::BTreeSet::new();
    for job in jobs {
        let (Some(schedule), Some(r)) = (&job.settings.schedule, &job.settings.retention) else {
            continue;
        };
        if !runs_hourly(schedule.spec.as_ref()) {
            continue;
        }
        // Hourly snapshots a day keeps, once its buckets are full (the oldest snapshot,
        // which restic ≥ 0.16 also keeps while they are not, is one snapshot, not a day).
        // `keep-within-hourly` keeps one per hour within its span, as `keep-within` does
        // for hourly runs.
        let hours = |d: &Option<crate::policy::Spanned<bakgen_spec::duration::Duration>>| {
            d.as_ref()
                .map(|d| d.value.approx_seconds() / 3600)
                .unwrap_or(0)
        };
        let count = |c: &Option<crate::policy::Spanned<Count>>| match c.as_ref().map(|c| c.value) {
            Some(Count::All) => u64::MAX,
            Some(Count::Buckets(n)) => u64::from(n),
            None => 0,
        };
        let kept = count(&r.keep_last)
            .max(count(&r.keep_hourly))
            .max(hours(&r.keep_within))
            .max(hours(&r.keep_within_hourly));
        if kept >= 24 {
            continue;
        }
        let span = r
            .keep_hourly
            .as_ref()
            .map(|k| k.span.clone())
            .or(r.keep_within_hourly.as_ref().map(|k| k.span.clone()))
            .or(r.span.clone())
            .unwrap_or(schedule.span.clone());
        if !reported.insert((span.clone(), schedule.span.clone())) {
            continue;
        }
        diags.push(
            Diagnostic::warning(
                "bakgen::retention-shorter-than-schedule",
                format!("job `{}` runs hourly but its retention keeps only {kept} of a day's 24 hourly snapshots", job.name().value),
                span,
            )
            .label("keeps fewer than 24")
            .with(schedule.calendar.span.clone(), "runs hourly")
            .help("keep-hourly=24 keeps a full day of them; or run the job less often"),
        );
    }
}

fn same_time_same_destination(jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    // Jobs come grouped by host, so pairs are only formed within a host.
    for host_jobs in jobs.chunk_by(|a, b| std::ptr::eq(a.host, b.host)) {
        same_time_within_host(host_jobs, diags);
    }
}

fn same_time_within_host(jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    for (i, a) in jobs.iter().enumerate() {
        for b in &jobs[i + 1..] {
            let (Some(ta), Some(tb)) = (&a.settings.to, &b.settings.to) else {
                continue;
            };
            let (Some(sa), Some(sb)) = (&a.settings.schedule, &b.settings.schedule) else {
                continue;
            };
            let same_time = match (&sa.spec, &sb.spec) {
                (Some(a), Some(b)) => a.normalized() == b.normalized(),
                _ => false,
            };
            if ta.value != tb.value || !same_time {
                continue;
            }
            if sa.jitter.is_some() || sb.jitter.is_some() {
                continue;
            }
            diags.push(
                Diagnostic::warning(
                    "bakgen::concurrent-jobs",
                    format!(
                        "jobs `{}` and `{}` of host `{}` write to `{}` at the same time",
                        a.name().value, b.name().value, a.host.name.value, ta.value
                    ),
                    b.name().span.clone(),
                )
                .label("starts together with the other")
                .with(a.name().span.clone(), "same schedule, same destination")
                .help("they compete for the disk and the network; shift one schedule or add jitter=\"30m\""),
            );
        }
    }
}

fn unused(policy: &Policy, jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    let used_dest = |name: &str| {
        jobs.iter()
            .any(|j| j.settings.to.as_ref().is_some_and(|t| t.value == name))
    };
    for d in &policy.destinations {
        if !used_dest(&d.name.value) {
            diags.push(
                Diagnostic::warning(
                    "bakgen::unused",
                    format!("no job sends to destination `{}`", d.name.value),
                    d.name.span.clone(),
                )
                .label("unused destination")
                .help(format!(
                    "remove it, or send a job to it: add `to \"{}\"` to the job",
                    d.name.value
                )),
            );
        }
    }
    let mut secret_uses: Vec<&str> = Vec::new();
    for d in &policy.destinations {
        if let crate::policy::DestinationKind::Restic(r) = &d.kind {
            secret_uses.extend(r.password_secret.iter().map(|s| s.value.as_str()));
            secret_uses.extend(r.environment.iter().map(|(_, s)| s.value.as_str()));
        }
    }
    for t in policy
        .templates
        .iter()
        .map(|t| &t.settings)
        .chain(policy.defaults.iter().map(|d| &d.value))
        .chain(
            policy
                .hosts
                .iter()
                .flat_map(|h| h.jobs.iter().map(|j| &j.settings)),
        )
    {
        for dump in t.dumps.iter().flatten() {
            secret_uses.extend(dump.password_secret.iter().map(|s| s.value.as_str()));
        }
        if let Some(crate::policy::PingTarget::Secret(name)) = t.ping.as_ref().map(|p| &p.target) {
            secret_uses.push(name.value.as_str());
        }
    }
    for s in &policy.secrets {
        if !secret_uses.contains(&s.name.value.as_str()) {
            diags.push(
                Diagnostic::warning(
                    "bakgen::unused",
                    format!("secret `{}` is never used", s.name.value),
                    s.name.span.clone(),
                )
                .label("unused secret")
                .help(format!(
                    "remove it, or refer to it with secret=\"{}\" (a restic destination's password or env, a ping) or password-secret=\"{}\" (a postgres or mysql dump)",
                    s.name.value, s.name.value
                )),
            );
        }
    }
    let mut template_uses: Vec<&str> = Vec::new();
    for t in &policy.templates {
        template_uses.extend(t.settings.template.iter().map(|n| n.value.as_str()));
    }
    for h in &policy.hosts {
        for j in &h.jobs {
            template_uses.extend(j.settings.template.iter().map(|n| n.value.as_str()));
        }
    }
    for t in &policy.templates {
        if !template_uses.contains(&t.name.value.as_str()) {
            diags.push(
                Diagnostic::warning(
                    "bakgen::unused",
                    format!("template `{}` is never used", t.name.value),
                    t.name.span.clone(),
                )
                .label("unused template")
                .help(format!(
                    "remove it, or use it with template=\"{}\" on a job or template",
                    t.name.value
                )),
            );
        }
    }
}
