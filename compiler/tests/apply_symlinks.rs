//! `bakgen diff` and `bakgen apply` never follow a symbolic link under the root: a link
//! where a file or folder of the bundle (or the manifest) belongs is refused with exit 4,
//! its target is never printed, written, chmodded or removed, and nothing is written
//! outside the root.

mod support;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use support::with_outside;
use tempfile::TempDir;

const V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apply_fixtures/v1.kdl");
const V2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apply_fixtures/v2.kdl");
const SECRET: &str = "TOP-SECRET-do-not-print\n";

/// `bakgen VERB POLICY --host h1 --root ROOT EXTRA…`: exit code and stdout + stderr.
/// Under `timeout`: opening a FIFO by path used to hang bakgen for good; a hang now ends
/// as exit 124 and fails the test instead of the suite.
fn bakgen(verb: &str, policy: &str, root: &Path, extra: &[&str]) -> (i32, String) {
    let o = Command::new("timeout")
        .args(["30", env!("CARGO_BIN_EXE_bakgen")])
        .args([verb, policy, "--host", "h1", "--root"])
        .arg(root)
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .expect("bakgen runs");
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.code().unwrap_or(-1), text)
}

/// A fresh folder with `root/` (the install root) and `outside/` beside it, removed when
/// the first is dropped.
fn setup(name: &str) -> (TempDir, PathBuf, PathBuf) {
    with_outside(&format!("links-{name}"), "root")
}

/// A 0600 file outside the root holding `contents`.
fn secret(outside: &Path, contents: &str) -> PathBuf {
    let p = outside.join("secret");
    std::fs::write(&p, contents).expect("write secret");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    p
}

/// Replaces `root/rel` (file or absent) with a link to `target`.
fn link(root: &Path, rel: &str, target: &Path) {
    let p = root.join(rel);
    let _ = std::fs::remove_file(&p);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("parents");
    symlink(target, &p).expect("symlink");
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o7777
}

/// Every verb refuses with exit 4, prints no byte of `hidden`, and names `rel` as a link.
fn assert_refused(policy: &str, root: &Path, rel: &str, hidden: &str) {
    for (verb, extra) in [
        ("diff", &[][..]),
        ("diff", &["--format", "json"][..]),
        ("apply", &["--dry-run"][..]),
        ("apply", &[][..]),
        ("apply", &["--force"][..]),
    ] {
        let (code, text) = bakgen(verb, policy, root, extra);
        assert_eq!(code, 4, "{verb} {extra:?} must refuse:\n{text}");
        assert!(
            !text.contains(hidden.trim()),
            "{verb} {extra:?} printed what the link points to:\n{text}"
        );
        let named = format!("{} is a symbolic link", root.join(rel).display());
        assert!(
            text.contains(&named),
            "{verb} {extra:?}: no `{named}` in:\n{text}"
        );
        assert!(text.contains("never follows links"), "{text}");
    }
}

#[test]
fn a_unit_linked_to_a_secret_file_is_refused_and_never_printed() {
    let (_dir, root, outside) = setup("unit");
    let target = secret(&outside, SECRET);
    let unit = "etc/systemd/system/bakgen-etc.timer";
    // On a fresh root, and where a unit bakgen installed before was replaced by a link.
    link(&root, unit, &target);
    assert_refused(V1, &root, unit, SECRET);
    assert_eq!(std::fs::read_to_string(&target).expect("read"), SECRET);
    assert_eq!(mode(&target), 0o600);
    assert!(
        std::fs::symlink_metadata(root.join("etc/bakgen")).is_err(),
        "nothing written"
    );

    std::fs::remove_file(root.join(unit)).expect("unlink");
    assert_eq!(bakgen("apply", V1, &root, &[]).0, 0);
    link(&root, unit, &target);
    assert_refused(V1, &root, unit, SECRET);
    assert_eq!(std::fs::read_to_string(&target).expect("read"), SECRET);
    assert!(std::fs::symlink_metadata(root.join(unit))
        .expect("still there")
        .is_symlink());
}

#[test]
fn a_linked_parent_folder_is_refused_and_nothing_is_written_outside_the_root() {
    for parent in [
        "etc",
        "etc/systemd",
        "etc/systemd/system",
        "etc/bakgen",
        "etc/bakgen/jobs",
        "etc/sysusers.d",
    ] {
        let (_dir, root, outside) = setup(&parent.replace('/', "-"));
        link(&root, parent, &outside);
        let (code, text) = bakgen("apply", V1, &root, &["--force"]);
        assert_eq!(code, 4, "{parent}: {text}");
        let named = format!("{} is a symbolic link", root.join(parent).display());
        assert!(text.contains(&named), "{parent}: no `{named}` in:\n{text}");
        let written: Vec<_> = std::fs::read_dir(&outside).expect("ls").collect();
        assert!(
            written.is_empty(),
            "{parent}: apply wrote outside the root: {written:?}"
        );
        assert_eq!(bakgen("diff", V1, &root, &[]).0, 4, "{parent}");
    }
}

#[test]
fn a_mode_change_never_chmods_the_target_of_a_link() {
    let (_dir, root, outside) = setup("mode");
    assert_eq!(bakgen("apply", V1, &root, &[]).0, 0);
    // Same bytes as the job spec but mode 0644: without the refusal this is a mode-only
    // change, and chmod would follow the link.
    let spec = "etc/bakgen/jobs/etc.json";
    let bytes = std::fs::read(root.join(spec)).expect("spec");
    let target = outside.join("spec-copy");
    std::fs::write(&target, &bytes).expect("copy");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    link(&root, spec, &target);
    let (code, text) = bakgen("apply", V1, &root, &["--force"]);
    assert_eq!(code, 4, "{text}");
    assert_eq!(mode(&target), 0o644, "the link's target was chmodded");
    assert_eq!(std::fs::read(&target).expect("read"), bytes);
}

#[test]
fn a_linked_manifest_is_refused_and_never_printed_or_overwritten() {
    let (_dir, root, outside) = setup("manifest");
    assert_eq!(bakgen("apply", V1, &root, &[]).0, 0);
    let target = secret(&outside, SECRET);
    let manifest = "etc/bakgen/manifest.json";
    link(&root, manifest, &target);
    assert_refused(V2, &root, manifest, SECRET);
    assert_eq!(std::fs::read_to_string(&target).expect("read"), SECRET);
    assert_eq!(mode(&target), 0o600);
}

#[test]
fn a_stale_file_replaced_by_a_link_is_refused_and_its_target_kept() {
    let (_dir, root, outside) = setup("stale");
    assert_eq!(bakgen("apply", V1, &root, &[]).0, 0);
    // v2 drops job `home`: its files are removed, but this one is now a link.
    let stale = "etc/bakgen/jobs/home.json";
    let target = secret(&outside, SECRET);
    link(&root, stale, &target);
    assert_refused(V2, &root, stale, SECRET);
    assert_eq!(std::fs::read_to_string(&target).expect("read"), SECRET);
    // Once the link is gone, v2 applies.
    std::fs::remove_file(root.join(stale)).expect("unlink");
    let (code, text) = bakgen("apply", V2, &root, &[]);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn a_fifo_or_folder_where_a_file_belongs_is_refused_without_hanging() {
    let (_dir, root, _) = setup("fifo");
    let unit = root.join("etc/systemd/system/bakgen-etc.timer");
    std::fs::create_dir_all(unit.parent().expect("parent")).expect("dirs");
    let made = Command::new("mkfifo")
        .arg(&unit)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let (code, text) = bakgen("diff", V1, &root, &[]);
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("is not a file"), "{text}");
    std::fs::remove_file(&unit).expect("rm fifo");
    std::fs::create_dir(&unit).expect("mkdir");
    let (code, text) = bakgen("apply", V1, &root, &["--force"]);
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("is not a file"), "{text}");
}
