//! A restic job's spot check: which run it reads, where its sample comes from, and the
//! sample restored by one `restic restore --include …` and compared.
//!
//! Each restic command pays about half a second to open the repository, and `restic ls`
//! of a large run a second more: a drill that listed the runs, then the run's files, then
//! restored the sample would take about twice what restoring the sample by hand takes.
//! So when the job's last run recorded its files ([`Restic::recorded_run`]), the sample is
//! drawn from that record and restored from the run's sources snapshot at once, while the
//! repository's runs are listed beside the restore. Only if the newest complete run they
//! show is the recorded one does the drill stand; otherwise (a newer run without a record,
//! the recorded run forgotten or cut short) its restored files are dropped and it starts
//! again the slow way, from the newest complete run's own listing, with the same seed.

use std::path::Path;

use super::compare::Verdict;
use super::sample::Drawn;
use super::{local_verdicts, newest, Drill, VerifyError};
use crate::command::shell_quote;
use crate::engine::restic::{RecordedRun, Restic, Unrestored};
use crate::engine::{Engine, Snapshot};
use crate::{log, signals};

type Verdicts = Vec<(String, Verdict)>;

/// The run read, the sample and its verdicts; `snapshot_id` is set as soon as the run is
/// known, for the record of a drill that fails after.
pub(super) fn verdicts(
    d: &Drill<'_>,
    restic: &Restic,
    snapshot_id: &mut Option<String>,
) -> Result<(Snapshot, Drawn, Verdicts), VerifyError> {
    // A dry run shows the slow way's commands: it runs nothing beside anything.
    if !d.exec.dry_run {
        if let Some(recorded) = restic.recorded_run() {
            if let Some(done) = from_record(d, restic, recorded, snapshot_id)? {
                return Ok(done);
            }
        }
    }
    let snapshot = newest(restic.snapshots()?, d.spec)?;
    *snapshot_id = Some(snapshot.id.clone());
    let drawn = d.draw(&snapshot, restic.regular_files(&snapshot)?);
    let restored = d.scratch.join("files");
    let unrestored = restic.restore_files(&d.exec, &snapshot, &drawn.files, &restored)?;
    let verdicts = compared(d, &drawn, &restored, unrestored)?;
    Ok((snapshot, drawn, verdicts))
}

/// The drill from `recorded`, if that is the newest complete run; `None` if it is not
/// (and nothing of it is left in the drill's folder).
fn from_record(
    d: &Drill<'_>,
    restic: &Restic,
    recorded: RecordedRun,
    snapshot_id: &mut Option<String>,
) -> Result<Option<(Snapshot, Drawn, Verdicts)>, VerifyError> {
    let listing = restic.list_beside()?;
    let time = crate::engine::run_name::parse_snapshot_name(&recorded.run)
        .unwrap_or_else(|| chrono::Local::now().fixed_offset());
    let short = recorded.short_id().to_owned();
    let tentative = Snapshot {
        id: short.clone(),
        time,
        path: None,
    };
    log::debug(format!(
        "sample drawn from the record of run {} (snapshot {short}), checked against the repository's runs",
        recorded.run
    ));
    let drawn = d.draw(&tentative, recorded.files);
    let restored = d.scratch.join("files");
    let result = restic
        .restore_files_of(
            &d.exec,
            std::slice::from_ref(&recorded.snapshot),
            &drawn.files,
            &restored,
        )
        .map_err(VerifyError::from)
        .and_then(|unrestored| compared(d, &drawn, &restored, unrestored));
    // Waited for whatever the restore came to: no restic is left behind.
    let runs = restic.complete_runs_beside(listing);
    if signals::stop_requested() {
        return Err(VerifyError::Interrupted);
    }
    let newest = newest(runs?, d.spec)?;
    if newest.id == short {
        *snapshot_id = Some(newest.id.clone());
        return Ok(Some((newest, drawn, result?)));
    }
    log::info(format!(
        "the files recorded by run {} are not of the newest complete run {}: drawing from its listing instead",
        recorded.run, newest.id
    ));
    if let Err(e) = std::fs::remove_dir_all(&restored) {
        if e.kind() != std::io::ErrorKind::NotFound {
            return Err(VerifyError::Io {
                context: format!("cannot empty {}", restored.display()),
                source: e,
            });
        }
    }
    Ok(None)
}

/// The restored sample under `restored` against the live files; a file restic could not
/// restore is a mismatch in its words.
fn compared(
    d: &Drill<'_>,
    drawn: &Drawn,
    restored: &Path,
    unrestored: Unrestored,
) -> Result<Verdicts, VerifyError> {
    if signals::stop_requested() {
        return Err(VerifyError::Interrupted);
    }
    if d.exec.dry_run {
        println!(
            "# compare each file under {} with the live file",
            shell_quote(restored.as_os_str())
        );
    }
    let rest: Vec<String> = drawn
        .files
        .iter()
        .filter(|f| !unrestored.iter().any(|(p, _)| p == *f))
        .cloned()
        .collect();
    let mut verdicts: Verdicts = unrestored
        .into_iter()
        .map(|(path, why)| {
            (
                path,
                Verdict::Mismatch(format!("restic could not restore it: {why}")),
            )
        })
        .collect();
    verdicts.extend(local_verdicts(&d.exec, &rest, restored)?);
    Ok(verdicts)
}
