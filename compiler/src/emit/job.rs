//! A planned job as the runtime's job spec, the compiler–runtime contract.

use bakgen_spec::job::{self as spec, JobSpec, SPEC_VERSION};

use super::escape::name_fragment;
use super::paths::{CACHE_DIR, METRICS_DIR, STATE_DIR};
use super::schedule::{late_after, GapCache};
use crate::policy::{DumpKind, Notify, NotifyTarget, Secret, SecretSource, SftpSsh};
use crate::validate::{
    PlannedDump, PlannedJob, PlannedPing, PlannedPingUrl, Remote, ResticTarget, Target,
};

/// The systemd service of a job.
pub fn service_name(job: &str) -> String {
    format!("bakgen-{}.service", name_fragment(job))
}

/// The failure notification a job's service starts: the instance is the job's name
/// fragment, which `bakrun notify` maps back to the spec whose unit it is part of.
pub fn notify_name(job: &str) -> String {
    format!("bakgen-notify@{}.service", name_fragment(job))
}

pub fn timer_name(job: &str) -> String {
    format!("bakgen-{}.timer", name_fragment(job))
}

/// A restic repository as one job of one host uses it: `{host}` and `{job}` filled in.
pub fn repository(url: &str, host: &str, job: &str) -> String {
    url.replace("{host}", host).replace("{job}", job)
}

/// How the runtime reads a secret: file and credential secrets arrive through the unit's
/// `LoadCredential=`/`LoadCredentialEncrypted=` under the secret's name; the file they come
/// from is named too, for `bakrun` run by hand, outside the unit.
pub(super) fn secret_ref(secret: &Secret) -> spec::SecretRef {
    let name = secret.name.value.clone();
    match &secret.source {
        SecretSource::File(path) => spec::SecretRef::Credential {
            name,
            file: Some(path.value.clone()),
            encrypted: None,
        },
        SecretSource::Credential(path) => spec::SecretRef::Credential {
            name,
            file: None,
            encrypted: Some(path.value.clone()),
        },
        SecretSource::Command(c) => spec::SecretRef::Command {
            command: c.value.clone(),
        },
    }
}

/// The variables restic gets from secrets, as the runtime reads them.
pub(super) fn environment(r: &ResticTarget) -> Vec<spec::SecretEnv> {
    r.environment
        .iter()
        .map(|(variable, secret)| spec::SecretEnv {
            variable: variable.clone(),
            secret: secret_ref(secret),
        })
        .collect()
}

pub(super) fn sftp_ssh(ssh: &SftpSsh) -> spec::SftpSsh {
    spec::SftpSsh {
        port: ssh.port.as_ref().map(|p| p.value as u16),
        identity: ssh.identity.as_ref().map(|i| i.value.clone()),
        known_hosts: ssh.known_hosts.as_ref().map(|k| k.value.clone()),
    }
}

/// A job's `on-failure`, a watch's `on-late`.
pub(super) fn notify(n: &Notify) -> spec::Notify {
    match &n.target {
        NotifyTarget::Command(argv) => spec::Notify::Command {
            argv: argv.iter().map(|a| a.value.clone()).collect(),
        },
        NotifyTarget::Url(url) => spec::Notify::Url {
            url: url.value.clone(),
        },
    }
}

/// The job spec of a planned job.
pub fn job_spec(job: &PlannedJob, gaps: &mut GapCache) -> JobSpec {
    let s = &job.settings;
    let host = &job.host.value;
    let name = &job.name.value;
    let dest = &job.destination;
    let schedule = &job.schedule;
    let calendar = &job.calendar;
    let jitter = schedule
        .jitter
        .as_ref()
        .map_or(0, |j| j.value.approx_seconds());
    let timeout = s.timeout.as_ref().map(|t| t.value.approx_seconds());
    let gap = gaps.longest_gap(calendar);

    let destination = match &job.target {
        Target::Snapshots(f) => spec::Destination::Snapshots {
            path: f.path.value.clone(),
            mount_point: f.device.as_ref().map(|_| f.path.value.clone()),
            sentinel: f.sentinel.as_ref().is_none_or(|s| s.value),
        },
        Target::Restic(r) => spec::Destination::Restic {
            repository: repository(&r.repository.url.value, host, name),
            password: secret_ref(&r.password),
            environment: environment(r),
            cache_dir: CACHE_DIR.to_owned(),
            ssh: r.repository.ssh.as_ref().map(sftp_ssh),
        },
    };

    let remote = job
        .remote
        .as_ref()
        .map(|Remote { pull, address }| spec::Remote {
            address: address.clone(),
            user: pull.user.as_ref().map(|u| u.value.clone()),
            port: pull.port.as_ref().map(|p| p.value as u16),
            identity: pull.identity.as_ref().map(|i| i.value.clone()),
            known_hosts: pull.known_hosts.as_ref().map(|k| k.value.clone()),
        });

    let mut steps = Vec::new();
    if let Some(lvm) = &s.lvm_snapshot {
        steps.push(spec::Step::LvmSnapshot {
            volume: lvm.volume.value.clone(),
            size: lvm.size.value.clone(),
            // Validation made sure every source lies under it.
            origin_path: lvm
                .mount_point
                .as_ref()
                .map_or_else(|| "/".to_owned(), |p| p.value.clone()),
        });
    }
    if let Some(btrfs) = &s.btrfs_snapshot {
        // The subvolume is visible at its own path: that is what the snapshot stands for.
        steps.push(spec::Step::BtrfsSnapshot {
            subvolume: btrfs.subvolume.value.clone(),
            origin_path: btrfs.subvolume.value.clone(),
        });
    }
    for PlannedDump { dump, password } in &job.dumps {
        let databases = dump.databases.iter().map(|d| d.value.clone()).collect();
        let host = dump.host.as_ref().map(|h| h.value.clone());
        let port = dump.port.as_ref().map(|p| p.value as u16);
        let user = dump.user.as_ref().map(|u| u.value.clone());
        let password = password.as_ref().map(secret_ref);
        steps.push(match dump.kind {
            DumpKind::Postgres => spec::Step::Postgres {
                databases,
                host,
                port,
                user,
                password,
            },
            DumpKind::Mysql => spec::Step::Mysql {
                databases,
                host,
                port,
                user,
                password,
            },
        });
    }

    let r = &job.retention;
    let count =
        |c: &Option<crate::policy::Spanned<bakgen_spec::count::Count>>| c.as_ref().map(|c| c.value);
    let within = |d: &Option<crate::policy::Spanned<bakgen_spec::duration::Duration>>| {
        d.as_ref().map(|d| d.value.to_string())
    };
    let retention = spec::Retention {
        keep_last: count(&r.keep_last),
        keep_hourly: count(&r.keep_hourly),
        keep_daily: count(&r.keep_daily),
        keep_weekly: count(&r.keep_weekly),
        keep_monthly: count(&r.keep_monthly),
        keep_yearly: count(&r.keep_yearly),
        keep_within: within(&r.keep_within),
        keep_within_hourly: within(&r.keep_within_hourly),
        keep_within_daily: within(&r.keep_within_daily),
        keep_within_weekly: within(&r.keep_within_weekly),
        keep_within_monthly: within(&r.keep_within_monthly),
        keep_within_yearly: within(&r.keep_within_yearly),
    };

    let kib = |v: &Option<crate::policy::Spanned<u64>>| v.as_ref().map(|v| v.value / 1024);
    let limits = spec::Limits {
        upload_kib: kib(&s.limit_upload).or_else(|| kib(&dest.limit_upload)),
        download_kib: kib(&s.limit_download).or_else(|| kib(&dest.limit_download)),
    };

    let on_failure = s.on_failure.as_ref().map(notify);

    JobSpec {
        version: SPEC_VERSION,
        host: host.clone(),
        job: name.clone(),
        unit: service_name(name),
        remote,
        sources: s
            .sources
            .iter()
            .flatten()
            .map(|p| p.value.clone())
            .collect(),
        excludes: s
            .excludes
            .iter()
            .flatten()
            .map(|p| p.value.clone())
            .collect(),
        destination,
        schedule: spec::Schedule {
            calendar: calendar.normalized(),
            jitter_seconds: jitter,
            late_after_seconds: late_after(gap, jitter, timeout),
        },
        retention,
        verify: job.verify.as_ref().map(super::verify::verify_spec),
        steps,
        limits,
        on_failure,
        ping: job
            .ping
            .as_ref()
            .map(|PlannedPing { kind, url }| spec::Ping {
                kind: *kind,
                url: match url {
                    PlannedPingUrl::Plain(u) => spec::PingUrl::Plain(u.clone()),
                    PlannedPingUrl::Secret(s) => spec::PingUrl::Secret(secret_ref(s)),
                },
            }),
        state_dir: STATE_DIR.to_owned(),
        metrics_dir: Some(
            s.metrics_dir
                .as_ref()
                .map_or(METRICS_DIR, |d| d.value.as_str())
                .to_owned(),
        ),
    }
}
