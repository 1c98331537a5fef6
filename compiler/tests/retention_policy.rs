//! The restic ≥ 0.16 retention rules in a policy: `"all"` counts and `keep-within-<period>`
//! reach the job spec, and bakrun reads that spec back with the same rules.

mod support;

use std::process::Command;

use bakgen_spec::count::Count;
use bakgen_spec::job::JobSpec;
use support::tmp;

const POLICY: &str = r#"
destination "usb" { path "/mnt/usb"; }
host "h1" {
    job "etc" {
        source "/etc"
        to "usb"
        schedule "daily"
        retention keep-last=3 keep-daily="all" keep-yearly=0 keep-within="2D" keep-within-hourly="36h" keep-within-daily="7D" keep-within-weekly="1M" keep-within-monthly="1Y" keep-within-yearly="75Y"
    }
}
"#;

#[test]
fn all_and_keep_within_periods_reach_the_job_spec() {
    let dir = tmp("spec");
    let dir = dir.path().to_owned();
    let policy = dir.join("policy.kdl");
    std::fs::write(&policy, POLICY).unwrap_or_else(|e| panic!("write policy: {e}"));
    let out = dir.join("out");
    let o = support::command()
        .arg("build")
        .arg(&policy)
        .arg("--out")
        .arg(&out)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("bakgen runs: {e}"));
    assert!(
        o.status.success(),
        "build failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let path = out.join("h1/etc/bakgen/jobs/etc.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let json: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("spec JSON: {e}"));
    assert_eq!(
        json["retention"],
        serde_json::json!({
            "keep-last": 3,
            "keep-daily": "all",
            "keep-yearly": 0,
            "keep-within": "2D",
            "keep-within-hourly": "36h",
            "keep-within-daily": "7D",
            "keep-within-weekly": "1M",
            "keep-within-monthly": "1Y",
            "keep-within-yearly": "75Y",
        })
    );
    let spec = JobSpec::from_json(&path.to_string_lossy(), &text)
        .unwrap_or_else(|e| panic!("bakrun reads the spec: {e}"));
    assert_eq!(spec.retention.keep_daily, Some(Count::All));
    assert_eq!(spec.retention.keep_within_weekly.as_deref(), Some("1M"));
}

#[test]
fn hourly_runs_with_all_hourly_buckets_get_no_warning() {
    let dir = tmp("hourly");
    let dir = dir.path().to_owned();
    let policy = dir.join("policy.kdl");
    let text = POLICY
        .replace("schedule \"daily\"", "schedule \"hourly\"")
        .replace(
            "keep-last=3 keep-daily=\"all\"",
            "keep-hourly=\"all\" keep-daily=7",
        )
        .replace("keep-within-hourly=\"36h\"", "")
        .replace("keep-within=\"2D\"", "");
    assert!(text.contains("keep-hourly=\"all\"") && text.contains("\"hourly\""));
    std::fs::write(&policy, &text).unwrap_or_else(|e| panic!("write policy: {e}"));
    let check = |policy: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_bakgen"))
            .args(["check", "--deny-warnings"])
            .arg(policy)
            .env("NO_COLOR", "1")
            .output()
            .unwrap_or_else(|e| panic!("bakgen runs: {e}"))
    };
    let o = check(&policy);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The same with 23 hourly buckets does warn: the check above is not vacuous.
    std::fs::write(
        &policy,
        text.replace("keep-hourly=\"all\"", "keep-hourly=23"),
    )
    .unwrap_or_else(|e| panic!("write policy: {e}"));
    let o = check(&policy);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("retention-shorter-than-schedule"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
