//! The restore drill of a job (`verify` in the policy, `verify` in the job spec, `bakrun
//! verify JOB`): what the compiler writes and the drill reads. docs/job-spec.md, "verify".

use serde::{Deserialize, Serialize};

/// A job's restore drill. Absent from a spec: the job has no drill (and `bakrun verify`
/// refuses it unless given `--sample N`, saying how to add one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Verify {
    /// The normalized systemd calendar expression of `bakgen-verify-<job>.timer`.
    pub calendar: String,
    /// The verify timer's randomized delay, in seconds.
    #[serde(default)]
    pub jitter_seconds: u64,
    /// How many files the spot check restores and compares, at random.
    pub sample: Sample,
    /// Absolute paths (as on the source, each under one of the job's sources): every file
    /// below them is checked on every drill, in addition to the sample.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub critical: Vec<String>,
    /// User checks run against the loaded dumps, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<VerifyQuery>,
    /// A drill older than this is overdue: `bakrun status` says so and the alert
    /// "not verified" fires.
    pub within_seconds: u64,
}

/// The size of the random sample: a number of files, a share of the run's files, or both
/// (then the larger). Neither: only critical paths and dumps are checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Sample {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    /// Per mille of the run's files (`0.5%` is 5), so the spec holds integers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_mille: Option<u32>,
}

impl Sample {
    /// How many files to draw from a run of `total` files (never more than `total`).
    pub fn size(&self, total: u64) -> u64 {
        let by_count = self.files.unwrap_or(0);
        let by_share = self
            .per_mille
            .map_or(0, |p| (total.saturating_mul(u64::from(p))).div_ceil(1000));
        by_count.max(by_share).min(total)
    }
}

/// Which dump engine a query runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueryEngine {
    Postgres,
    Mysql,
}

/// `verify-query "SELECT count(*) FROM orders" database="shop" at-least=1`: run on the
/// throwaway server holding the loaded dump; the first column of the first row, read as
/// an integer, must be at least `at_least`. No row, a non-integer or an error fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VerifyQuery {
    pub engine: QueryEngine,
    pub database: String,
    pub sql: String,
    pub at_least: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_the_larger_of_count_and_share_and_never_more_than_the_run() {
        let s = Sample {
            files: Some(100),
            per_mille: Some(10),
        };
        assert_eq!(s.size(30_000), 300);
        assert_eq!(s.size(5_000), 100);
        assert_eq!(s.size(40), 40);
        assert_eq!(Sample::default().size(1_000), 0);
        // A share rounds up: one file of 999 at 1 per mille is still one file.
        let share = Sample {
            files: None,
            per_mille: Some(1),
        };
        assert_eq!(share.size(999), 1);
        assert_eq!(share.size(0), 0);
    }

    #[test]
    fn a_verify_reads_back_as_written() {
        let v = Verify {
            calendar: "Sun *-*-* 05:00:00".into(),
            jitter_seconds: 3600,
            sample: Sample {
                files: Some(1000),
                per_mille: None,
            },
            critical: vec!["/etc/ssh".into()],
            queries: vec![VerifyQuery {
                engine: QueryEngine::Postgres,
                database: "shop".into(),
                sql: "SELECT count(*) FROM orders".into(),
                at_least: 1,
            }],
            within_seconds: 8 * 86400,
        };
        let json = serde_json::to_string(&v).unwrap();
        assert!(json.contains("\"within-seconds\""), "{json}");
        assert!(json.contains("\"at-least\""), "{json}");
        assert_eq!(serde_json::from_str::<Verify>(&json).unwrap(), v);
    }
}
