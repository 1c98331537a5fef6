//! A restic run dated in the future of this machine's clock (a run made while the clock
//! was ahead, a restored repository) against a real repository: the next `bakrun run`
//! names its run one second after it at once, instead of waiting for the clock to pass
//! it, says so in its status, and postpones retention while that run lies ahead.

mod common;
mod support;

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Local, Timelike};
use serde_json::json;

use common::{assert_code, bakrun};
use support::*;

/// The run name the engine gives a run starting at `t` (rsync's snapshot name).
fn run_name(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    t.format("%Y%m%dT%H%M%S%z").to_string()
}

#[test]
fn a_run_dated_in_the_future_is_followed_at_once_and_retention_waits() {
    let job = LocalJob::new("restic-future-run", |_, spec| {
        spec["retention"] = json!({"keep-last": 1});
    });
    assert_code(&bakrun(&["init", job.p()]), 0);
    fs::write(job.src.join("f"), "before\n").unwrap();
    assert_code(&bakrun(&["run", job.p()]), 0);

    // A run made with the clock 400 days ahead, tagged as the engine tags its runs.
    let now = Local::now().fixed_offset();
    let future = now.with_nanosecond(0).unwrap() + chrono::Duration::days(400);
    let name = run_name(&future);
    let repo = job.repo.to_str().unwrap();
    let when = future.format("%Y-%m-%d %H:%M:%S").to_string();
    let run_tag = format!("run={name}");
    restic(
        repo,
        &job.pw,
        &[
            "backup",
            "--time",
            &when,
            "--host",
            "h1",
            "--tag",
            "bakgen",
            "--tag",
            "host=h1",
            "--tag",
            "job=files",
            "--tag",
            &run_tag,
            "--tag",
            "parts=1",
            job.src.to_str().unwrap(),
        ],
        &[],
    );
    // That run, made by bakrun, would have left its name in the cache.
    fs::write(
        job.root.join("cache/bakgen-last-run-h1-files"),
        format!("{name}\n"),
    )
    .unwrap();
    assert_eq!(job.runs().len(), 2);

    fs::write(job.src.join("f"), "after\n").unwrap();
    let started = Instant::now();
    let mut child = Command::new(common::BAKRUN)
        .args(["run", job.p()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("bakrun run waited for the clock to pass a run dated in the future");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("clock skew"), "{stderr}");

    let recorded = job.status();
    let message = recorded["message"].as_str().unwrap_or_default();
    assert_eq!(recorded["result"], "success", "{recorded}");
    assert!(
        message.contains(&format!("snapshot {name} is")),
        "{message}"
    );
    let next = run_name(&(future + chrono::Duration::seconds(1)));
    assert!(
        message.contains(&format!("this run is named {next}")),
        "{message}"
    );
    assert!(message.contains("retention postponed"), "{message}");

    // keep-last 1, yet nothing was removed: the three runs are there, the new one last.
    let runs = job.runs();
    assert_eq!(runs.len(), 3, "{runs:?}");
    let tags = restic(
        repo,
        &job.pw,
        &["snapshots", "--json", "--tag", &format!("run={next}")],
        &[],
    );
    let made: Vec<serde_json::Value> = serde_json::from_str(&tags).unwrap();
    assert_eq!(made.len(), 1, "no run named {next}: {tags}");
}
