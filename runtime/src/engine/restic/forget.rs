//! Removing runs: those retention or `bakrun prune` gives up, those cut short, and a run
//! that failed part way (it must not stay behind looking like a backup).

use super::listing::{complete, run_named};
use super::Restic;
use crate::command::Exec;
use crate::engine::{EngineError, Snapshot};
use crate::{log, signals};

impl Restic {
    /// Forgets every restic snapshot of the given runs ([`crate::engine::Engine::forget`]).
    pub(super) fn forget_runs(
        &self,
        exec: &Exec,
        snapshots: &[Snapshot],
    ) -> Result<(), EngineError> {
        let runs = self.runs()?;
        let mut ids = Vec::new();
        for snapshot in snapshots {
            let Some(members) = run_named(&runs, snapshot) else {
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

    /// Forgets the snapshots of runs that never completed. Only called with the job's
    /// lock held, so no run of this job is in progress.
    pub(super) fn clear_incomplete(&self, exec: &Exec) -> Result<(), EngineError> {
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
    pub(super) fn discard_run(&self, exec: &Exec, run: &str, also: Option<&str>) {
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

    pub(super) fn forget_ids(&self, exec: &Exec, ids: &[String]) -> Result<(), EngineError> {
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
}
