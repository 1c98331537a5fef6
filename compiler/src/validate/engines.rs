//! Options the chosen engine cannot honour: the policy must not promise what will not happen.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::{DestinationKind, Policy};
use crate::resolve::ResolvedJob;

pub fn check(policy: &Policy, jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    let mut reported = std::collections::BTreeSet::new();
    let mut push = |d: Diagnostic, diags: &mut Diagnostics| {
        if reported.insert((d.primary.span.clone(), d.message.clone())) {
            diags.push(d);
        }
    };
    for job in jobs {
        let s = &job.settings;
        let Some(dest) = s.to.as_ref().and_then(|to| {
            policy
                .destinations
                .iter()
                .find(|d| d.name.value == to.value)
        }) else {
            continue;
        };
        let name = &job.name().value;
        match (&dest.kind, &s.from) {
            (DestinationKind::Snapshots(_), None) => {
                let limits = [&s.limit_upload, &s.limit_download, &dest.limit_upload, &dest.limit_download];
                for limit in limits.into_iter().flatten() {
                    push(
                        Diagnostic::error(
                            "bakgen::engine-unsupported",
                            format!("job `{name}` copies between local folders: a bandwidth limit has nothing to limit"),
                            limit.span.clone(),
                        )
                        .label("bandwidth limit on a local rsync snapshot")
                        .with(job.name().span.clone(), "local job")
                        .help("limits apply to restic uploads and to pulls over ssh (from \"host\"); remove it, or use nice/io-class to be gentle on the disk"),
                        diags,
                    );
                }
            }
            (DestinationKind::Snapshots(_), Some(from)) => {
                for limit in [&s.limit_upload, &dest.limit_upload].into_iter().flatten() {
                    push(
                        Diagnostic::error(
                            "bakgen::engine-unsupported",
                            format!("job `{name}` pulls from `{}`: it downloads, nothing is uploaded", from.host.value),
                            limit.span.clone(),
                        )
                        .label("upload limit on a pull")
                        .help("use limit-download to cap the pull's bandwidth"),
                        diags,
                    );
                }
                if let Some(lvm) = &s.lvm_snapshot {
                    push(
                        Diagnostic::error(
                            "bakgen::engine-unsupported",
                            format!("job `{name}` pulls from `{}`: an LVM snapshot can only be taken on the machine that runs the job", from.host.value),
                            lvm.span.clone(),
                        )
                        .label("LVM step on a remote source")
                        .with(from.host.span.clone(), "remote source")
                        .help("back up that host with a job of its own that runs there, or drop the snapshot step"),
                        diags,
                    );
                }
                if let Some(btrfs) = &s.btrfs_snapshot {
                    push(
                        Diagnostic::error(
                            "bakgen::engine-unsupported",
                            format!("job `{name}` pulls from `{}`: a btrfs snapshot can only be taken on the machine that runs the job", from.host.value),
                            btrfs.span.clone(),
                        )
                        .label("btrfs step on a remote source")
                        .with(from.host.span.clone(), "remote source")
                        .help("back up that host with a job of its own that runs there, or drop the snapshot step"),
                        diags,
                    );
                }
            }
            (DestinationKind::Restic(_), Some(from)) => push(
                Diagnostic::error(
                    "bakgen::engine-unsupported",
                    format!("job `{name}` pulls from `{}` into a restic repository: restic backs up the machine it runs on", from.host.value),
                    from.host.span.clone(),
                )
                .label("pull into restic")
                .with(dest.name.span.clone(), "restic destination")
                .help("give that host its own job (host \"…\" { job … }) that sends to this repository"),
                diags,
            ),
            (DestinationKind::Restic(_), None) => {}
        }
    }
}
