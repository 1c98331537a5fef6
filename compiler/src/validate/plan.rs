//! The plan: every job as validation proved it, with what the checks guarantee written as
//! data (its destination, parsed repository, schedule, retention and secrets, present), so
//! that emission has no job to skip. Only [`plan`] makes one, and only from a policy that
//! checked without errors.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::{
    Destination, DestinationKind, Dump, DumpKind, PingTarget, Policy, Pull, Repository,
    ResticRepository, Retention, Schedule, Secret, Settings, SnapshotFolder, Spanned, VerifyQuery,
    VerifySetting, Watch, WatchedDestination,
};
use crate::resolve::ResolvedJob;
use crate::schedule::{CalendarSpec, GapCache};

/// A checked policy and its jobs, in policy order (host by host).
#[derive(Debug, Clone)]
pub struct Plan {
    policy: Policy,
    jobs: Vec<PlannedJob>,
    watches: Vec<PlannedWatch>,
}

impl Plan {
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn jobs(&self) -> &[PlannedJob] {
        &self.jobs
    }

    /// The `watch` nodes of `monitoring`, in policy order.
    pub fn watches(&self) -> &[PlannedWatch] {
        &self.watches
    }
}

/// A watching host with its schedule and each destination it reads looked up.
#[derive(Debug, Clone)]
#[allow(clippy::manual_non_exhaustive)]
pub struct PlannedWatch {
    pub watch: Watch,
    /// The watch's schedule, hourly when not written.
    pub calendar: CalendarSpec,
    pub jitter_seconds: u64,
    pub destinations: Vec<WatchedTarget>,
    _sealed: (),
}

/// A destination as a watch reads it: where (`watched.at`), and the destination with its
/// password and environment secrets, which a listing of a restic repository needs.
#[derive(Debug, Clone)]
pub struct WatchedTarget {
    pub watched: WatchedDestination,
    pub destination: Destination,
    pub target: Target,
}

/// A watch that writes no schedule runs hourly: a late job is known within the hour.
pub const WATCH_SCHEDULE: &str = "hourly";

/// One job with everything it inherits, and everything it names looked up.
#[derive(Debug, Clone)]
// Not `#[non_exhaustive]`: that would still let the rest of the crate build one.
#[allow(clippy::manual_non_exhaustive)]
pub struct PlannedJob {
    pub host: Spanned<String>,
    pub name: Spanned<String>,
    pub settings: Settings,
    /// Where each of `settings` came from (the job, a template, `defaults`, built in).
    pub origins: crate::resolve::Origins,
    pub destination: Destination,
    pub target: Target,
    pub schedule: Schedule,
    pub calendar: CalendarSpec,
    pub retention: Retention,
    /// The host a pull reads from, with its address.
    pub remote: Option<Remote>,
    pub dumps: Vec<PlannedDump>,
    pub ping: Option<PlannedPing>,
    /// The restore drill, when the job has a `verify`.
    pub verify: Option<PlannedVerify>,
    /// Only this module makes a `PlannedJob`.
    _sealed: (),
}

/// A job's `verify` with its defaults filled in (`validate/verify.rs` holds them).
#[derive(Debug, Clone)]
pub struct PlannedVerify {
    pub setting: VerifySetting,
    pub calendar: CalendarSpec,
    pub jitter_seconds: u64,
    /// Files drawn at random, and per mille of the run's files.
    pub sample_files: Option<u64>,
    pub sample_per_mille: Option<u32>,
    /// Each query with the dump engine it runs against.
    pub queries: Vec<(VerifyQuery, DumpKind)>,
    pub within_seconds: u64,
    /// `count`'s tolerance in per mille, its default filled in; `None` without `count`.
    pub count_tolerance: Option<u32>,
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per job; boxing would only add noise
pub enum Target {
    Snapshots(SnapshotFolder),
    Restic(ResticTarget),
}

#[derive(Debug, Clone)]
pub struct ResticTarget {
    pub repository: ResticRepository,
    pub location: Repository,
    pub password: Secret,
    /// Each variable and the secret that holds its value.
    pub environment: Vec<(String, Secret)>,
}

#[derive(Debug, Clone)]
pub struct Remote {
    pub pull: Pull,
    pub address: String,
}

/// A job's ping, its secret looked up.
#[derive(Debug, Clone)]
pub struct PlannedPing {
    pub kind: bakgen_spec::job::PingKind,
    pub url: PlannedPingUrl,
}

#[derive(Debug, Clone)]
pub enum PlannedPingUrl {
    Plain(String),
    Secret(Secret),
}

#[derive(Debug, Clone)]
pub struct PlannedDump {
    pub dump: Dump,
    pub password: Option<Secret>,
}

impl PlannedJob {
    /// Every secret the job reads, in the order the job spec names them.
    pub fn secrets(&self) -> Vec<&Secret> {
        let mut out = Vec::new();
        if let Target::Restic(r) = &self.target {
            out.push(&r.password);
            out.extend(r.environment.iter().map(|(_, s)| s));
        }
        out.extend(self.dumps.iter().filter_map(|d| d.password.as_ref()));
        if let Some(PlannedPing {
            url: PlannedPingUrl::Secret(s),
            ..
        }) = &self.ping
        {
            out.push(s);
        }
        out
    }

    /// A restic repository on a disk of the machine that runs the job.
    pub fn local_repository(&self) -> Option<&str> {
        match &self.target {
            Target::Restic(r) if r.location.is_local() => Some(&r.repository.url.value),
            _ => None,
        }
    }
}

/// The plan of a policy `validate` found no error in. A piece a job still lacks means a
/// check is missing: it is reported against the job, never skipped.
pub fn plan(policy: &Policy, jobs: &[ResolvedJob<'_>]) -> Result<Plan, Diagnostics> {
    let mut gaps = Diagnostics::default();
    let mut planned = Vec::new();
    let mut watches = Vec::new();
    let mut calendars = GapCache::default();
    for watch in policy.monitoring.iter().flat_map(|m| &m.watches) {
        match plan_watch(policy, watch) {
            Ok(w) => watches.push(w),
            Err(what) => gaps.push(
                Diagnostic::error(
                    "bakgen::missing-value",
                    format!("watch `{}` has no {what}", watch.host.value),
                    watch.host.span.clone(),
                )
                .label(format!("no {what}"))
                .help(format!("give the watch {what}")),
            ),
        }
    }
    for job in jobs {
        match plan_job(policy, job, &mut calendars) {
            Ok(p) => planned.push(p),
            Err(what) => gaps.push(
                Diagnostic::error(
                    "bakgen::missing-value",
                    format!("job `{}` has no {what}", job.name().value),
                    job.name().span.clone(),
                )
                .label(format!("no {what}"))
                .help(format!("give the job {what}")),
            ),
        }
    }
    if gaps.is_empty() {
        Ok(Plan {
            policy: policy.clone(),
            jobs: planned,
            watches,
        })
    } else {
        Err(gaps)
    }
}

fn plan_watch(policy: &Policy, watch: &Watch) -> Result<PlannedWatch, String> {
    let (calendar, jitter_seconds) = match &watch.schedule {
        Some(s) => (
            s.spec.clone().ok_or("valid schedule")?,
            s.jitter.as_ref().map_or(0, |j| j.value.approx_seconds()),
        ),
        None => (
            CalendarSpec::parse(WATCH_SCHEDULE).map_err(|_| "schedule")?,
            0,
        ),
    };
    let destinations = watch
        .destinations
        .iter()
        .map(|w| {
            let destination = policy
                .destinations
                .iter()
                .find(|d| d.name.value == w.name.value)
                .ok_or_else(|| format!("destination named `{}`", w.name.value))?;
            Ok(WatchedTarget {
                watched: w.clone(),
                destination: destination.clone(),
                target: target(policy, destination)?,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(PlannedWatch {
        watch: watch.clone(),
        calendar,
        jitter_seconds,
        destinations,
        _sealed: (),
    })
}

/// What a job writes to, or a watch reads: the destination with its secrets.
fn target(policy: &Policy, destination: &Destination) -> Result<Target, String> {
    let secret = |name: &Spanned<String>| secret(policy, name);
    Ok(match &destination.kind {
        DestinationKind::Snapshots(f) => Target::Snapshots(f.clone()),
        DestinationKind::Restic(r) => Target::Restic(ResticTarget {
            location: r.location.clone().ok_or("restic repository restic knows")?,
            password: secret(r.password_secret.as_ref().ok_or("repository password")?)?,
            environment: r
                .environment
                .iter()
                .map(|(var, name)| Ok((var.value.clone(), secret(name)?)))
                .collect::<Result<_, String>>()?,
            repository: r.clone(),
        }),
    })
}

fn secret(policy: &Policy, name: &Spanned<String>) -> Result<Secret, String> {
    policy
        .secrets
        .iter()
        .find(|x| x.name.value == name.value)
        .cloned()
        .ok_or_else(|| format!("secret named `{}`", name.value))
}

fn plan_job(
    policy: &Policy,
    job: &ResolvedJob<'_>,
    gaps: &mut GapCache,
) -> Result<PlannedJob, String> {
    let s = &job.settings;
    let to = s.to.as_ref().ok_or("destination")?;
    let destination = policy
        .destinations
        .iter()
        .find(|d| d.name.value == to.value)
        .ok_or_else(|| format!("destination named `{}`", to.value))?;
    let target = target(policy, destination)?;
    let schedule = s.schedule.clone().ok_or("schedule")?;
    let calendar = schedule.spec.clone().ok_or("valid schedule")?;
    let remote = match &s.from {
        None => None,
        Some(pull) => {
            let address = policy
                .hosts
                .iter()
                .find(|h| h.name.value == pull.host.value)
                .and_then(|h| h.address.as_ref())
                .ok_or_else(|| format!("address for host `{}`", pull.host.value))?;
            Some(Remote {
                pull: pull.clone(),
                address: address.value.clone(),
            })
        }
    };
    let dumps = s
        .dumps
        .iter()
        .flatten()
        .map(|dump| {
            Ok(PlannedDump {
                password: dump
                    .password_secret
                    .as_ref()
                    .map(|n| secret(policy, n))
                    .transpose()?,
                dump: dump.clone(),
            })
        })
        .collect::<Result<_, String>>()?;
    let ping = s
        .ping
        .as_ref()
        .map(|p| {
            Ok::<_, String>(PlannedPing {
                kind: p.kind,
                url: match &p.target {
                    PingTarget::Url(u) => PlannedPingUrl::Plain(u.value.clone()),
                    PingTarget::Secret(name) => PlannedPingUrl::Secret(secret(policy, name)?),
                },
            })
        })
        .transpose()?;
    let verify = s
        .verify
        .as_ref()
        .map(|v| plan_verify(v, s.dumps.as_deref().unwrap_or_default(), gaps))
        .transpose()?;
    Ok(PlannedJob {
        verify,
        ping,
        host: job.host.name.clone(),
        name: job.name().clone(),
        settings: s.clone(),
        origins: job.origins.clone(),
        destination: destination.clone(),
        target,
        schedule,
        calendar,
        retention: s.retention.clone().ok_or("retention")?,
        remote,
        dumps,
        _sealed: (),
    })
}

fn plan_verify(
    v: &VerifySetting,
    dumps: &[Dump],
    gaps: &mut GapCache,
) -> Result<PlannedVerify, String> {
    use super::verify as rule;
    let (calendar, jitter_seconds) = rule::calendar(v).ok_or("valid verify schedule")?;
    let within_seconds = rule::within_seconds(v, gaps).ok_or("verify `within`")?;
    let queries = v
        .queries
        .iter()
        .map(|q| {
            rule::query_engine(q, dumps)
                .map(|k| (q.clone(), k))
                .map_err(|_| format!("dump for the query `{}`", q.sql.value))
        })
        .collect::<Result<_, String>>()?;
    let (sample_files, sample_per_mille) = match &v.sample {
        Some(s) => (
            s.files.as_ref().map(|f| f.value),
            s.per_mille.as_ref().map(|p| p.value),
        ),
        None => (Some(rule::VERIFY_SAMPLE_FILES), None),
    };
    Ok(PlannedVerify {
        setting: v.clone(),
        calendar,
        jitter_seconds,
        sample_files,
        sample_per_mille,
        queries,
        within_seconds,
        count_tolerance: v.count.as_ref().map(|c| {
            c.tolerance
                .as_ref()
                .map_or(rule::VERIFY_COUNT_TOLERANCE, |t| t.value)
        }),
    })
}

#[cfg(test)]
mod tests {
    use crate::ops::check::check;
    use crate::source::{SourceFile, SourceSet};

    fn checked(text: &str) -> crate::ops::check::Checked {
        let mut set = SourceSet::default();
        set.add(SourceFile::new("p.kdl", text.to_owned()));
        check(set)
    }

    const POLICY: &str = r#"
secret "pw" file="/etc/bakgen/secrets/pw"
secret "s3" file="/etc/bakgen/secrets/s3"
destination "usb" { path "/mnt/usb"; }
destination "remote" {
    restic "sftp:backup@nas:/srv/restic/{host}"
    password secret="pw"
    env "AWS_SECRET_ACCESS_KEY" secret="s3"
}
host "nas" address="nas.lan" { }
host "web" {
    job "etc" { source "/etc"; to "usb"; schedule "daily"; retention keep-daily=7; }
    job "pulled" { from "nas"; source "/srv"; to "usb"; schedule "weekly"; retention keep-last=3; }
    job "db" { postgres "app" password-secret="pw"; to "remote"; schedule "hourly"; retention keep-daily=7; }
}
"#;

    #[test]
    fn a_clean_policy_plans_every_job_with_what_it_names() {
        let c = checked(POLICY);
        assert_eq!(c.errors(), 0, "{:#?}", c.diagnostics);
        let plan = c.plan().expect("no error, so a plan");
        let names: Vec<&str> = plan.jobs().iter().map(|j| j.name.value.as_str()).collect();
        assert_eq!(names, ["etc", "pulled", "db"]);
        let pulled = &plan.jobs()[1];
        assert_eq!(
            pulled.remote.as_ref().map(|r| r.address.as_str()),
            Some("nas.lan")
        );
        let db = &plan.jobs()[2];
        let secrets: Vec<&str> = db.secrets().iter().map(|s| s.name.value.as_str()).collect();
        assert_eq!(secrets, ["pw", "s3", "pw"]);
        assert!(matches!(&db.target, super::Target::Restic(r) if r.location.is_sftp()));
        assert_eq!(db.local_repository(), None);
    }

    #[test]
    fn a_policy_with_an_error_has_no_plan() {
        let c = checked(&POLICY.replace("address=\"nas.lan\"", ""));
        assert!(c.errors() > 0);
        assert!(c.plan().is_none());
    }
}
