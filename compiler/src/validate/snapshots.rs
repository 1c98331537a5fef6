//! Snapshot steps (`lvm-snapshot`, `btrfs-snapshot`): one per job, and every source inside
//! what the snapshot stands for — a source outside it would be read live, or not at all.
//! (Steps on pulled sources are refused in `engines`.)

use std::collections::BTreeSet;

use super::paths::contains;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::resolve::ResolvedJob;
use crate::source::Span;

pub fn check(jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    // Settings inherited from a template are shared by its jobs: report each place once.
    let mut reported: BTreeSet<(Span, Span)> = BTreeSet::new();
    for job in jobs {
        let s = &job.settings;
        let name = &job.name().value;
        if let (Some(lvm), Some(btrfs)) = (&s.lvm_snapshot, &s.btrfs_snapshot) {
            if reported.insert((lvm.span.clone(), btrfs.span.clone())) {
                diags.push(
                    Diagnostic::error(
                        "bakgen::two-snapshots",
                        format!("job `{name}` has two snapshot steps: its sources can be read from one snapshot only"),
                        btrfs.span.clone(),
                    )
                    .label("second snapshot step")
                    .with(lvm.span.clone(), "first snapshot step")
                    .help("keep the one for the file system that holds the sources; split sources on other file systems into a job of their own"),
                );
            }
        }
        // What the snapshot stands for on the live system, the span that says so, and why.
        let origin = if let Some(b) = &s.btrfs_snapshot {
            Some((
                b.subvolume.value.as_str(),
                b.subvolume.span.clone(),
                "the btrfs subvolume",
            ))
        } else {
            s.lvm_snapshot.as_ref().map(|l| match &l.mount_point {
                Some(m) => (
                    m.value.as_str(),
                    m.span.clone(),
                    "where the logical volume is mounted",
                ),
                None => (
                    "/",
                    l.span.clone(),
                    "where the logical volume is mounted (mount-point, `/` by default)",
                ),
            })
        };
        let Some((origin, origin_span, what)) = origin else {
            continue;
        };
        for source in s.sources.iter().flatten() {
            if !source.value.starts_with('/') || contains(origin, &source.value) {
                continue;
            }
            if !reported.insert((source.span.clone(), origin_span.clone())) {
                continue;
            }
            diags.push(
                Diagnostic::error(
                    "bakgen::source-outside-snapshot",
                    format!("source `{}` of job `{name}` is not under `{origin}`, {what}", source.value),
                    source.span.clone(),
                )
                .label("outside the snapshot")
                .with(origin_span.clone(), "the snapshot covers this")
                .help(if s.btrfs_snapshot.is_some() {
                    "back up only paths inside the subvolume, or name the subvolume that holds them"
                } else {
                    "back up only paths on that volume; if it is not mounted at /, set mount-point=\"/where\" on lvm-snapshot"
                }),
            );
        }
    }
}
