//! `lvm-snapshot`: a copy-on-write snapshot of a logical volume, `lvcreate -s`, named
//! `bakgen-<job>` in the origin's volume group and tagged `bakgen` and `bakgen-job-<job>`,
//! so a run can find what a killed run left and never mistakes anyone else's volume for it.
//!
//! The snapshot holds only the blocks the origin changes while it exists (`size=`); when
//! they outgrow it, the kernel invalidates it (`lvs` attribute `I`, `snap_percent` 100) and
//! every read fails. [`LvmSnapshot::check_intact`] tells the engine so before it calls a
//! backup complete.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::{name_part, query, run_ok, StepError};
use crate::command::{Command, Exec};
use crate::log;

#[derive(Debug, Clone)]
pub struct LvmSnapshot {
    group: String,
    origin: String,
    size: String,
    origin_path: String,
    /// `bakgen-<job>`.
    name: String,
    /// `bakgen-job-<job>`.
    job_tag: String,
    job: String,
}

/// The tag every snapshot bakgen makes carries.
pub const TAG: &str = "bakgen";

impl LvmSnapshot {
    pub fn new(job: &str, volume: &str, size: &str, origin_path: &str) -> Result<Self, StepError> {
        let (group, origin) = volume
            .split_once('/')
            .filter(|(g, v)| !g.is_empty() && !v.is_empty() && !v.contains('/'))
            .ok_or_else(|| {
                StepError::Invalid(format!(
                    "lvm-snapshot volume `{volume}` is not `group/volume`"
                ))
            })?;
        if !origin_path.starts_with('/') {
            return Err(StepError::Invalid(format!(
                "lvm-snapshot origin path `{origin_path}` is not absolute"
            )));
        }
        let part = name_part(job);
        Ok(Self {
            group: group.to_owned(),
            origin: origin.to_owned(),
            size: size.to_owned(),
            origin_path: origin_path.to_owned(),
            name: format!("bakgen-{part}"),
            job_tag: format!("bakgen-job-{part}"),
            job: job.to_owned(),
        })
    }

    pub fn origin_path(&self) -> &str {
        &self.origin_path
    }

    /// `group/bakgen-<job>`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.group, self.name)
    }

    fn device(&self) -> String {
        format!("/dev/{}/{}", self.group, self.name)
    }

    fn origin_device(&self) -> String {
        format!("/dev/{}/{}", self.group, self.origin)
    }

    /// The origin must be mounted at `origin-path`: a snapshot mounted at the wrong path
    /// would record every file under a wrong name.
    fn check_origin_mounted(&self) -> Result<(), StepError> {
        let dev = self.origin_device();
        let meta = std::fs::metadata(&dev).map_err(StepError::io(format!(
            "cannot find the origin volume {dev}"
        )))?;
        if !meta.file_type().is_block_device() {
            return Err(StepError::Invalid(format!("{dev} is not a block device")));
        }
        let at = std::fs::metadata(&self.origin_path)
            .map_err(StepError::io(format!("cannot read {}", self.origin_path)))?;
        let is_mount = crate::mount::is_mount_point(Path::new(&self.origin_path))
            .map_err(StepError::io(format!("cannot check {}", self.origin_path)))?;
        if at.dev() != meta.rdev() || !is_mount {
            return Err(StepError::Invalid(format!(
                "{} is not mounted at {}: set lvm-snapshot's mount-point= to where it is mounted",
                self.origin_device(),
                self.origin_path
            )));
        }
        Ok(())
    }

    pub fn create(&self, exec: &Exec) -> Result<(), StepError> {
        if !exec.dry_run {
            self.check_origin_mounted()?;
        }
        // `20%ORIGIN` is a number of extents (-l), `2G` a size (-L).
        let size_flag = if self.size.contains('%') { "-l" } else { "-L" };
        let cmd = lvm_command("lvcreate")
            .args(["--snapshot", "--name", &self.name])
            .args(["--addtag", TAG, "--addtag", &self.job_tag])
            .args([size_flag, &self.size])
            .arg(format!("{}/{}", self.group, self.origin));
        log::info(format!("creating LVM snapshot {}", self.full_name()));
        run_ok(exec, &cmd)
    }

    /// `mount -o ro,… -t TYPE` with the options that keep a snapshot of a mounted file
    /// system read-only: ext4 must not replay its journal (`noload`), xfs must not refuse
    /// the duplicate UUID of its origin (`nouuid`). The type comes from the origin (blkid
    /// probes it for real, also in a dry run, when the snapshot does not exist).
    pub fn mount_command(&self, exec: &Exec, at: &Path) -> Result<Command, StepError> {
        let probe = Command::new("blkid")
            .args(["-p", "-o", "value", "-s", "TYPE"])
            .arg(self.origin_device());
        let fstype = match query(&probe)? {
            Ok(out) => out.trim().to_owned(),
            Err(why) if exec.dry_run => {
                exec.note(format!(
                    "{why}; the mount options below assume no journal to skip"
                ));
                String::new()
            }
            Err(why) => {
                return Err(StepError::Invalid(format!(
                    "cannot tell the file system of {}: {why}",
                    self.origin_device()
                )))
            }
        };
        let options = match fstype.as_str() {
            "ext3" | "ext4" => "ro,noload",
            "xfs" => "ro,nouuid",
            _ => "ro",
        };
        let mut cmd = Command::new("mount").args(["-o", options]);
        if !fstype.is_empty() {
            cmd = cmd.args(["-t", &fstype]);
        }
        Ok(cmd.arg(self.device()).arg(at.as_os_str()))
    }

    /// Whether the snapshot is still valid (see the module comment).
    pub fn check_intact(&self) -> Result<(), StepError> {
        let cmd = Command::new("lvs")
            .args(["--noheadings", "--nosuffix", "--separator", "|"])
            .args(["-o", "lv_attr,snap_percent"])
            .arg(self.full_name());
        let out = match query(&cmd)? {
            Ok(out) => out,
            Err(why) => {
                // A snapshot that vanished (dmeventd may drop an invalid one) is no
                // better than an overflowed one.
                return Err(StepError::Overflowed {
                    volume: self.full_name(),
                    detail: format!("it can no longer be listed: {why}"),
                });
            }
        };
        let line = out.trim();
        let (attr, percent) = line.split_once('|').unwrap_or((line, ""));
        let attr = attr.trim();
        let percent: f64 = percent.trim().parse().unwrap_or(0.0);
        if attr.chars().nth(4) == Some('I') || percent >= 100.0 {
            return Err(StepError::Overflowed {
                volume: self.full_name(),
                detail: format!("lv_attr {attr}, {percent}% of its space used"),
            });
        }
        log::info(format!(
            "LVM snapshot {} used {percent}% of its space",
            self.full_name()
        ));
        Ok(())
    }

    /// Logical volumes tagged for this job: `(group, name, tags)`.
    fn tagged(&self) -> Result<Vec<(String, String, String)>, StepError> {
        let cmd = Command::new("lvs")
            .args(["--noheadings", "--separator", "|"])
            .args(["-o", "vg_name,lv_name,lv_tags"])
            .arg(format!("@{}", self.job_tag));
        let out = query(&cmd)?.map_err(StepError::Invalid)?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut f = l.trim().split('|');
                Some((
                    f.next()?.trim().to_owned(),
                    f.next()?.trim().to_owned(),
                    f.next().unwrap_or("").trim().to_owned(),
                ))
            })
            .collect())
    }

    fn exists(&self) -> Result<bool, StepError> {
        let cmd = Command::new("lvs")
            .args(["--noheadings", "-o", "lv_tags"])
            .arg(self.full_name());
        Ok(query(&cmd)?.is_ok())
    }

    /// Removes bakgen's snapshot of this job if one is left: it must carry both tags and
    /// bakgen's name. A volume that has the name but not the tags is someone else's.
    pub fn remove_leftover(&self, exec: &Exec) -> Result<bool, StepError> {
        let mut found = false;
        for (group, name, tags) in self.tagged()? {
            let tags: Vec<&str> = tags.split(',').collect();
            if group == self.group && name == self.name && tags.contains(&TAG) {
                log::warn(format!("found leftover LVM snapshot {group}/{name}"));
                self.lvremove(exec)?;
                found = true;
            } else {
                log::warn(format!(
                    "{group}/{name} carries tag {} but is not named {}: left alone",
                    self.job_tag,
                    self.full_name()
                ));
            }
        }
        if !found && self.exists()? {
            return Err(StepError::NotOurs {
                path: self.full_name(),
                job: self.job.clone(),
                why: format!("it lacks the tags {TAG} and {}", self.job_tag),
            });
        }
        Ok(found)
    }

    /// Removes the snapshot this run made; nothing to do if creating it failed.
    pub fn remove(&self, exec: &Exec) -> Result<(), StepError> {
        if !exec.dry_run && !self.exists()? {
            return Ok(());
        }
        log::info(format!("removing LVM snapshot {}", self.full_name()));
        self.lvremove(exec)
    }

    fn lvremove(&self, exec: &Exec) -> Result<(), StepError> {
        // `-y`: lvremove asks before removing an active volume, and stdin is closed.
        let cmd = lvm_command("lvremove").arg("-y").arg(self.full_name());
        run_ok(exec, &cmd)
    }
}

/// lvm warns about every descriptor it inherits; the job's lock is inherited on purpose
/// (see `command::process`).
fn lvm_command(program: &str) -> Command {
    Command::new(program).env("LVM_SUPPRESS_FD_WARNINGS", "1")
}
