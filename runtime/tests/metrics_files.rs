//! The metrics file of a run: readable by node_exporter (0644) whatever the unit's umask,
//! and a run whose metrics cannot be written stays a success whose status, and `bakrun
//! status`, say `ok, metrics not written: …`.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{assert_code, spec, write_spec, TempDir, BAKRUN};

fn run_with_umask_077(spec_path: &str) -> std::process::Output {
    Command::new("sh")
        .args([
            "-c",
            "umask 077 && exec \"$0\" run \"$1\"",
            BAKRUN,
            spec_path,
        ])
        .output()
        .unwrap()
}

#[test]
fn metrics_files_are_0644_under_umask_0077() {
    let t = TempDir::new("metrics-mode");
    fs::create_dir_all(t.join("src")).unwrap();
    fs::write(t.join("src/a"), "a").unwrap();
    let spec_path = write_spec(t.path(), &spec(t.path(), &[&t.join("src")]));
    assert_code(&run_with_umask_077(spec_path.to_str().unwrap()), 0);
    let prom = t.join("metrics/bakgen_files.prom");
    let mode = fs::metadata(&prom).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o644, "{}", prom.display());
    // The status file keeps the umask's private mode.
    let status = t.join("state/status/files.json");
    assert_eq!(
        fs::metadata(&status).unwrap().permissions().mode() & 0o077,
        0
    );
    let st: serde_json::Value = serde_json::from_str(&fs::read_to_string(status).unwrap()).unwrap();
    assert_eq!(st.get("metrics_error"), None);
}

#[test]
fn a_metrics_write_failure_is_in_the_status_and_bakrun_status() {
    let t = TempDir::new("metrics-fail");
    fs::create_dir_all(t.join("src")).unwrap();
    fs::write(t.join("src/a"), "a").unwrap();
    // A metrics folder that cannot be made: its parent is a file.
    fs::write(t.join("not-a-folder"), "").unwrap();
    let mut s = spec(t.path(), &[&t.join("src")]);
    s["metrics-dir"] = t.join("not-a-folder/metrics").to_string_lossy().into();
    let spec_path = write_spec(t.path(), &s);
    let out = run_with_umask_077(spec_path.to_str().unwrap());
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("metrics not written: "));

    let st: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(t.join("state/status/files.json")).unwrap())
            .unwrap();
    assert_eq!(st["result"], "success");
    assert_eq!(st["exit_code"], 0);
    let message = st["message"].as_str().unwrap();
    assert!(
        message.starts_with("ok, metrics not written: "),
        "{message}"
    );
    assert!(
        message.contains("not-a-folder/metrics/bakgen_files.prom"),
        "{message}"
    );
    assert!(message.contains("Not a directory"), "{message}");
    let why = st["metrics_error"].as_str().unwrap();
    assert!(message.ends_with(why), "{message} / {why}");

    // `bakrun status`: the job is ok (it backed up), and says the metrics were not written.
    let jobs = t.join("jobs");
    fs::create_dir_all(&jobs).unwrap();
    fs::copy(&spec_path, jobs.join("files.json")).unwrap();
    let status = |format: &str| {
        Command::new(BAKRUN)
            .args(["status", "--format", format, "--jobs-dir"])
            .arg(&jobs)
            .output()
            .unwrap()
    };
    let json = status("json");
    assert_code(&json, 0);
    let listed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(listed[0]["state"], "ok");
    assert_eq!(listed[0]["metrics_error"], why);
    let human = status("human");
    assert_code(&human, 0);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("last run success (exit 0), metrics not written: "),
        "{text}"
    );
}
