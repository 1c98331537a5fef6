//! Prometheus alerting rules for the whole fleet, in the bundle of every host that
//! `monitoring { prometheus "HOST" }` names: the rules (`RULES`) and the promtool cases
//! that prove when each alert fires (`CASES`). Thresholds are each job's own late-after,
//! the figure its job spec carries, so the rules need no metric but the hosts' own.

mod cases;
mod rules;
mod text;
mod verify;
mod watch;

use bakgen_spec::job::JobSpec;

/// Where Prometheus rule files usually live (`rule_files: ["/etc/prometheus/rules/*.yml"]`).
pub const RULES: &str = "etc/prometheus/rules/bakgen.yml";
/// Outside the rules folder: a rules glob must not load test cases.
pub const CASES: &str = "etc/bakgen/prometheus-rules.test.yml";
/// `RULES` as `CASES` names it: promtool resolves it from the cases' folder, so the cases
/// run alike in `generated/<host>/` and on the host.
const RULES_FROM_CASES: &str = "../prometheus/rules/bakgen.yml";

/// What the rules need to know about one job.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AlertJob {
    pub host: String,
    pub job: String,
    pub destination: String,
    /// 0 when the schedule fires fewer than twice: such a job is never late.
    pub late_after: u64,
    pub calendar: String,
    pub service: String,
    pub timer: String,
    /// The job's `verify` `within`; 0 when the job has no restore drill.
    pub verify_within: u64,
}

impl AlertJob {
    pub fn new(spec: &JobSpec, destination: &str) -> Self {
        Self {
            host: spec.host.clone(),
            job: spec.job.clone(),
            destination: destination.to_owned(),
            late_after: spec.schedule.late_after_seconds,
            calendar: spec.schedule.calendar.clone(),
            service: spec.unit.clone(),
            timer: super::timer_name(&spec.job),
            verify_within: spec.verify.as_ref().map_or(0, |v| v.within_seconds),
        }
    }
}

/// A watching host (`monitoring { watch "HOST" }`) and the jobs its watch judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertWatch {
    pub host: String,
    /// How long the watch's metrics may be missing: its own late-after (the longest gap
    /// of its schedule, its jitter and an hour), 0 when it runs fewer than twice.
    pub late_after: u64,
    /// Sorted by host and job.
    pub jobs: Vec<AlertJob>,
}

/// The rules file and its promtool cases, for jobs sorted by host and job and watches in
/// policy order.
pub fn files(jobs: &mut [AlertJob], watches: &mut [AlertWatch]) -> (String, String) {
    jobs.sort();
    for w in watches.iter_mut() {
        w.jobs.sort();
    }
    (rules::render(jobs, watches), cases::render(jobs, watches))
}

/// Part of an annotation: text as written, or the alert's value.
#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    /// `$value` as a duration (`humanizeDuration`).
    Age,
    /// `$value` as a number (an exit code).
    Number,
}

/// One alerting rule, and what its alert carries once it fires.
#[derive(Debug, Clone)]
struct Alert {
    name: &'static str,
    expr: String,
    for_seconds: u64,
    /// The labels the expression's result carries (from its series or `absent()`).
    series_labels: Vec<(&'static str, String)>,
    /// Labels the rule adds.
    labels: Vec<(&'static str, String)>,
    summary: Vec<Piece>,
    description: Vec<Piece>,
}

impl Alert {
    /// The Go template Prometheus expands.
    fn template(pieces: &[Piece]) -> String {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => text::literal(t),
                Piece::Age => "{{ $value | humanizeDuration }}".to_owned(),
                Piece::Number => "{{ $value }}".to_owned(),
            })
            .collect()
    }

    /// What the template expands to for an alert of this value.
    fn expanded(pieces: &[Piece], value: u64) -> String {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Age => text::humanized(value),
                Piece::Number => value.to_string(),
            })
            .collect()
    }
}
