//! A restic job run by hand, outside its unit (no `CREDENTIALS_DIRECTORY`): the spec the
//! compiler writes for a `file=` secret names the file `LoadCredential=` reads, so root can
//! back up, list and restore with no credentials folder; a `command=` secret needs none; an
//! encrypted `credential=` secret fails saying exactly how to run by hand.

mod common;
mod support;

use std::fs;
use std::process::{Command, Output};

use serde_json::json;

use common::{assert_code, TempDir, BAKRUN};
use support::{restic_spec, secret_file, write_spec_named};

/// bakrun as an admin runs it from a shell: no credentials folder.
fn by_hand(args: &[&str]) -> Output {
    Command::new(BAKRUN)
        .args(args)
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap()
}

#[test]
fn file_and_command_secrets_work_without_a_credentials_folder() {
    let t = TempDir::new("by-hand");
    let src = t.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("notes.txt"), "by hand\n").unwrap();
    let password = secret_file(t.path(), "restic-pw", "by-hand-pw");
    let repo = t.join("repo").to_string_lossy().into_owned();

    // As `bakgen build` writes it for `secret "restic-pw" file="…"`.
    let mut spec = restic_spec(t.path(), "files", &repo, &password, &[&src]);
    spec["destination"]["password"] = json!({
        "from": "credential", "name": "restic-pw", "file": password.to_string_lossy(),
    });
    let file_spec = write_spec_named(t.path(), "files", &spec);
    let file_spec = file_spec.to_str().unwrap();
    assert_code(&by_hand(&["init", file_spec]), 0);
    assert_code(&by_hand(&["run", file_spec]), 0);
    let listed = by_hand(&["snapshots", file_spec]);
    assert_code(&listed, 0);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert_eq!(listed.lines().count(), 1, "{listed}");
    let to = t.join("restored");
    let restored = by_hand(&[
        "restore",
        file_spec,
        &src.join("notes.txt").to_string_lossy(),
        "--to",
        &to.to_string_lossy(),
    ]);
    assert_code(&restored, 0);
    assert_eq!(
        fs::read_to_string(to.join("notes.txt")).unwrap(),
        "by hand\n"
    );

    // The file is checked as any secret file: readable by others, it is refused.
    fs::set_permissions(
        &password,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let exposed = by_hand(&["snapshots", file_spec]);
    assert_ne!(exposed.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&exposed.stderr).contains("readable by everyone"));
    fs::set_permissions(
        &password,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();

    // A command secret.
    spec["destination"]["password"] = json!({
        "from": "command", "command": format!("cat {}", password.display()),
    });
    let command_spec = write_spec_named(t.path(), "files-command", &spec);
    let out = by_hand(&["snapshots", command_spec.to_str().unwrap()]);
    assert_code(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), listed);
}

#[test]
fn an_encrypted_credential_says_how_to_run_by_hand_and_older_specs_still_load() {
    let t = TempDir::new("by-hand-encrypted");
    let password = secret_file(t.path(), "unused", "x");
    let mut spec = restic_spec(
        t.path(),
        "files",
        "/nonexistent/repo",
        &password,
        &[t.path()],
    );
    spec["destination"]["password"] = json!({
        "from": "credential", "name": "offsite", "encrypted": "/etc/credstore.encrypted/offsite",
    });
    let path = write_spec_named(t.path(), "enc", &spec);
    let out = by_hand(&["snapshots", path.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("systemd-run --pty --collect -p LoadCredentialEncrypted=offsite:/etc/credstore.encrypted/offsite bakrun …"),
        "{err}"
    );
    assert!(
        err.contains("systemd-creds decrypt --name=offsite /etc/credstore.encrypted/offsite"),
        "{err}"
    );

    // A spec written before the file was named: loads, and says to use the unit.
    spec["destination"]["password"] = json!({"from": "credential", "name": "offsite"});
    let path = write_spec_named(t.path(), "old", &spec);
    let out = by_hand(&["snapshots", path.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(2), "the old spec must load");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("CREDENTIALS_DIRECTORY is not set: run the job through its unit"),
        "{err}"
    );
}
