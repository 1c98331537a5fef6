//! The status file, the Prometheus textfile metrics, and `bakrun status` over a jobs folder.

mod common;

use std::fs;
use std::path::Path;

use serde_json::Value;

use common::*;

fn job_spec(root: &Path, name: &str, source: &Path, late_after: u64) -> std::path::PathBuf {
    let mut spec = spec(root, &[source]);
    spec["job"] = name.into();
    spec["schedule"]["late-after-seconds"] = late_after.into();
    let jobs = root.join("jobs");
    fs::create_dir_all(&jobs).unwrap();
    let path = jobs.join(format!("{name}.json"));
    fs::write(&path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    path
}

fn status_json(root: &Path) -> (Option<i32>, Value) {
    let out = bakrun(&[
        "status",
        "--format",
        "json",
        "--jobs-dir",
        root.join("jobs").to_str().unwrap(),
    ]);
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

fn find<'a>(list: &'a Value, job: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == job)
        .unwrap()
}

#[test]
#[ignore = "tier: system — needs root (numeric owners); run by scripts/test"]
fn a_run_records_status_and_metrics_and_status_reports_every_job() {
    require_root();
    let root = TempDir::new("status");
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), "12345").unwrap();
    fs::write(src.join("b"), "67890").unwrap();
    let good = job_spec(root.path(), "good", &src, 3600);

    let out = run_job(&good);
    assert_code(&out, 0);
    let status: Value =
        serde_json::from_str(&fs::read_to_string(root.join("state/status/good.json")).unwrap())
            .unwrap();
    assert_eq!(status["result"], "success");
    assert_eq!(status["exit_code"], 0);
    assert_eq!(status["files_transferred"], 2);
    assert_eq!(status["bytes_transferred"], 10);
    assert_eq!(status["host"], "h1");
    let snapshot = status["snapshot"].as_str().unwrap().to_owned();
    assert_eq!(status["last_success"]["snapshot"], snapshot.as_str());
    assert!(status["start"].as_str().unwrap() <= status["end"].as_str().unwrap());

    let metrics = fs::read_to_string(root.join("metrics/bakgen_good.prom")).unwrap();
    for line in [
        "# TYPE bakgen_job_last_success_timestamp_seconds gauge",
        "bakgen_job_last_run_result{bakgen_host=\"h1\",bakgen_job=\"good\"} 0",
        "bakgen_job_bytes_transferred{bakgen_host=\"h1\",bakgen_job=\"good\"} 10",
        "bakgen_job_files_transferred{bakgen_host=\"h1\",bakgen_job=\"good\"} 2",
        "bakgen_job_snapshots{bakgen_host=\"h1\",bakgen_job=\"good\"} 1",
        "bakgen_job_late_after_seconds{bakgen_host=\"h1\",bakgen_job=\"good\"} 3600",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing `{line}` in\n{metrics}"
        );
    }
    let success_ts: f64 = metrics
        .lines()
        .find(|l| l.starts_with("bakgen_job_last_success_timestamp_seconds{"))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - success_ts).abs() < 60.0);
    assert!(metrics
        .lines()
        .any(|l| l.starts_with("bakgen_job_duration_seconds{")));
    assert_eq!(
        entries(&root.join("metrics")),
        vec!["bakgen_good.prom"],
        "temp file left"
    );

    let (code, list) = status_json(root.path());
    assert_eq!(code, Some(0), "{list}");
    assert_eq!(find(&list, "good")["state"], "ok");
    assert_eq!(find(&list, "good")["snapshot"], snapshot.as_str());

    // A job that never ran is late; a failed run is reported, its last success kept.
    job_spec(root.path(), "never", &src, 3600);
    let broken = job_spec(root.path(), "broken", &root.join("missing-source"), 3600);
    assert_code(&run_job(&broken), 1);
    let (code, list) = status_json(root.path());
    assert_eq!(code, Some(1));
    assert_eq!(find(&list, "never")["state"], "never");
    assert_eq!(find(&list, "never")["late"], true);
    assert_eq!(find(&list, "broken")["state"], "failed");
    assert_eq!(find(&list, "broken")["last_exit_code"], 1);
    assert_eq!(find(&list, "good")["state"], "ok");

    // The good job fails next: the status keeps its last success for the age.
    fs::remove_file(root.join("jobs/never.json")).unwrap();
    fs::remove_file(root.join("jobs/broken.json")).unwrap();
    let mut spec: Value = serde_json::from_str(&fs::read_to_string(&good).unwrap()).unwrap();
    spec["sources"] = serde_json::json!([root.join("missing-source").to_string_lossy()]);
    fs::write(&good, serde_json::to_string(&spec).unwrap()).unwrap();
    assert_code(&run_job(&good), 1);
    let (code, list) = status_json(root.path());
    assert_eq!(code, Some(1));
    let g = find(&list, "good");
    assert_eq!(g["state"], "failed");
    assert_eq!(g["last_result"], "failed");
    assert_eq!(g["snapshot"], snapshot.as_str());
    let metrics = fs::read_to_string(root.join("metrics/bakgen_good.prom")).unwrap();
    assert!(
        metrics.contains("bakgen_job_last_run_result{bakgen_host=\"h1\",bakgen_job=\"good\"} 1")
    );
    assert!(metrics.contains(
        "bakgen_job_last_success_timestamp_seconds{bakgen_host=\"h1\",bakgen_job=\"good\"} "
    ));

    // Human and Prometheus output.
    let jobs = root.join("jobs");
    let out = bakrun(&["status", "--jobs-dir", jobs.to_str().unwrap()]);
    assert_code(&out, 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("JOB"), "{text}");
    assert!(text.contains("failed"), "{text}");
    let out = bakrun(&[
        "status",
        "--format",
        "prometheus",
        "--jobs-dir",
        jobs.to_str().unwrap(),
    ]);
    assert_code(&out, 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bakgen_job_late{bakgen_host=\"h1\",bakgen_job=\"good\"} 0"),
        "{text}"
    );
}

#[test]
#[ignore = "tier: system — needs root (numeric owners); run by scripts/test"]
fn a_job_whose_last_success_is_too_old_is_late() {
    require_root();
    let root = TempDir::new("late");
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), "x").unwrap();
    let spec = job_spec(root.path(), "slowpoke", &src, 1);
    assert_code(&run_job(&spec), 0);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (code, list) = status_json(root.path());
    assert_eq!(code, Some(1));
    let j = find(&list, "slowpoke");
    assert_eq!(j["state"], "late");
    assert_eq!(j["late"], true);
    assert!(j["age_seconds"].as_i64().unwrap() >= 2);
}
