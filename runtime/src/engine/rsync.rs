//! Hard-linked rsync snapshots: `<path>/<host>/<job>/<timestamp>`, each a full tree in which
//! files unchanged since the previous snapshot are hard links to it (`--link-dest`).
//!
//! Folder names in the job folder:
//! - `20260401T023000+0200`: a complete snapshot ([`snapshot_name`]);
//! - `….incomplete`: a transfer that has not finished (interrupted, killed, power loss).
//!   Never listed, restored from or counted by retention; the next run renames it to its own
//!   name and lets rsync finish it, so little is sent again;
//! - `….deleting`: a snapshot being removed (renamed first, so that a removal cut short
//!   never leaves a half-empty tree that looks complete); removed by the next run;
//! - `latest`: a symbolic link to the newest complete snapshot, replaced atomically.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, FixedOffset};

use super::{BackupOutcome, Engine, EngineError, Snapshot, TransferStats};
use crate::command::{shell_quote, Command, Exec};
use crate::spec::{Destination, JobSpec, Remote};
use crate::step::SourceView;
use crate::{log, signals};

const INCOMPLETE: &str = ".incomplete";
const DELETING: &str = ".deleting";
const LATEST: &str = "latest";

/// The snapshot name format: ISO 8601 basic format with the local UTC offset,
/// `20260401T023000+0200`. It carries the offset (retention buckets are local days), has no
/// `:` (rsync would read `a:b` as a remote path), no spaces, and sorts by time while the
/// offset stays the same; bakrun itself always orders snapshots by the parsed instant.
pub const NAME_FORMAT: &str = "%Y%m%dT%H%M%S%z";

pub fn snapshot_name(time: &DateTime<FixedOffset>) -> String {
    time.format(NAME_FORMAT).to_string()
}

/// The time in a complete snapshot's folder name, or `None` for any other name.
pub fn parse_snapshot_name(name: &str) -> Option<DateTime<FixedOffset>> {
    if name.len() != "20260401T023000+0200".len() {
        return None;
    }
    DateTime::parse_from_str(name, NAME_FORMAT).ok()
}

/// rsync's options for a snapshot: archive mode plus hard links (-H), ACLs (-A), extended
/// attributes (-X), sparse files (-S) and numeric owners (a restore onto a rescue system
/// must not remap ids by name). `--relative` keeps each source's full path inside the
/// snapshot, so several sources never collide. `--delete`/`--delete-excluded` only matter
/// when finishing a reused `.incomplete` tree: files gone from the source must go.
/// `--modify-window=-1` compares modification times to the nanosecond: by default rsync
/// compares whole seconds, so a file rewritten with the same size within the second of
/// the last snapshot would be hard-linked to the old content.
pub const RSYNC_FLAGS: &[&str] = &[
    "-aHAXS",
    "--numeric-ids",
    "--modify-window=-1",
    "--relative",
    "--delete",
    "--delete-excluded",
    "--stats",
];

/// rsync exit code 24: files vanished while being read, normal on a live system.
const RSYNC_VANISHED: i32 = 24;

#[derive(Debug)]
pub struct Rsync {
    spec: JobSpec,
    /// `<path>/<host>/<job>`.
    job_dir: PathBuf,
}

impl Rsync {
    pub fn new(spec: &JobSpec) -> Result<Self, EngineError> {
        let Destination::Snapshots { path, .. } = &spec.destination else {
            return Err(EngineError::Invalid(
                "the rsync engine needs a snapshots destination".into(),
            ));
        };
        Ok(Self {
            spec: spec.clone(),
            job_dir: Path::new(path).join(&spec.host).join(&spec.job),
        })
    }

    pub fn job_dir(&self) -> &Path {
        &self.job_dir
    }

    /// Sorted folder names of the job folder, split by kind.
    fn scan(&self) -> Result<Scan, EngineError> {
        let mut scan = Scan::default();
        let entries = match std::fs::read_dir(&self.job_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(scan),
            Err(source) => {
                return Err(EngineError::Io {
                    context: format!("cannot list {}", self.job_dir.display()),
                    source,
                })
            }
        };
        for entry in entries {
            let entry = entry.map_err(EngineError::io(format!(
                "cannot list {}",
                self.job_dir.display()
            )))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if !is_dir {
                continue;
            }
            if let Some(stem) = name.strip_suffix(INCOMPLETE) {
                if parse_snapshot_name(stem).is_some() {
                    scan.incomplete.push(name);
                }
            } else if let Some(stem) = name.strip_suffix(DELETING) {
                if parse_snapshot_name(stem).is_some() {
                    scan.deleting.push(name);
                }
            } else if let Some(time) = parse_snapshot_name(&name) {
                scan.complete.push(Snapshot {
                    path: Some(self.job_dir.join(&name)),
                    id: name,
                    time,
                });
            }
        }
        scan.complete.sort_by_key(|s| s.time);
        scan.incomplete.sort();
        Ok(scan)
    }

    fn ssh_command(remote: &Remote) -> String {
        let mut words: Vec<String> = vec!["ssh".into()];
        words.extend(super::ssh_options(
            remote.port,
            remote.identity.as_deref(),
            remote.known_hosts.as_deref(),
        ));
        if let Some(user) = &remote.user {
            words.push("-l".into());
            words.push(user.clone());
        }
        // rsync splits `-e` on spaces and honours single quotes.
        words
            .iter()
            .map(|w| shell_quote(w.as_ref()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The rsync command that fills `target` (a `.incomplete` folder), reading local sources
    /// through `view` (see [`SourceView::rsync_source`]: the original paths are recorded).
    pub fn backup_command(
        &self,
        target: &Path,
        link_dest: Option<&Path>,
        view: &SourceView<'_>,
    ) -> Command {
        let mut cmd = Command::new("rsync").args(RSYNC_FLAGS.iter().copied());
        // Units run jobs as the `bakgen` user with CAP_CHOWN and friends: rsync only keeps
        // owners, devices and special files when told to act as the super-user.
        if !running_as_root() {
            cmd = cmd.arg("--super");
        }
        if let Some(prev) = link_dest {
            let mut arg = OsString::from("--link-dest=");
            arg.push(prev);
            cmd = cmd.arg(arg);
        }
        // A pull downloads; the compiler puts its limit in download-kib.
        if let Some(kib) = self
            .spec
            .limits
            .download_kib
            .or(self.spec.limits.upload_kib)
        {
            cmd = cmd.arg(format!("--bwlimit={kib}"));
        }
        for pattern in &self.spec.excludes {
            cmd = cmd.arg(format!("--exclude={pattern}"));
        }
        match &self.spec.remote {
            Some(remote) => {
                cmd = cmd.arg("-e").arg(Self::ssh_command(remote));
                let host = if remote.address.contains(':') {
                    format!("[{}]", remote.address)
                } else {
                    remote.address.clone()
                };
                for source in &self.spec.sources {
                    cmd = cmd.arg(format!("{host}:{source}"));
                }
            }
            None => cmd = cmd.args(self.spec.sources.iter().map(|s| view.rsync_source(s))),
        }
        let mut dest = target.as_os_str().to_owned();
        dest.push("/");
        cmd.arg(dest)
    }

    fn snapshot_dir(&self, snapshot: &Snapshot) -> PathBuf {
        snapshot
            .path
            .clone()
            .unwrap_or_else(|| self.job_dir.join(&snapshot.id))
    }

    /// Removes leftovers of removals that were cut short.
    fn clear_deleting(&self, exec: &Exec, scan: &Scan) -> Result<(), EngineError> {
        for name in &scan.deleting {
            let dir = self.job_dir.join(name);
            exec.note(format!("rm -rf {}", shell_quote(dir.as_os_str())));
            if !exec.dry_run {
                std::fs::remove_dir_all(&dir)
                    .map_err(EngineError::io(format!("cannot remove {}", dir.display())))?;
            }
        }
        Ok(())
    }

    /// Points `latest` at `name`: a new link under a temporary name renamed over the old
    /// one, so readers always see either the old or the new target.
    fn point_latest(&self, exec: &Exec, name: &str) -> Result<(), EngineError> {
        let link = self.job_dir.join(LATEST);
        exec.note(format!(
            "ln -sfn {} {}",
            shell_quote(name.as_ref()),
            shell_quote(link.as_os_str())
        ));
        if exec.dry_run {
            return Ok(());
        }
        let tmp = self.job_dir.join(format!(".{LATEST}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(name, &tmp)
            .map_err(EngineError::io(format!("cannot create {}", tmp.display())))?;
        std::fs::rename(&tmp, &link).map_err(EngineError::io(format!(
            "cannot replace {}",
            link.display()
        )))
    }
}

#[derive(Debug, Default)]
struct Scan {
    complete: Vec<Snapshot>,
    incomplete: Vec<String>,
    deleting: Vec<String>,
}

impl Engine for Rsync {
    fn name(&self) -> &'static str {
        "rsync"
    }

    fn backup_from(
        &self,
        exec: &Exec,
        view: &SourceView<'_>,
    ) -> Result<BackupOutcome, EngineError> {
        if self.spec.remote.is_some() && !view.is_live() {
            return Err(EngineError::Invalid(
                "a snapshot step cannot apply to sources pulled from another machine".into(),
            ));
        }
        let io =
            |what: &str, path: &Path| EngineError::io(format!("cannot {what} {}", path.display()));
        if !exec.dry_run {
            std::fs::create_dir_all(&self.job_dir).map_err(io("create", &self.job_dir))?;
        } else if !self.job_dir.exists() {
            exec.note(format!(
                "mkdir -p {}",
                shell_quote(self.job_dir.as_os_str())
            ));
        }
        let scan = self.scan()?;
        self.clear_deleting(exec, &scan)?;
        let run_time = super::clock::run_time_after(scan.complete.last().map(|s| s.time))?;
        let time = run_time.time;
        let mut warnings: Vec<String> = run_time.warning.into_iter().collect();
        for w in &warnings {
            log::warn(w);
        }
        let name = snapshot_name(&time);
        let target = self.job_dir.join(format!("{name}{INCOMPLETE}"));

        // Reuse the newest interrupted transfer: what it already holds is not sent again.
        // Older ones (several interrupted runs in a row) are superseded by it.
        let mut leftovers = scan.incomplete.iter().rev();
        match leftovers.next() {
            Some(old) => {
                let old = self.job_dir.join(old);
                log::info(format!(
                    "reusing interrupted transfer {}",
                    old.file_name().unwrap_or_default().to_string_lossy()
                ));
                exec.note(format!(
                    "mv {} {}",
                    shell_quote(old.as_os_str()),
                    shell_quote(target.as_os_str())
                ));
                if !exec.dry_run {
                    std::fs::rename(&old, &target).map_err(io("rename", &old))?;
                }
            }
            None => {
                exec.note(format!("mkdir {}", shell_quote(target.as_os_str())));
                if !exec.dry_run {
                    std::fs::create_dir(&target).map_err(io("create", &target))?;
                }
            }
        }
        let link_dest = scan.complete.last().map(|s| self.snapshot_dir(s));
        if !exec.dry_run && target.exists() {
            remove_outside_sources(&target, &self.spec.sources)?;
            if let Some(prev) = &link_dest {
                unlink_shared_with(&target, prev)?;
            }
        }
        for stale in leftovers {
            let stale = self.job_dir.join(stale);
            exec.note(format!("rm -rf {}", shell_quote(stale.as_os_str())));
            if !exec.dry_run {
                std::fs::remove_dir_all(&stale).map_err(io("remove", &stale))?;
            }
        }

        let cmd = self.backup_command(&target, link_dest.as_deref(), view);
        log::info(format!("snapshot {name}: rsync started"));
        let (finished, stderr) = exec.run_explained(&cmd)?;
        if finished.interrupted || signals::stop_requested() {
            return Err(EngineError::Interrupted);
        }
        match finished.code {
            Some(0) => {}
            Some(RSYNC_VANISHED) => {
                warnings.push("some source files vanished during the transfer".to_owned());
            }
            code => return Err(rsync_failed(code, &stderr)),
        }
        let stats = parse_stats(&finished.stdout);
        // Database dumps become files of the snapshot (`dumps/<db>.sql`) before its name
        // says complete; a failed dump leaves only the `.incomplete` tree.
        crate::dump::into_snapshot(exec, &self.spec, &target)?;
        // Before the name says "complete": a transfer read from a snapshot that overflowed
        // meanwhile stays `.incomplete` (the next run finishes it from a fresh snapshot).
        view.check_intact()?;

        let done = self.job_dir.join(&name);
        if !exec.dry_run {
            // The data must be on disk before the name says "complete": after a power loss
            // a renamed snapshot with empty files would be worse than an .incomplete one.
            sync_filesystem(&target).map_err(io("flush", &target))?;
            log::debug("destination file system flushed");
        }
        exec.note(format!(
            "mv {} {}",
            shell_quote(target.as_os_str()),
            shell_quote(done.as_os_str())
        ));
        if !exec.dry_run {
            std::fs::rename(&target, &done).map_err(io("rename", &target))?;
        }
        self.point_latest(exec, &name)?;
        if !exec.dry_run {
            // Make the rename and the link durable too.
            if let Ok(dir) = std::fs::File::open(&self.job_dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(BackupOutcome {
            snapshot: Snapshot {
                id: name,
                time,
                path: Some(done),
            },
            stats,
            warnings,
        })
    }

    fn snapshots(&self) -> Result<Vec<Snapshot>, EngineError> {
        Ok(self.scan()?.complete)
    }

    fn files(&self, snapshot: &Snapshot) -> Result<Vec<String>, EngineError> {
        let root = self.snapshot_dir(snapshot);
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir)
                .map_err(EngineError::io(format!("cannot list {}", dir.display())))?;
            for entry in entries {
                let entry =
                    entry.map_err(EngineError::io(format!("cannot list {}", dir.display())))?;
                let path = entry.path();
                let rel = path.strip_prefix(&root).unwrap_or(&path);
                let mut shown = format!("/{}", rel.to_string_lossy());
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    shown.push('/');
                    stack.push(path);
                }
                out.push(shown);
            }
        }
        out.sort();
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
        let rel = relative_source_path(path)?;
        let snap_dir = self.snapshot_dir(snapshot);
        let source = snap_dir.join(&rel);
        if std::fs::symlink_metadata(&source).is_err() {
            return Err(EngineError::NotInSnapshot {
                path: path.to_owned(),
                snapshot: snapshot.id.clone(),
            });
        }
        // `rsync SRC TO/` puts SRC's last component inside TO; the whole snapshot ("/")
        // is restored as TO itself.
        let (src_arg, target) = match rel.file_name() {
            Some(last) => (source.as_os_str().to_owned(), to.join(last)),
            None => {
                let mut s = source.as_os_str().to_owned();
                s.push("/");
                (s, to.to_owned())
            }
        };
        if !force {
            let clashes = clashes(&source, &target)?;
            if let Some(first) = clashes.first() {
                return Err(EngineError::WouldOverwrite {
                    count: clashes.len(),
                    first: first.clone(),
                });
            }
        }
        if !exec.dry_run {
            std::fs::create_dir_all(to)
                .map_err(EngineError::io(format!("cannot create {}", to.display())))?;
        } else if !to.exists() {
            exec.note(format!("mkdir -p {}", shell_quote(to.as_os_str())));
        }
        let mut cmd = Command::new("rsync").args(["-aHAXS", "--numeric-ids"]);
        cmd = cmd.arg(if force {
            // Size and time may match while content differs (two edits in one second):
            // an overwrite asked for must really copy.
            "--ignore-times"
        } else {
            // Belt and braces: a file that appears after the check is still not replaced.
            "--ignore-existing"
        });
        let mut dest = to.as_os_str().to_owned();
        dest.push("/");
        let cmd = cmd.arg(src_arg).arg(dest);
        let (finished, stderr) = exec.run_explained(&cmd)?;
        if finished.interrupted {
            return Err(EngineError::Interrupted);
        }
        match finished.code {
            Some(0) => Ok(()),
            code => Err(rsync_failed(code, &stderr)),
        }
    }

    fn forget(&self, exec: &Exec, snapshots: &[Snapshot]) -> Result<(), EngineError> {
        for snapshot in snapshots {
            let dir = self.snapshot_dir(snapshot);
            let doomed = self.job_dir.join(format!("{}{DELETING}", snapshot.id));
            exec.note(format!("rm -rf {}", shell_quote(dir.as_os_str())));
            if exec.dry_run {
                continue;
            }
            std::fs::rename(&dir, &doomed)
                .map_err(EngineError::io(format!("cannot rename {}", dir.display())))?;
            std::fs::remove_dir_all(&doomed).map_err(EngineError::io(format!(
                "cannot remove {}",
                doomed.display()
            )))?;
        }
        Ok(())
    }
}

/// rsync's failure in words (see [`super::exit_reason::RSYNC`]).
fn rsync_failed(code: Option<i32>, stderr: &[String]) -> EngineError {
    EngineError::Failed {
        program: "rsync".into(),
        status: super::exit_reason::RSYNC.explain(code, stderr),
    }
}

/// `/etc/hosts` → `etc/hosts`; refuses relative paths and `..`, which could leave the
/// snapshot folder.
fn relative_source_path(path: &str) -> Result<PathBuf, EngineError> {
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

/// Paths under `target` that restoring `source` there would replace: every non-folder
/// in the source whose counterpart exists, and folders whose counterpart is not a folder.
fn clashes(source: &Path, target: &Path) -> Result<Vec<PathBuf>, EngineError> {
    let mut out = Vec::new();
    let mut stack = vec![(source.to_owned(), target.to_owned())];
    while let Some((src, dst)) = stack.pop() {
        let src_meta = std::fs::symlink_metadata(&src)
            .map_err(EngineError::io(format!("cannot read {}", src.display())))?;
        let Ok(dst_meta) = std::fs::symlink_metadata(&dst) else {
            continue;
        };
        if src_meta.is_dir() && dst_meta.is_dir() {
            let entries = std::fs::read_dir(&src)
                .map_err(EngineError::io(format!("cannot list {}", src.display())))?;
            for entry in entries {
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

/// In a reused `.incomplete` tree, removes what lies outside every source path. rsync's
/// `--delete` only works inside each source folder, so a source dropped from the policy
/// since the interrupted run would otherwise linger in the new snapshot.
fn remove_outside_sources(tree: &Path, sources: &[String]) -> Result<(), EngineError> {
    let wanted: Vec<Vec<&std::ffi::OsStr>> = sources
        .iter()
        .map(|s| {
            Path::new(s)
                .components()
                .filter_map(|c| match c {
                    Component::Normal(part) => Some(part),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let mut stack: Vec<(PathBuf, usize)> = vec![(tree.to_owned(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        // The sources passing through this folder (all of them at the top).
        let prefix: Vec<&std::ffi::OsStr> = dir
            .strip_prefix(tree)
            .unwrap_or(Path::new(""))
            .iter()
            .collect();
        let through: Vec<&Vec<&std::ffi::OsStr>> = wanted
            .iter()
            .filter(|w| w.len() > depth && w[..depth] == prefix[..])
            .collect();
        let entries = std::fs::read_dir(&dir)
            .map_err(EngineError::io(format!("cannot list {}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(EngineError::io(format!("cannot list {}", dir.display())))?;
            let name = entry.file_name();
            let matching: Vec<_> = through.iter().filter(|w| w[depth] == name).collect();
            let path = entry.path();
            if matching.is_empty() {
                let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
                let removed = if is_dir {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.map_err(EngineError::io(format!("cannot remove {}", path.display())))?;
            } else if matching.iter().all(|w| w.len() > depth + 1)
                && entry.file_type().map(|t| t.is_dir()).unwrap_or(false)
            {
                // Only an ancestor of sources: look inside. A source itself is rsync's.
                stack.push((path, depth + 1));
            }
        }
    }
    Ok(())
}

/// In a reused `.incomplete` tree, unlinks every file that is a hard link into the previous
/// snapshot. rsync would otherwise update a changed mode, owner, ACL or xattr in place on
/// the shared inode, silently rewriting the previous snapshot; after the unlink it links
/// the file again from `--link-dest` (no data sent) or makes a new copy.
fn unlink_shared_with(tree: &Path, previous: &Path) -> Result<(), EngineError> {
    use std::os::unix::fs::MetadataExt;
    let mut stack = vec![tree.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(EngineError::io(format!("cannot list {}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(EngineError::io(format!("cannot list {}", dir.display())))?;
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path)
                .map_err(EngineError::io(format!("cannot read {}", path.display())))?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            if meta.nlink() < 2 {
                continue;
            }
            let rel = path.strip_prefix(tree).unwrap_or(&path);
            let shared = std::fs::symlink_metadata(previous.join(rel))
                .is_ok_and(|old| old.dev() == meta.dev() && old.ino() == meta.ino());
            if shared {
                std::fs::remove_file(&path)
                    .map_err(EngineError::io(format!("cannot remove {}", path.display())))?;
            }
        }
    }
    Ok(())
}

/// Flushes the file system holding `path` (syncfs(2)): one call instead of an fsync per
/// file, which is what makes rsync's own `--fsync` slow.
fn sync_filesystem(path: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(path)?;
    // SAFETY: syncfs on a file descriptor we own for the duration of the call.
    if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Reads rsync's `--stats` block. Numbers carry thousands separators that depend on the
/// locale (`1,234` or `1.234`), so only the digits of the first word are kept.
pub fn parse_stats(lines: &[String]) -> TransferStats {
    let number = |rest: &str| -> u64 {
        let word = rest.split_whitespace().next().unwrap_or("");
        let digits: String = word.chars().filter(char::is_ascii_digit).collect();
        digits.parse().unwrap_or(0)
    };
    let mut stats = TransferStats::default();
    for line in lines {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "Number of files" => stats.files_total = number(value),
            "Number of regular files transferred" => stats.files_transferred = number(value),
            "Total file size" => stats.bytes_total = number(value),
            "Total transferred file size" => stats.bytes_transferred = number(value),
            "Total bytes sent" | "Total bytes received" => stats.bytes_wire += number(value),
            _ => {}
        }
    }
    stats
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_carry_the_offset() {
        let t = DateTime::parse_from_rfc3339("2026-04-01T02:30:00+02:00").unwrap();
        assert_eq!(snapshot_name(&t), "20260401T023000+0200");
        assert_eq!(parse_snapshot_name("20260401T023000+0200"), Some(t));
        assert_eq!(parse_snapshot_name("20260401T023000+0200.incomplete"), None);
        assert_eq!(parse_snapshot_name("latest"), None);
    }

    #[test]
    fn reads_stats_in_any_locale() {
        let lines: Vec<String> = [
            "Number of files: 1,234 (reg: 1,000, dir: 234)",
            "Number of regular files transferred: 12",
            "Total file size: 5.678.901 bytes",
            "Total transferred file size: 4,096 bytes",
            "Total bytes sent: 100",
            "Total bytes received: 23",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let s = parse_stats(&lines);
        assert_eq!(s.files_total, 1234);
        assert_eq!(s.files_transferred, 12);
        assert_eq!(s.bytes_total, 5_678_901);
        assert_eq!(s.bytes_transferred, 4096);
        assert_eq!(s.bytes_wire, 123);
    }

    #[test]
    fn restore_paths_stay_inside_the_snapshot() {
        assert_eq!(
            relative_source_path("/etc/hosts").unwrap(),
            PathBuf::from("etc/hosts")
        );
        assert!(relative_source_path("etc").is_err());
        assert!(relative_source_path("/etc/../../x").is_err());
        assert_eq!(relative_source_path("/").unwrap(), PathBuf::new());
    }
}
