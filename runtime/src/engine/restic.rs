//! Encrypted backups into a restic repository (a local path, `sftp:`, `rest:`, `s3:`…).
//!
//! One run of a job may make several restic snapshots: one per database dump (restic
//! 0.14 reads one stream per `backup --stdin`) and one of the sources. All of them carry
//! the tags `bakgen`, `host=<host>`, `job=<job>` and `run=<start>` (the start in
//! [`super::rsync::NAME_FORMAT`]), and `--host <host>`. bakrun's [`Snapshot`] is a *run*:
//! the group of restic snapshots sharing a `run=` tag, named by the short id of its
//! sources snapshot (or of its first dump when the job has no sources). Retention, restore
//! and forget work on runs, so a run is kept or removed whole, and a run whose dump failed
//! is removed whole before the job reports the failure.
//!
//! Every restic command is scoped to `--host <host>` and `--tag bakgen,job=<job>`, so jobs
//! sharing one repository never see, let alone forget, each other's snapshots.
//!
//! Secrets reach restic through its environment only: `RESTIC_PASSWORD_FILE` (a
//! credential or root-only file, checked for its mode), `RESTIC_PASSWORD_COMMAND` (for a
//! command secret), and the destination's `environment` variables read by bakrun. The
//! environment is never printed (see [`Command::display`]).

use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, FixedOffset, Local};
use serde::Deserialize;

use super::rsync::{parse_snapshot_name, snapshot_name};
use super::{BackupOutcome, Engine, EngineError, Snapshot, TransferStats};
use crate::command::{shell_quote, Command, Exec, Finished};
use crate::dump::{self, pipe};
use crate::secret::{self, PrivateFile, SecretError};
use crate::spec::{Destination, JobSpec, SecretRef, SftpSsh};
use crate::step::SourceView;
use crate::{log, signals};

mod failure;
mod lock;
mod locked;

pub use failure::ResticFailure;
use failure::{Exit, Said};
use locked::Ran;

/// Where restic is looked up (`PATH`); a test may point `BAKRUN_RESTIC` elsewhere.
fn restic_program() -> OsString {
    std::env::var_os("BAKRUN_RESTIC").unwrap_or_else(|| "restic".into())
}

#[derive(Debug)]
pub struct Restic {
    spec: JobSpec,
    repository: String,
    password: SecretRef,
    environment: Vec<(String, SecretRef)>,
    cache_dir: String,
    /// restic's `-o sftp.command=…` for an `sftp:` repository: the ssh bakrun wants run.
    sftp_command: Option<String>,
    /// The environment restic gets, read once per bakrun process (a password manager
    /// behind a command secret is asked once, not per restic call).
    env: OnceCell<Vec<(OsString, OsString)>>,
    /// The S3 credentials file (in memory, see [`PrivateFile`]), closed with the engine.
    aws_file: OnceCell<PrivateFile>,
    /// The job's restic snapshots as this process last listed them, kept up to date with
    /// the snapshots it makes and forgets itself: a run lists the repository once, not
    /// before the backup, for retention and for the status file again (each restic
    /// command pays for opening the repository, half a second of key derivation). Only
    /// this job's snapshots on this host are listed, and every bakrun command that changes
    /// them (run, prune) holds the job's lock. `None` until listed, and again after a
    /// change this process cannot account for (a failed step, a restic without summary).
    listed: RefCell<Option<Vec<ResticSnapshot>>>,
    /// The snapshots this process made, and whether restic named every one (a summary
    /// without an id leaves a snapshot this process cannot account for).
    made: RefCell<(Vec<ResticSnapshot>, bool)>,
}

/// The S3 credentials restic can read from a shared-credentials file instead of its
/// environment (restic 0.14 asks minio-go's chain: environment, then
/// `AWS_SHARED_CREDENTIALS_FILE` with profile `AWS_PROFILE`).
const AWS_FILE_KEYS: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "aws_access_key_id"),
    ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
    ("AWS_SESSION_TOKEN", "aws_session_token"),
];

/// The profile bakrun writes in the credentials file.
const AWS_PROFILE: &str = "bakgen";

/// One restic snapshot as `restic snapshots --json` prints it.
#[derive(Debug, Clone, Deserialize)]
pub struct ResticSnapshot {
    pub id: String,
    pub short_id: String,
    pub time: String,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl ResticSnapshot {
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find_map(|t| t.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
    }
    /// The run it belongs to: its `run=` tag, or itself for a snapshot made by hand.
    fn run(&self) -> String {
        self.tag("run")
            .map_or_else(|| format!("id:{}", self.id), str::to_owned)
    }
    fn is_dump(&self) -> bool {
        self.tag("dump").is_some()
    }
}

/// restic's `backup --json` summary line.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Summary {
    #[serde(default)]
    pub files_new: u64,
    #[serde(default)]
    pub files_changed: u64,
    #[serde(default)]
    pub total_files_processed: u64,
    #[serde(default)]
    pub data_added: u64,
    #[serde(default)]
    pub total_bytes_processed: u64,
    #[serde(default)]
    pub snapshot_id: Option<String>,
}

/// The last `"message_type":"summary"` line of `restic backup --json`.
pub fn parse_summary(lines: &[String]) -> Option<Summary> {
    lines.iter().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        if v.get("message_type")?.as_str()? != "summary" {
            return None;
        }
        serde_json::from_value(v).ok()
    })
}

impl Summary {
    fn add_to(&self, stats: &mut TransferStats) {
        stats.files_total += self.total_files_processed;
        stats.files_transferred += self.files_new + self.files_changed;
        stats.files_new = Some(stats.files_new.unwrap_or(0) + self.files_new);
        stats.files_changed = Some(stats.files_changed.unwrap_or(0) + self.files_changed);
        stats.bytes_total += self.total_bytes_processed;
        stats.bytes_transferred += self.data_added;
    }
}

impl Restic {
    pub fn new(spec: &JobSpec) -> Result<Self, EngineError> {
        let Destination::Restic {
            repository,
            password,
            environment,
            cache_dir,
            ssh,
        } = &spec.destination
        else {
            return Err(EngineError::Invalid(
                "the restic engine needs a restic destination".into(),
            ));
        };
        for e in environment {
            let mut chars = e.variable.chars();
            let identifier = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !identifier {
                return Err(EngineError::Invalid(format!(
                    "`{}` is not an environment variable name (letters, digits and `_`, not starting with a digit)",
                    e.variable
                )));
            }
            // restic must not be told its password or repository behind bakrun's back.
            if e.variable.starts_with("RESTIC_PASSWORD") || e.variable == "RESTIC_REPOSITORY" {
                return Err(EngineError::Invalid(format!(
                    "environment variable {} is set by bakrun itself; use the destination's password and repository",
                    e.variable
                )));
            }
        }
        if spec.remote.is_some() {
            return Err(EngineError::Invalid(
                "restic backs up the machine bakrun runs on: `remote` (pulling the sources over ssh) is for snapshot destinations; an sftp repository's port, key and known_hosts go in the destination's `ssh`".into(),
            ));
        }
        let sftp_command = match (sftp_target(repository)?, ssh) {
            (Some(target), ssh) => Some(sftp_command(&target, ssh.as_ref())?),
            (None, Some(_)) => {
                return Err(EngineError::Invalid(format!(
                    "the destination's `ssh` applies to sftp: repositories, not to {repository}"
                )))
            }
            (None, None) => None,
        };
        Ok(Self {
            spec: spec.clone(),
            repository: repository.clone(),
            password: password.clone(),
            environment: environment
                .iter()
                .map(|e| (e.variable.clone(), e.secret.clone()))
                .collect(),
            cache_dir: cache_dir.clone(),
            sftp_command,
            env: OnceCell::new(),
            aws_file: OnceCell::new(),
            listed: RefCell::new(None),
            made: RefCell::new((Vec::new(), true)),
        })
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// restic's `sftp.command` for an `sftp:` repository (what `-o sftp.command=` gets).
    pub fn sftp_command(&self) -> Option<&str> {
        self.sftp_command.as_deref()
    }

    /// restic's environment: repository, password source, and the destination's secret
    /// variables. Refuses a secret file that group or others can read.
    fn env(&self) -> Result<&[(OsString, OsString)], EngineError> {
        if let Some(env) = self.env.get() {
            return Ok(env);
        }
        let mut env: Vec<(OsString, OsString)> =
            vec![("RESTIC_REPOSITORY".into(), self.repository.clone().into())];
        // Whatever the caller's environment says, restic gets only this job's password
        // source: the other forms are set empty (restic reads empty as unset).
        for other in [
            "RESTIC_PASSWORD",
            "RESTIC_PASSWORD_FILE",
            "RESTIC_PASSWORD_COMMAND",
        ] {
            env.push((other.into(), OsString::new()));
        }
        let password_command = match secret::file_of(&self.password)? {
            Some(path) => {
                env.push(("RESTIC_PASSWORD_FILE".into(), path.into()));
                None
            }
            None => {
                let SecretRef::Command { command } = &self.password else {
                    return Err(SecretError::Empty(secret::describe(&self.password)).into());
                };
                Some(command)
            }
        };
        // S3 keys go into a private 0600 credentials file in memory, so that they are in
        // no process's environment and on no disk; any other variable (B2, Azure, Swift
        // keys) restic only reads from its environment.
        let mut aws_file = String::new();
        for (variable, r) in &self.environment {
            let value = secret::read(r)?;
            match AWS_FILE_KEYS.iter().find(|(v, _)| v == variable) {
                Some((_, key)) => {
                    if value.expose().contains(['\n', '\r']) {
                        return Err(EngineError::Invalid(format!(
                            "{variable} from {} holds a line break",
                            secret::describe(r)
                        )));
                    }
                    aws_file.push_str(&format!("{key} = {}\n", value.expose()));
                }
                None => env.push((variable.into(), value.expose().into())),
            }
        }
        if !aws_file.is_empty() {
            let io = |e: std::io::Error| {
                EngineError::Invalid(format!("cannot write the private S3 credentials file: {e}"))
            };
            let file = PrivateFile::new("aws-credentials", &format!("[{AWS_PROFILE}]\n{aws_file}"))
                .map_err(io)?;
            env.push(("AWS_SHARED_CREDENTIALS_FILE".into(), file.path().into()));
            env.push(("AWS_PROFILE".into(), AWS_PROFILE.into()));
            // Set empty: restic would take inherited ones before the file.
            for (variable, _) in AWS_FILE_KEYS {
                env.push((variable.into(), OsString::new()));
            }
            let _ = self.aws_file.set(file);
        }
        if let Some(command) = password_command {
            // restic splits RESTIC_PASSWORD_COMMAND into words itself and knows no escapes
            // inside quotes; handing the command text over in a variable and eval-ing it
            // gives exactly `/bin/sh -c COMMAND`, whatever it contains. The command
            // inherits restic's environment and descriptors: the destination's secret
            // variables (S3 keys; names checked to be identifiers) and the credentials
            // file's name are unset first, and its descriptor closed when sh can name it
            // (one digit), since a password manager has no use for them.
            let mut unset: String = self
                .environment
                .iter()
                .map(|(variable, _)| format!("unset {variable}; "))
                .collect();
            if let Some(file) = self.aws_file.get() {
                unset.push_str("unset AWS_SHARED_CREDENTIALS_FILE AWS_PROFILE; ");
                if (0..10).contains(&file.fd()) {
                    unset.push_str(&format!("exec {}<&-; ", file.fd()));
                }
            }
            env.push(("BAKGEN_PASSWORD_COMMAND".into(), command.clone().into()));
            env.push((
                "RESTIC_PASSWORD_COMMAND".into(),
                format!("/bin/sh -c '{unset}eval \"$BAKGEN_PASSWORD_COMMAND\"'").into(),
            ));
        }
        let _ = self.env.set(env);
        Ok(self.env.get().map(Vec::as_slice).unwrap_or(&[]))
    }

    /// Tells a dry run where restic's environment comes from, without a secret value.
    fn note_env(&self, exec: &Exec) {
        if !exec.dry_run {
            return;
        }
        let password = match &self.password {
            SecretRef::Command { .. } => "RESTIC_PASSWORD_COMMAND=<".to_owned(),
            _ => "RESTIC_PASSWORD_FILE=<".to_owned(),
        } + &secret::describe(&self.password)
            + ">";
        let mut words = vec![
            format!(
                "RESTIC_REPOSITORY={}",
                shell_quote(self.repository.as_ref())
            ),
            password,
        ];
        for (variable, r) in &self.environment {
            let how = if AWS_FILE_KEYS.iter().any(|(v, _)| v == variable) {
                " in AWS_SHARED_CREDENTIALS_FILE"
            } else {
                ""
            };
            words.push(format!("{variable}=<{}>{how}", secret::describe(r)));
        }
        exec.note(format!("restic environment: {}", words.join(" ")));
    }

    /// `restic` with the global options every call shares. It is stopped with SIGINT, the
    /// one signal on which restic 0.14 removes its lock before it exits (130).
    fn restic(&self) -> Result<Command, EngineError> {
        let mut cmd = Command::new(restic_program())
            .stop_with(libc::SIGINT)
            .arg("--cache-dir")
            .arg(&self.cache_dir);
        if let Some(kib) = self.spec.limits.upload_kib {
            cmd = cmd.arg(format!("--limit-upload={kib}"));
        }
        if let Some(kib) = self.spec.limits.download_kib {
            cmd = cmd.arg(format!("--limit-download={kib}"));
        }
        if let Some(ssh) = &self.sftp_command {
            cmd = cmd.arg("-o").arg(format!("sftp.command={ssh}"));
        }
        for (k, v) in self.env()? {
            cmd = cmd.env(k.clone(), v.clone());
        }
        Ok(cmd)
    }

    fn job_tags(&self) -> String {
        format!("bakgen,job={}", self.spec.job)
    }

    /// Runs a read-only restic command and returns its standard output; also in dry runs
    /// (listing changes nothing). Callers pass `--no-lock`: reading must not fail, or
    /// block a prune, because another restic holds the repository's lock. restic's standard error holds no secret and is reported.
    fn query(&self, cmd: &Command) -> Result<Vec<u8>, EngineError> {
        log::debug(format!("running: {}", cmd.display()));
        let out = crate::command::output_stoppable(pipe::process(cmd), cmd).map_err(|source| {
            EngineError::Command(crate::command::CommandError::Spawn {
                program: "restic".into(),
                source,
            })
        })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(self.failure(Exit::of(&out.status), &Said::from_text(&stderr)));
        }
        Ok(out.stdout)
    }

    /// What a failed restic command means (see [`failure::classify`]).
    fn failure(&self, exit: Exit, said: &Said) -> EngineError {
        let ctx = failure::Context {
            repository: &self.repository,
            password: &self.password,
            job: &self.spec.job,
        };
        failure::classify(&ctx, exit, said)
    }

    /// The command's output when it succeeded, else what went wrong.
    fn succeeded(&self, ran: Ran) -> Result<Finished, EngineError> {
        if ran.finished.interrupted {
            return Err(EngineError::Interrupted);
        }
        if ran.finished.success() {
            return Ok(ran.finished);
        }
        Err(self.failure(ran.exit, &ran.said))
    }

    /// Every restic snapshot of this job on this host (listed once per process, see
    /// [`Restic::listed`]).
    pub fn restic_snapshots(&self) -> Result<Vec<ResticSnapshot>, EngineError> {
        if let Some(listed) = self.listed.borrow().as_ref() {
            return Ok(listed.clone());
        }
        let out = self.query(&self.listing_command()?)?;
        let listed = parse_listing(&out)?;
        *self.listed.borrow_mut() = Some(listed.clone());
        Ok(listed)
    }

    fn listing_command(&self) -> Result<Command, EngineError> {
        Ok(self
            .restic()?
            .args(["--no-lock", "snapshots", "--json", "--host"])
            .arg(&self.spec.host)
            .arg("--tag")
            .arg(self.job_tags()))
    }

    /// Where this cache remembers the job's last run name: the next run's name must come
    /// after it, and knowing it lets that run list the repository *while* it backs up.
    fn last_run_file(&self) -> PathBuf {
        Path::new(&self.cache_dir).join(format!(
            "bakgen-last-run-{}-{}",
            self.spec.host, self.spec.job
        ))
    }

    /// The last run's start, when this cache knows it and it is not in the future (a
    /// clock set back must not make a run wait).
    fn last_run(&self) -> Option<DateTime<FixedOffset>> {
        let text = std::fs::read_to_string(self.last_run_file()).ok()?;
        let time = parse_snapshot_name(text.trim())?;
        (time <= Local::now().fixed_offset()).then_some(time)
    }

    /// Adds a snapshot this process has just made to [`Restic::listed`], as `restic
    /// snapshots` would show it; without the id restic reported, forgets the listing
    /// instead. Nothing in a dry run, which makes nothing.
    fn note_made(
        &self,
        exec: &Exec,
        made: Option<&str>,
        time: &DateTime<FixedOffset>,
        paths: Vec<String>,
        tags: Vec<String>,
    ) {
        if exec.dry_run {
            return;
        }
        let snapshot = made.map(|id| ResticSnapshot {
            id: id.to_owned(),
            short_id: short(id).to_owned(),
            time: time.to_rfc3339(),
            paths,
            tags,
        });
        {
            let mut mine = self.made.borrow_mut();
            match &snapshot {
                Some(s) => mine.0.push(s.clone()),
                None => mine.1 = false,
            }
        }
        let mut listed = self.listed.borrow_mut();
        match (listed.as_mut(), snapshot) {
            (Some(list), Some(s)) => list.push(s),
            _ => *listed = None,
        }
    }

    /// Runs grouped by their `run=` tag.
    fn runs(&self) -> Result<BTreeMap<String, Vec<ResticSnapshot>>, EngineError> {
        let mut runs: BTreeMap<String, Vec<ResticSnapshot>> = BTreeMap::new();
        for s in self.restic_snapshots()? {
            runs.entry(s.run()).or_default().push(s);
        }
        Ok(runs)
    }

    /// Whether the repository exists: `restic cat config` succeeds. A failure that does
    /// not say the repository is missing (wrong password, network) is an error, never a
    /// reason to initialise.
    pub fn exists(&self) -> Result<bool, EngineError> {
        let cmd = self.restic()?.args(["--no-lock", "cat", "config"]);
        match self.query(&cmd) {
            Ok(_) => Ok(true),
            Err(EngineError::NoRepository { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `restic init`, only when [`Restic::exists`] says there is no repository yet.
    /// Returns whether it initialised.
    pub fn init(&self, exec: &Exec) -> Result<bool, EngineError> {
        self.note_env(exec);
        if self.exists()? {
            log::info(format!(
                "repository {} exists already; nothing to do",
                self.repository
            ));
            return Ok(false);
        }
        let cmd = self.restic()?.arg("init");
        self.succeeded(self.run(exec, &cmd)?)?;
        Ok(true)
    }

    /// `restic prune`: frees the data no snapshot refers to any more, for every job of
    /// the repository (the destination's prune timer).
    pub fn prune(&self, exec: &Exec) -> Result<(), EngineError> {
        self.note_env(exec);
        let cmd = self.restic()?.arg("prune");
        self.succeeded(self.run(exec, &cmd)?).map(drop)
    }

    /// `restic check`, reading `read_data` (`5%`, `1/10`) of the pack files when given.
    pub fn check(&self, exec: &Exec, read_data: Option<&str>) -> Result<(), EngineError> {
        self.note_env(exec);
        let mut cmd = self.restic()?.arg("check");
        if let Some(subset) = read_data {
            cmd = cmd.arg(format!("--read-data-subset={subset}"));
        }
        self.succeeded(self.run(exec, &cmd)?).map(drop)
    }

    /// `restic backup` with the job's tags, for sources or (with `--stdin`) a dump.
    /// `parts` is how many restic snapshots the run makes: a run with fewer was cut short
    /// (bakrun killed, power loss) and is never listed, like rsync's `.incomplete`.
    fn backup_command(&self, run: &str, parts: usize) -> Result<Command, EngineError> {
        let mut cmd = self
            .restic()?
            .args(["backup", "--json", "--host"])
            .arg(&self.spec.host);
        for tag in self.run_tags(run, parts) {
            cmd = cmd.arg("--tag").arg(tag);
        }
        Ok(cmd)
    }

    /// The tags of every snapshot of a run, in the order `backup_command` gives them.
    fn run_tags(&self, run: &str, parts: usize) -> Vec<String> {
        vec![
            "bakgen".to_owned(),
            format!("host={}", self.spec.host),
            format!("job={}", self.spec.job),
            format!("run={run}"),
            format!("parts={parts}"),
        ]
    }

    /// Forgets the snapshots of runs that never completed. Only called with the job's
    /// lock held, so no run of this job is in progress.
    fn clear_incomplete(&self, exec: &Exec) -> Result<(), EngineError> {
        let ids: Vec<String> = self
            .runs()?
            .values()
            .filter(|m| !complete(m))
            .flatten()
            .map(|s| s.id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        log::warn(format!(
            "removing {} snapshot(s) of interrupted runs",
            ids.len()
        ));
        self.forget_ids(exec, &ids)
    }

    /// Forgets every restic snapshot of a run: a run that failed part way must not stay
    /// behind looking like a backup.
    fn discard_run(&self, exec: &Exec, run: &str, also: Option<&str>) {
        if exec.dry_run {
            return;
        }
        // The failed step may have made a snapshot this process did not note: list afresh.
        *self.listed.borrow_mut() = None;
        let mut ids: Vec<String> = match self.runs() {
            Ok(runs) => runs
                .get(run)
                .map(|v| v.iter().map(|s| s.id.clone()).collect())
                .unwrap_or_default(),
            Err(e) => {
                log::error(format!("cannot list the failed run's snapshots: {e}"));
                Vec::new()
            }
        };
        if let Some(id) = also {
            if !ids.iter().any(|i| i.starts_with(id)) {
                ids.push(id.to_owned());
            }
        }
        if ids.is_empty() {
            return;
        }
        log::warn(format!(
            "removing the {} snapshot(s) of the failed run {run}",
            ids.len()
        ));
        if let Err(e) = self.forget_ids(exec, &ids) {
            log::error(format!(
                "cannot remove the snapshots of the failed run {run}: {e}; remove them with `restic forget {}`",
                ids.join(" ")
            ));
        }
    }

    fn forget_ids(&self, exec: &Exec, ids: &[String]) -> Result<(), EngineError> {
        let cmd = self.restic()?.arg("forget").args(ids.iter().cloned());
        let result = self
            .run(exec, &cmd)
            .and_then(|ran| self.succeeded(ran))
            .map(drop);
        if !exec.dry_run {
            // Ids may be short ones (restic takes any unique prefix).
            let same = |a: &str, b: &str| a.starts_with(b) || b.starts_with(a);
            let mut listed = self.listed.borrow_mut();
            match (&result, listed.as_mut()) {
                (Ok(()), Some(list)) => {
                    list.retain(|s| !ids.iter().any(|id| same(&s.id, id)));
                }
                _ => *listed = None,
            }
        }
        result
    }

    /// The backup proper, as the run that starts at `time`.
    fn backup_at(
        &self,
        exec: &Exec,
        view: &SourceView<'_>,
        time: DateTime<FixedOffset>,
    ) -> Result<BackupOutcome, EngineError> {
        let run = snapshot_name(&time);
        if !exec.dry_run {
            // Before anything is made: a run cut short still counts as the last one.
            let file = self.last_run_file();
            if let Err(e) = crate::atomic_file::write(&file, format!("{run}\n").as_bytes()) {
                log::warn(format!("cannot write {}: {e}", file.display()));
            }
        }
        let dumps = dump::plan(&self.spec).map_err(|e| EngineError::Invalid(e.to_string()))?;
        if self.spec.sources.is_empty() && dumps.is_empty() {
            return Err(EngineError::Invalid(
                "the job has neither sources nor database dumps".into(),
            ));
        }
        let parts = dumps.len() + usize::from(!self.spec.sources.is_empty());
        let mut stats = TransferStats::default();
        let mut warnings = Vec::new();
        let mut representative: Option<String> = None;

        // Dumps first: they are the likelier to fail, and a failure then costs no upload
        // of the sources.
        for d in &dumps {
            let stdin_name = format!("{}/{}/{}", self.spec.host, self.spec.job, d.file_name);
            let consumer = self
                .backup_command(&run, parts)?
                .arg("--tag")
                .arg(format!("dump={}", d.file_name))
                .args(["--stdin", "--stdin-filename"])
                .arg(&stdin_name);
            // A dump stopped by restic's lock is taken again once the lock is gone:
            // restic reads nothing before it has the lock, so nothing was stored.
            let piped = self.until_unlocked(|| {
                let f = pipe::run(exec, &d.command, &consumer)?;
                let failed = !f.consumer.success() && !f.consumer.interrupted;
                let said = failed.then(|| f.consumer_stderr.clone());
                Ok((f, said))
            });
            let finished = match piped {
                Ok(f) => f,
                Err(e) => {
                    self.discard_run(exec, &run, None);
                    return Err(e);
                }
            };
            let summary = parse_summary(&finished.consumer.stdout);
            if !finished.success() {
                // restic saves whatever arrived before the dump died: that truncated
                // stream must not survive as a snapshot.
                let made = summary.as_ref().and_then(|s| s.snapshot_id.clone());
                self.discard_run(exec, &run, made.as_deref());
                if finished.producer.interrupted || finished.consumer.interrupted {
                    return Err(EngineError::Interrupted);
                }
                if finished.producer.success() {
                    let exit = match (finished.consumer_signal, finished.consumer.code) {
                        (Some(signal), _) => Exit::Signal(signal),
                        (None, code) => Exit::Code(code.unwrap_or(-1)),
                    };
                    return Err(self.failure(exit, &Said::from_text(&finished.consumer_stderr)));
                }
                let program = d.command.program.to_string_lossy().into_owned();
                return Err(EngineError::Failed {
                    program: format!("dump {} ({program})", d.file_name),
                    status: status_text(&finished.producer),
                });
            }
            let mut tags = self.run_tags(&run, parts);
            tags.push(format!("dump={}", d.file_name));
            self.note_made(
                exec,
                summary.as_ref().and_then(|s| s.snapshot_id.as_deref()),
                &time,
                vec![format!("/{stdin_name}")],
                tags,
            );
            if let Some(s) = summary {
                s.add_to(&mut stats);
                representative = representative.or(s.snapshot_id.clone());
                log::info(format!(
                    "dump {} stored as {stdin_name} in snapshot {}",
                    d.file_name,
                    s.snapshot_id.as_deref().unwrap_or("?")
                ));
            }
        }

        if !self.spec.sources.is_empty() {
            let mut cmd = self.backup_command(&run, parts)?;
            for pattern in &self.spec.excludes {
                cmd = cmd.arg(format!("--exclude={pattern}"));
            }
            // `--` so that a source starting with `-` is never read as an option.
            cmd = cmd.arg("--").args(self.spec.sources.iter().cloned());
            if !view.is_live() {
                cmd = in_snapshot_view(cmd, view, &self.spec.sources);
            }
            let ran = match self.run(exec, &cmd) {
                Ok(f) => f,
                Err(e) => {
                    self.discard_run(exec, &run, None);
                    return Err(e);
                }
            };
            let summary = parse_summary(&ran.finished.stdout);
            match ran.exit {
                _ if ran.finished.interrupted => {
                    self.discard_run(exec, &run, None);
                    return Err(EngineError::Interrupted);
                }
                Exit::Code(0) => {}
                Exit::Code(failure::PARTIAL) if summary.is_some() => {
                    warnings.push(failure::unreadable(&ran.said))
                }
                exit => {
                    self.discard_run(exec, &run, None);
                    return Err(self.failure(exit, &ran.said));
                }
            }
            // A snapshot that stopped being faithful (an LVM snapshot that overflowed while
            // restic read it) must not survive as a run.
            if let Err(e) = view.check_intact() {
                self.discard_run(exec, &run, None);
                return Err(e.into());
            }
            self.note_made(
                exec,
                summary.as_ref().and_then(|s| s.snapshot_id.as_deref()),
                &time,
                self.spec.sources.clone(),
                self.run_tags(&run, parts),
            );
            if let Some(s) = summary {
                s.add_to(&mut stats);
                // The sources snapshot names the run.
                representative = s.snapshot_id.clone().or(representative);
            }
        }
        drop(dumps);
        let id = representative.unwrap_or_else(|| {
            if exec.dry_run {
                "(dry-run)".into()
            } else {
                run.clone()
            }
        });
        Ok(BackupOutcome {
            snapshot: Snapshot {
                id: short(&id).to_owned(),
                time,
                path: None,
            },
            stats,
            warnings,
        })
    }

    /// The backup as a new run named after the newest run `after` (see
    /// [`super::clock::run_time_after`]: now, or just after a run dated in the future, with
    /// a warning that goes into the run's status).
    fn new_run(
        &self,
        exec: &Exec,
        view: &SourceView<'_>,
        after: Option<DateTime<FixedOffset>>,
    ) -> Result<BackupOutcome, EngineError> {
        let run_time = super::clock::run_time_after(after)?;
        if let Some(w) = &run_time.warning {
            log::warn(w);
        }
        let mut outcome = self.backup_at(exec, view, run_time.time)?;
        outcome.warnings.splice(0..0, run_time.warning);
        Ok(outcome)
    }
}

fn parse_listing(out: &[u8]) -> Result<Vec<ResticSnapshot>, EngineError> {
    serde_json::from_slice::<Option<Vec<ResticSnapshot>>>(out)
        .map(Option::unwrap_or_default)
        .map_err(|e| EngineError::Invalid(format!("cannot read `restic snapshots --json`: {e}")))
}

fn status_text(f: &Finished) -> String {
    if f.interrupted {
        "a stop signal".into()
    } else {
        f.code
            .map_or("a signal".into(), |c| format!("exit code {c}"))
    }
}

impl Engine for Restic {
    fn name(&self) -> &'static str {
        "restic"
    }

    /// From a snapshot step, restic reads the sources at their original paths: each is
    /// bind-mounted (read-only) from the snapshot over itself in a mount namespace of
    /// restic's own (see [`in_snapshot_view`]), so the repository records the paths a
    /// restore expects and nothing outside restic ever sees the bind mounts.
    fn backup_from(
        &self,
        exec: &Exec,
        view: &SourceView<'_>,
    ) -> Result<BackupOutcome, EngineError> {
        self.note_env(exec);
        // When this cache knows the last run, the repository is listed while the backup
        // runs (each restic command pays half a second to open the repository): the list
        // is only needed afterwards, for clearing cut-short runs and for retention.
        let last = if exec.dry_run { None } else { self.last_run() };
        let Some(last) = last else {
            let existing = self.snapshots()?;
            self.clear_incomplete(exec)?;
            return self.new_run(exec, view, existing.iter().map(|s| s.time).max());
        };
        let listing = {
            let cmd = self.listing_command()?;
            log::debug(format!("running: {} (beside the backup)", cmd.display()));
            std::thread::spawn(move || crate::command::output_stoppable(pipe::process(&cmd), &cmd))
        };
        let result = self.new_run(exec, view, Some(last));
        let listed = match listing.join() {
            Ok(Ok(out)) if out.status.success() => parse_listing(&out.stdout),
            Ok(Ok(out)) => Err(self.failure(
                Exit::of(&out.status),
                &Said::from_text(&String::from_utf8_lossy(&out.stderr)),
            )),
            Ok(Err(source)) => Err(EngineError::Command(crate::command::CommandError::Spawn {
                program: "restic".into(),
                source,
            })),
            Err(_) => Err(EngineError::Invalid("the listing thread panicked".into())),
        };
        match (result, listed) {
            // The listing says why better than the backup's exit code (wrong password,
            // missing repository, unreachable).
            (Err(EngineError::Restic(ResticFailure::Exit { .. })), Err(e)) => Err(e),
            (Err(e), _) => Err(e),
            (Ok(outcome), Ok(mut list)) => {
                let (made, all_known) = self.made.borrow().clone();
                if all_known {
                    for m in made {
                        if !list.iter().any(|s| s.id == m.id) {
                            list.push(m);
                        }
                    }
                    *self.listed.borrow_mut() = Some(list);
                    self.clear_incomplete(exec)?;
                } else {
                    *self.listed.borrow_mut() = None;
                }
                Ok(outcome)
            }
            (Ok(outcome), Err(e)) => {
                // The backup is good; retention will list again and say what is wrong.
                log::warn(format!("listing the repository during the backup: {e}"));
                *self.listed.borrow_mut() = None;
                Ok(outcome)
            }
        }
    }

    fn snapshots(&self) -> Result<Vec<Snapshot>, EngineError> {
        let mut out = Vec::new();
        for (run, mut members) in self.runs()? {
            if !complete(&members) {
                continue;
            }
            // Sources snapshot first, then dumps, each oldest first.
            members.sort_by(|a, b| (a.is_dump(), &a.time).cmp(&(b.is_dump(), &b.time)));
            let Some(first) = members.first() else {
                continue;
            };
            let time = match parse_snapshot_name(&run) {
                Some(t) => t,
                None => DateTime::parse_from_rfc3339(&first.time).map_err(|e| {
                    EngineError::Invalid(format!(
                        "restic snapshot {} has an unreadable time `{}`: {e}",
                        first.short_id, first.time
                    ))
                })?,
            };
            out.push(Snapshot {
                id: first.short_id.clone(),
                time,
                path: None,
            });
        }
        out.sort_by_key(|s| s.time);
        Ok(out)
    }

    fn files(&self, snapshot: &Snapshot) -> Result<Vec<String>, EngineError> {
        let mut out = Vec::new();
        for member in self.members(snapshot)? {
            let cmd = self
                .restic()?
                .args(["--no-lock", "ls", "--json"])
                .arg(&member.id);
            let text = self.query(&cmd)?;
            for line in text.split(|b| *b == b'\n') {
                let Ok(node) = serde_json::from_slice::<serde_json::Value>(line) else {
                    continue;
                };
                if node.get("struct_type").and_then(|v| v.as_str()) != Some("node") {
                    continue;
                }
                let Some(path) = node.get("path").and_then(|v| v.as_str()) else {
                    continue;
                };
                let mut shown = path.to_owned();
                if node.get("type").and_then(|v| v.as_str()) == Some("dir") {
                    shown.push('/');
                }
                out.push(shown);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn restore(
        &self,
        exec: &Exec,
        snapshot: &Snapshot,
        path: &str,
        to: &Path,
        force: bool,
    ) -> Result<(), EngineError> {
        self.note_env(exec);
        let rel = relative(path)?;
        let members = self.members(snapshot)?;
        // restic restores full paths; restore into a private folder beside the target,
        // then move PATH into place, so that `to` gets `to/<last component>` as rsync
        // restores do, and a failed restore leaves `to` untouched.
        if !exec.dry_run {
            std::fs::create_dir_all(to)
                .map_err(EngineError::io(format!("cannot create {}", to.display())))?;
        }
        let staging = to.join(format!(".bakrun-restore-{}", std::process::id()));
        let _cleanup = StagingDir(staging.clone());
        for member in &members {
            let include = if rel.as_os_str().is_empty() {
                "/".to_owned()
            } else {
                format!("/{}", rel.display())
            };
            let cmd = self
                .restic()?
                .arg("restore")
                .arg(&member.id)
                .arg("--target")
                .arg(&staging)
                .arg("--include")
                .arg(include);
            self.succeeded(self.run(exec, &cmd)?)?;
        }
        if exec.dry_run {
            exec.note(format!(
                "mv {} {}",
                shell_quote(staging.join(&rel).as_os_str()),
                shell_quote(to.as_os_str())
            ));
            return Ok(());
        }
        let restored = staging.join(&rel);
        if std::fs::symlink_metadata(&restored).is_err() {
            return Err(EngineError::NotInSnapshot {
                path: path.to_owned(),
                snapshot: snapshot.id.clone(),
            });
        }
        let target = match rel.file_name() {
            Some(last) => to.join(last),
            None => to.to_owned(),
        };
        if !force {
            let clashes = clashes(&restored, &target)?;
            if let Some(first) = clashes.first() {
                return Err(EngineError::WouldOverwrite {
                    count: clashes.len(),
                    first: first.clone(),
                });
            }
        }
        move_into(&restored, &target)
    }

    fn forget(&self, exec: &Exec, snapshots: &[Snapshot]) -> Result<(), EngineError> {
        let runs = self.runs()?;
        let mut ids = Vec::new();
        for snapshot in snapshots {
            let Some(members) = runs.values().find(|m| {
                m.iter()
                    .any(|s| s.short_id == snapshot.id || s.id == snapshot.id)
            }) else {
                continue;
            };
            ids.extend(members.iter().map(|s| s.id.clone()));
        }
        if ids.is_empty() {
            return Ok(());
        }
        if signals::stop_requested() {
            return Err(EngineError::Interrupted);
        }
        self.forget_ids(exec, &ids)
    }
}

impl Restic {
    /// The restic snapshots of one run.
    fn members(&self, snapshot: &Snapshot) -> Result<Vec<ResticSnapshot>, EngineError> {
        self.runs()?
            .into_values()
            .find(|m| {
                m.iter()
                    .any(|s| s.short_id == snapshot.id || s.id == snapshot.id)
            })
            .ok_or_else(|| EngineError::NoSnapshot {
                job: self.spec.job.clone(),
                at: snapshot.id.clone(),
            })
    }
}

/// A run is complete when it has as many snapshots as its `parts=` tag says (snapshots
/// without the tag, made by hand or by an older bakrun, count as complete).
fn complete(members: &[ResticSnapshot]) -> bool {
    let expected = members
        .iter()
        .find_map(|s| s.tag("parts").and_then(|p| p.parse::<usize>().ok()));
    expected.is_none_or(|n| members.len() >= n)
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// User, host and port of an `sftp:` repository, read as restic 0.14 reads them
/// (`sftp:user@host:/path`, `sftp:host:path`, `sftp://user@host:port//path`); `None` for
/// other repositories.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SftpTarget {
    user: Option<String>,
    host: String,
    port: Option<u16>,
}

fn sftp_target(repository: &str) -> Result<Option<SftpTarget>, EngineError> {
    let invalid = |why: &str| {
        EngineError::Invalid(format!(
            "sftp repository `{repository}` {why}; write sftp:user@host:/path or sftp://user@host:port//path"
        ))
    };
    let (user, host, port) = if let Some(rest) = repository.strip_prefix("sftp://") {
        let authority = rest.split('/').next().unwrap_or_default();
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_owned()), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
            let (h, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("has an unclosed `[`"))?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        let port = match port.filter(|p| !p.is_empty()) {
            Some(p) => Some(
                p.parse::<u16>()
                    .map_err(|_| invalid("has a port that is not a number from 1 to 65535"))?,
            ),
            None => None,
        };
        (user, host.to_owned(), port)
    } else if let Some(rest) = repository.strip_prefix("sftp:") {
        let (userhost, _path) = rest
            .split_once(':')
            .ok_or_else(|| invalid("names no path"))?;
        let (user, host) = match userhost.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_owned()), h),
            None => (None, userhost),
        };
        (user, host.to_owned(), None)
    } else {
        return Ok(None);
    };
    if host.is_empty() {
        return Err(invalid("names no host"));
    }
    // ssh would read `-oProxyCommand=…` as an option, not as a host or user.
    if host.starts_with('-')
        || user
            .as_deref()
            .is_some_and(|u| u.starts_with('-') || u.is_empty())
    {
        return Err(invalid(
            "has a host or user that starts with `-` or is empty",
        ));
    }
    Ok(Some(SftpTarget { user, host, port }))
}

/// The ssh command restic's sftp backend runs (`-o sftp.command=`), with bakrun's ssh
/// options: no password prompt, host keys always checked, the job's key and known_hosts.
/// Written for restic's own word splitting, which knows quotes but no escapes.
fn sftp_command(target: &SftpTarget, ssh: Option<&SftpSsh>) -> Result<String, EngineError> {
    let port = match (target.port, ssh.and_then(|s| s.port)) {
        (Some(a), Some(b)) if a != b => {
            return Err(EngineError::Invalid(format!(
                "the sftp repository says port {a} but the destination's ssh says port {b}"
            )))
        }
        (a, b) => a.or(b),
    };
    let mut words = vec!["ssh".to_owned()];
    words.extend(super::ssh_options(
        port,
        ssh.and_then(|s| s.identity.as_deref()),
        ssh.and_then(|s| s.known_hosts.as_deref()),
    ));
    if let Some(user) = &target.user {
        words.push("-l".into());
        words.push(user.clone());
    }
    // `-s HOST sftp`: the sftp subsystem on HOST.
    words.extend(["-s".into(), target.host.clone(), "sftp".into()]);
    let quoted = words
        .iter()
        .map(|w| restic_quote(w))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(quoted.join(" "))
}

/// One word for restic's command-line splitting (`sftp.command`): bare when it has no
/// blank or quote, else in double quotes, else in single quotes. restic knows no escapes,
/// so an empty word, one with both kinds of quote or with a backslash is refused.
fn restic_quote(word: &str) -> Result<String, EngineError> {
    let refuse = || {
        EngineError::Invalid(format!(
            "`{word}` cannot be handed to restic's sftp backend: it is empty or holds a backslash or both kinds of quote"
        ))
    };
    if word.is_empty() || word.contains('\\') {
        return Err(refuse());
    }
    let special = |c: char| c.is_whitespace() || c == '"' || c == '\'';
    if !word.contains(special) {
        Ok(word.to_owned())
    } else if !word.contains('"') {
        Ok(format!("\"{word}\""))
    } else if !word.contains('\'') {
        Ok(format!("'{word}'"))
    } else {
        Err(refuse())
    }
}

/// Removes the staging folder of a restore, also when it fails.
struct StagingDir(PathBuf);

impl Drop for StagingDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `/etc/hosts` → `etc/hosts`; refuses relative paths and `..`.
fn relative(path: &str) -> Result<PathBuf, EngineError> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(EngineError::Invalid(format!(
            "restore path `{path}` must be absolute, as on the backed-up machine"
        )));
    }
    let mut rel = PathBuf::new();
    for c in p.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => rel.push(part),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(EngineError::Invalid(format!(
                    "restore path `{path}` must not contain `..`"
                )))
            }
        }
    }
    Ok(rel)
}

/// Paths under `target` that moving `source` there would replace (as the rsync engine
/// counts them): non-folders whose counterpart exists, folders whose counterpart is not one.
fn clashes(source: &Path, target: &Path) -> Result<Vec<PathBuf>, EngineError> {
    let mut out = Vec::new();
    let mut stack = vec![(source.to_owned(), target.to_owned())];
    while let Some((src, dst)) = stack.pop() {
        let meta = std::fs::symlink_metadata(&src)
            .map_err(EngineError::io(format!("cannot read {}", src.display())))?;
        let Ok(dst_meta) = std::fs::symlink_metadata(&dst) else {
            continue;
        };
        if meta.is_dir() && dst_meta.is_dir() {
            for entry in std::fs::read_dir(&src)
                .map_err(EngineError::io(format!("cannot list {}", src.display())))?
            {
                let entry =
                    entry.map_err(EngineError::io(format!("cannot list {}", src.display())))?;
                stack.push((entry.path(), dst.join(entry.file_name())));
            }
        } else {
            out.push(dst);
        }
    }
    out.sort();
    Ok(out)
}

/// Moves `source` to `target`, merging into existing folders and replacing what clashes
/// (the caller has refused clashes unless forced). Renames within one file system.
fn move_into(source: &Path, target: &Path) -> Result<(), EngineError> {
    let src_meta = std::fs::symlink_metadata(source)
        .map_err(EngineError::io(format!("cannot read {}", source.display())))?;
    match std::fs::symlink_metadata(target) {
        Err(_) => std::fs::rename(source, target).map_err(EngineError::io(format!(
            "cannot move into {}",
            target.display()
        ))),
        Ok(dst) if dst.is_dir() && src_meta.is_dir() => {
            for entry in std::fs::read_dir(source)
                .map_err(EngineError::io(format!("cannot list {}", source.display())))?
            {
                let entry =
                    entry.map_err(EngineError::io(format!("cannot list {}", source.display())))?;
                move_into(&entry.path(), &target.join(entry.file_name()))?;
            }
            // The folder's own owner, mode and times come from the snapshot.
            let perms = src_meta.permissions();
            std::fs::set_permissions(target, perms).map_err(EngineError::io(format!(
                "cannot set mode of {}",
                target.display()
            )))
        }
        Ok(dst) => {
            let removed = if dst.is_dir() {
                std::fs::remove_dir_all(target)
            } else {
                std::fs::remove_file(target)
            };
            removed.map_err(EngineError::io(format!(
                "cannot replace {}",
                target.display()
            )))?;
            std::fs::rename(source, target).map_err(EngineError::io(format!(
                "cannot move into {}",
                target.display()
            )))
        }
    }
}

/// Binds each source from the snapshot over its original path, then runs restic.
const BIND_SCRIPT: &str = r#"while [ "$1" != -- ]; do mount --bind -o ro -- "$1" "$2" || exit 125; shift 2; done; shift; exec "$@""#;

/// `cmd` run in a private mount namespace (`unshare --mount --propagation private`) where
/// every source is bind-mounted read-only from the snapshot tree over its original path.
/// The namespace dies with restic: no unmount to forget, nothing visible outside. The
/// environment (password file, keys) passes through unchanged.
fn in_snapshot_view(cmd: Command, view: &SourceView<'_>, sources: &[String]) -> Command {
    let mut wrapped = Command::new("unshare").args([
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        BIND_SCRIPT,
        "bakrun-bind",
    ]);
    let mut targets: Vec<PathBuf> = Vec::new();
    for source in sources {
        // A source the live system lost since the snapshot has no mount point: bind the
        // nearest folder above it that still exists (inside the snapshot's origin, which
        // is a mount point and so always exists).
        let mut target = PathBuf::from(source);
        while target.symlink_metadata().is_err() {
            match target.parent() {
                Some(parent) => target = parent.to_owned(),
                None => break,
            }
        }
        // Missing from the snapshot too: restic reports it as a missing source.
        let from = view.path_of(&target.to_string_lossy());
        if from.symlink_metadata().is_err() || targets.contains(&target) {
            continue;
        }
        wrapped = wrapped.arg(from).arg(&target);
        targets.push(target);
    }
    wrapped = wrapped.arg("--").arg(cmd.program).args(cmd.args);
    wrapped.env = cmd.env;
    // unshare and sh exec restic in the same process: it gets restic's signal.
    wrapped.stop_with(cmd.stop_signal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_summary_line() {
        let lines: Vec<String> = [
            r#"{"message_type":"status","percent_done":0.5}"#,
            r#"{"message_type":"summary","files_new":2,"files_changed":1,"files_unmodified":5,"data_added":123,"total_files_processed":8,"total_bytes_processed":999,"snapshot_id":"abcdef12"}"#,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let s = parse_summary(&lines).unwrap();
        let mut stats = TransferStats::default();
        s.add_to(&mut stats);
        assert_eq!(stats.files_transferred, 3);
        assert_eq!(stats.files_total, 8);
        assert_eq!(stats.bytes_transferred, 123);
        assert_eq!(s.snapshot_id.as_deref(), Some("abcdef12"));
        assert!(parse_summary(&lines[..1]).is_none());
        assert_eq!((stats.files_new, stats.files_changed), (Some(2), Some(1)));
    }

    #[test]
    fn reads_sftp_repositories_as_restic_does() {
        let t = |r: &str| sftp_target(r).unwrap();
        assert_eq!(t("/srv/restic"), None);
        assert_eq!(t("rest:http://h/x"), None);
        assert_eq!(
            t("sftp:backup@vault:/srv/restic"),
            Some(SftpTarget {
                user: Some("backup".into()),
                host: "vault".into(),
                port: None
            })
        );
        assert_eq!(
            t("sftp:vault:relative/path").map(|s| (s.user, s.host)),
            Some((None, "vault".into()))
        );
        assert_eq!(
            t("sftp://me@[::1]:2222//srv/r"),
            Some(SftpTarget {
                user: Some("me".into()),
                host: "::1".into(),
                port: Some(2222)
            })
        );
        assert_eq!(t("sftp://h/r").map(|s| s.port), Some(None));
        for bad in [
            "sftp:nohostpath",
            "sftp::/p",
            "sftp:-oProxyCommand=x:/p",
            "sftp://h:99999/p",
        ] {
            assert!(sftp_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn builds_the_sftp_command_for_restics_word_splitting() {
        let target = sftp_target("sftp:root@127.0.0.1:/srv/r").unwrap().unwrap();
        let ssh = SftpSsh {
            port: Some(2222),
            identity: Some("/keys/my key".into()),
            known_hosts: Some("/etc/it's known".into()),
        };
        assert_eq!(
            sftp_command(&target, Some(&ssh)).unwrap(),
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o \"UserKnownHostsFile=/etc/it's known\" \
             -o IdentitiesOnly=yes -i \"/keys/my key\" -p 2222 -l root -s 127.0.0.1 sftp"
        );
        assert_eq!(
            sftp_command(&target, None).unwrap(),
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -l root -s 127.0.0.1 sftp"
        );
        let with_port = sftp_target("sftp://h:22//r").unwrap().unwrap();
        assert!(sftp_command(&with_port, Some(&ssh)).is_err());
        assert_eq!(restic_quote("a\"b").unwrap(), "'a\"b'");
        assert!(restic_quote("a'\"b").is_err());
        assert!(restic_quote("a\\b").is_err());
        assert!(restic_quote("").is_err());
    }
}
