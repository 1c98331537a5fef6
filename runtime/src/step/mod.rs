//! Snapshot steps: the engine reads the job's sources from a read-only snapshot taken at
//! one instant (LVM or btrfs) rather than from a file system that changes under it.
//!
//! Lifecycle, all in [`around_engine`], the one place the runner calls:
//! 1. clear what a killed run left (a mount in the private tree, bakgen's own snapshot,
//!    found by tag or name — never anything else);
//! 2. create the snapshot and mount it read-only at its original path inside a private tree
//!    (see [`crate::source_view`]);
//! 3. run the engine through a [`SourceView`]; the engine calls
//!    [`SourceView::check_intact`] before it calls a backup complete;
//! 4. unmount and remove the snapshot — after success, failure, and a stop signal.
//!
//! Database dumps are steps too, but not this module's (see `dump/`).

pub mod btrfs;
pub mod lvm;

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::command::{shell_quote, Command, CommandError, Exec};
use crate::source_view::{snapshot_path, EngineFailure, NotIntact, SourceView};
use crate::spec::{JobSpec, Step};
use crate::{log, signals};

/// Test-only: after the snapshot is mounted, bakrun creates `<file>.waiting` and waits until
/// `<file>` exists (or a stop signal arrives), so a test can change the origin between the
/// snapshot and the engine. Never set by units.
pub const PAUSE_ENV: &str = "BAKRUN_TEST_PAUSE_AFTER_SNAPSHOT";

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("{program} failed with {status} (its messages are logged above)")]
    Failed { program: String, status: String },
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("the LVM snapshot {volume} overflowed during the backup ({detail}): the files read from it cannot be trusted, so this run's backup is not kept; give lvm-snapshot a larger size=")]
    Overflowed { volume: String, detail: String },
    #[error("{path} exists but is not bakgen's snapshot for job {job} ({why}); bakgen never removes what it did not create: move it away")]
    NotOurs {
        path: String,
        job: String,
        why: String,
    },
    #[error("stopped by a signal while preparing the snapshot")]
    Interrupted,
}

impl StepError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StepError {
        let context = context.into();
        move |source| StepError::Io { context, source }
    }
}

/// Why a run with a snapshot step failed: the step, or the engine (error `E`).
#[derive(Debug, thiserror::Error)]
pub enum AroundError<E> {
    #[error("snapshot step: {0}")]
    Step(#[from] StepError),
    #[error(transparent)]
    Engine(E),
}

impl<E: EngineFailure> AroundError<E> {
    pub fn interrupted(&self) -> bool {
        match self {
            AroundError::Step(e) => matches!(e, StepError::Interrupted),
            AroundError::Engine(e) => e.interrupted(),
        }
    }
}

/// True for the steps this module runs.
pub fn is_snapshot(step: &Step) -> bool {
    matches!(step, Step::LvmSnapshot { .. } | Step::BtrfsSnapshot { .. })
}

/// A snapshot this run made (or found left over), so teardown undoes exactly that.
enum Made {
    Lvm(lvm::LvmSnapshot),
    Btrfs(btrfs::BtrfsSnapshot),
}

impl Made {
    fn origin_path(&self) -> &str {
        match self {
            Made::Lvm(s) => s.origin_path(),
            Made::Btrfs(s) => s.origin_path(),
        }
    }
}

/// Runs `engine` reading the job's sources from its snapshot step, if it has one; with
/// none, from the live file system. The snapshot is removed whatever happens; a teardown
/// problem after a good backup is logged and returned as a warning (the next run removes
/// the leftover first), so the good backup is not thrown away.
pub fn around_engine<T, E: EngineFailure>(
    spec: &JobSpec,
    exec: &Exec,
    state_dir: &Path,
    engine: impl FnOnce(&SourceView<'_>) -> Result<T, E>,
) -> Result<(T, Vec<String>), AroundError<E>> {
    let steps: Vec<&Step> = spec.steps.iter().filter(|s| is_snapshot(s)).collect();
    let step = match steps.as_slice() {
        [] => return live(engine),
        [one] => *one,
        _ => {
            // bakgen check refuses this; a hand-written spec must not half-work.
            return Err(StepError::Invalid(
                "a job can have only one snapshot step (lvm-snapshot or btrfs-snapshot)".into(),
            )
            .into());
        }
    };
    let made = match step {
        Step::LvmSnapshot {
            volume,
            size,
            origin_path,
        } => Made::Lvm(lvm::LvmSnapshot::new(&spec.job, volume, size, origin_path)?),
        Step::BtrfsSnapshot {
            subvolume,
            origin_path,
        } => Made::Btrfs(btrfs::BtrfsSnapshot::new(
            &spec.job,
            subvolume,
            origin_path,
        )?),
        _ => return live(engine),
    };
    check_sources_under(&spec.sources, made.origin_path())?;
    let tree = Tree::new(state_dir, &spec.job);

    clear_leftovers(exec, &tree, &made)?;
    // Set once the snapshot exists: only then is there something of ours to remove (a
    // failed create may have met a volume of the same name made by someone else).
    let mut created = false;
    let prepared = prepare(exec, &tree, &made, &mut created);
    let result = match prepared {
        Ok(mount) => {
            let check = || match &made {
                Made::Lvm(s) if !exec.dry_run => s.check_intact(),
                _ => Ok(()),
            };
            let view_check = || check().map_err(NotIntact::new);
            let view = SourceView::snapshot(tree.root(), Some(&view_check));
            log::info(format!(
                "reading the sources from the snapshot mounted at {}",
                mount.display()
            ));
            let r = engine(&view).map_err(AroundError::Engine);
            match r {
                // A failed read of an overflowed LVM snapshot says "I/O error"; the
                // overflow is the real cause, so it wins.
                Err(e) if !exec.dry_run && !e.interrupted() => match check() {
                    Err(overflow @ StepError::Overflowed { .. }) => Err(overflow.into()),
                    _ => Err(e),
                },
                r => r,
            }
        }
        Err(e) => Err(e.into()),
    };
    let teardown = teardown(exec, &tree, &made, created);
    match (result, teardown) {
        (Ok(t), Ok(())) => Ok((t, Vec::new())),
        (Ok(t), Err(e)) => {
            let msg =
                format!("the snapshot could not be removed ({e}); the next run removes it first");
            log::error(&msg);
            Ok((t, vec![msg]))
        }
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(t)) => {
            log::error(format!(
                "removing the snapshot: {t}; the next run removes it first"
            ));
            Err(e)
        }
    }
}

/// The engine reading the live file system, when the job has no snapshot step.
fn live<T, E>(
    engine: impl FnOnce(&SourceView<'_>) -> Result<T, E>,
) -> Result<(T, Vec<String>), AroundError<E>> {
    engine(&SourceView::live())
        .map(|t| (t, Vec::new()))
        .map_err(AroundError::Engine)
}

/// A source outside the snapshot would silently be read live (or not at all).
fn check_sources_under(sources: &[String], origin: &str) -> Result<(), StepError> {
    for s in sources {
        if !path_under(s, origin) {
            return Err(StepError::Invalid(format!(
                "source {s} is not under {origin}, the path the snapshot stands for"
            )));
        }
    }
    Ok(())
}

/// Whether absolute path `path` is `base` or lies below it, component by component.
pub fn path_under(path: &str, base: &str) -> bool {
    Path::new(path).starts_with(Path::new(base))
}

/// The private folders of a job's snapshot.
struct Tree {
    /// `<state-dir>/snapshots/<job>`, mode 0700.
    dir: PathBuf,
}

impl Tree {
    fn new(state_dir: &Path, job: &str) -> Self {
        Self {
            dir: state_dir.join("snapshots").join(job),
        }
    }
    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }
    fn mount_point(&self, origin: &str) -> PathBuf {
        snapshot_path(&self.root(), origin)
    }
}

/// Creates the snapshot and mounts it; on any failure undoes nothing itself (teardown does).
fn prepare(
    exec: &Exec,
    tree: &Tree,
    made: &Made,
    created: &mut bool,
) -> Result<PathBuf, StepError> {
    let mount_point = tree.mount_point(made.origin_path());
    exec.note(format!(
        "mkdir -p -m 0700 {}",
        shell_quote(mount_point.as_os_str())
    ));
    if !exec.dry_run {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&mount_point)
            .map_err(StepError::io(format!(
                "cannot create {}",
                mount_point.display()
            )))?;
    }
    stop_point()?;
    match made {
        Made::Lvm(s) => s.create(exec)?,
        Made::Btrfs(s) => s.create(exec)?,
    }
    *created = true;
    stop_point()?;
    let mount = match made {
        Made::Lvm(s) => s.mount_command(exec, &mount_point)?,
        Made::Btrfs(s) => s.mount_command(&mount_point),
    };
    run_ok(exec, &mount)?;
    stop_point()?;
    if !exec.dry_run {
        pause_for_tests()?;
    }
    Ok(mount_point)
}

/// Unmounts, removes the snapshot and the empty folders of the tree. Each part runs even
/// when an earlier one failed; the first error is returned.
fn teardown(exec: &Exec, tree: &Tree, made: &Made, created: bool) -> Result<(), StepError> {
    let unmounted = if exec.dry_run {
        // Nothing was mounted: print what a real run would unmount.
        let at = tree.mount_point(made.origin_path());
        run_ok(exec, &Command::new("umount").arg(at.as_os_str()))
    } else {
        unmount_all_under(exec, &tree.dir)
    };
    let removed = match made {
        _ if !created => Ok(()),
        Made::Lvm(s) => s.remove(exec),
        Made::Btrfs(s) => s.remove(exec),
    };
    let cleaned = if exec.dry_run {
        Ok(())
    } else {
        remove_empty_dirs(&tree.root())
    };
    unmounted.and(removed).and(cleaned)
}

/// What a killed run (SIGKILL, power loss) left: mounts in the private tree (when bakrun ran
/// outside a unit's private namespace) and bakgen's snapshot for this job.
fn clear_leftovers(exec: &Exec, tree: &Tree, made: &Made) -> Result<(), StepError> {
    unmount_all_under(exec, &tree.dir)?;
    let found = match made {
        Made::Lvm(s) => s.remove_leftover(exec)?,
        Made::Btrfs(s) => s.remove_leftover(exec)?,
    };
    if found {
        log::warn("removed the snapshot a previous, killed run of this job left behind");
    }
    if !exec.dry_run {
        remove_empty_dirs(&tree.root())?;
    }
    Ok(())
}

/// Fails when a stop signal arrived, so preparation stops early (teardown still runs).
fn stop_point() -> Result<(), StepError> {
    if signals::stop_requested() {
        Err(StepError::Interrupted)
    } else {
        Ok(())
    }
}

fn pause_for_tests() -> Result<(), StepError> {
    let Some(file) = std::env::var_os(PAUSE_ENV) else {
        return Ok(());
    };
    let file = PathBuf::from(file);
    let mut waiting = file.as_os_str().to_owned();
    waiting.push(".waiting");
    std::fs::write(&waiting, b"").map_err(StepError::io(format!(
        "cannot create {}",
        Path::new(&waiting).display()
    )))?;
    log::info(format!("{PAUSE_ENV}: waiting for {}", file.display()));
    while !file.exists() {
        signals::sleep(std::time::Duration::from_millis(50)).map_err(|_| StepError::Interrupted)?;
    }
    Ok(())
}

/// Runs a command that changes something, to its end even when a stop signal arrives;
/// any failure is an error.
fn run_ok(exec: &Exec, cmd: &Command) -> Result<(), StepError> {
    let finished = exec.run_to_end(cmd)?;
    if finished.code == Some(0) {
        return Ok(());
    }
    Err(StepError::Failed {
        program: cmd.display(),
        status: finished
            .code
            .map_or("a signal".into(), |c| format!("exit code {c}")),
    })
}

/// Runs a read-only query (lvs, blkid, btrfs subvolume show) for real, also in a dry run:
/// it changes nothing and the dry run needs its answer. Returns stdout, or `None` with
/// the exit status text when it failed.
fn query(cmd: &Command) -> Result<Result<String, String>, StepError> {
    log::debug(format!("querying: {}", cmd.display()));
    // Not stoppable, like `run_to_end`: the teardown after a stop asks lvs/btrfs what to
    // remove, and a query killed by the stop would leave the snapshot behind.
    let out = crate::command::process(cmd)
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| CommandError::Spawn {
            program: cmd.program.to_string_lossy().into_owned(),
            source,
        })?;
    if out.status.success() {
        Ok(Ok(String::from_utf8_lossy(&out.stdout).into_owned()))
    } else {
        Ok(Err(format!(
            "{} failed: {}",
            cmd.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Unmounts every mount at or below `dir`, deepest first (a lazy unmount when a plain one
/// is refused, so a busy leftover cannot block every later run).
fn unmount_all_under(exec: &Exec, dir: &Path) -> Result<(), StepError> {
    let info = match std::fs::read("/proc/self/mountinfo") {
        Ok(i) => i,
        Err(e) => return Err(StepError::io("cannot read /proc/self/mountinfo")(e)),
    };
    let mut targets: Vec<PathBuf> = mount_points(&info)
        .into_iter()
        .filter(|m| m.starts_with(dir))
        .collect();
    // Deepest first; the same path twice (stacked mounts) is unmounted twice.
    targets.sort_by_key(|t| std::cmp::Reverse(t.as_os_str().len()));
    let mut first_error = None;
    for t in targets {
        let plain = Command::new("umount").arg(t.as_os_str());
        if run_ok(exec, &plain).is_err() {
            let lazy = Command::new("umount").arg("--lazy").arg(t.as_os_str());
            if let Err(e) = run_ok(exec, &lazy) {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Mount points listed in mountinfo (proc(5)), unescaped.
fn mount_points(info: &[u8]) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    info.split(|&b| b == b'\n')
        .filter_map(|line| line.split(|&b| b == b' ').nth(4))
        .map(|field| {
            PathBuf::from(std::ffi::OsString::from_vec(crate::mount::unescape_octal(
                field,
            )))
        })
        .collect()
}

/// Removes `dir` and the empty folders in it, bottom-up, with rmdir only: should anything
/// still be mounted or hold files, it stays (a recursive delete there could reach into a
/// mounted file system).
fn remove_empty_dirs(dir: &Path) -> Result<(), StepError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StepError::io(format!("cannot list {}", dir.display()))(e)),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_empty_dirs(&entry.path())?;
        }
    }
    std::fs::remove_dir(dir).map_err(StepError::io(format!(
        "cannot remove {} (something is still mounted or left in it)",
        dir.display()
    )))
}

/// The name part of bakgen's LVM names and tags. LVM allows `[A-Za-z0-9+_.-]`; a job name
/// made of those is used as it is. Otherwise the other characters become `_` and a hash of
/// the whole name follows, so that jobs `web 1` and `web_1` never share (and never remove)
/// each other's snapshot.
pub fn name_part(job: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+_.-".contains(c);
    if job.chars().all(allowed) {
        return job.to_owned();
    }
    let cleaned: String = job
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = job.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{cleaned}-{hash:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_must_lie_under_the_origin() {
        assert!(path_under("/srv/data/x", "/srv/data"));
        assert!(path_under("/srv/data", "/srv/data"));
        assert!(!path_under("/srv/database", "/srv/data"));
        assert!(path_under("/etc", "/"));
    }

    #[test]
    fn mountinfo_paths_are_unescaped() {
        let info = b"22 1 8:1 / / rw - ext4 /dev/vda rw\n40 22 0:5 / /mnt/usb\\040disk rw - tmpfs tmpfs rw\n";
        assert_eq!(
            mount_points(info),
            vec![PathBuf::from("/"), PathBuf::from("/mnt/usb disk")]
        );
    }

    #[test]
    fn job_names_become_lvm_names() {
        assert_eq!(name_part("root"), "root");
        assert_eq!(name_part("a-b_c.d+e"), "a-b_c.d+e");
        let spaced = name_part("web 1");
        assert!(spaced.starts_with("web_1-") && spaced.len() == "web_1-".len() + 8);
        assert_ne!(spaced, name_part("web_1"));
        assert_ne!(spaced, name_part("web:1"));
    }
}
