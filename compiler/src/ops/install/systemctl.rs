//! The systemd commands of a plan, in the order that keeps the system consistent: stale
//! units are stopped and disabled while their files still exist; the `bakgen` user exists
//! before any timer can start a job; systemd has re-read the unit files before anything is
//! enabled or restarted. A backup service is never started here: only timers and
//! automounts are, and the timers start the services on schedule.

use std::path::Path;
use std::process::Command;

use super::plan::UnitPlan;
use crate::emit::paths::SYSUSERS;

/// One command line.
pub type Argv = Vec<String>;

/// Commands to run before files are written or removed.
pub fn before_files(units: &UnitPlan) -> Vec<Argv> {
    let mut out = Vec::new();
    if !units.disable.is_empty() {
        out.push(systemctl(&["disable", "--now"], &units.disable));
    }
    if !units.stop.is_empty() {
        out.push(systemctl(&["stop"], &units.stop));
    }
    out
}

/// Commands to run after every file is in place.
pub fn after_files(units: &UnitPlan, root: &Path) -> Vec<Argv> {
    let mut out = Vec::new();
    if units.sysusers {
        out.push(vec![
            "systemd-sysusers".to_owned(),
            root.join(SYSUSERS).display().to_string(),
        ]);
    }
    if units.reload {
        out.push(systemctl(&["daemon-reload"], &[]));
    }
    if !units.enable.is_empty() {
        out.push(systemctl(&["enable", "--now"], &units.enable));
    }
    if !units.restart.is_empty() {
        out.push(systemctl(&["restart"], &units.restart));
    }
    out
}

fn systemctl(verb: &[&str], units: &[String]) -> Argv {
    std::iter::once("systemctl")
        .chain(verb.iter().copied())
        .map(str::to_owned)
        .chain(units.iter().cloned())
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot run `{}`: {source}", argv.join(" "))]
    Spawn { argv: Argv, source: std::io::Error },
    #[error("`{}` failed ({status}): {stderr}", argv.join(" "))]
    Failed {
        argv: Argv,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

/// Runs one command, failing with its standard error if it exits non-zero.
pub fn run(argv: &Argv) -> Result<(), CommandError> {
    let Some((program, args)) = argv.split_first() else {
        return Ok(());
    };
    let out = Command::new(program)
        .args(args)
        .env("SYSTEMD_PAGER", "")
        .output()
        .map_err(|source| CommandError::Spawn {
            argv: argv.clone(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(CommandError::Failed {
            argv: argv.clone(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}
