//! Finding job specs: `JOB` on the command line is a job name looked up in the jobs folder
//! (`/etc/bakgen/jobs`, where `bakgen apply` installs them) or a path to a spec file.

use std::path::{Path, PathBuf};

/// A path when the argument looks like one (has a `/` or ends in `.json`), else
/// `<jobs_dir>/<name>.json`.
pub fn resolve(job_or_path: &str, jobs_dir: &Path) -> PathBuf {
    if job_or_path.contains('/') || job_or_path.ends_with(".json") {
        PathBuf::from(job_or_path)
    } else {
        crate::installed::spec_file(jobs_dir, job_or_path)
    }
}

/// Every installed spec (`*.json`) in the jobs folder, sorted by name.
pub fn installed(jobs_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(jobs_dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
        .collect();
    out.sort();
    Ok(out)
}
