//! The table `retention_table.rs` and `retention_table_restic016.rs` are written in: a
//! case is a policy, input times and the reasons each time is kept for.
#![allow(dead_code)]

use bakrun::retention::{decide_at, Decision, Reason};
use bakrun::spec::Retention;
use chrono::{DateTime, FixedOffset, Utc};

pub fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("bad test time {s}: {e}"))
}

pub fn now() -> DateTime<Utc> {
    t("2030-01-01T00:00:00Z").with_timezone(&Utc)
}

pub fn rules(f: impl FnOnce(&mut Retention)) -> Retention {
    let mut r = Retention::default();
    f(&mut r);
    r
}

pub struct Case {
    pub name: &'static str,
    pub rules: Retention,
    /// Input, in the order given to `decide`.
    pub times: &'static [&'static str],
    /// The expected reasons of each input time; empty means removed.
    pub expect: &'static [&'static [Reason]],
}

pub fn check(case: &Case, now: DateTime<Utc>) {
    let times: Vec<_> = case.times.iter().map(|s| t(s)).collect();
    let got = decide_at(&times, &case.rules, now)
        .unwrap_or_else(|e| panic!("{}: decide failed: {e}", case.name));
    let want: Vec<Decision> = case
        .expect
        .iter()
        .map(|r| Decision {
            keep: !r.is_empty(),
            reasons: r.to_vec(),
        })
        .collect();
    assert_eq!(
        got.len(),
        want.len(),
        "{}: one decision per time",
        case.name
    );
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{}: time #{i} {}", case.name, case.times[i]);
    }
}

pub const NONE: &[Reason] = &[];
