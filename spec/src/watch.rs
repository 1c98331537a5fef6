//! The watch spec: what `bakgen build` writes to `/etc/bakgen/watch.json` on a host the
//! policy names in `monitoring { watch "HOST" { … } }`, and the only input of
//! `bakrun watch`. It lists, for every place where backups land that the watching host
//! reads (an rsync snapshot folder, a restic repository), each job of every host that
//! writes there and how young its newest complete run must be.
//!
//! The watcher reads the destinations, never the hosts: a host that is off, whose timer
//! was disabled or whose disk died reports nothing, and that silence is what the watch
//! turns into "late". Documented in `docs/job-spec.md` ("The watch spec").

use serde::{Deserialize, Serialize};

use crate::job::{Notify, SecretEnv, SecretRef, SftpSsh};

/// The version this runtime reads and the compiler writes.
pub const WATCH_VERSION: u32 = 1;

/// Where `bakgen apply` installs the watch spec on the watching host.
pub const WATCH_SPEC: &str = "/etc/bakgen/watch.json";

/// The systemd service that runs `bakrun watch` (and its timer, `bakgen-watch.timer`).
pub const WATCH_UNIT: &str = "bakgen-watch.service";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WatchSpec {
    pub version: u32,
    /// The watching host, as named in the policy.
    pub host: String,
    /// Every place the watching host reads, sorted by destination name, then by `read`.
    pub stores: Vec<Store>,
    /// Told once when a job becomes late or never ran, and once when it recovers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_late: Option<Notify>,
    /// Where the watch keeps what it last told (`watch/state.json`) and its report
    /// (`watch/report.json`): `/var/lib/bakgen`.
    pub state_dir: String,
    /// Folder for Prometheus textfile metrics (`bakgen_watch.prom`); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_dir: Option<String>,
}

/// One place where runs land, read once per watch for all the jobs writing there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Store {
    /// The destination's name in the policy.
    pub destination: String,
    pub read: Read,
    /// The jobs that write here, sorted by host, then job.
    pub jobs: Vec<WatchedJob>,
}

/// How the watching host reads a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    tag = "how",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case"
)]
pub enum Read {
    /// rsync snapshot folders `<path>/<host>/<job>/<run name>`; a run still ending in
    /// `.incomplete` never counts.
    Snapshots {
        path: String,
        /// When set, `path` must be a mount point, else the store is unreadable (an
        /// unmounted disk's empty folder must not read as "never ran").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mount_point: Option<String>,
    },
    /// A restic repository listed with its password (`restic snapshots --json`, once for
    /// all its jobs): the newest complete run per host and job, by the `run=` and
    /// `parts=` tags (a run cut short never counts). The password also opens every
    /// backup in the repository.
    Restic {
        repository: String,
        password: SecretRef,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        environment: Vec<SecretEnv>,
        cache_dir: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ssh: Option<SftpSsh>,
    },
    /// A local restic repository read without its password: the modification times of
    /// the files in `<path>/snapshots/`, which restic does not encrypt. It tells when the
    /// newest snapshot was written, not by which host or job nor whether its run was
    /// complete, so it is used only for a repository one job writes to.
    ResticFileTimes { path: String },
}

/// A job whose runs land in a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WatchedJob {
    pub host: String,
    pub job: String,
    /// The newest complete run must be younger than this: the job's
    /// `late-after-seconds` (its schedule's longest gap, jitter and timeout).
    pub expected_within_seconds: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchSpecError {
    #[error("{path}: not a watch spec: {source}")]
    Shape {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: watch spec version {found}, this bakrun reads version {WATCH_VERSION}: install the bakrun that matches the bakgen that built it")]
    Version { path: String, found: u32 },
    #[error("{path}: {}", problems.join("; "))]
    Values { path: String, problems: Vec<String> },
}

impl WatchSpec {
    /// Reads and checks a watch spec: its version first, then its shape, then its values
    /// (names by the one name rule, absolute paths, a positive expected age), so that a
    /// bad one stops the watch before it reads anything.
    pub fn from_json(path: &str, text: &str) -> Result<Self, WatchSpecError> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let version: Version =
            serde_json::from_str(text).map_err(|source| WatchSpecError::Shape {
                path: path.to_owned(),
                source,
            })?;
        if version.version != WATCH_VERSION {
            return Err(WatchSpecError::Version {
                path: path.to_owned(),
                found: version.version,
            });
        }
        let spec: Self = serde_json::from_str(text).map_err(|source| WatchSpecError::Shape {
            path: path.to_owned(),
            source,
        })?;
        let problems = spec.problems();
        if problems.is_empty() {
            Ok(spec)
        } else {
            Err(WatchSpecError::Values {
                path: path.to_owned(),
                problems,
            })
        }
    }

    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let name = |what: &str, value: &str, out: &mut Vec<String>| {
            if let Err(why) = crate::name::check(value) {
                out.push(format!("{what} `{}` {why}", value.escape_debug()));
            }
        };
        let absolute = |what: &str, value: &str, out: &mut Vec<String>| {
            if !value.starts_with('/') {
                out.push(format!(
                    "{what} `{}` is not an absolute path",
                    value.escape_debug()
                ));
            }
        };
        name("host", &self.host, &mut out);
        absolute("state-dir", &self.state_dir, &mut out);
        if let Some(m) = &self.metrics_dir {
            absolute("metrics-dir", m, &mut out);
        }
        for store in &self.stores {
            name("destination", &store.destination, &mut out);
            match &store.read {
                Read::Snapshots { path, mount_point } => {
                    absolute("path", path, &mut out);
                    if let Some(m) = mount_point {
                        absolute("mount-point", m, &mut out);
                    }
                }
                Read::Restic {
                    repository,
                    cache_dir,
                    ..
                } => {
                    if repository.is_empty() {
                        out.push(format!(
                            "destination `{}`: empty repository",
                            store.destination
                        ));
                    }
                    absolute("cache-dir", cache_dir, &mut out);
                }
                Read::ResticFileTimes { path } => {
                    absolute("path", path, &mut out);
                    if store.jobs.len() > 1 {
                        out.push(format!(
                            "destination `{}`: file times cannot tell {} jobs apart",
                            store.destination,
                            store.jobs.len()
                        ));
                    }
                }
            }
            for job in &store.jobs {
                name("host", &job.host, &mut out);
                name("job", &job.job, &mut out);
                if job.expected_within_seconds == 0 {
                    out.push(format!(
                        "{}/{}: expected-within-seconds must be more than 0",
                        job.host, job.job
                    ));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(stores: &str) -> String {
        format!(
            r#"{{"version": 1, "host": "backup1", "state-dir": "/var/lib/bakgen", "stores": {stores}}}"#
        )
    }

    #[test]
    fn each_way_of_reading_loads() {
        let text = spec(
            r#"[
            {"destination": "usb", "read": {"how": "snapshots", "path": "/mnt/usb", "mount-point": "/mnt/usb"},
             "jobs": [{"host": "web1", "job": "etc", "expected-within-seconds": 93600}]},
            {"destination": "vault", "read": {"how": "restic", "repository": "rest:http://127.0.0.1:8000/web1",
               "password": {"from": "credential", "name": "restic-vault"}, "cache-dir": "/var/cache/bakgen/restic"},
             "jobs": [{"host": "web1", "job": "db", "expected-within-seconds": 7200}]},
            {"destination": "local", "read": {"how": "restic-file-times", "path": "/srv/restic/web1"},
             "jobs": [{"host": "web1", "job": "home", "expected-within-seconds": 7200}]}
            ]"#,
        );
        let w = WatchSpec::from_json("watch.json", &text).unwrap();
        assert_eq!(w.stores.len(), 3);
        assert!(matches!(w.stores[2].read, Read::ResticFileTimes { .. }));
        // What the compiler serializes is what the runtime reads.
        let again = serde_json::to_string(&w).unwrap();
        assert_eq!(WatchSpec::from_json("again", &again).unwrap(), w);
    }

    #[test]
    fn bad_values_are_named() {
        let text = spec(
            r#"[{"destination": "local", "read": {"how": "restic-file-times", "path": "srv"},
             "jobs": [{"host": ".h", "job": "a", "expected-within-seconds": 0},
                      {"host": "h", "job": "b", "expected-within-seconds": 60}]}]"#,
        );
        let e = WatchSpec::from_json("watch.json", &text)
            .unwrap_err()
            .to_string();
        for part in [
            "path `srv` is not an absolute path",
            "cannot tell 2 jobs apart",
            "host `.h`",
            "must be more than 0",
        ] {
            assert!(e.contains(part), "{part}: {e}");
        }
        let e = WatchSpec::from_json("w", r#"{"version": 2}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 2"), "{e}");
    }
}
