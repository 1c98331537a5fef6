//! The transfer into a `.incomplete` tree (reusing the newest interrupted one), and how it
//! becomes a complete snapshot: dumps written, the source view checked, data flushed,
//! renamed, `latest` pointed at it.

use std::ffi::OsString;
use std::path::Path;

use super::{dumps, incomplete, rsync_failed, Rsync, INCOMPLETE, LATEST, RSYNC_FLAGS};
use crate::command::{shell_quote, Command, Exec};
use crate::engine::run_name::snapshot_name;
use crate::engine::{BackupOutcome, EngineError, Snapshot, TransferStats};
use crate::source_view::SourceView;
use crate::spec::Remote;
use crate::{log, signals};

/// rsync exit code 24: files vanished while being read, normal on a live system.
const RSYNC_VANISHED: i32 = 24;

impl Rsync {
    /// [`crate::engine::Engine::backup_from`].
    pub(super) fn backup_into(
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
        let run_time = crate::engine::clock::run_time_after(scan.complete.last().map(|s| s.time))?;
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
            incomplete::remove_outside_sources(&target, &self.spec.sources)?;
            if let Some(prev) = &link_dest {
                incomplete::unlink_shared_with(&target, prev)?;
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
        dumps::into_snapshot(exec, &self.spec, &target)?;
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

    pub(super) fn ssh_command(remote: &Remote) -> String {
        let mut words: Vec<String> = vec!["ssh".into()];
        words.extend(crate::engine::ssh_options(
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
        if crate::progress::wanted() {
            cmd = cmd
                .arg("--info=progress2")
                .progress(crate::progress::Format::Rsync);
        }
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
        let mut dest = target.as_os_str().to_owned();
        dest.push("/");
        self.selection(cmd, view).arg(dest)
    }

    /// What a run reads, added to `cmd`: the job's excludes and its sources (through
    /// `view`, or on the remote host through the job's ssh). The backup and the count of
    /// the live files ([`Rsync::count_live`]) read the same files this way.
    pub(super) fn selection(&self, mut cmd: Command, view: &SourceView<'_>) -> Command {
        for pattern in &self.spec.excludes {
            cmd = cmd.arg(format!("--exclude={pattern}"));
        }
        match &self.spec.remote {
            Some(remote) => {
                cmd = cmd.arg("-e").arg(Self::ssh_command(remote));
                for source in &self.spec.sources {
                    cmd = cmd.arg(remote_path(remote, source));
                }
                cmd
            }
            None => cmd.args(self.spec.sources.iter().map(|s| view.rsync_source(s))),
        }
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

/// `host:path` as rsync reads a remote path (an IPv6 address in brackets).
pub(super) fn remote_path(remote: &Remote, path: &str) -> String {
    if remote.address.contains(':') {
        format!("[{}]:{path}", remote.address)
    } else {
        format!("{}:{path}", remote.address)
    }
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
}
