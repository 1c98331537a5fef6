//! What the watch last told about each job (`<state-dir>/watch/state.json`): a job that
//! turns late, never ran or becomes unreadable is told once, not at every watch while it
//! stays so; one that is ok again is told once that it recovered.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{JobReport, Report, State};
use crate::atomic_file;

/// The last state told per job, by `<destination>/<host>/<job>`; a job absent was ok.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Told {
    pub jobs: BTreeMap<String, State>,
}

/// What is to be told about a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// It was ok and is not any more.
    Late,
    /// It was told late (or never, unreadable) and is ok again.
    Recovered,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Late => "late",
            Event::Recovered => "recovered",
        }
    }
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("watch").join("state.json")
}

fn key(j: &JobReport) -> String {
    format!("{}/{}/{}", j.destination, j.host, j.job)
}

impl Told {
    /// The file's contents; nothing told when there is no file yet.
    pub fn read(state_dir: &Path) -> Result<Told, String> {
        let path = path(state_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{} is not the watch's state: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Told::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    pub fn write(&self, state_dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        atomic_file::write(&path(state_dir), text.as_bytes())
    }

    /// What to tell about `job` now, given what was told before.
    pub fn event(&self, job: &JobReport) -> Option<Event> {
        let before = self.jobs.get(&key(job)).copied().unwrap_or(State::Ok);
        match (before.is_bad(), job.state.is_bad()) {
            (false, true) => Some(Event::Late),
            (true, false) => Some(Event::Recovered),
            _ => None,
        }
    }

    /// Remembers that `job`'s state was told.
    pub fn told(&mut self, job: &JobReport) {
        if job.state.is_bad() {
            self.jobs.insert(key(job), job.state);
        } else {
            self.jobs.remove(&key(job));
        }
    }

    /// Forgets jobs the watch no longer has (removed from the policy).
    pub fn keep_only(&mut self, report: &Report) {
        let known: std::collections::BTreeSet<String> = report.jobs.iter().map(key).collect();
        self.jobs.retain(|k, _| known.contains(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_told_once_when_late_and_once_when_recovered() {
        let mut job = JobReport {
            host: "web1".into(),
            job: "etc".into(),
            destination: "usb".into(),
            state: State::Late,
            newest_complete: None,
            age_seconds: None,
            due_by: None,
            expected_within_seconds: 60,
            reason: None,
        };
        let mut told = Told::default();
        assert_eq!(told.event(&job), Some(Event::Late));
        told.told(&job);
        assert_eq!(told.event(&job), None, "still late: told already");
        job.state = State::Unreadable;
        assert_eq!(told.event(&job), None, "another bad state: told already");
        job.state = State::Ok;
        assert_eq!(told.event(&job), Some(Event::Recovered));
        told.told(&job);
        assert!(told.jobs.is_empty());
        assert_eq!(told.event(&job), None);
    }
}
