//! `build`: write each host's bundle under `<out>/<host>/`, incrementally. Unchanged files
//! are not rewritten (their mtime is kept), files bakgen wrote before and no longer
//! produces are removed, and files bakgen did not write are left alone and reported.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::emit::paths::MANIFEST;
use crate::emit::{sha256_hex, Bundle, Emitter, Manifest, RenderError};
use crate::ops::check::Checked;
use crate::resolve::resolve;

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
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Every host's bundle, in host order. The policy must have no errors.
pub fn bundles(checked: &Checked) -> Result<Vec<Bundle>, RenderError> {
    let (jobs, _) = resolve(&checked.policy);
    let mut emitter = Emitter::new()?;
    let mut out = Vec::new();
    for host_jobs in jobs.chunk_by(|a, b| std::ptr::eq(a.host, b.host)) {
        let Some(first) = host_jobs.first() else {
            continue;
        };
        out.push(emitter.bundle(&checked.policy, first.host, host_jobs)?);
    }
    Ok(out)
}

pub fn build(checked: &Checked, out: &Path) -> Result<BuildReport, BuildError> {
    let bundles = bundles(checked)?;
    let mut report = BuildReport {
        hosts: bundles.len(),
        ..BuildReport::default()
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let produced: BTreeSet<&str> = bundles.iter().map(|b| b.host.as_str()).collect();
    for bundle in &bundles {
        write_bundle(bundle, &out.join(&bundle.host), &mut report)?;
    }
    // Hosts that are gone from the policy: remove what their manifest says bakgen wrote.
    let mut entries: Vec<PathBuf> = std::fs::read_dir(out)
        .map_err(io(out))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    for dir in entries {
        let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if produced.contains(name) {
            continue;
        }
        if let Some(old) = read_manifest(&dir) {
            if old.host == name {
                remove_stale(&dir, &old, &BTreeSet::new(), &mut report)?;
                collect_foreign(&dir, &dir, &BTreeSet::new(), &mut report);
            }
        }
    }
    Ok(report)
}

fn read_manifest(root: &Path) -> Option<Manifest> {
    Manifest::parse(&std::fs::read_to_string(root.join(MANIFEST)).ok()?)
}

fn write_bundle(bundle: &Bundle, root: &Path, report: &mut BuildReport) -> Result<(), BuildError> {
    let old = read_manifest(root);
    let wanted: BTreeSet<String> = bundle.files.keys().cloned().collect();
    for (rel, file) in &bundle.files {
        let path = root.join(rel);
        let same = std::fs::read(&path).is_ok_and(|current| current == file.contents);
        if same {
            let mode_ok = std::fs::metadata(&path)
                .is_ok_and(|m| m.permissions().mode() & 0o7777 == file.mode);
            if !mode_ok {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(file.mode))
                    .map_err(io(&path))?;
            }
            report.unchanged += 1;
            continue;
        }
        write_atomically(&path, &file.contents, file.mode)?;
        report.written.push(path);
    }
    if let Some(old) = old {
        remove_stale(root, &old, &wanted, report)?;
    }
    collect_foreign(root, root, &wanted, report);
    Ok(())
}

/// Temporary file beside the target, then rename: a reader sees the old or the new file,
/// never half of one.
pub fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), BuildError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.bakgen-tmp"));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(contents)?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(source) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(BuildError::Io {
            path: path.to_path_buf(),
            source,
        });
    }
    Ok(())
}

fn remove_stale(
    root: &Path,
    old: &Manifest,
    wanted: &BTreeSet<String>,
    report: &mut BuildReport,
) -> Result<(), BuildError> {
    for entry in &old.files {
        if wanted.contains(&entry.path) || !safe_relative(&entry.path) {
            continue;
        }
        let path = root.join(&entry.path);
        match std::fs::read(&path) {
            Ok(bytes) if sha256_hex(&bytes) == entry.sha256 => {
                std::fs::remove_file(&path).map_err(io(&path))?;
                prune_empty_parents(&path, root);
                report.removed.push(path);
            }
            Ok(_) => report.kept_edited.push(path),
            Err(_) => {}
        }
    }
    if wanted.is_empty() {
        let path = root.join(MANIFEST);
        if std::fs::remove_file(&path).is_ok() {
            prune_empty_parents(&path, root);
            report.removed.push(path);
        }
        let _ = std::fs::remove_dir(root);
    }
    Ok(())
}

/// A manifest is data read from disk: never follow it outside the host's folder.
fn safe_relative(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

fn prune_empty_parents(path: &Path, root: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

fn collect_foreign(root: &Path, dir: &Path, wanted: &BTreeSet<String>, report: &mut BuildReport) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect_foreign(root, &p, wanted, report);
            continue;
        }
        let rel = p
            .strip_prefix(root)
            .ok()
            .and_then(|r| r.to_str())
            .unwrap_or("");
        if !wanted.contains(rel) && !report.removed.contains(&p) && !report.kept_edited.contains(&p)
        {
            report.foreign.push(p);
        }
    }
}
