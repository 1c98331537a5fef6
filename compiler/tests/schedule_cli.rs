//! `bakgen schedule`: each job's normalized expression and next runs, checked against
//! systemd-analyze evaluating the same expression in the same zone.

use std::process::Command;

fn bakgen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bakgen"))
        .args(args)
        .output()
        .expect("bakgen runs")
}

/// systemd-analyze's next elapses in UTC, as RFC 3339.
fn systemd_next(expr: &str, zone: &str, count: usize) -> Vec<String> {
    let out = Command::new("systemd-analyze")
        .env("TZ", zone)
        .args([
            "calendar",
            "--base-time=2026-03-28 12:00:00 UTC",
            &format!("--iterations={count}"),
            expr,
        ])
        .output()
        .expect("systemd-analyze is installed (scripts/test installs systemd)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("(in UTC): "))
        .map(|t| {
            // "Sun 2026-03-29 00:30:00 UTC" → "2026-03-29T00:30:00Z"
            let parts: Vec<&str> = t.split_whitespace().collect();
            format!("{}T{}Z", parts[1], parts[2])
        })
        .collect()
}

#[test]
fn schedule_of_every_bundled_job_matches_systemd() {
    let o = bakgen(&[
        "schedule",
        "../policies",
        "--count",
        "5",
        "--from",
        "2026-03-28T12:00:00Z",
        "--timezone",
        "Europe/Berlin",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let rows = rows.as_array().expect("array");
    assert!(
        rows.len() >= 50,
        "every job of the bundled policies is listed"
    );
    let mut compared = std::collections::BTreeSet::new();
    for row in rows {
        let normalized = row["normalized"].as_str().expect("normalized");
        if !compared.insert(normalized.to_owned()) {
            continue;
        }
        let next: Vec<String> = row["next"]
            .as_array()
            .expect("next")
            .iter()
            .map(|t| t.as_str().expect("string").to_owned())
            .collect();
        assert_eq!(next.len(), 5);
        assert_eq!(
            next,
            systemd_next(normalized, "Europe/Berlin", 5),
            "{normalized}"
        );
    }
    assert!(
        compared.len() >= 5,
        "several distinct schedules were compared: {compared:?}"
    );
}

#[test]
fn schedule_filters_by_host_and_reports_unknown_hosts() {
    let o = bakgen(&[
        "schedule",
        "../policies",
        "--host",
        "laptop",
        "--count",
        "1",
    ]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("host laptop") && text.contains("Mon..Fri *-*-* 12:30:00"),
        "{text}"
    );
    assert!(!text.contains("host backup1"));
    let o = bakgen(&["schedule", "../policies", "--host", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    let o = bakgen(&["schedule", "tests/fixtures/invalid/08-empty-schedule.kdl"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn schedule_shows_jitter_windows_and_the_maintenance_and_watch_timers() {
    let run = |host: &str, format: &str| {
        let o = bakgen(&[
            "schedule",
            "../policies",
            "--host",
            host,
            "--count",
            "1",
            "--from",
            "2026-12-01T00:00:00Z",
            "--timezone",
            "UTC",
            "--format",
            format,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).expect("UTF-8")
    };
    let text = run("fileserver", "human");
    // A prune schedule written without jitter= keeps the default hour (emit/maintenance.rs).
    assert!(
        text.contains("restic prune of destination offsite-rest (bakgen-prune-offsite-rest.timer): Sun *-*-* 05:00:00 (UTC), jitter 1h\n    Sun 2026-12-06 05:00–06:00 UTC\n"),
        "{text}"
    );
    assert!(
        text.contains("restic check of destination offsite-rest (bakgen-check-offsite-rest.timer): *-*-01 00:00:00 (UTC), jitter 1h\n    Fri 2027-01-01 00:00–01:00 UTC\n"),
        "{text}"
    );
    // No jitter: the minute itself.
    assert!(
        text.contains(
            "job home (bakgen-home.timer): *-*-* 00/4:15:00 (UTC)\n    Tue 2026-12-01 00:15 UTC\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("FixedRandomDelay=true"),
        "why a window: {text}"
    );
    let text = run("backup1", "human");
    assert!(
        text.contains("job web1 (bakgen-web1.timer): *-*-* *:00:00 (UTC), jitter 5min\n    Tue 2026-12-01 01:00–01:05 UTC\n"),
        "{text}"
    );
    assert!(text.contains("watch (bakgen-watch.timer)"), "{text}");
    let text = run("db1", "human");
    assert!(
        text.contains("restore drill of job srv (bakgen-verify-srv.timer): Sat *-*-* 06:00:00 (UTC), jitter 30min\n    Sat 2026-12-05 06:00–06:30 UTC\n"),
        "{text}"
    );
    // A drill without `schedule` runs on the default, with an hour's jitter.
    assert!(
        text.contains("restore drill of job postgres (bakgen-verify-postgres.timer): Sun *-*-* 05:00:00 (UTC), jitter 1h\n    Sun 2026-12-06 05:00–06:00 UTC\n"),
        "{text}"
    );
    let rows: serde_json::Value = serde_json::from_str(&run("fileserver", "json")).expect("JSON");
    let prune = rows
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["kind"] == "prune")
        .expect("a prune row");
    assert_eq!(prune["destination"], "offsite-rest");
    assert_eq!(prune["jitter_seconds"], 3600);
    assert_eq!(prune["next"][0], "2026-12-06T05:00:00Z");
    assert_eq!(prune["windows"][0], "Sun 2026-12-06 05:00–06:00 UTC");
}
