//! A job's runs as restic lists them, and the run cache: this process's list of the job's
//! restic snapshots, kept up to date with what it makes and forgets itself, and the last
//! run's name in restic's cache folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Local};
use serde::Deserialize;

use super::failure::{Exit, Said};
use super::{tags, Restic};
use crate::command::{Command, Exec};
use crate::dump::pipe;
use crate::engine::run_name::parse_snapshot_name;
use crate::engine::{EngineError, Snapshot};
use crate::log;

/// A listing running beside other work ([`Restic::list_beside`]).
pub type Beside = std::thread::JoinHandle<std::io::Result<std::process::Output>>;

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
        tags::value(&self.tags, key)
    }
    /// The run it belongs to: its `run=` tag, or itself for a snapshot made by hand.
    fn run(&self) -> String {
        self.tag(tags::RUN)
            .map_or_else(|| format!("id:{}", self.id), str::to_owned)
    }
    fn is_dump(&self) -> bool {
        self.tag(tags::DUMP).is_some()
    }
}

impl Restic {
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

    /// Every snapshot bakrun made in the repository, of every host and job: one `restic
    /// snapshots` for all of them (see [`newest_complete_runs`]).
    pub fn bakgen_snapshots(&self) -> Result<Vec<ResticSnapshot>, EngineError> {
        let cmd = self
            .restic()?
            .args(["--no-lock", "snapshots", "--json", "--tag", tags::BAKGEN]);
        parse_listing(&self.query(&cmd)?)
    }

    /// [`Restic::restic_snapshots`]' listing started in a thread of its own, to run beside
    /// other restic work (each restic command pays half a second to open the repository);
    /// [`Restic::joined_listing`] waits for it.
    pub fn list_beside(&self) -> Result<Beside, EngineError> {
        let cmd = self.listing_command()?;
        log::debug(format!("running: {} (beside other work)", cmd.display()));
        Ok(std::thread::spawn(move || {
            crate::command::output_stoppable(pipe::process(&cmd), &cmd)
        }))
    }

    /// The snapshots [`Restic::list_beside`] listed, or why restic could not list them.
    pub(super) fn joined_listing(
        &self,
        beside: Beside,
    ) -> Result<Vec<ResticSnapshot>, EngineError> {
        match beside.join() {
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
        }
    }

    /// The complete runs ([`crate::engine::Engine::snapshots`]) as listed beside: the
    /// listing becomes this process's list of the job's snapshots.
    pub fn complete_runs_beside(&self, beside: Beside) -> Result<Vec<Snapshot>, EngineError> {
        let listed = self.joined_listing(beside)?;
        *self.listed.borrow_mut() = Some(listed);
        self.complete_runs()
    }

    pub(super) fn listing_command(&self) -> Result<Command, EngineError> {
        Ok(self
            .restic()?
            .args(["--no-lock", "snapshots", "--json", "--host"])
            .arg(&self.spec.host)
            .arg("--tag")
            .arg(tags::job_filter(&self.spec.job)))
    }

    /// Where this cache remembers the job's last run name: the next run's name must come
    /// after it, and knowing it lets that run list the repository *while* it backs up.
    pub(super) fn last_run_file(&self) -> PathBuf {
        Path::new(&self.cache_dir).join(format!(
            "bakgen-last-run-{}-{}",
            self.spec.host, self.spec.job
        ))
    }

    /// The last run's start, when this cache knows it and it is not in the future (a
    /// clock set back must not make a run wait).
    pub(super) fn last_run(&self) -> Option<DateTime<FixedOffset>> {
        let text = std::fs::read_to_string(self.last_run_file()).ok()?;
        let time = parse_snapshot_name(text.trim())?;
        (time <= Local::now().fixed_offset()).then_some(time)
    }

    /// Adds a snapshot this process has just made to [`Restic::listed`], as `restic
    /// snapshots` would show it; without the id restic reported, forgets the listing
    /// instead. Nothing in a dry run, which makes nothing.
    pub(super) fn note_made(
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
    pub(super) fn runs(&self) -> Result<BTreeMap<String, Vec<ResticSnapshot>>, EngineError> {
        let mut runs: BTreeMap<String, Vec<ResticSnapshot>> = BTreeMap::new();
        for s in self.restic_snapshots()? {
            runs.entry(s.run()).or_default().push(s);
        }
        Ok(runs)
    }

    /// The complete runs, oldest first ([`crate::engine::Engine::snapshots`]).
    pub(super) fn complete_runs(&self) -> Result<Vec<Snapshot>, EngineError> {
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
            let time = run_time(&run, first)?;
            out.push(Snapshot {
                id: first.short_id.clone(),
                time,
                path: None,
            });
        }
        out.sort_by_key(|s| s.time);
        Ok(out)
    }

    /// The files of a run ([`crate::engine::Engine::files`]).
    pub(super) fn files_of(&self, snapshot: &Snapshot) -> Result<Vec<String>, EngineError> {
        self.listed_files(snapshot, false)
    }

    /// The regular files of a run's sources snapshot: what a drill draws from, the same a
    /// record of the run holds ([`super::run_files`]).
    pub fn regular_files(&self, snapshot: &Snapshot) -> Result<Vec<String>, EngineError> {
        self.listed_files(snapshot, true)
    }

    /// `restic ls` of each of the run's snapshots (`only_regular`: of its sources
    /// snapshot, and only its regular files), folders shown with a trailing `/`.
    fn listed_files(
        &self,
        snapshot: &Snapshot,
        only_regular: bool,
    ) -> Result<Vec<String>, EngineError> {
        let mut out = Vec::new();
        for member in self.members(snapshot)? {
            if only_regular && member.is_dump() {
                continue;
            }
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
                let kind = node.get("type").and_then(|v| v.as_str());
                if only_regular && kind != Some("file") {
                    continue;
                }
                let mut shown = path.to_owned();
                if kind == Some("dir") {
                    shown.push('/');
                }
                out.push(shown);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The restic snapshots of one run.
    pub(super) fn members(&self, snapshot: &Snapshot) -> Result<Vec<ResticSnapshot>, EngineError> {
        run_named(&self.runs()?, snapshot)
            .cloned()
            .ok_or_else(|| EngineError::NoSnapshot {
                job: self.spec.job.clone(),
                at: snapshot.id.clone(),
            })
    }
}

/// When a run started: the time in its name, else (a snapshot made by hand) its first
/// snapshot's time.
fn run_time(run: &str, first: &ResticSnapshot) -> Result<DateTime<FixedOffset>, EngineError> {
    match parse_snapshot_name(run) {
        Some(t) => Ok(t),
        None => DateTime::parse_from_rfc3339(&first.time).map_err(|e| {
            EngineError::Invalid(format!(
                "restic snapshot {} has an unreadable time `{}`: {e}",
                first.short_id, first.time
            ))
        }),
    }
}

/// The start of the newest complete run of each host and job (by their `host=` and
/// `job=` tags) among the snapshots of a whole repository: complete by the rule of
/// [`complete`], as the job itself counts its runs. Snapshots without both tags, or with
/// an unreadable time, belong to no job and are passed over.
pub fn newest_complete_runs(
    snapshots: Vec<ResticSnapshot>,
) -> BTreeMap<(String, String), DateTime<FixedOffset>> {
    type Runs = BTreeMap<String, Vec<ResticSnapshot>>;
    let mut jobs: BTreeMap<(String, String), Runs> = BTreeMap::new();
    for s in snapshots {
        let (Some(host), Some(job)) = (s.tag("host"), s.tag("job")) else {
            continue;
        };
        let key = (host.to_owned(), job.to_owned());
        jobs.entry(key)
            .or_default()
            .entry(s.run())
            .or_default()
            .push(s);
    }
    let mut out = BTreeMap::new();
    for (key, runs) in jobs {
        let newest = runs
            .iter()
            .filter(|(_, members)| complete(members))
            .filter_map(|(run, members)| run_time(run, members.first()?).ok())
            .max();
        if let Some(t) = newest {
            out.insert(key, t);
        }
    }
    out
}

/// The restic snapshots of the run `snapshot` names (by a member's short or full id).
pub(super) fn run_named<'a>(
    runs: &'a BTreeMap<String, Vec<ResticSnapshot>>,
    snapshot: &Snapshot,
) -> Option<&'a Vec<ResticSnapshot>> {
    runs.values().find(|m| {
        m.iter()
            .any(|s| s.short_id == snapshot.id || s.id == snapshot.id)
    })
}

pub(super) fn parse_listing(out: &[u8]) -> Result<Vec<ResticSnapshot>, EngineError> {
    serde_json::from_slice::<Option<Vec<ResticSnapshot>>>(out)
        .map(Option::unwrap_or_default)
        .map_err(|e| EngineError::Invalid(format!("cannot read `restic snapshots --json`: {e}")))
}

/// A run is complete when it has as many snapshots as its `parts=` tag says (snapshots
/// without the tag, made by hand or by an older bakrun, count as complete).
pub(super) fn complete(members: &[ResticSnapshot]) -> bool {
    let expected = members
        .iter()
        .find_map(|s| s.tag(tags::PARTS).and_then(|p| p.parse::<usize>().ok()));
    expected.is_none_or(|n| members.len() >= n)
}

pub(super) fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
