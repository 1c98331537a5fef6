//! One host's folder of a build: skipped when its inputs are as stamped, else its bundle
//! emitted and compared with what is there, changed files written, the manifest last.
//!
//! What is there is known without reading it back: the manifest records each file's hash
//! and mode, and one walk of the folder (`Tree::entries`) gives each file's type, mode,
//! size and modification time. A file is taken as unchanged when the manifest lists the
//! hash just rendered and the file is a regular file of that mode and size, last modified
//! no later than the manifest. A file modified after its manifest (by hand, or by a build
//! that was interrupted before it wrote the manifest) is read back and compared, and so is
//! every file of a folder with no manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use rustix::fs::FileType;

use crate::emit::fleet::{self, HostJobs};
use crate::emit::paths::MANIFEST;
use crate::emit::{sha256_hex, Bundle, Emitter, Manifest, ManifestEntry};
use crate::ops::tree::{safe_relative, Entry, Found, Tree, TreeError};
use crate::validate::Plan;

use super::stamp::HostStamp;
use super::BuildError;

/// What a build did in one host's folder.
#[derive(Debug, Default)]
pub(super) struct HostReport {
    pub written: Vec<PathBuf>,
    pub unchanged: usize,
    pub removed: Vec<PathBuf>,
    pub foreign: Vec<PathBuf>,
    pub kept_edited: Vec<PathBuf>,
    /// Not emitted: its inputs and files were as stamped.
    pub skipped: bool,
    /// What the next build's stamp records for this host.
    pub stamp: Option<HostStamp>,
}

/// The folder's manifest as found: its bytes, what they say, when it was written.
struct Old {
    bytes: Vec<u8>,
    manifest: Manifest,
    modified: (i64, i64),
}

pub(super) fn build_host(
    emitter: &mut Emitter,
    plan: &Plan,
    h: HostJobs,
    host: &Tree,
    stamped: Option<&HostStamp>,
) -> Result<HostReport, BuildError> {
    let inputs = fleet::inputs(plan, h);
    // Reporting and comparing only: a folder that cannot be walked is compared file by file.
    let on_disk = host.entries().unwrap_or_default();
    let old = read_old(host, &on_disk)?;
    let mut report = HostReport::default();
    if let (Some(inputs), Some(stamped), Some(old)) = (&inputs, stamped, &old) {
        if *inputs == stamped.inputs
            && sha256_hex(&old.bytes) == stamped.manifest
            && old.manifest.files.iter().all(|e| trusted(e, &on_disk, old))
        {
            let wanted = wanted(old.manifest.files.iter().map(|e| e.path.clone()));
            report.unchanged = wanted.len();
            report.skipped = true;
            report.stamp = Some(stamped.clone());
            collect_foreign(host, &on_disk, &wanted, &mut report);
            return Ok(report);
        }
    }

    let bundle = emitter.bundle(plan, h.host, h.jobs)?;
    write_bundle(&bundle, host, &on_disk, old.as_ref(), &mut report)?;
    if let (Some(inputs), Some(manifest)) = (inputs, bundle.files.get(MANIFEST)) {
        report.stamp = Some(HostStamp {
            inputs,
            manifest: sha256_hex(&manifest.contents),
        });
    }
    Ok(report)
}

/// Removes what the manifest of a host gone from the policy says bakgen wrote.
pub(super) fn remove_gone(host: &Tree, name: &str) -> Result<HostReport, BuildError> {
    let mut report = HostReport::default();
    let on_disk = host.entries().unwrap_or_default();
    let Some(old) = read_old(host, &on_disk)?.filter(|old| old.manifest.host == name) else {
        return Ok(report);
    };
    remove_stale(host, &old.manifest, &BTreeSet::new(), &mut report)?;
    Ok(report)
}

pub(super) fn collect_gone_foreign(host: &Tree, report: &mut HostReport) {
    let on_disk = host.entries().unwrap_or_default();
    collect_foreign(host, &on_disk, &BTreeSet::new(), report);
}

/// The folder's manifest; `None` if absent or unreadable (then nothing is removed and
/// every file is read back).
fn read_old(host: &Tree, on_disk: &BTreeMap<String, Entry>) -> Result<Option<Old>, TreeError> {
    let found = match host.read(MANIFEST) {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(None),
        Err(e) if e.is_refusal() => return Err(e),
        Err(_) => return Ok(None),
    };
    let Some(manifest) = std::str::from_utf8(&found.contents)
        .ok()
        .and_then(Manifest::parse)
    else {
        return Ok(None);
    };
    let modified = on_disk.get(MANIFEST).map_or((i64::MIN, 0), |e| e.modified);
    Ok(Some(Old {
        bytes: found.contents,
        manifest,
        modified,
    }))
}

/// The manifest's entry describes the file on disk without reading it: a regular file
/// of the recorded mode, not modified since the manifest was written.
fn trusted(entry: &ManifestEntry, on_disk: &BTreeMap<String, Entry>, old: &Old) -> bool {
    on_disk.get(&entry.path).is_some_and(|e| {
        e.kind == FileType::RegularFile
            && u32::from_str_radix(&entry.mode, 8) == Ok(e.mode)
            && e.modified <= old.modified
    })
}

fn wanted(paths: impl Iterator<Item = String>) -> BTreeSet<String> {
    let mut set: BTreeSet<String> = paths.collect();
    set.insert(MANIFEST.to_owned());
    set
}

fn write_bundle(
    bundle: &Bundle,
    host: &Tree,
    on_disk: &BTreeMap<String, Entry>,
    old: Option<&Old>,
    report: &mut HostReport,
) -> Result<(), BuildError> {
    let wanted: BTreeSet<String> = bundle.files.keys().cloned().collect();
    let recorded: BTreeMap<&str, &ManifestEntry> = old
        .iter()
        .flat_map(|o| &o.manifest.files)
        .map(|e| (e.path.as_str(), e))
        .collect();
    // The hashes the emitter put in the new manifest: each file is hashed once.
    let rendered: BTreeMap<String, String> = bundle
        .files
        .get(MANIFEST)
        .and_then(|f| std::str::from_utf8(&f.contents).ok())
        .and_then(Manifest::parse)
        .map(|m| m.files.into_iter().map(|e| (e.path, e.sha256)).collect())
        .unwrap_or_default();
    // The manifest last: every file it lists is written (and older) by then.
    let files = bundle
        .files
        .iter()
        .filter(|(rel, _)| rel.as_str() != MANIFEST);
    let manifest = bundle.files.get_key_value(MANIFEST);
    // Files found unchanged only by reading them back: newer than the manifest.
    let read_back = std::cell::Cell::new(0);
    let read_and_compare = |rel: &str, contents: &[u8], mode: u32| {
        let same = same_when_read(host, rel, contents, mode)?;
        read_back.set(read_back.get() + usize::from(same));
        Ok::<bool, BuildError>(same)
    };
    for (rel, file) in files.chain(manifest) {
        let contents = file.contents.as_slice();
        let unchanged = match (on_disk.get(rel), old) {
            (None, _) => false,
            (Some(e), Some(old)) if rel == MANIFEST && e.kind == FileType::RegularFile => {
                old.bytes == contents && set_mode(host, rel, e, file.mode)?
            }
            (Some(e), Some(old)) if known(e, contents.len(), old) => {
                match recorded.get(rel.as_str()) {
                    Some(r) if Some(&r.sha256) == rendered.get(rel) => {
                        set_mode(host, rel, e, file.mode)?
                    }
                    Some(_) => false,
                    None => read_and_compare(rel, contents, file.mode)?,
                }
            }
            (Some(_), _) => read_and_compare(rel, contents, file.mode)?,
        };
        if unchanged {
            report.unchanged += 1;
            if rel == MANIFEST && (read_back.get() > 0 || !report.written.is_empty()) {
                // Files newer than the manifest were compared or written: its time moves
                // past theirs, so that the next build trusts them unread.
                host.touch(MANIFEST)?;
            }
            continue;
        }
        host.write(rel, contents, file.mode)?;
        report.written.push(host.path(rel));
    }
    if let Some(old) = old {
        remove_stale(host, &old.manifest, &wanted, report)?;
    }
    collect_foreign(host, on_disk, &wanted, report);
    Ok(())
}

/// The manifest describes the file at `e` without reading it: a regular file of the
/// rendered size, not modified since the manifest was written.
fn known(e: &Entry, size: usize, old: &Old) -> bool {
    e.kind == FileType::RegularFile && e.size == size as u64 && e.modified <= old.modified
}

/// Unchanged contents: the mode made right in place if it is not (`true`).
fn set_mode(host: &Tree, rel: &str, e: &Entry, mode: u32) -> Result<bool, BuildError> {
    if e.mode != mode {
        host.set_mode(rel, mode)?;
    }
    Ok(true)
}

/// Reads the file back: equal contents is unchanged (its mode made right if it was not).
fn same_when_read(host: &Tree, rel: &str, contents: &[u8], mode: u32) -> Result<bool, BuildError> {
    let found = match host.read(rel) {
        Ok(found) => found,
        Err(e) if e.is_refusal() => return Err(e.into()),
        // Unreadable: rewritten, and the write reports what is wrong.
        Err(_) => None,
    };
    let Some(Found {
        contents: there,
        mode: there_mode,
    }) = found
    else {
        return Ok(false);
    };
    if there != contents {
        return Ok(false);
    }
    if there_mode != mode {
        host.set_mode(rel, mode)?;
    }
    Ok(true)
}

fn remove_stale(
    host: &Tree,
    old: &Manifest,
    wanted: &BTreeSet<String>,
    report: &mut HostReport,
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

/// Reporting only: what the walk found that the bundle does not hold.
fn collect_foreign(
    host: &Tree,
    on_disk: &BTreeMap<String, Entry>,
    wanted: &BTreeSet<String>,
    report: &mut HostReport,
) {
    for rel in on_disk.keys() {
        let p = host.path(rel);
        if !wanted.contains(rel) && !report.removed.contains(&p) && !report.kept_edited.contains(&p)
        {
            report.foreign.push(p);
        }
    }
}
