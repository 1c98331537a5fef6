//! `bakgen build` of a generated fleet (tests/support/fleet.rs) through its fast paths: host
//! by host on several threads, byte-identical to the bundles emitted in one piece; a
//! rebuild that emits no host whose inputs are as stamped, and still notices a file
//! edited, removed or chmod-ed by hand; `--host`; the stamp kept in the user's cache
//! folder, so the output folder holds the generated files alone.

mod support;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use bakgen::emit::sha256_hex;
use bakgen::ops::build::bundles;
use bakgen::ops::check::check;
use bakgen::source::{SourceFile, SourceSet};
use support::{bakgen, command, fleet, names, tmp};

const HOSTS: usize = 24;

/// The file older bakgens kept their stamp in, inside the output folder.
const LEGACY: &str = ".bakgen-build.json";

/// The cache folder (`XDG_CACHE_HOME`) of the builds of `policy`: `cache/` beside it, in
/// the test's own folder.
fn cache_of(policy: &Path) -> PathBuf {
    policy.with_file_name("cache")
}

/// Where the stamp of `out` is kept, as docs/operations.md says: in `cache`, named for the
/// SHA-256 of `out`'s canonical path.
fn stamp_of(cache: &Path, out: &Path) -> PathBuf {
    let canonical = std::fs::canonicalize(out).expect("the output folder exists");
    cache.join(format!(
        "bakgen/build-stamps/{}.json",
        sha256_hex(canonical.as_os_str().as_bytes())
    ))
}

/// Runs `bakgen build POLICY --out OUT ARGS…` as `cmd` sets it up; its standard error.
fn build_as(mut cmd: Command, policy: &Path, out: &Path, args: &[&str]) -> String {
    let o = cmd
        .arg("build")
        .arg(policy)
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .expect("bakgen runs");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "build failed:\n{err}");
    err
}

/// Runs `bakgen build POLICY --out OUT ARGS…` with its cache in [`cache_of`]; its standard
/// error's last line.
fn build(policy: &Path, out: &Path, args: &[&str]) -> String {
    let mut cmd = command();
    cmd.env("XDG_CACHE_HOME", cache_of(policy));
    let err = build_as(cmd, policy, out, args);
    err.lines().last().unwrap_or_default().to_owned()
}

/// Every file under `root`, relative path → bytes.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("readable") {
            let p = e.expect("entry").path();
            let rel = p.strip_prefix(root).expect("inside").to_string_lossy();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel.into_owned(), std::fs::read(&p).expect("file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn write_policy(dir: &Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("fleet.kdl");
    std::fs::write(&p, text).expect("policy");
    p
}

#[test]
fn a_parallel_build_writes_exactly_the_bundles_emitted_in_one_piece() {
    let text = fleet::policy(HOSTS, 10);
    let mut set = SourceSet::default();
    set.add(SourceFile::new("fleet.kdl", text.clone()));
    let checked = check(set);
    let plan = checked.plan().expect("the generated fleet has no error");
    let mut want = BTreeMap::new();
    for b in bundles(plan).expect("renders") {
        for (rel, f) in b.files {
            want.insert(format!("{}/{rel}", b.host), f.contents);
        }
    }
    assert!(want.len() > HOSTS * 40, "{} files", want.len());

    let dir = tmp("fleet-identical");
    let policy = write_policy(dir.path(), &text);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    build(&policy, &a, &[]);
    build(&policy, &b, &[]);
    assert!(tree(&a) == want, "the build differs from the bundles");
    assert!(tree(&b) == want, "two builds differ");
}

#[test]
fn a_rebuild_emits_only_what_changed_and_repairs_what_was_touched() {
    let dir = tmp("fleet-skip");
    let text = fleet::policy(HOSTS, 10);
    let policy = write_policy(dir.path(), &text);
    let out = dir.path().join("out");
    let first = build(&policy, &out, &[]);
    assert!(first.contains(" 0 unchanged,"), "{first}");
    let built = tree(&out);

    let again = build(&policy, &out, &[]);
    assert!(again.contains(" 0 written,"), "{again}");
    assert!(
        again.contains(&format!("({HOSTS} hosts unchanged since the last build")),
        "{again}"
    );

    // Text moved around (every span after it shifts) is no change.
    let moved = format!("// a comment\n\n{text}");
    std::fs::write(&policy, &moved).expect("policy");
    let again = build(&policy, &out, &[]);
    assert!(
        again.contains(&format!("({HOSTS} hosts unchanged")),
        "{again}"
    );

    // One host's job changed: that host alone is emitted, and only its changed files written.
    let changed = moved.replacen("source \"/opt\"", "source \"/opt\" \"/srv/extra\"", 1);
    assert_ne!(changed, moved);
    std::fs::write(&policy, &changed).expect("policy");
    let again = build(&policy, &out, &[]);
    assert!(
        again.contains(&format!("({} hosts unchanged", HOSTS - 1)),
        "{again}"
    );
    assert!(again.contains(" 2 written,"), "spec and manifest: {again}");
    let spec = out.join("host00000/etc/bakgen/jobs/job7.json");
    assert!(std::fs::read_to_string(&spec)
        .expect("spec")
        .contains("/srv/extra"));

    // Touched by hand: edited (same size), removed, chmod-ed — each made right again,
    // though the host's inputs did not change.
    std::fs::write(&policy, &text).expect("policy");
    build(&policy, &out, &[]);
    let unit = out.join("host00003/etc/systemd/system/bakgen-job1.service");
    let edited: String = std::fs::read_to_string(&unit)
        .expect("unit")
        .replacen("Nice=", "Nicf=", 1);
    std::fs::write(&unit, edited).expect("edit");
    std::fs::remove_file(out.join("host00004/etc/bakgen/jobs/job2.json")).expect("rm");
    let timer = out.join("host00005/etc/systemd/system/bakgen-job3.timer");
    std::fs::set_permissions(&timer, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let again = build(&policy, &out, &[]);
    assert!(
        again.contains(&format!("({} hosts unchanged", HOSTS - 3)),
        "{again}"
    );
    assert!(tree(&out) == built, "the touched files were not made right");
    let mode = std::fs::metadata(&timer)
        .expect("timer")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o644);
    // Once made right, trusted again.
    let again = build(&policy, &out, &[]);
    assert!(
        again.contains(&format!("({HOSTS} hosts unchanged")),
        "{again}"
    );

    // A stamp from another bakgen (or none) is not trusted: every host is emitted, and
    // nothing unchanged is written.
    let stamp = stamp_of(&cache_of(&policy), &out);
    let text = std::fs::read_to_string(&stamp).expect("stamp");
    let (head, tail) = text
        .split_once("\"bakgen\": \"")
        .expect("the executable's hash");
    let (_, tail) = tail.split_once('"').expect("its end");
    std::fs::write(&stamp, format!("{head}\"bakgen\": \"another\"{tail}")).expect("stamp");
    let again = build(&policy, &out, &[]);
    assert!(
        again.contains(" 0 written,") && again.contains("(0 hosts"),
        "{again}"
    );
    std::fs::remove_file(&stamp).expect("rm stamp");
    let again = build(&policy, &out, &[]);
    assert!(
        again.contains(" 0 written,") && again.contains("(0 hosts"),
        "{again}"
    );
    assert!(tree(&out) == built);
}

#[test]
fn build_host_builds_that_host_alone() {
    let dir = tmp("fleet-host");
    let policy = write_policy(dir.path(), &fleet::policy(4, 10));
    let out = dir.path().join("out");
    build(&policy, &out, &["--host", "host00002"]);
    assert_eq!(names(&out), ["host00002"]);

    build(&policy, &out, &[]);
    let one = build(&policy, &out, &["--host", "host00001"]);
    assert!(
        one.starts_with("built 1 host: 0 written, 49 unchanged"),
        "{one}"
    );
    // The other hosts are still stamped: a full build emits none of them.
    let all = build(&policy, &out, &[]);
    assert!(all.contains("(4 hosts unchanged"), "{all}");

    let o = bakgen(&[
        "build",
        policy.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--host",
        "nosuch",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no host \"nosuch\" in the policy"), "{err}");
}

#[test]
fn a_changed_install_block_or_drill_reemits_the_hosts_it_touches() {
    let dir = tmp("fleet-install");
    let text = fleet::policy(4, 3);
    let policy = write_policy(dir.path(), &text);
    let out = dir.path().join("out");
    build(&policy, &out, &[]);
    let unit = out.join("host00000/etc/systemd/system/bakgen-job0.service");
    let before = std::fs::read_to_string(&unit).expect("unit");
    assert!(before.contains("\nExecStart=/usr/bin/bakrun "), "{before}");

    // The `install` block is in every unit of every host: no host is skipped.
    let installed = format!("install {{ bakrun \"/usr/local/bin/bakrun\"; }}\n{text}");
    std::fs::write(&policy, &installed).expect("policy");
    let again = build(&policy, &out, &[]);
    assert!(
        !again.contains(" hosts unchanged") || again.contains("(0 hosts unchanged"),
        "{again}"
    );
    let after = std::fs::read_to_string(&unit).expect("unit");
    assert!(
        after.contains("\nExecStart=/usr/local/bin/bakrun "),
        "{after}"
    );

    // A drill added through `defaults` reaches every host's jobs.
    let drilled = installed.replacen("defaults {", "defaults {\n    verify { }", 1);
    assert_ne!(drilled, installed, "the fleet policy has a defaults block");
    std::fs::write(&policy, &drilled).expect("policy");
    let again = build(&policy, &out, &[]);
    assert!(
        !again.contains(" hosts unchanged") || again.contains("(0 hosts unchanged"),
        "{again}"
    );
    assert!(out
        .join("host00003/etc/systemd/system/bakgen-verify-job0.timer")
        .exists());
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the compiler crate sits in the workspace")
        .to_path_buf()
}

/// `diff -r A B`'s output: empty when the two trees are the same.
fn diff_r(a: &Path, b: &Path) -> String {
    let o = Command::new("diff")
        .arg("-r")
        .arg(a)
        .arg(b)
        .output()
        .expect("diff runs");
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "diff failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_output_folder_holds_the_generated_files_alone() {
    let dir = tmp("fleet-alone");
    let policies = workspace().join("policies");
    let cache = dir.path().join("cache");
    let run = |out: &Path| {
        let mut cmd = command();
        cmd.env("XDG_CACHE_HOME", &cache);
        build_as(cmd, &policies, out, &[])
    };
    let (out, fresh) = (dir.path().join("out"), dir.path().join("fresh"));
    run(&out);
    run(&fresh);
    assert!(!out.join(LEGACY).exists());
    assert_eq!(diff_r(&out, &fresh), "");
    // What a reviewer checks: generated/ is current.
    assert_eq!(diff_r(&out, &workspace().join("generated")), "");

    // The stamps are in the cache, one per output folder, and they work: a rebuild emits
    // only the hosts that depend on others, and changes nothing.
    let file_name = |p: PathBuf| p.file_name().expect("name").to_string_lossy().into_owned();
    let mut want = vec![
        file_name(stamp_of(&cache, &out)),
        file_name(stamp_of(&cache, &fresh)),
    ];
    want.sort();
    assert_eq!(names(&cache.join("bakgen/build-stamps")), want);
    let again = run(&out);
    let last = again.lines().last().unwrap_or_default();
    assert!(
        last.contains(" 0 written,")
            && last.contains(" hosts unchanged since the last build")
            && !last.contains("(0 hosts"),
        "{again}"
    );
    assert_eq!(diff_r(&out, &fresh), "");

    // An older bakgen's stamp in the output folder is removed by the next build.
    std::fs::write(out.join(LEGACY), "{\"bakgen\": \"older\", \"hosts\": {}}\n").expect("old");
    let again = run(&out);
    assert!(
        again.contains(&format!("removed {}\n", out.join(LEGACY).display())),
        "{again}"
    );
    assert!(!again.contains(" 0 removed ("), "{again}");
    assert_eq!(diff_r(&out, &fresh), "");
}

#[test]
fn the_stamp_is_kept_in_xdg_cache_home_else_home_else_nowhere() {
    let dir = tmp("fleet-cache");
    let policy = write_policy(dir.path(), &fleet::policy(4, 3));
    let out = dir.path().join("out");
    let home = dir.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let in_home = || {
        let mut cmd = command();
        cmd.env_remove("XDG_CACHE_HOME").env("HOME", &home);
        cmd
    };
    build_as(in_home(), &policy, &out, &[]);
    let stamp = stamp_of(&home.join(".cache"), &out);
    assert!(stamp.is_file(), "no stamp at {}", stamp.display());
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    for folder in [".cache", ".cache/bakgen", ".cache/bakgen/build-stamps"] {
        assert_eq!(mode(&home.join(folder)), 0o700, "{folder}");
    }
    let again = build_as(in_home(), &policy, &out, &[]);
    assert!(again.contains("(4 hosts unchanged"), "{again}");
    assert_eq!(
        names(&out),
        ["host00000", "host00001", "host00002", "host00003"]
    );

    // No cache folder: no stamp anywhere, every host emitted, nothing unchanged written.
    let nowhere = || {
        let mut cmd = command();
        cmd.env_remove("XDG_CACHE_HOME").env_remove("HOME");
        cmd
    };
    let first = build_as(nowhere(), &policy, &out, &[]);
    assert!(
        first.contains(" 0 written,") && first.contains("(0 hosts"),
        "{first}"
    );
    let again = build_as(nowhere(), &policy, &out, &[]);
    assert!(
        again.contains(" 0 written,") && again.contains("(0 hosts"),
        "{again}"
    );
    assert_eq!(
        names(&out),
        ["host00000", "host00001", "host00002", "host00003"]
    );
    // A build without a cache leaves the stamp in HOME alone: still this folder's, and (the
    // manifests as stamped) still trusted.
    let again = build_as(in_home(), &policy, &out, &[]);
    assert!(again.contains("(4 hosts unchanged"), "{again}");

    // A cache folder that cannot be made: a warning, and the build succeeds, complete.
    let not_a_folder = dir.path().join("not-a-folder");
    std::fs::write(&not_a_folder, "").expect("file");
    let before = tree(&out);
    std::fs::remove_dir_all(out.join("host00001")).expect("rm");
    let mut cmd = command();
    cmd.env("XDG_CACHE_HOME", &not_a_folder);
    let err = build_as(cmd, &policy, &out, &[]);
    assert!(
        err.contains(&format!(
            "warning: cannot remove the build stamp {}/bakgen/build-stamps/",
            not_a_folder.display()
        )),
        "{err}"
    );
    assert!(tree(&out) == before, "the build is not complete");
}
