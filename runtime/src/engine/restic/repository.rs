//! restic's command line and environment for a job's repository, and the commands on the
//! repository as a whole (init, check, prune).
//!
//! Secrets reach restic through its environment only: `RESTIC_PASSWORD_FILE` (a
//! credential or root-only file, checked for its mode), `RESTIC_PASSWORD_COMMAND` (for a
//! command secret), and the destination's `environment` variables read by bakrun (S3 keys
//! in a private credentials file instead).

use std::ffi::OsString;

use super::failure::{self, Exit, Said};
use super::locked::Ran;
use super::Restic;
use crate::command::{shell_quote, Command, Exec, Finished};
use crate::dump::pipe;
use crate::engine::EngineError;
use crate::log;
use crate::secret::{self, PrivateFile, SecretError};
use crate::spec::{SecretEnv, SecretRef};

/// Where restic is looked up (`PATH`); a test may point `BAKRUN_RESTIC` elsewhere.
fn restic_program() -> OsString {
    std::env::var_os("BAKRUN_RESTIC").unwrap_or_else(|| "restic".into())
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

/// Refuses a destination variable that is no environment variable name, or that would set
/// restic's password or repository behind bakrun's back.
pub(super) fn check_environment(environment: &[SecretEnv]) -> Result<(), EngineError> {
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
    Ok(())
}

impl Restic {
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
    pub(super) fn note_env(&self, exec: &Exec) {
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
    pub(super) fn restic(&self) -> Result<Command, EngineError> {
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

    /// Runs a read-only restic command and returns its standard output; also in dry runs
    /// (listing changes nothing). Callers pass `--no-lock`: reading must not fail, or
    /// block a prune, because another restic holds the repository's lock. restic's standard error holds no secret and is reported.
    pub(super) fn query(&self, cmd: &Command) -> Result<Vec<u8>, EngineError> {
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
    pub(super) fn failure(&self, exit: Exit, said: &Said) -> EngineError {
        let ctx = failure::Context {
            repository: &self.repository,
            password: &self.password,
            job: &self.spec.job,
        };
        failure::classify(&ctx, exit, said)
    }

    /// The command's output when it succeeded, else what went wrong.
    pub(super) fn succeeded(&self, ran: Ran) -> Result<Finished, EngineError> {
        if ran.finished.interrupted {
            return Err(EngineError::Interrupted);
        }
        if ran.finished.success() {
            return Ok(ran.finished);
        }
        Err(self.failure(ran.exit, &ran.said))
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
}
