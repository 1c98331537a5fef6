//! The whole cycle ([`support::full_cycle`]: init, three backups, listing, retention,
//! restore at a date, prune, check, restore of the newest, trees compared) on the REST
//! (rclone) and S3 (moto) backends. sftp runs it in `restic_failures.rs`, the local
//! repository has its own in `restic_engine.rs`.

mod common;
mod support;

use serde_json::json;

use common::TempDir;
use support::*;

#[test]
#[ignore = "tier: system — needs root, a rest-server (rclone) and a moto S3 server; run by scripts/test"]
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
#[ignore = "tier: system — needs root, a rest-server (rclone) and a moto S3 server; run by scripts/test"]
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
