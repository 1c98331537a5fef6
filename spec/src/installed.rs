//! Where a job's files live on a host. The compiler writes these paths into units and
//! job specs; the runtime opens them. Names passed here have passed [`crate::name::check`].

use std::path::{Path, PathBuf};

/// Where `bakgen apply` installs job specs and where `bakrun JOB` looks them up.
pub const JOBS_DIR: &str = "/etc/bakgen/jobs";
/// `StateDirectory=bakgen`: the lock and status folders.
pub const STATE_DIR: &str = "/var/lib/bakgen";
/// Debian's prometheus-node-exporter textfile collector folder.
pub const METRICS_DIR: &str = "/var/lib/prometheus/node-exporter";

/// `<job>.json`, the job spec's file name in the jobs folder.
pub fn spec_file_name(job: &str) -> String {
    format!("{job}.json")
}

/// The spec of `job` in `jobs_dir`.
pub fn spec_file(jobs_dir: &Path, job: &str) -> PathBuf {
    jobs_dir.join(spec_file_name(job))
}

/// The installed spec of `job`, as units name it.
pub fn installed_spec(job: &str) -> String {
    format!("{JOBS_DIR}/{}", spec_file_name(job))
}

/// The job's lock: held by a run, a prune or a restore of the job.
pub fn lock_file(state_dir: &Path, job: &str) -> PathBuf {
    state_dir.join("lock").join(format!("{job}.lock"))
}

/// Held while the job's snapshots are read (shared) or removed (exclusive).
pub fn readers_file(state_dir: &Path, job: &str) -> PathBuf {
    state_dir.join("lock").join(format!("{job}.readers"))
}

/// The status of the job's last run (`bakrun status`).
pub fn status_file(state_dir: &Path, job: &str) -> PathBuf {
    state_dir.join("status").join(format!("{job}.json"))
}

/// The result of the job's last restore drill (`bakrun verify`, `bakrun status`).
pub fn verify_status_file(state_dir: &Path, job: &str) -> PathBuf {
    // A folder of its own: job names may hold dots, so `<job>.verify.json` beside the run
    // statuses could be another job's status.
    state_dir.join("verify").join(format!("{job}.json"))
}

/// `bakgen-verify_<job>.prom`: the drill's metrics, apart from the run's so that neither
/// writer replaces the other's series. `-` where run metrics have `_`: no job name can
/// make one file name of the other's kind.
pub fn verify_metrics_file_name(job: &str) -> String {
    format!("bakgen-verify_{job}.prom")
}

/// `bakgen_<job>.prom`: node_exporter's textfile collector reads only `*.prom`.
pub fn metrics_file_name(job: &str) -> String {
    format!("bakgen_{job}.prom")
}

pub fn metrics_file(metrics_dir: &Path, job: &str) -> PathBuf {
    metrics_dir.join(metrics_file_name(job))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_s_files_are_where_the_docs_say() {
        let state = Path::new(STATE_DIR);
        assert_eq!(installed_spec("etc"), "/etc/bakgen/jobs/etc.json");
        assert_eq!(
            spec_file(Path::new(JOBS_DIR), "etc"),
            Path::new("/etc/bakgen/jobs/etc.json")
        );
        assert_eq!(
            lock_file(state, "etc"),
            Path::new("/var/lib/bakgen/lock/etc.lock")
        );
        assert_eq!(
            readers_file(state, "etc"),
            Path::new("/var/lib/bakgen/lock/etc.readers")
        );
        assert_eq!(
            status_file(state, "etc"),
            Path::new("/var/lib/bakgen/status/etc.json")
        );
        assert_eq!(
            verify_status_file(state, "etc"),
            Path::new("/var/lib/bakgen/verify/etc.json")
        );
        assert_eq!(verify_metrics_file_name("etc"), "bakgen-verify_etc.prom");
        assert_eq!(
            metrics_file(Path::new(METRICS_DIR), "etc"),
            Path::new("/var/lib/prometheus/node-exporter/bakgen_etc.prom")
        );
    }
}
