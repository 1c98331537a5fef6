//! Reading a store: the start of the newest complete run of each of its jobs, one read
//! of the store for all of them.
//!
//! - snapshot folders `<path>/<host>/<job>/<run name>`: only a name that reads as a run
//!   counts (`….incomplete`, `….deleting` and `latest` do not); a `mount-point` that is
//!   not mounted makes the store unreadable (an unmounted disk's empty folder would
//!   otherwise read as "never ran");
//! - a restic repository: one `restic snapshots --json --tag bakgen` for all its jobs,
//!   runs grouped by their `host=` and `job=` tags, complete by the engine's own rule;
//! - restic file times: the newest modification time in `<path>/snapshots/`.

use std::path::Path;

use chrono::{DateTime, FixedOffset, Local};

use bakgen_spec::run_name::parse_snapshot_name;
use bakgen_spec::watch::{Read, Store, WatchSpec};

use crate::engine::restic::{newest_complete_runs, Restic};
use crate::mount;
use crate::spec::Destination;

/// What a store says of one job: its newest complete run, none, or why it is unreadable.
pub type Found = Result<Option<DateTime<FixedOffset>>, String>;

/// What `store` says of each of its jobs, in the order of `store.jobs`.
pub fn read_store(spec: &WatchSpec, store: &Store) -> Vec<Found> {
    match &store.read {
        Read::Snapshots { path, mount_point } => {
            if let Some(mp) = mount_point {
                if let Err(e) =
                    mount::check_destination(Path::new(path), Some(Path::new(mp)), false)
                {
                    return vec![Err(e.to_string()); store.jobs.len()];
                }
            }
            let root = Path::new(path);
            if let Err(e) = std::fs::metadata(root) {
                return vec![Err(format!("cannot read {path}: {e}")); store.jobs.len()];
            }
            store
                .jobs
                .iter()
                .map(|j| newest_run_folder(&root.join(&j.host).join(&j.job)))
                .collect()
        }
        Read::Restic {
            repository,
            password,
            environment,
            cache_dir,
            ssh,
        } => {
            let destination = Destination::Restic {
                repository: repository.clone(),
                password: password.clone(),
                environment: environment.clone(),
                cache_dir: cache_dir.clone(),
                ssh: ssh.clone(),
            };
            let named = store.jobs.first().map_or("", |j| j.job.as_str());
            let listed = Restic::for_repository(&spec.host, named, &spec.state_dir, destination)
                .and_then(|r| r.bakgen_snapshots());
            match listed {
                Ok(snapshots) => {
                    let newest = newest_complete_runs(snapshots);
                    store
                        .jobs
                        .iter()
                        .map(|j| Ok(newest.get(&(j.host.clone(), j.job.clone())).copied()))
                        .collect()
                }
                Err(e) => vec![Err(e.to_string()); store.jobs.len()],
            }
        }
        Read::ResticFileTimes { path } => {
            let found = newest_file_time(&Path::new(path).join("snapshots"));
            vec![found; store.jobs.len()]
        }
    }
}

/// The newest folder under `dir` named as a run; none when `dir` does not exist (the job
/// never wrote there).
fn newest_run_folder(dir: &Path) -> Found {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    let mut newest = None;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let Some(time) = entry.file_name().to_str().and_then(parse_snapshot_name) else {
            continue;
        };
        // A file or link named like a run is no run (the file type costs no stat).
        if entry.file_type().is_ok_and(|t| t.is_dir()) && newest.is_none_or(|n| time > n) {
            newest = Some(time);
        }
    }
    Ok(newest)
}

/// The newest modification time of a file in a restic repository's `snapshots/` folder
/// (one file per snapshot, written once, unencrypted metadata of the file system).
fn newest_file_time(dir: &Path) -> Found {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot read {} (is it a restic repository?): {e}",
            dir.display()
        )
    })?;
    let mut newest: Option<std::time::SystemTime> = None;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let meta = entry
            .metadata()
            .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
        if !meta.is_file() {
            continue;
        }
        if let Ok(m) = meta.modified() {
            newest = newest.max(Some(m));
        }
    }
    Ok(newest.map(|t| DateTime::<Local>::from(t).fixed_offset()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_folders_named_as_runs_count() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(newest_run_folder(&d.join("missing")), Ok(None));
        for name in [
            "20260401T023000+0200",
            "20260402T023000+0200.incomplete",
            "20260403T023000+0200.deleting",
        ] {
            std::fs::create_dir(d.join(name)).unwrap();
        }
        std::fs::write(d.join("20260404T023000+0200"), "a file").unwrap();
        std::os::unix::fs::symlink("20260401T023000+0200", d.join("latest")).unwrap();
        assert_eq!(
            newest_run_folder(d),
            Ok(parse_snapshot_name("20260401T023000+0200"))
        );
        assert!(newest_file_time(&d.join("nope")).is_err());
        assert_eq!(newest_file_time(d).map(|t| t.is_some()), Ok(true));
    }
}
