//! Options the chosen engine cannot honour: the policy must not promise what will not happen.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::{Destination, DestinationKind, Policy, Repository};
use crate::resolve::ResolvedJob;

pub fn check(policy: &Policy, jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    for dest in &policy.destinations {
        destination(dest, diags);
    }
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

/// Lines written for the other kind of destination, and `ssh` on a repository ssh does
/// not reach.
fn destination(dest: &Destination, diags: &mut Diagnostics) {
    for m in &dest.misplaced {
        let d = match (&dest.kind, m.node) {
            (DestinationKind::Snapshots(_), "prune-schedule" | "check-schedule") => Diagnostic::error(
                "bakgen::engine-unsupported",
                "`prune-schedule` and `check-schedule` apply to restic repositories",
                m.span.clone(),
            )
            .label("not for snapshot folders")
            .help("snapshot folders are pruned by each job's retention; remove this line"),
            (DestinationKind::Snapshots(_), "ssh") => Diagnostic::error("bakgen::engine-unsupported", "`ssh` applies to sftp: restic repositories, not to snapshot folders", m.span.clone())
                .label("ssh for a snapshot folder")
                .help("remove it; to pull a job's sources over ssh, write from \"host\" port=… identity=… in the job"),
            (DestinationKind::Snapshots(_), _) => Diagnostic::error("bakgen::engine-unsupported", "rsync snapshots are not encrypted: `password` has no effect here", m.span.clone())
                .label("encryption on a snapshot folder")
                .help("encrypted backups need a restic repository: write restic \"/path\" instead of path"),
            (DestinationKind::Restic(_), what) => Diagnostic::error("bakgen::engine-unsupported", format!("`{what}` applies to snapshot folders, not restic repositories"), m.span.clone())
                .label("not for restic")
                .help("mount a local restic repository's disk outside bakgen, or back up to a `path` destination"),
        };
        diags.push(d);
    }
    if let DestinationKind::Restic(r) = &dest.kind {
        // An unreadable URL is still measured by the backend it names.
        let not_sftp = match &r.location {
            Some(l) => !l.is_sftp(),
            None => !Repository::names_sftp(&r.url.value),
        };
        if let (Some(ssh), true) = (&r.ssh, not_sftp) {
            let d = Diagnostic::error(
                "bakgen::engine-unsupported",
                "`ssh` applies to sftp: repositories",
                ssh.span.clone(),
            )
            .label("not an sftp repository")
            .with(r.url.span.clone(), "repository")
            .help("remove `ssh`, or write the repository as sftp:user@host:/path");
            diags.push(d);
        }
    }
}
