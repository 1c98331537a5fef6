//! The job spec: the versioned JSON document that `bakgen build` writes to
//! `/etc/bakgen/jobs/<job>.json` and that is the only input of `bakrun run`.
//!
//! This is the contract between compiler and runtime, documented in `docs/job-spec.md`.
//! Any change that an older `bakrun` could misread bumps [`SPEC_VERSION`].

use serde::{Deserialize, Serialize};

pub mod validate;

/// The version this runtime reads and the compiler writes.
pub const SPEC_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct JobSpec {
    pub version: u32,
    /// The host the job belongs to, as named in the policy.
    pub host: String,
    /// The job's name, unique on its host.
    pub job: String,
    /// The systemd service that runs the job (`bakgen-<job>.service`), so that
    /// `bakrun notify UNIT` can find the job of a failed unit.
    pub unit: String,
    /// Set when the sources are pulled over ssh from another machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<Remote>,
    /// Absolute paths to back up (on the remote machine when `remote` is set).
    pub sources: Vec<String>,
    /// rsync/restic exclude patterns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
    pub destination: Destination,
    pub schedule: Schedule,
    pub retention: Retention,
    /// Run in order before the engine; undone in reverse order afterwards, always.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    #[serde(default)]
    pub limits: Limits,
    /// What to do when a run fails; run by `bakrun notify` from the `OnFailure=` unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<Notify>,
    /// Pings to a monitoring service at the start and end of each run (`bakrun run`).
    /// Absent in specs written before pings existed, which load as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping: Option<Ping>,
    /// The restore drill (`bakrun verify`), when the policy sets `verify`. Absent in specs
    /// written before drills existed, which load as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<crate::verify::Verify>,
    /// Where the lock, status and scratch files live (`/var/lib/bakgen`).
    pub state_dir: String,
    /// Folder for Prometheus textfile metrics; none written when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_dir: Option<String>,
}

/// A failure notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case",
    tag = "kind"
)]
pub enum Notify {
    /// Run this argv with the failed unit's name appended.
    Command { argv: Vec<String> },
    /// POST the job's status JSON to this URL.
    Url { url: String },
}

/// A push ping: what a run tells a monitoring service (docs/job-spec.md, `ping`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Ping {
    pub kind: PingKind,
    pub url: PingUrl,
}

/// The protocol of a ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PingKind {
    /// `<url>/start` at the start, `<url>` on success, `<url>/fail` with the log's last
    /// lines on failure.
    Healthchecks,
    /// A text message POSTed to an ntfy topic URL on success and failure.
    Ntfy,
    /// A short JSON document POSTed on success and failure.
    Webhook,
}

/// Where the ping URL is: written in the spec, or a secret (a ping URL lets anyone who
/// holds it report for the job).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub enum PingUrl {
    Plain(String),
    Secret(SecretRef),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Remote {
    /// Host name or address to reach with ssh.
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Private key file for ssh (`-i`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// known_hosts file holding the remote's host key (ssh `UserKnownHostsFile=`); ssh's
    /// default files when absent. Host keys are always checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case",
    tag = "engine"
)]
pub enum Destination {
    /// Hard-linked rsync snapshots under `<path>/<host>/<job>/<timestamp>`.
    Snapshots {
        /// Absolute folder that holds the snapshots.
        path: String,
        /// When set, this folder must be a mount point before anything is written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mount_point: Option<String>,
        /// Stop with exit 11 when a `NOT_MOUNTED` file is visible in `path`.
        #[serde(default)]
        sentinel: bool,
    },
    /// A restic repository.
    Restic {
        /// Repository URL with `{host}`/`{job}` already substituted.
        repository: String,
        password: SecretRef,
        /// Extra credentials given to restic as environment variables read from secrets
        /// (for example `AWS_SECRET_ACCESS_KEY`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        environment: Vec<SecretEnv>,
        /// restic's cache (`--cache-dir`), a folder the unit may write.
        cache_dir: String,
        /// How ssh reaches the server of an `sftp:` repository (port, key, known_hosts);
        /// only allowed with an `sftp:` repository. bakrun always runs that ssh itself,
        /// with host keys checked and no password prompt.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ssh: Option<SftpSsh>,
    },
}

/// The ssh options of an `sftp:` restic repository. User and host come from the
/// repository URL (`sftp:user@host:/path`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SftpSsh {
    /// ssh port, when not 22 (also possible in the URL: `sftp://user@host:2222//path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Private key file for ssh (`-i`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// known_hosts file holding the server's host key (`UserKnownHostsFile=`); ssh's
    /// default files when absent. Host keys are always checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<String>,
}

/// How the runtime reaches a secret. Never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case",
    tag = "from"
)]
pub enum SecretRef {
    /// A systemd credential: `$CREDENTIALS_DIRECTORY/<name>`. Where the unit loads it
    /// from, so that root can run bakrun by hand without the unit: `file`, the plain file
    /// of `LoadCredential=` (read directly when `CREDENTIALS_DIRECTORY` is not set), or
    /// `encrypted`, the file of `LoadCredentialEncrypted=` (named in the error that says
    /// how to run by hand). Newer than the first version-1 specs: absent in those.
    Credential {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encrypted: Option<String>,
    },
    /// A root-only file read at run time.
    File { path: String },
    /// A command, run by `/bin/sh -c`, whose standard output is the secret
    /// (a password manager, as restic's `--password-command`).
    Command { command: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SecretEnv {
    pub variable: String,
    pub secret: SecretRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Schedule {
    /// The normalized systemd calendar expression of the timer.
    pub calendar: String,
    /// The timer's randomized delay, in seconds.
    #[serde(default)]
    pub jitter_seconds: u64,
    /// A run older than this is "late" in `bakrun status`.
    pub late_after_seconds: u64,
}

/// Retention with restic's (≥ 0.16) `forget` semantics; all `None` keeps everything.
/// Counts are a number or `"all"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Retention {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<crate::count::Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_hourly: Option<crate::count::Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_daily: Option<crate::count::Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_weekly: Option<crate::count::Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_monthly: Option<crate::count::Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_yearly: Option<crate::count::Count>,
    /// A duration in bakgen's grammar (`3D12h`), measured back from the newest snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within: Option<String>,
    /// The `keep-within-<period>` rules: durations like `keep-within`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within_hourly: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within_daily: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within_weekly: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within_monthly: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within_yearly: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case",
    tag = "step"
)]
pub enum Step {
    /// Snapshot `volume-group/volume`, mount it read-only in a private folder, back up
    /// from there while recording the original paths.
    LvmSnapshot {
        volume: String,
        /// `2G`, or `20%ORIGIN`-style percentage as lvcreate takes it.
        size: String,
        /// Where the volume is mounted on the live system: the path whose content the
        /// snapshot stands for. Every source lies under it.
        origin_path: String,
    },
    /// A read-only snapshot of the btrfs subvolume at `subvolume`, backed up in place of it.
    BtrfsSnapshot {
        /// Absolute path of the subvolume on the live system.
        subvolume: String,
        /// The path whose content the snapshot stands for (the subvolume's path). Every
        /// source lies under it.
        origin_path: String,
    },
    /// `pg_dump` of each database (or `pg_dumpall` when `databases` is empty).
    Postgres {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        databases: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<SecretRef>,
    },
    /// `mysqldump --single-transaction` of each database (all when empty).
    Mysql {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        databases: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<SecretRef>,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    /// KiB/s, given to rsync `--bwlimit` or restic `--limit-upload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_kib: Option<u64>,
    /// KiB/s, restic `--limit-download`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_kib: Option<u64>,
}

/// Why a job spec cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read job spec {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("job spec {path} is version {found}, but this bakrun reads version {SPEC_VERSION}; install the bakrun that matches the bakgen that wrote it")]
    Version { path: String, found: u64 },
    #[error("job spec {path}: `version` is {found}, not an integer; this bakrun reads version {SPEC_VERSION}")]
    VersionNotInteger { path: String, found: String },
    #[error("job spec {path} is not valid: {source}")]
    Invalid {
        path: String,
        source: serde_json::Error,
    },
    #[error("job spec {path} has bad values (nothing was run):{}", problems.iter().map(|p| format!("\n  {p}")).collect::<String>())]
    Values {
        path: String,
        problems: Vec<validate::FieldProblem>,
    },
}

fn read_text(path: &str) -> Result<String, SpecError> {
    std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: path.to_owned(),
        source,
    })
}

impl JobSpec {
    /// Reads a spec: version, shape, then every value ([`validate::problems`]).
    pub fn from_json(path: &str, text: &str) -> Result<Self, SpecError> {
        let spec = Self::shape_from_json(path, text)?;
        let problems = validate::problems(&spec);
        if !problems.is_empty() {
            return Err(SpecError::Values {
                path: path.to_owned(),
                problems,
            });
        }
        Ok(spec)
    }

    /// Reads a spec's version and shape without judging its values: `bakrun notify` must
    /// still find the job of a run that failed because of a bad value. The version comes
    /// before the shape so that a newer spec gets the version message rather than a
    /// confusing field error.
    pub fn shape_from_json(path: &str, text: &str) -> Result<Self, SpecError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| SpecError::Invalid {
                path: path.to_owned(),
                source,
            })?;
        // A document that is not an object gets serde's message below.
        if value.is_object() {
            let found = match value.get("version") {
                Some(v) => v.as_u64().ok_or_else(|| v.to_string()),
                None => Err("missing".to_owned()),
            };
            match found {
                Ok(n) if n == u64::from(SPEC_VERSION) => {}
                Ok(found) => {
                    return Err(SpecError::Version {
                        path: path.to_owned(),
                        found,
                    })
                }
                Err(found) => {
                    return Err(SpecError::VersionNotInteger {
                        path: path.to_owned(),
                        found,
                    })
                }
            }
        }
        serde_json::from_value(value).map_err(|source| SpecError::Invalid {
            path: path.to_owned(),
            source,
        })
    }

    pub fn read(path: &str) -> Result<Self, SpecError> {
        Self::from_json(path, &read_text(path)?)
    }

    /// [`JobSpec::shape_from_json`] of a file.
    pub fn read_shape(path: &str) -> Result<Self, SpecError> {
        Self::shape_from_json(path, &read_text(path)?)
    }

    /// Pretty JSON with a trailing newline, stable field order.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}
