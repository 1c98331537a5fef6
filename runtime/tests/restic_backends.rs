//! The whole cycle — init, three backups, listing, retention (forget), restore at a date,
//! prune, check, restore of the newest — on the REST (rclone) and S3 (moto) backends, each
//! restored tree compared with the source as it was (content, owners, modes, times, ACLs,
//! xattrs, hard links). The local repository and sftp have the same cycle in
//! `restic_engine.rs` and `restic_failures.rs`.

mod common;
mod support;

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use common::{assert_code, awkward_tree, bakrun, differences, sh, TempDir};
use support::*;

fn runs(spec: &str) -> Vec<Value> {
    let out = bakrun(&["snapshots", spec, "--format", "json"]);
    assert_code(&out, 0);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn full_cycle(backend: &str, root: &Path, spec: &Path) {
    let p = spec.to_str().unwrap();
    let src = root.join("source tree");
    awkward_tree(&src);
    assert_code(
        &timed(&format!("init on {backend}"), || bakrun(&["init", p])),
        0,
    );
    let out = bakrun(&["init", p, "-v"]);
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));

    assert_code(
        &timed(&format!("backup 1 on {backend}"), || bakrun(&["run", p])),
        0,
    );
    let first = runs(p)[0]["id"].as_str().unwrap().to_owned();
    fs::write(src.join("plain.txt"), "second version\n").unwrap();
    fs::write(src.join("sub dir/new file"), "added in run 2\n").unwrap();
    assert_code(&bakrun(&["run", p]), 0);
    let at_second = root.join("as of run 2");
    sh(&format!(
        "rsync -aHAXS --numeric-ids '{}/' '{}/'",
        src.display(),
        at_second.display()
    ));
    fs::write(src.join("plain.txt"), "third version\n").unwrap();
    fs::remove_file(src.join("sub dir/new file")).unwrap();
    assert_code(&bakrun(&["run", p]), 0);

    // keep-last 2: the first run is forgotten, by bakrun's own retention.
    let listed = runs(p);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|s| s["id"] != first.as_str()));
    let at = listed[0]["time"].as_str().unwrap().to_owned();
    let out = bakrun(&["snapshots", p, "--at", &at]);
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("sub dir/new file"));

    let to = root.join("restored 2");
    let out = timed(&format!("restore at a date from {backend}"), || {
        bakrun(&[
            "restore",
            p,
            src.to_str().unwrap(),
            "--at",
            &at,
            "--to",
            to.to_str().unwrap(),
        ])
    });
    assert_code(&out, 0);
    assert_eq!(differences(&at_second, &to.join("source tree")), "");

    assert_code(
        &timed(&format!("prune on {backend}"), || {
            bakrun(&["prune", p, "--repository-only"])
        }),
        0,
    );
    assert_code(&bakrun(&["check", p, "--read-data", "100%"]), 0);
    let to = root.join("restored 3");
    let out = bakrun(&[
        "restore",
        p,
        src.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
    ]);
    assert_code(&out, 0);
    assert_eq!(differences(&src, &to.join("source tree")), "");
}

#[test]
fn rest_server_full_cycle() {
    common::require_root();
    let t = TempDir::new("restic-rest-cycle");
    let root = t.path();
    let server = timed("rclone serve restic start", RestServer::start);
    let pw = secret_file(root, "password", PASSWORD);
    let spec = restic_spec(
        root,
        "files",
        &server.url("h1"),
        &pw,
        &[&root.join("source tree")],
    );
    let path = write_spec_named(root, "files", &spec);
    full_cycle("REST", root, &path);
}

#[test]
fn s3_full_cycle() {
    common::require_root();
    let t = TempDir::new("restic-s3-cycle");
    let root = t.path();
    let server = timed("moto_server start", || S3Server::start("cycle"));
    let pw = secret_file(root, "password", PASSWORD);
    let key_id = secret_file(root, "s3-id", S3_KEY_ID);
    let key = secret_file(root, "s3-key", S3_SECRET);
    let mut spec = restic_spec(
        root,
        "files",
        &server.url("cycle/h1"),
        &pw,
        &[&root.join("source tree")],
    );
    spec["destination"]["environment"] = json!([
        {"variable": "AWS_ACCESS_KEY_ID", "secret": {"from": "file", "path": key_id.to_string_lossy()}},
        {"variable": "AWS_SECRET_ACCESS_KEY", "secret": {"from": "file", "path": key.to_string_lossy()}},
    ]);
    let path = write_spec_named(root, "files", &spec);
    full_cycle("S3", root, &path);
}
