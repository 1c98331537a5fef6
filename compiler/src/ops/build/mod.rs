//! `build`: write each host's bundle under `<out>/<host>/`, incrementally. Unchanged files
//! are not rewritten (their mtime is kept), files bakgen wrote before and no longer
//! produces are removed, and files bakgen did not write are left alone and reported.
//! Inside `<out>` nothing follows a symbolic link (`ops::tree`): a link where a file or
//! folder of a bundle belongs is refused, and one anywhere else is reported as foreign.

mod host;
pub mod stamp;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rustix::fs::FileType;

use crate::emit::fleet::{self, HostJobs};
use crate::emit::{Bundle, Emitter, RenderError};
use crate::ops::tree::{Tree, TreeError};
use crate::validate::Plan;

use host::HostReport;
use stamp::{Stamp, StampError, StampFile};

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
    /// Hosts not emitted at all: their inputs and files were as the last build left them.
    pub skipped: usize,
    /// The build stamp could not be named, removed or written (the build is complete).
    pub stamp_error: Option<StampError>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Also a link (or a non-file) where a file or folder of a bundle belongs.
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("no host {0:?} in the policy")]
    NoSuchHost(String),
}

impl BuildError {
    /// Something not bakgen's is in the way: nothing was followed.
    pub fn is_refusal(&self) -> bool {
        matches!(self, BuildError::Tree(e) if e.is_refusal())
    }
}

/// What to build.
#[derive(Debug, Default, Clone)]
pub struct BuildOptions {
    /// Only this host's folder (`--host`); the other folders are not looked at.
    pub host: Option<String>,
    /// The folder build stamps are kept in (`stamp::folder_from_env()` for `bakgen build`);
    /// `None`: no stamp, every host is emitted.
    pub stamps: Option<PathBuf>,
}

/// The emitter every host's bundle is made with: the fleet's alerting rules prepared once.
fn emitter(plan: &Plan) -> Result<Emitter, RenderError> {
    let mut emitter = Emitter::new()?;
    emitter.monitoring(plan);
    Ok(emitter)
}

/// Every host's bundle, in host order (held together: for tests and tools, not `build`).
pub fn bundles(plan: &Plan) -> Result<Vec<Bundle>, RenderError> {
    let mut emitter = emitter(plan)?;
    fleet::hosts(plan)
        .into_iter()
        .map(|h| emitter.bundle(plan, h.host, h.jobs))
        .collect()
}

/// `host`'s bundle alone; `None` if the host gets none (it runs no job and watches nothing).
pub fn bundle_of(plan: &Plan, host: &str) -> Result<Option<Bundle>, RenderError> {
    let Some(h) = fleet::hosts(plan).into_iter().find(|h| h.host == host) else {
        return Ok(None);
    };
    Ok(Some(emitter(plan)?.bundle(plan, h.host, h.jobs)?))
}

pub fn build(plan: &Plan, out: &Path) -> Result<BuildReport, BuildError> {
    build_with(plan, out, &BuildOptions::default())
}

/// Builds host by host: each host's bundle is emitted, compared and written before the next
/// is emitted, on as many threads as there are cores, so memory holds the plan and one
/// bundle per thread, never the fleet's. The report lists hosts in policy order, whatever
/// thread did them, so it and the files are the same as a build on one thread.
pub fn build_with(
    plan: &Plan,
    out: &Path,
    options: &BuildOptions,
) -> Result<BuildReport, BuildError> {
    let mut hosts = fleet::hosts(plan);
    if let Some(only) = &options.host {
        if !plan.policy().hosts.iter().any(|h| &h.name.value == only) {
            return Err(BuildError::NoSuchHost(only.clone()));
        }
        hosts.retain(|h| h.host == only);
    }
    let emitter = emitter(plan)?;
    // A build is redone from the policy if lost: no fsync.
    let out = Tree::create(out, false)?;
    let mut report = BuildReport {
        hosts: hosts.len(),
        ..BuildReport::default()
    };
    // An older bakgen's stamp: `out` holds the generated files alone.
    if out.remove(stamp::LEGACY)? {
        report.removed.push(out.path(stamp::LEGACY));
    }
    let (file, old) = take_stamp(&out, options, &mut report);
    let work = |emitter: &mut Emitter, h: &HostJobs| {
        let Some(host) = out.subtree(h.host, true)? else {
            return Ok(HostReport::default());
        };
        host::build_host(emitter, plan, *h, &host, old.hosts.get(h.host))
    };
    let done = in_parallel(&hosts, work, &emitter)?;
    // A build of one host keeps what the stamp says of the others.
    let mut stamp = if options.host.is_some() {
        old.clone()
    } else {
        Stamp::default()
    };
    for (h, r) in hosts.iter().zip(done) {
        match r.stamp.clone() {
            Some(s) => stamp.hosts.insert(h.host.to_owned(), s),
            None => stamp.hosts.remove(h.host),
        };
        report.skipped += usize::from(r.skipped);
        merge(&mut report, r);
    }
    if options.host.is_none() {
        remove_gone_hosts(&out, &hosts, &mut report)?;
    }
    if let Some(file) = file {
        report.stamp_error = file.write(stamp).err();
    }
    Ok(report)
}

/// `out`'s stamp and what it says, the stamp removed: until this build is complete nothing
/// of it is trusted, so an interrupted build leaves no stamp and the next one emits every
/// host. No stamp (every host emitted, none stamped) when there is no folder to keep it in
/// or it cannot be named or removed.
fn take_stamp(
    out: &Tree,
    options: &BuildOptions,
    report: &mut BuildReport,
) -> (Option<StampFile>, Stamp) {
    let Some(folder) = &options.stamps else {
        return (None, Stamp::default());
    };
    let taken = StampFile::of(folder, out.root()).and_then(|file| {
        let old = file.read_trusted();
        file.remove()?;
        Ok((file, old))
    });
    match taken {
        Ok((file, old)) => (Some(file), old),
        Err(e) => {
            report.stamp_error = Some(e);
            (None, Stamp::default())
        }
    }
}

/// Hosts that are gone from the policy: remove what their manifest says bakgen wrote.
/// Only real folders: a link named like a host is not followed.
fn remove_gone_hosts(
    out: &Tree,
    hosts: &[HostJobs],
    report: &mut BuildReport,
) -> Result<(), BuildError> {
    let produced: BTreeSet<&str> = hosts.iter().map(|h| h.host).collect();
    for (name, kind) in out.list("")? {
        if kind != FileType::Directory || produced.contains(name.as_str()) {
            continue;
        }
        let Some(host) = out.subtree(&name, false)? else {
            continue;
        };
        let mut r = host::remove_gone(&host, &name)?;
        if r.removed.is_empty() && r.kept_edited.is_empty() {
            // No manifest of this host's: not bakgen's folder.
            continue;
        }
        out.remove_empty_folder(&name);
        host::collect_gone_foreign(&host, &mut r);
        merge(report, r);
    }
    Ok(())
}

fn merge(report: &mut BuildReport, r: HostReport) {
    report.written.extend(r.written);
    report.unchanged += r.unchanged;
    report.removed.extend(r.removed);
    report.foreign.extend(r.foreign);
    report.kept_edited.extend(r.kept_edited);
}

/// `work` on every host, on one thread per core (each with its own emitter, so the
/// memoized schedule gaps are not shared), results in host order. The first error in
/// host order is returned; after an error no new host is started.
fn in_parallel<F>(
    hosts: &[HostJobs],
    work: F,
    emitter: &Emitter,
) -> Result<Vec<HostReport>, BuildError>
where
    F: Fn(&mut Emitter, &HostJobs) -> Result<HostReport, BuildError> + Sync,
{
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(hosts.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let run = |mut emitter: Emitter| {
        let mut done = Vec::new();
        while let Some(h) = hosts.get(next.fetch_add(1, Ordering::Relaxed)) {
            if failed.load(Ordering::Relaxed) {
                break;
            }
            let r = work(&mut emitter, h);
            failed.fetch_or(r.is_err(), Ordering::Relaxed);
            done.push((h.host, r));
        }
        done
    };
    let done: Vec<(&str, Result<HostReport, BuildError>)> = if threads == 1 {
        run(emitter.clone())
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let emitter = emitter.clone();
                    scope.spawn(move || run(emitter))
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    let mut by_host: std::collections::HashMap<&str, Result<HostReport, BuildError>> =
        done.into_iter().collect();
    // In host order: the first error, else every host's report.
    let mut out = Vec::with_capacity(hosts.len());
    for h in hosts {
        match by_host.remove(h.host) {
            Some(Ok(r)) => out.push(r),
            Some(Err(e)) => return Err(e),
            // Not started: some host failed (found next).
            None => {}
        }
    }
    if let Some(e) = by_host.into_values().find_map(Result::err) {
        return Err(e);
    }
    Ok(out)
}
