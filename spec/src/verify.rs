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
    /// `count`: the drill also counts the live files (the sources as a run would read
    /// them now, excludes applied) and fails when the run holds fewer than this share of
    /// them short of all: files the backup misses are never in a sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Count>,
}

/// `count tolerance="5%"` of a drill: how many fewer files than the live sources a run may
/// hold (files made since the run, or vanished while it read them) before the drill says
/// the backup misses files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Count {
    /// Per mille of the live files (`5%` is 50), 0 to 1000.
    pub tolerance_per_mille: u32,
}

impl Count {
    /// Whether a run of `run` files holds too few of `live` live files: more than the
    /// tolerance short of them. More files in the run than live (files removed since) is
    /// never too few.
    pub fn too_few(&self, run: u64, live: u64) -> bool {
        let kept = 1000u128.saturating_sub(u128::from(self.tolerance_per_mille));
        u128::from(run) * 1000 < u128::from(live) * kept
    }
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
    fn a_run_is_too_few_only_beyond_the_tolerance() {
        let five = Count {
            tolerance_per_mille: 50,
        };
        assert!(!five.too_few(950, 1000), "exactly 5% fewer is tolerated");
        assert!(five.too_few(949, 1000));
        assert!(!five.too_few(1200, 1000), "files removed since the run");
        assert!(!five.too_few(0, 0));
        let exact = Count {
            tolerance_per_mille: 0,
        };
        assert!(exact.too_few(999, 1000));
        assert!(!exact.too_few(1000, 1000));
        let any = Count {
            tolerance_per_mille: 1000,
        };
        assert!(!any.too_few(0, u64::MAX));
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
            count: Some(Count {
                tolerance_per_mille: 50,
            }),
        };
        let json = serde_json::to_string(&v).unwrap();
        assert!(json.contains("\"within-seconds\""), "{json}");
        assert!(json.contains("\"at-least\""), "{json}");
        assert_eq!(serde_json::from_str::<Verify>(&json).unwrap(), v);
    }
}
