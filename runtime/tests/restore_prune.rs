//! Listing snapshots, restoring a path as it was at a date, and pruning by age.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

/// Three snapshots of `conf/app.conf` (v1, v2, v3): the first two renamed to January and
/// February 2025 as if made then; the third made now.
fn three_snapshots(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let src = root.join("src");
    fs::create_dir_all(src.join("conf")).unwrap();
    let file = src.join("conf/app.conf");
    let spec_path = write_spec(root, &spec(root, &[&src]));
    let dir = job_dir(root);
    for (version, name) in [
        ("v1", Some("20250101T120000+0000")),
        ("v2", Some("20250201T120000+0100")),
        ("v3", None),
    ] {
        fs::write(&file, format!("{version}\n")).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
        assert_code(&run_job(&spec_path), 0);
        if let Some(name) = name {
            let made = snapshots(root)
                .into_iter()
                .find(|n| !n.starts_with("2025"))
                .unwrap();
            fs::rename(dir.join(made), dir.join(name)).unwrap();
        }
    }
    (spec_path, file)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "tier: system — needs root (numeric owners); run by scripts/test"]
fn snapshots_lists_and_restore_brings_back_a_file_as_it_was() {
    require_root();
    let root = TempDir::new("restore");
    let (spec_path, file) = three_snapshots(root.path());
    let spec = spec_path.to_str().unwrap();

    // By job name in a jobs folder, as an operator types it.
    let jobs = root.join("jobs");
    fs::create_dir_all(&jobs).unwrap();
    fs::copy(&spec_path, jobs.join("files.json")).unwrap();
    let out = bakrun(&["snapshots", "files", "--jobs-dir", jobs.to_str().unwrap()]);
    assert_code(&out, 0);
    let listed: Vec<String> = stdout(&out)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(listed[0], "20250101T120000+0000");
    assert_eq!(listed[1], "20250201T120000+0100");

    let out = bakrun(&["snapshots", spec, "--at", "2025-01-15"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("20250101T120000+0000"), "{text}");
    assert!(text.lines().any(|l| l == file.to_str().unwrap()), "{text}");
    let out = bakrun(&["snapshots", spec, "--at", "2025-01-15", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["id"], "20250101T120000+0000");

    let to = root.join("restored");
    let file_arg = file.to_str().unwrap();
    let to_arg = to.to_str().unwrap();
    let out = bakrun(&[
        "restore",
        spec,
        file_arg,
        "--at",
        "2025-01-15",
        "--to",
        to_arg,
    ]);
    assert_code(&out, 0);
    assert_eq!(fs::read_to_string(to.join("app.conf")).unwrap(), "v1\n");
    let mode = fs::metadata(to.join("app.conf"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o640);

    // Never overwrites without --force; nothing changes.
    let out = bakrun(&[
        "restore",
        spec,
        file_arg,
        "--at",
        "2025-02-02",
        "--to",
        to_arg,
    ]);
    assert_code(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(fs::read_to_string(to.join("app.conf")).unwrap(), "v1\n");
    // 2025-02-01 means the end of that day, so February's 12:00 snapshot counts.
    let out = bakrun(&[
        "restore",
        spec,
        file_arg,
        "--at",
        "2025-02-01",
        "--to",
        to_arg,
        "--force",
    ]);
    assert_code(&out, 0);
    assert_eq!(fs::read_to_string(to.join("app.conf")).unwrap(), "v2\n");

    // A folder, from the newest snapshot (no --at), and from a duration back.
    let folder = file.parent().unwrap().to_str().unwrap();
    let out = bakrun(&[
        "restore",
        spec,
        folder,
        "--to",
        root.join("r2").to_str().unwrap(),
    ]);
    assert_code(&out, 0);
    assert_eq!(
        fs::read_to_string(root.join("r2/conf/app.conf")).unwrap(),
        "v3\n"
    );
    let out = bakrun(&[
        "restore",
        spec,
        folder,
        "--at",
        "1D",
        "--to",
        root.join("r3").to_str().unwrap(),
    ]);
    assert_code(&out, 0);
    assert_eq!(
        fs::read_to_string(root.join("r3/conf/app.conf")).unwrap(),
        "v2\n"
    );

    // Before the first snapshot, and a path that was never backed up.
    let out = bakrun(&[
        "restore",
        spec,
        file_arg,
        "--at",
        "2024-12-01",
        "--to",
        to_arg,
    ]);
    assert_code(&out, 1);
    let out = bakrun(&["restore", spec, "/no/such/path", "--to", to_arg]);
    assert_code(&out, 1);
    let out = bakrun(&[
        "restore",
        spec,
        file_arg,
        "--at",
        "next tuesday",
        "--to",
        to_arg,
    ]);
    assert_code(&out, 2);
}

#[test]
#[ignore = "tier: system — needs root (numeric owners); run by scripts/test"]
fn prune_older_than_removes_old_snapshots_but_never_the_newest() {
    require_root();
    let root = TempDir::new("prune");
    let (spec_path, _) = three_snapshots(root.path());
    let spec = spec_path.to_str().unwrap();
    let before = snapshots(root.path());
    assert_eq!(before.len(), 3);

    let out = bakrun(&["prune", spec, "--older-than", "30D", "--dry-run"]);
    assert_code(&out, 0);
    assert_eq!(snapshots(root.path()), before, "dry run removed something");
    assert!(stdout(&out).contains("rm -rf"), "{}", stdout(&out));

    let out = bakrun(&["prune", spec, "--older-than", "30D"]);
    assert_code(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("removing snapshot 20250101T120000+0000"),
        "{stderr}"
    );
    let after = snapshots(root.path());
    assert_eq!(after, vec![before[2].clone()]);
    assert!(entries(&job_dir(root.path()))
        .iter()
        .all(|n| !n.ends_with(".deleting")));

    // Everything is older than 0s, yet the newest stays.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = bakrun(&["prune", spec, "--older-than", "1s"]);
    assert_code(&out, 0);
    assert_eq!(snapshots(root.path()), after);

    // Retention (no --older-than) never removes the newest either.
    assert_code(&bakrun(&["prune", spec]), 0);
    assert_eq!(snapshots(root.path()), after);
    assert_code(&bakrun(&["prune", spec, "--older-than", "3x"]), 2);
}
