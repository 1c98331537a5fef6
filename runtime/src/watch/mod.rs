//! `bakrun watch`: how fresh every job's backups are, judged from where they land, never
//! from the hosts that make them (a host that is off reports nothing; its destination
//! shows that nothing new arrived). Reads each store of the watch spec once
//! ([`read`]), judges each job ([`judge`]), and says what it found ([`report`]); what was
//! last told is kept in [`told`], so a job that stays late is told once.

pub mod read;
pub mod report;
pub mod told;

use chrono::{DateTime, Duration, FixedOffset};
use serde::{Deserialize, Serialize};

use bakgen_spec::watch::{WatchSpec, WatchedJob};

/// What the watch makes of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// The newest complete run is no older than the job's expected age.
    Ok,
    /// It is older.
    Late,
    /// The store holds no complete run of the job.
    Never,
    /// The store could not be read (not mounted, wrong password, unreachable).
    Unreadable,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Late => "late",
            State::Never => "never",
            State::Unreadable => "unreadable",
        }
    }

    /// Whether it needs someone: everything but ok.
    pub fn is_bad(self) -> bool {
        self != State::Ok
    }
}

/// One job as the watch found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobReport {
    pub host: String,
    pub job: String,
    pub destination: String,
    pub state: State,
    /// When the newest complete run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_complete: Option<DateTime<FixedOffset>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<i64>,
    /// When the job turns late unless a newer run lands: the newest run plus the
    /// expected age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_by: Option<DateTime<FixedOffset>>,
    pub expected_within_seconds: u64,
    /// Why the store is unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Everything one watch found, in the spec's order (stores by destination, jobs by host
/// and job).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The watching host.
    pub host: String,
    /// The moment the ages are measured from.
    pub at: DateTime<FixedOffset>,
    pub jobs: Vec<JobReport>,
}

impl Report {
    pub fn all_ok(&self) -> bool {
        self.jobs.iter().all(|j| !j.state.is_bad())
    }
}

/// Judges one job from what its store holds: `Ok(None)` no complete run, `Err` the store
/// could not be read.
pub fn judge(
    job: &WatchedJob,
    destination: &str,
    newest: Result<Option<DateTime<FixedOffset>>, String>,
    at: DateTime<FixedOffset>,
) -> JobReport {
    let mut out = JobReport {
        host: job.host.clone(),
        job: job.job.clone(),
        destination: destination.to_owned(),
        state: State::Never,
        newest_complete: None,
        age_seconds: None,
        due_by: None,
        expected_within_seconds: job.expected_within_seconds,
        reason: None,
    };
    match newest {
        Err(why) => {
            out.state = State::Unreadable;
            out.reason = Some(why);
        }
        Ok(None) => {}
        Ok(Some(newest)) => {
            let expected = i64::try_from(job.expected_within_seconds).unwrap_or(i64::MAX);
            let age = (at - newest).num_seconds();
            out.newest_complete = Some(newest);
            out.age_seconds = Some(age);
            out.due_by = Duration::try_seconds(expected).and_then(|d| newest.checked_add_signed(d));
            // A run dated after `at` (a clock ahead) is fresh, not late.
            out.state = if age <= expected {
                State::Ok
            } else {
                State::Late
            };
        }
    }
    out
}

/// Reads every store once and judges every job in it.
pub fn watch(spec: &WatchSpec, at: DateTime<FixedOffset>) -> Report {
    let mut jobs = Vec::new();
    for store in &spec.stores {
        let found = read::read_store(spec, store);
        for (job, newest) in store.jobs.iter().zip(found) {
            jobs.push(judge(job, &store.destination, newest, at));
        }
    }
    Report {
        host: spec.host.clone(),
        at,
        jobs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn a_job_is_late_only_past_its_expected_age() {
        let job = WatchedJob {
            host: "web1".into(),
            job: "etc".into(),
            expected_within_seconds: 3600,
        };
        let at = t("2026-04-01T12:00:00+00:00");
        let on_time = judge(&job, "usb", Ok(Some(t("2026-04-01T11:00:00+00:00"))), at);
        assert_eq!(on_time.state, State::Ok);
        assert_eq!(on_time.age_seconds, Some(3600));
        assert_eq!(on_time.due_by, Some(t("2026-04-01T12:00:00+00:00")));
        let late = judge(&job, "usb", Ok(Some(t("2026-04-01T10:59:59+00:00"))), at);
        assert_eq!(late.state, State::Late);
        let ahead = judge(&job, "usb", Ok(Some(t("2026-04-02T00:00:00+00:00"))), at);
        assert_eq!(ahead.state, State::Ok);
        assert_eq!(judge(&job, "usb", Ok(None), at).state, State::Never);
        let unreadable = judge(&job, "usb", Err("not mounted".into()), at);
        assert_eq!(unreadable.state, State::Unreadable);
        assert_eq!(unreadable.reason.as_deref(), Some("not mounted"));
    }
}
