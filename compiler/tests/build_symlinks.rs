//! `bakgen build --out DIR` never follows a symbolic link inside DIR: a link where a file or
//! folder of a bundle belongs is refused (exit 4) with nothing written through it; any
//! other link is left alone and reported, never walked, and never removed through.

mod support;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use support::{names, with_outside};
use tempfile::TempDir;

const V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apply_fixtures/v1.kdl");
const V2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apply_fixtures/v2.kdl");

/// `bakgen build POLICY --out OUT`: exit code and standard error.
fn build(policy: &str, out: &Path) -> (i32, String) {
    let o = support::command()
        .args(["build", policy, "--out"])
        .arg(out)
        .output()
        .expect("bakgen runs");
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    (o.status.code().unwrap_or(-1), stderr)
}

/// A fresh `out/` and `outside/` side by side, in a folder removed when the first is dropped.
fn dirs(name: &str) -> (TempDir, PathBuf, PathBuf) {
    with_outside(&format!("build-links-{name}"), "out")
}

fn link_at(path: &Path, target: &Path) {
    let _ = std::fs::remove_file(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("parents");
    symlink(target, path).expect("symlink");
}

#[test]
fn a_linked_folder_of_the_bundle_is_refused_and_nothing_written_outside() {
    for rel in [
        "h1",
        "h1/etc",
        "h1/etc/systemd/system",
        "h1/etc/bakgen/jobs",
    ] {
        let (_dir, out, outside) = dirs(&rel.replace('/', "-"));
        link_at(&out.join(rel), &outside);
        let (code, stderr) = build(V1, &out);
        assert_eq!(code, 4, "{rel}: {stderr}");
        let named = format!("{} is a symbolic link", out.join(rel).display());
        assert!(stderr.contains(&named), "{rel}: no `{named}` in:\n{stderr}");
        assert!(
            names(&outside).is_empty(),
            "{rel}: wrote outside: {:?}",
            names(&outside)
        );
    }
}

#[test]
fn a_linked_file_of_the_bundle_is_refused_and_its_target_never_chmodded() {
    let (_dir, out, outside) = dirs("file");
    assert_eq!(build(V1, &out).0, 0);
    // Same bytes, other mode: without the refusal, a mode-only fix through the link.
    let spec = out.join("h1/etc/bakgen/jobs/etc.json");
    let target = outside.join("copy");
    std::fs::copy(&spec, &target).expect("copy");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    link_at(&spec, &target);
    let (code, stderr) = build(V1, &out);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("is a symbolic link"), "{stderr}");
    let mode = std::fs::metadata(&target)
        .expect("stat")
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o644, "the link's target was chmodded");
}

#[test]
fn other_links_are_left_alone_reported_and_never_walked_or_removed_through() {
    let (_dir, out, outside) = dirs("other");
    assert_eq!(build(V1, &out).0, 0);
    // A stale file (v2 drops job `home`) replaced by a link to an identical copy: its hash
    // matches the manifest, so following the link would remove the copy.
    let stale = out.join("h1/etc/bakgen/jobs/home.json");
    let copy = outside.join("home.json");
    std::fs::copy(&stale, &copy).expect("copy");
    link_at(&stale, &copy);
    // A link to a folder among the host's files: reported, not listed through.
    std::fs::write(outside.join("inner"), "x").expect("inner");
    link_at(&out.join("h1/notes"), &outside);
    // A gone host whose folder is a link to a real, older bundle elsewhere.
    let (_elsewhere, elsewhere, _) = dirs("other-elsewhere");
    assert_eq!(build(V1, &elsewhere).0, 0);
    let h1 = elsewhere.join("h1");
    std::fs::rename(&h1, elsewhere.join("gone")).expect("rename");
    let manifest = elsewhere.join("gone/etc/bakgen/manifest.json");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, text.replace("\"h1\"", "\"gone\"")).expect("rewrite");
    link_at(&out.join("gone"), &elsewhere.join("gone"));
    let before = names(&elsewhere.join("gone/etc/bakgen/jobs"));

    let (code, stderr) = build(V2, &out);
    assert_eq!(code, 0, "{stderr}");
    assert!(copy.exists(), "removed through a link");
    assert!(std::fs::symlink_metadata(&stale)
        .expect("link")
        .is_symlink());
    assert!(
        stderr.contains(&format!("left alone {}", stale.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("left alone {}", out.join("h1/notes").display())),
        "{stderr}"
    );
    assert!(
        !stderr.contains("inner"),
        "walked through a link:\n{stderr}"
    );
    assert_eq!(names(&elsewhere.join("gone/etc/bakgen/jobs")), before);
    assert!(std::fs::symlink_metadata(out.join("gone"))
        .expect("kept")
        .is_symlink());
}
