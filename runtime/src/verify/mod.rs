//! `bakrun verify JOB`: the restore drill. From the newest complete run it draws a seeded
//! sample of the job's files (plus every file under the critical paths), restores them
//! (restic: one `restic restore` with an `--include` per file; rsync snapshots are read in
//! place) into a private folder and compares each with the live file (on the remote host,
//! through the job's own ssh, for a pulled job). Then the dump drill, and the record.
//!
//! The files: `sample.rs` (the seeded draw), `compare.rs` (a copy against a local live
//! file), `pulled.rs` (rsync's comparison on a remote host), `count.rs` (the run's files
//! against the live ones), `scratch.rs` (the private folder), `finish.rs` (the outcome
//! logged and recorded), `record.rs` (the drill's status and metrics files).

use std::path::{Path, PathBuf};

use chrono::Local;

use crate::command::{shell_quote, Exec};
use crate::engine::restic::Restic;
use crate::engine::rsync::Rsync;
use crate::engine::{Engine, EngineError, Snapshot};
use crate::spec::{Destination, JobSpec};
use crate::{lock, log, progress, signals};
use bakgen_spec::exit::Exit;

pub mod compare;
mod count;
mod finish;
pub mod pulled;
pub mod record;
mod restic_run;
pub mod sample;
pub mod scratch;

use crate::drill::DrillError;
use compare::Verdict;
use record::{CountResult, DumpResult, Mismatch};
use scratch::Scratch;

/// What the command line asks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub dry_run: bool,
    /// Files to draw at random, instead of the spec's `sample`.
    pub sample: Option<u64>,
    /// The seed of the draw; a fresh one when absent.
    pub seed: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("job {job} has no restore drill (no `verify` in its spec): add `verify` to the job in the policy, or check by hand with `bakrun verify {job} --sample N`")]
    NoDrill { job: String },
    #[error("job {job} has no complete run to verify yet")]
    NoRun { job: String },
    #[error("dump drill: {0}")]
    Drill(#[source] DrillError),
    #[error("stopped by a signal")]
    Interrupted,
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("comparing with the live files on {host}: {reason}")]
    Remote { host: String, reason: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl VerifyError {
    pub fn exit(&self) -> Exit {
        match self {
            VerifyError::NoDrill { .. } => Exit::BadInput,
            _ => Exit::Failed,
        }
    }
}

/// What a finished drill found.
#[derive(Debug, Default)]
pub struct Found {
    pub sampled: u64,
    pub checked: u64,
    pub mismatches: Vec<Mismatch>,
    pub changed: Vec<String>,
    pub dumps: Vec<DumpResult>,
    pub count: Option<CountResult>,
}

impl Found {
    fn passed(&self) -> bool {
        self.mismatches.is_empty()
            && self.dumps.iter().all(|d| d.passed)
            && self.count.is_none_or(|c| c.passed)
    }
}

/// The drill's own unit, `bakgen-verify-<job>.service` (the job's unit name with
/// `verify-` after `bakgen-`, escaped as it is).
pub fn unit_name(spec: &JobSpec) -> String {
    let rest = spec.unit.strip_prefix("bakgen-").unwrap_or(&spec.unit);
    format!("bakgen-verify-{rest}")
}

/// The drill of `spec`: checks, records (status and metrics files, unless a dry run) and
/// returns the exit code.
pub fn run(spec: &JobSpec, engine: &dyn Engine, options: &Options) -> Exit {
    signals::install();
    let start = Local::now().fixed_offset();
    let seed = options.seed.unwrap_or_else(sample::fresh_seed);
    let state_dir = PathBuf::from(&spec.state_dir);
    // Keeps retention from removing the run while it is read; never refused for want of
    // it (as for `bakrun restore`), and never the run lock: a drill does not hold off a
    // backup.
    let _readers = if options.dry_run {
        None
    } else {
        match lock::read_snapshots(&state_dir, &spec.job) {
            Ok(l) => Some(l),
            Err(e) => {
                log::warn(format!("{e}; verifying without holding off retention"));
                None
            }
        }
    };
    let mut snapshot_id = None;
    let outcome = drill(spec, engine, options, seed, &mut snapshot_id);
    if options.dry_run {
        return match outcome {
            Ok(_) => Exit::Ok,
            Err(e) => {
                log::error(e.to_string());
                e.exit()
            }
        };
    }
    if let Err(VerifyError::NoDrill { .. }) = &outcome {
        // Bad input: nothing was drilled, so nothing is recorded.
        let e = outcome.err().map(|e| e.to_string()).unwrap_or_default();
        log::error(e);
        return Exit::BadInput;
    }
    let status = finish::finish(spec, options, start, seed, snapshot_id, outcome, &state_dir);
    finish::status_exit(&status)
}

/// The drill itself: nothing recorded here.
fn drill(
    spec: &JobSpec,
    engine: &dyn Engine,
    options: &Options,
    seed: u64,
    snapshot_id: &mut Option<String>,
) -> Result<Found, VerifyError> {
    let size = match (options.sample, &spec.verify) {
        (Some(n), _) => SampleSize::Files(n),
        (None, Some(v)) => SampleSize::Spec(v.sample),
        (None, None) => {
            return Err(VerifyError::NoDrill {
                job: spec.job.clone(),
            })
        }
    };
    let scratch = if options.dry_run {
        None
    } else {
        Some(
            Scratch::create(Path::new(&spec.state_dir), &spec.job).map_err(|source| {
                VerifyError::Io {
                    context: format!(
                        "cannot create the drill's folder {}",
                        Scratch::path_for(Path::new(&spec.state_dir), &spec.job).display()
                    ),
                    source,
                }
            })?,
        )
    };
    let d = Drill {
        spec,
        options,
        seed,
        size,
        critical: spec.verify.as_ref().map_or(&[], |v| &v.critical),
        exec: Exec {
            dry_run: options.dry_run,
        },
        scratch: scratch.as_ref().map_or_else(
            || Scratch::path_for(Path::new(&spec.state_dir), &spec.job),
            |s| s.path().to_owned(),
        ),
    };
    let counts = spec.verify.as_ref().and_then(|v| v.count);
    let restic;
    let (engine, snapshot, drawn, verdicts): (&dyn Engine, _, _, _) = match &spec.destination {
        Destination::Snapshots { .. } => {
            let snapshot = newest(engine.snapshots()?, spec)?;
            *snapshot_id = Some(snapshot.id.clone());
            let drawn = d.draw(&snapshot, engine.files(&snapshot)?);
            let verdicts = d.snapshot_verdicts(&snapshot, &drawn)?;
            (engine, snapshot, drawn, verdicts)
        }
        Destination::Restic { .. } => {
            // Its own engine: the runs it lists are then known to the dump drill too.
            restic = Restic::new(spec)?;
            let (snapshot, drawn, verdicts) = restic_run::verdicts(&d, &restic, snapshot_id)?;
            (&restic, snapshot, drawn, verdicts)
        }
    };
    let count = match counts {
        Some(rule) => {
            count::plan(&d.exec, rule, drawn.of);
            engine
                .count_live_files(&d.exec, &d.scratch)?
                .map(|live| count::weigh(rule, drawn.of, live, &snapshot.id))
        }
        None => None,
    };
    let found = d.found(&drawn, verdicts);
    let dumps = dump_drills(spec, &d.exec, engine, &snapshot, &d.scratch)?;
    drop(scratch);
    Ok(Found {
        dumps,
        count,
        ..found
    })
}

/// The newest complete run of `runs` (oldest first).
fn newest(mut runs: Vec<Snapshot>, spec: &JobSpec) -> Result<Snapshot, VerifyError> {
    runs.pop().ok_or_else(|| VerifyError::NoRun {
        job: spec.job.clone(),
    })
}

/// One drill's settings, as the command line and the spec give them.
struct Drill<'a> {
    spec: &'a JobSpec,
    options: &'a Options,
    seed: u64,
    size: SampleSize,
    critical: &'a [String],
    exec: Exec,
    /// The drill's private folder (its path only, in a dry run).
    scratch: PathBuf,
}

impl Drill<'_> {
    /// The sample of `files` (a run's, folders with a trailing `/`): the files under the
    /// job's sources, drawn, logged with the seed, and in a dry run printed.
    fn draw(&self, snapshot: &Snapshot, files: Vec<String>) -> sample::Drawn {
        let spec = self.spec;
        let candidates: Vec<String> = files
            .into_iter()
            .filter(|f| !f.ends_with('/') && spec.sources.iter().any(|s| sample::is_under(f, s)))
            .collect();
        let size = match self.size {
            SampleSize::Files(n) => n,
            SampleSize::Spec(s) => s.size(candidates.len() as u64),
        };
        let drawn = sample::draw(&candidates, self.critical, size, self.seed);
        let again = repeat_command(spec, self.options, self.seed);
        log::info(format!(
            "drill of job {} on run {}: {} of {} files ({} under critical paths), seed {}; repeat with `{again}`",
            spec.job,
            snapshot.id,
            drawn.files.len(),
            candidates.len(),
            drawn.critical,
            self.seed,
        ));
        if self.options.dry_run {
            print_plan(
                spec,
                snapshot,
                &drawn,
                candidates.len(),
                &again,
                self.critical,
            );
        }
        for c in self.critical {
            if !drawn.files.iter().any(|f| sample::is_under(f, c)) {
                log::warn(format!(
                    "critical path {c} has no file in run {}",
                    snapshot.id
                ));
            }
        }
        drawn
    }

    /// The sample of an rsync snapshot, read in place (or, pulled, compared on its host).
    fn snapshot_verdicts(
        &self,
        snapshot: &Snapshot,
        drawn: &sample::Drawn,
    ) -> Result<Vec<(String, Verdict)>, VerifyError> {
        let root = snapshot.path.clone().ok_or_else(|| {
            EngineError::Invalid(format!("run {} has no folder to read", snapshot.id))
        })?;
        if self.spec.remote.is_some() {
            return remote_verdicts(self.spec, &self.exec, &drawn.files, &root, &self.scratch);
        }
        if self.exec.dry_run {
            println!(
                "# compare each file under {} with the live file",
                shell_quote(root.as_os_str())
            );
        }
        local_verdicts(&self.exec, &drawn.files, &root)
    }

    /// What the verdicts on the sample come to.
    fn found(&self, drawn: &sample::Drawn, verdicts: Vec<(String, Verdict)>) -> Found {
        let mut found = Found {
            sampled: drawn.files.len() as u64,
            ..Found::default()
        };
        for (path, verdict) in verdicts {
            match verdict {
                Verdict::Same => found.checked += 1,
                Verdict::Changed => found.changed.push(path),
                Verdict::Mismatch(reason) => {
                    found.checked += 1;
                    found.mismatches.push(Mismatch { path, reason });
                }
                Verdict::Skipped => {}
            }
        }
        found
    }
}

/// The command that draws the same sample again.
fn repeat_command(spec: &JobSpec, options: &Options, seed: u64) -> String {
    let sample = options
        .sample
        .map_or_else(String::new, |n| format!(" --sample {n}"));
    format!(
        "bakrun verify {}{sample} --seed {seed}",
        shell_quote(spec.job.as_ref())
    )
}

/// How many files to draw.
enum SampleSize {
    Files(u64),
    Spec(bakgen_spec::verify::Sample),
}

/// Each file under `root` (a snapshot folder, or the folder files were restored into)
/// against the live file of the same path on this machine.
fn local_verdicts(
    exec: &Exec,
    files: &[String],
    root: &Path,
) -> Result<Vec<(String, Verdict)>, VerifyError> {
    if exec.dry_run {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(files.len());
    // A live line on a terminal, a periodic one in the journal (`progress`).
    let task = progress::Task::start("verify");
    let mut compared = progress::Progress {
        files_total: Some(files.len() as u64),
        ..progress::Progress::default()
    };
    for (n, f) in files.iter().enumerate() {
        if signals::stop_requested() {
            return Err(VerifyError::Interrupted);
        }
        let rel = f.trim_start_matches('/');
        let copy = root.join(rel);
        let verdict = compare::compare(&copy, Path::new(f));
        log::debug(format!("{f}: {verdict:?}"));
        out.push((f.clone(), verdict));
        compared.files_done = Some(n as u64 + 1);
        compared.bytes_done += std::fs::symlink_metadata(&copy).map_or(0, |m| m.len());
        compared.percent = Some(100.0 * (n + 1) as f64 / files.len() as f64);
        task.update(compared.clone());
    }
    Ok(out)
}

/// The sample of a pulled job, compared on its remote host by rsync (see `pulled.rs`).
fn remote_verdicts(
    spec: &JobSpec,
    exec: &Exec,
    files: &[String],
    snapshot_dir: &Path,
    scratch: &Path,
) -> Result<Vec<(String, Verdict)>, VerifyError> {
    let list = scratch.join("files-from");
    let cmd = Rsync::new(spec)?.compare_command(&list, snapshot_dir)?;
    if !exec.dry_run {
        std::fs::write(&list, pulled::files_from(files)).map_err(|source| VerifyError::Io {
            context: format!("cannot write {}", list.display()),
            source,
        })?;
    }
    let (finished, stderr) = exec.run_explained(&cmd).map_err(EngineError::from)?;
    if exec.dry_run {
        return Ok(Vec::new());
    }
    if finished.interrupted || signals::stop_requested() {
        return Err(VerifyError::Interrupted);
    }
    let host = spec
        .remote
        .as_ref()
        .map_or_else(String::new, |r| r.address.clone());
    pulled::judge(files, &finished.stdout, &stderr, finished.code)
        .map_err(|reason| VerifyError::Remote { host, reason })
}

/// The dump drill of the run: each PostgreSQL/MySQL dump loaded into a throwaway server
/// in `scratch` and checked (`crate::drill`).
fn dump_drills(
    spec: &JobSpec,
    exec: &Exec,
    engine: &dyn Engine,
    snapshot: &Snapshot,
    scratch: &Path,
) -> Result<Vec<DumpResult>, VerifyError> {
    match crate::drill::drill_dumps(exec, spec, engine, snapshot, scratch) {
        Ok(drills) => Ok(drills
            .into_iter()
            .map(|d| DumpResult {
                file_name: d.file_name,
                passed: d.passed,
                checks: d.checks,
                failure: d.failure,
            })
            .collect()),
        Err(DrillError::Interrupted) => Err(VerifyError::Interrupted),
        Err(e) => Err(VerifyError::Drill(e)),
    }
}

/// `--dry-run`: what the drill would read, draw and compare.
fn print_plan(
    spec: &JobSpec,
    snapshot: &Snapshot,
    drawn: &sample::Drawn,
    total: usize,
    again: &str,
    critical: &[String],
) {
    println!("# drill of job {} ({})", spec.job, spec.host);
    println!("# run: {} ({})", snapshot.id, snapshot.time.to_rfc3339());
    println!(
        "# sample: {} of {} files (`{again}` draws it again)",
        drawn.files.len(),
        total,
    );
    for c in critical {
        println!("# critical: {c} (every file below it)");
    }
    if let Some(remote) = &spec.remote {
        println!(
            "# live files on {} (pulled job), compared there through the job's ssh",
            remote.address
        );
    }
    for f in &drawn.files {
        println!("# file: {f}");
    }
}
