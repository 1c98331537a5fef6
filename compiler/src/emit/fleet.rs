//! The fleet as emission sees it: which hosts get a bundle, with which jobs, and what
//! each host's bundle is made from — so that a build can emit one host at a time, and
//! skip a host whose inputs did not change.

use sha2::{Digest as _, Sha256};

use crate::policy::Policy;
use crate::validate::{Plan, PlannedJob};

/// A host that gets a bundle, and the plan's jobs it runs (possibly none).
#[derive(Debug, Clone, Copy)]
pub struct HostJobs<'a> {
    pub host: &'a str,
    pub jobs: &'a [PlannedJob],
}

/// Every host that gets a bundle, in the policy's host order: the hosts running jobs, and
/// a Prometheus or watching host that runs none (for the rules or the watch alone).
pub fn hosts(plan: &Plan) -> Vec<HostJobs<'_>> {
    let policy = plan.policy();
    let mut out: Vec<HostJobs> = plan
        .jobs()
        .chunk_by(|a, b| a.host.value == b.host.value)
        .filter_map(|jobs| {
            let first = jobs.first()?;
            Some(HostJobs {
                host: &first.host.value,
                jobs,
            })
        })
        .collect();
    for name in fleet_readers(policy) {
        let Some(host) = policy.hosts.iter().find(|h| h.name.value == name) else {
            continue;
        };
        if !out.iter().any(|h| h.host == name) {
            out.push(HostJobs {
                host: &host.name.value,
                jobs: &[],
            });
        }
    }
    let position = |h: &HostJobs| policy.hosts.iter().position(|p| p.name.value == h.host);
    out.sort_by_key(position);
    out
}

/// The Prometheus hosts (their rules cover every job) and the watching hosts (their watch
/// covers every job writing where they read): hosts whose bundle depends on other hosts.
fn fleet_readers(policy: &Policy) -> impl Iterator<Item = &str> {
    let monitoring = policy.monitoring.iter();
    let prometheus = monitoring.clone().flat_map(|m| &m.prometheus);
    let watching = monitoring.flat_map(|m| &m.watches).map(|w| &w.host);
    prometheus.chain(watching).map(|h| h.value.as_str())
}

/// A fingerprint (SHA-256, hex) of everything `host`'s bundle is made from: the bakgen
/// version, the policy's `install` block and each resolved job — its settings with templates and defaults applied, its
/// destination, secrets, schedule, retention, dumps, pings, the address it pulls from.
/// Where a value was written is left out (`{:+?}`, see `source::Span`), so moving text
/// around a policy is no change. `None` for a host whose bundle depends on other hosts
/// (Prometheus, watching hosts): it is always emitted.
///
/// The fingerprint does not cover bakgen's own code beyond its version: a build records
/// which executable made it and trusts fingerprints only from the same one
/// (`ops::build`).
pub fn inputs(plan: &Plan, host: HostJobs) -> Option<String> {
    if fleet_readers(plan.policy()).any(|h| h == host.host) {
        return None;
    }
    let mut digest = Hashing(Sha256::new());
    use std::fmt::Write;
    write!(
        digest,
        "bakgen {}\nhost {:?}\n",
        env!("CARGO_PKG_VERSION"),
        host.host
    )
    .ok()?;
    // The policy's `install` block is in every unit of every host (`ExecStart=`,
    // `Documentation=`).
    writeln!(digest, "install {:+?}", plan.policy().install).ok()?;
    for job in host.jobs {
        writeln!(digest, "{job:+?}").ok()?;
    }
    Some(super::manifest::hex(&digest.0.finalize()))
}

/// Formatting straight into the hash: a host's jobs are never held as text.
struct Hashing(Sha256);

impl std::fmt::Write for Hashing {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}
