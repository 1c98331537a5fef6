//! What to install: the host's bundle compiled from the policy, or a committed bundle
//! (`generated/<host>/`) read back and verified against its own manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::emit::paths::MANIFEST;
use crate::emit::{sha256_hex, Bundle, BundleFile, Manifest, RenderError};
use crate::ops::build::bundle_of;
use crate::ops::tree::safe_relative;
use crate::validate::Plan;

/// A bundle to install, with its parsed manifest (the bundle's own `MANIFEST` file).
#[derive(Debug, Clone)]
pub struct Desired {
    pub bundle: Bundle,
    pub manifest: Manifest,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("the policy has no host `{0}`")]
    NoSuchHost(String),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The committed bundle is not what was reviewed: refuse rather than install it.
    #[error("the bundle in {} does not match its manifest: {problem}", dir.display())]
    Tampered { dir: PathBuf, problem: String },
}

/// Compiles `host`'s bundle. A host with no jobs gets a bundle holding only an empty
/// manifest, so applying it removes everything bakgen installed there before.
pub fn compiled(plan: &Plan, host: &str) -> Result<Desired, SourceError> {
    if !plan.policy().hosts.iter().any(|h| h.name.value == host) {
        return Err(SourceError::NoSuchHost(host.to_owned()));
    }
    let bundle = bundle_of(plan, host)?.unwrap_or_else(|| empty_bundle(host));
    let manifest = bundle
        .files
        .get(MANIFEST)
        .and_then(|f| std::str::from_utf8(&f.contents).ok())
        .and_then(Manifest::parse)
        .unwrap_or_else(|| empty_manifest(host));
    Ok(Desired { bundle, manifest })
}

fn empty_manifest(host: &str) -> Manifest {
    Manifest {
        version: crate::emit::MANIFEST_VERSION,
        host: host.to_owned(),
        files: Vec::new(),
    }
}

fn empty_bundle(host: &str) -> Bundle {
    let mut files = BTreeMap::new();
    files.insert(
        MANIFEST.to_owned(),
        BundleFile {
            contents: empty_manifest(host).to_json().into_bytes(),
            mode: 0o644,
        },
    );
    Bundle {
        host: host.to_owned(),
        files,
    }
}

/// Reads a committed bundle: every file its manifest lists, each checked against its hash,
/// and nothing else in the folder. The reviewed bundle is installed exactly, or not at all.
pub fn committed(dir: &Path, host: &str) -> Result<Desired, SourceError> {
    let tampered = |problem: String| SourceError::Tampered {
        dir: dir.to_path_buf(),
        problem,
    };
    let manifest_path = dir.join(MANIFEST);
    let manifest_bytes = std::fs::read(&manifest_path).map_err(|source| SourceError::Io {
        path: manifest_path.clone(),
        source,
    })?;
    let manifest = std::str::from_utf8(&manifest_bytes)
        .ok()
        .and_then(Manifest::parse)
        .ok_or_else(|| tampered(format!("{MANIFEST} is not a bakgen manifest")))?;
    if manifest.host != host {
        return Err(tampered(format!(
            "it is the bundle of host `{}`, not `{host}`",
            manifest.host
        )));
    }
    let mut files = BTreeMap::new();
    for entry in &manifest.files {
        if !safe_relative(&entry.path) || entry.path == MANIFEST {
            return Err(tampered(format!(
                "bad path `{}` in the manifest",
                entry.path
            )));
        }
        let mode = u32::from_str_radix(&entry.mode, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| tampered(format!("bad mode `{}` for {}", entry.mode, entry.path)))?;
        let path = dir.join(&entry.path);
        let contents = match std::fs::read(&path) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(tampered(format!(
                    "{} is listed in the manifest but missing",
                    entry.path
                )))
            }
            Err(source) => return Err(SourceError::Io { path, source }),
        };
        if sha256_hex(&contents) != entry.sha256 {
            return Err(tampered(format!(
                "{} differs from the hash in the manifest (edited after build?)",
                entry.path
            )));
        }
        files.insert(entry.path.clone(), BundleFile { contents, mode });
    }
    let mut extra = Vec::new();
    list_files(dir, dir, &mut extra).map_err(|source| SourceError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if let Some(p) = extra
        .iter()
        .find(|p| p.as_str() != MANIFEST && !files.contains_key(p.as_str()))
    {
        return Err(tampered(format!("{p} is not listed in the manifest")));
    }
    files.insert(
        MANIFEST.to_owned(),
        BundleFile {
            contents: manifest_bytes,
            mode: 0o644,
        },
    );
    Ok(Desired {
        bundle: Bundle {
            host: host.to_owned(),
            files,
        },
        manifest,
    })
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            list_files(root, &p, out)?;
        } else if let Some(rel) = p.strip_prefix(root).ok().and_then(|r| r.to_str()) {
            out.push(rel.to_owned());
        }
    }
    Ok(())
}
