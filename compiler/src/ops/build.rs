//! `build`: write each host's bundle under `<out>/<host>/`, incrementally. Unchanged files
//! are not rewritten (their mtime is kept), files bakgen wrote before and no longer
//! produces are removed, and files bakgen did not write are left alone and reported.
//! Inside `<out>` nothing follows a symbolic link (`ops::tree`): a link where a file or
//! folder of a bundle belongs is refused, and one anywhere else is reported as foreign.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use crate::emit::paths::MANIFEST;
use crate::emit::{sha256_hex, Bundle, Emitter, Manifest, RenderError};
use crate::ops::tree::{safe_relative, Found, Tree, TreeError};
use crate::validate::Plan;

#[derive(Debug, Default)]
pub struct BuildReport {
    pub hosts: usize,
    pub written: Vec<PathBuf>,
    pub unchanged: usize,
    pub removed: Vec<PathBuf>,
    /// Files under a host's folder that bakgen did not write; left in place.
    pub foreign: Vec<PathBuf>,
    /// Files bakgen wrote before and no longer produces, but which were edited since.
    pub kept_edited: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Also a link (or a non-file) where a file or folder of a bundle belongs.
    #[error(transparent)]
    Tree(#[from] TreeError),
}

impl BuildError {
    /// Something not bakgen's is in the way: nothing was followed.
    pub fn is_refusal(&self) -> bool {
        matches!(self, BuildError::Tree(e) if e.is_refusal())
    }
}

/// Every host's bundle, in host order.
pub fn bundles(plan: &Plan) -> Result<Vec<Bundle>, RenderError> {
    let mut emitter = Emitter::new()?;
    emitter.monitoring(plan);
    let mut out = Vec::new();
    for host_jobs in plan.jobs().chunk_by(|a, b| a.host.value == b.host.value) {
        let Some(first) = host_jobs.first() else {
            continue;
        };
        out.push(emitter.bundle(plan, &first.host.value, host_jobs)?);
    }
    // A Prometheus or watching host may run no job: it gets a bundle for the rules or the
    // watch alone.
    let policy = plan.policy();
    let watching = policy
        .monitoring
        .iter()
        .flat_map(|m| &m.watches)
        .map(|w| &w.host);
    for name in policy
        .monitoring
        .iter()
        .flat_map(|m| &m.prometheus)
        .chain(watching)
    {
        let Some(host) = policy.hosts.iter().find(|h| h.name.value == name.value) else {
            continue;
        };
        if !out.iter().any(|b| b.host == name.value) {
            out.push(emitter.bundle(plan, &host.name.value, &[])?);
        }
    }
    let position = |b: &Bundle| policy.hosts.iter().position(|h| h.name.value == b.host);
    out.sort_by_key(position);
    Ok(out)
}

pub fn build(plan: &Plan, out: &Path) -> Result<BuildReport, BuildError> {
    let bundles = bundles(plan)?;
    let mut report = BuildReport {
        hosts: bundles.len(),
        ..BuildReport::default()
    };
    // A build is redone from the policy if lost: no fsync.
    let out = Tree::create(out, false)?;
    let produced: BTreeSet<&str> = bundles.iter().map(|b| b.host.as_str()).collect();
    for bundle in &bundles {
        let Some(host) = out.subtree(&bundle.host, true)? else {
            continue;
        };
        write_bundle(bundle, &host, &mut report)?;
    }
    // Hosts that are gone from the policy: remove what their manifest says bakgen wrote.
    // Only real folders: a link named like a host is not followed.
    for (name, kind) in out.list("")? {
        if kind != FileType::Directory || produced.contains(name.as_str()) {
            continue;
        }
        let Some(host) = out.subtree(&name, false)? else {
            continue;
        };
        let Some(old) = read_manifest(&host)?.filter(|old| old.host == name) else {
            continue;
        };
        remove_stale(&host, &old, &BTreeSet::new(), &mut report)?;
        out.remove_empty_folder(&name);
        collect_foreign(&host, &BTreeSet::new(), &mut report);
    }
    Ok(report)
}

/// The host folder's manifest; `None` if absent or unreadable (then nothing is removed).
fn read_manifest(host: &Tree) -> Result<Option<Manifest>, TreeError> {
    match host.read(MANIFEST) {
        Ok(found) => Ok(found
            .and_then(|f| String::from_utf8(f.contents).ok())
            .and_then(|text| Manifest::parse(&text))),
        Err(e) if e.is_refusal() => Err(e),
        Err(_) => Ok(None),
    }
}

fn write_bundle(bundle: &Bundle, host: &Tree, report: &mut BuildReport) -> Result<(), BuildError> {
    let old = read_manifest(host)?;
    let wanted: BTreeSet<String> = bundle.files.keys().cloned().collect();
    for (rel, file) in &bundle.files {
        let current = match host.read(rel) {
            Ok(found) => found,
            Err(e) if e.is_refusal() => return Err(e.into()),
            // Unreadable: rewritten, and the write reports what is wrong.
            Err(_) => None,
        };
        if let Some(Found { contents, mode }) = current {
            if contents == file.contents {
                if mode != file.mode {
                    host.set_mode(rel, file.mode)?;
                }
                report.unchanged += 1;
                continue;
            }
        }
        host.write(rel, &file.contents, file.mode)?;
        report.written.push(host.path(rel));
    }
    if let Some(old) = old {
        remove_stale(host, &old, &wanted, report)?;
    }
    collect_foreign(host, &wanted, report);
    Ok(())
}

fn remove_stale(
    host: &Tree,
    old: &Manifest,
    wanted: &BTreeSet<String>,
    report: &mut BuildReport,
) -> Result<(), BuildError> {
    for entry in &old.files {
        if wanted.contains(&entry.path) || !safe_relative(&entry.path) {
            continue;
        }
        // A link or anything unreadable at a stale path is not bakgen's: left alone, and
        // reported as foreign.
        if let Ok(Some(found)) = host.read(&entry.path) {
            if sha256_hex(&found.contents) == entry.sha256 {
                host.remove(&entry.path)?;
                host.remove_empty_parents(&entry.path);
                report.removed.push(host.path(&entry.path));
            } else {
                report.kept_edited.push(host.path(&entry.path));
            }
        }
    }
    if wanted.is_empty() && host.remove(MANIFEST)? {
        host.remove_empty_parents(MANIFEST);
        report.removed.push(host.path(MANIFEST));
    }
    Ok(())
}

/// Reporting only: a folder that cannot be listed is skipped.
fn collect_foreign(host: &Tree, wanted: &BTreeSet<String>, report: &mut BuildReport) {
    for rel in host.files().unwrap_or_default() {
        let p = host.path(&rel);
        if !wanted.contains(&rel)
            && !report.removed.contains(&p)
            && !report.kept_edited.contains(&p)
        {
            report.foreign.push(p);
        }
    }
}
