//! The plan: what installing a bundle under a root would change, file by file, and what
//! systemd must be told. Computing it reads the root and changes nothing.
//!
//! Two comparisons, on purpose:
//! - files are compared with what is on disk (what to write, remove, or refuse to touch);
//! - units are compared with the previous manifest (what to enable, restart, disable).
//!
//! The manifest is written last, after every file and systemctl command, so until an apply
//! completes the previous manifest still describes the last *completed* apply. An apply
//! interrupted anywhere therefore plans the same systemctl commands again, and files it
//! already wrote are simply unchanged (same bytes are never a conflict).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::source::Desired;
use crate::emit::paths::{MANIFEST, SYSUSERS, UNIT_DIR};
use crate::emit::{sha256_hex, Manifest, ManifestEntry};
use crate::ops::tree::{safe_relative, Found, Tree, TreeError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Add,
    Update,
    /// Same contents, wrong mode.
    Mode,
    Remove,
}

/// Why a change would touch something that is not bakgen's to touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Conflict {
    /// The file exists but the previous manifest does not list it.
    NotOwned,
    /// The previous manifest lists it with another hash: edited since the last apply.
    Edited,
}

#[derive(Debug, Clone)]
pub struct FileChange {
    /// Relative to the root.
    pub path: String,
    pub change: Change,
    pub conflict: Option<Conflict>,
    /// On disk now (`None`: absent).
    pub before: Option<Vec<u8>>,
    /// After the apply (`None`: removed).
    pub after: Option<Vec<u8>>,
    /// The mode to install with (Add, Update, Mode).
    pub mode: u32,
}

/// What systemd must be told, derived from the previous and the new manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UnitPlan {
    /// Stale timers and automounts still on disk: `disable --now` before their files go.
    pub disable: Vec<String>,
    /// Stale mounts still on disk: unmounted before their files go.
    pub stop: Vec<String>,
    /// The bundle's sysusers.d file is new or changed: create the `bakgen` user.
    pub sysusers: bool,
    /// A unit file was added, changed or removed.
    pub reload: bool,
    /// New timers and automounts.
    pub enable: Vec<String>,
    /// Timers whose file changed: restart so the new schedule takes effect.
    pub restart: Vec<String>,
}

impl UnitPlan {
    pub fn is_empty(&self) -> bool {
        *self == UnitPlan::default()
    }
}

#[derive(Debug)]
pub struct Plan {
    pub host: String,
    pub root: PathBuf,
    /// The root as it was read (`None`: it does not exist yet); apply writes through it.
    pub tree: Option<Tree>,
    /// The manifest of the last completed apply, if any.
    pub previous: Option<Manifest>,
    /// Sorted by path; the manifest itself is not among them.
    pub files: Vec<FileChange>,
    /// The new manifest's bytes, if it differs from the installed one.
    pub manifest: Option<Vec<u8>>,
    pub units: UnitPlan,
}

impl Plan {
    /// Nothing to write, remove or tell systemd.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.manifest.is_none() && self.units.is_empty()
    }

    pub fn conflicts(&self) -> impl Iterator<Item = &FileChange> {
        self.files.iter().filter(|f| f.conflict.is_some())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A link or a non-file where a file of the bundle belongs, or an I/O error.
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("{} is not a bakgen manifest; without it bakgen cannot tell which files are its own (--force treats every differing file as not bakgen's and overwrites it)", path.display())]
    BadManifest { path: PathBuf },
}

/// Compares `desired` with what is installed under `root`. With `force`, an unreadable
/// previous manifest counts as none.
pub fn plan(desired: &Desired, root: &Path, force: bool) -> Result<Plan, PlanError> {
    let tree = Tree::open(root, true)?;
    let read = |rel: &str| match &tree {
        Some(t) => t.read(rel),
        None => Ok(None),
    };
    let manifest_path = root.join(MANIFEST);
    let installed = read(MANIFEST)?;
    let installed_manifest = installed.as_ref().map(|f| &f.contents);
    let previous = match &installed_manifest {
        None => None,
        Some(bytes) => match std::str::from_utf8(bytes).ok().and_then(Manifest::parse) {
            Some(m) => Some(m),
            None if force => None,
            None => {
                return Err(PlanError::BadManifest {
                    path: manifest_path,
                })
            }
        },
    };
    let owned: BTreeMap<&str, &ManifestEntry> = previous
        .iter()
        .flat_map(|m| &m.files)
        .filter(|e| safe_relative(&e.path) && e.path != MANIFEST)
        .map(|e| (e.path.as_str(), e))
        .collect();

    let mut files = Vec::new();
    for (path, file) in &desired.bundle.files {
        if path == MANIFEST {
            continue;
        }
        let Some(Found {
            contents: current,
            mode,
        }) = read(path)?
        else {
            files.push(FileChange {
                path: path.clone(),
                change: Change::Add,
                conflict: None,
                before: None,
                after: Some(file.contents.clone()),
                mode: file.mode,
            });
            continue;
        };
        if current == file.contents {
            // Same bytes are never a conflict: nothing is overwritten. This is also how an
            // interrupted apply's already-written files are taken over.
            if mode != file.mode {
                files.push(FileChange {
                    path: path.clone(),
                    change: Change::Mode,
                    conflict: None,
                    before: Some(current),
                    after: Some(file.contents.clone()),
                    mode: file.mode,
                });
            }
            continue;
        }
        let conflict = match owned.get(path.as_str()) {
            None => Some(Conflict::NotOwned),
            Some(e) if e.sha256 != sha256_hex(&current) => Some(Conflict::Edited),
            Some(_) => None,
        };
        files.push(FileChange {
            path: path.clone(),
            change: Change::Update,
            conflict,
            before: Some(current),
            after: Some(file.contents.clone()),
            mode: file.mode,
        });
    }
    // Stale files already gone (removed by hand, or by an interrupted apply).
    let mut gone = BTreeSet::new();
    for (path, entry) in &owned {
        if desired.bundle.files.contains_key(*path) {
            continue;
        }
        let Some(Found {
            contents: current, ..
        }) = read(path)?
        else {
            gone.insert(*path);
            continue;
        };
        let conflict = (sha256_hex(&current) != entry.sha256).then_some(Conflict::Edited);
        files.push(FileChange {
            path: (*path).to_owned(),
            change: Change::Remove,
            conflict,
            before: Some(current),
            after: None,
            mode: 0,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));

    let manifest = desired.bundle.files.get(MANIFEST).and_then(|m| {
        let same = installed
            .as_ref()
            .is_some_and(|f| f.contents == m.contents && f.mode == m.mode);
        (!same).then(|| m.contents.clone())
    });
    let units = unit_plan(previous.as_ref(), &desired.manifest, &files, &gone);
    Ok(Plan {
        host: desired.bundle.host.clone(),
        root: root.to_path_buf(),
        tree,
        previous,
        files,
        manifest,
        units,
    })
}

/// The unit's name if `path` is a unit file bakgen installs.
fn unit_name(path: &str) -> Option<&str> {
    path.strip_prefix(UNIT_DIR)?
        .strip_prefix('/')
        .filter(|n| !n.contains('/'))
}

fn unit_plan(
    previous: Option<&Manifest>,
    new: &Manifest,
    files: &[FileChange],
    gone: &BTreeSet<&str>,
) -> UnitPlan {
    let old: BTreeMap<&str, &str> = previous
        .iter()
        .flat_map(|m| &m.files)
        .map(|e| (e.path.as_str(), e.sha256.as_str()))
        .collect();
    let new_map: BTreeMap<&str, &str> = new
        .files
        .iter()
        .map(|e| (e.path.as_str(), e.sha256.as_str()))
        .collect();
    // A file rewritten on disk (e.g. a hand edit undone by --force) also needs systemd told.
    let rewritten = |path: &str| {
        files
            .iter()
            .any(|f| f.path == path && matches!(f.change, Change::Add | Change::Update))
    };
    let enabled_kind = |n: &str| n.ends_with(".timer") || n.ends_with(".automount");
    let mut p = UnitPlan::default();
    for (path, hash) in &new_map {
        let changed = old.get(path) != Some(hash) || rewritten(path);
        if *path == SYSUSERS {
            p.sysusers |= changed;
        }
        let Some(unit) = unit_name(path) else {
            continue;
        };
        p.reload |= changed;
        if !old.contains_key(path) {
            if enabled_kind(unit) {
                p.enable.push(unit.to_owned());
            }
        } else if changed && unit.ends_with(".timer") {
            p.restart.push(unit.to_owned());
        }
    }
    for path in old.keys() {
        if new_map.contains_key(path) || !safe_relative(path) {
            continue;
        }
        let Some(unit) = unit_name(path) else {
            continue;
        };
        p.reload = true;
        // Its file already gone means an interrupted apply stopped and disabled it
        // before removing it; systemctl would fail on a unit it cannot find.
        if gone.contains(path) {
            continue;
        }
        if enabled_kind(unit) {
            p.disable.push(unit.to_owned());
        } else if unit.ends_with(".mount") {
            p.stop.push(unit.to_owned());
        }
    }
    p
}
