//! `bakgen diff` and `bakgen apply` against a temporary root: what gets written, what is
//! refused, what systemd would be told, and that an interrupted apply always recovers.
//! systemctl is not run here (the root is not `/`); tests/tests/e2e_apply.rs runs it under a
//! real systemd.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Instant;

use support::{bakgen, tmp};

const V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apply_fixtures/v1.kdl");
const V2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apply_fixtures/v2.kdl");
const V1_VIEW: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/apply_fixtures/v1-view.kdl"
);
const BROKEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/apply_fixtures/broken.kdl"
);
const UNITS: &str = "etc/systemd/system";
const MANIFEST: &str = "etc/bakgen/manifest.json";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let o = bakgen(args);
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn apply(policy: &str, root: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["apply", policy, "--host", "h1", "--root", s(root)];
    args.extend_from_slice(extra);
    run(&args)
}

fn apply_ok(policy: &str, root: &Path) -> Run {
    let r = apply(policy, root, &[]);
    assert_eq!(r.code, 0, "apply failed:\n{}\n{}", r.stdout, r.stderr);
    r
}

fn diff(policy: &str, root: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["diff", policy, "--host", "h1", "--root", s(root)];
    args.extend_from_slice(extra);
    run(&args)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A file's bytes and mode.
type File = (Vec<u8>, u32);

/// Every file under `root`: relative path → (bytes, mode).
fn tree(root: &Path) -> BTreeMap<String, File> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, File>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("inside").to_string_lossy();
                let mode = std::fs::metadata(&p).expect("stat").permissions().mode() & 0o7777;
                out.insert(rel.into_owned(), (std::fs::read(&p).expect("read"), mode));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Every file's (inode, mtime in ns): a rewrite (even of identical bytes) changes them.
fn stamps(root: &Path) -> BTreeMap<String, (u64, i64, i64)> {
    tree(root)
        .into_keys()
        .map(|rel| {
            let m = std::fs::metadata(root.join(&rel)).expect("stat");
            (rel, (m.ino(), m.mtime(), m.mtime_nsec()))
        })
        .collect()
}

/// The "commands" lines of a plan.
fn commands(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("commands"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim().to_owned())
        .collect()
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    eprintln!("{what}: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    r
}

#[test]
fn fresh_install_writes_the_bundle_with_its_modes_and_plans_enabling_timers() {
    timed("fresh install", || {
        let root = tmp("fresh");
        let root = root.path().to_owned();
        let r = apply_ok(V1, &root);
        let files = tree(&root);
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "etc/bakgen/jobs/etc.json",
                "etc/bakgen/jobs/home.json",
                MANIFEST,
                "etc/systemd/system/bakgen-etc.service",
                "etc/systemd/system/bakgen-etc.timer",
                "etc/systemd/system/bakgen-home.service",
                "etc/systemd/system/bakgen-home.timer",
                "etc/sysusers.d/bakgen.conf",
            ]
        );
        assert_eq!(
            files["etc/bakgen/jobs/etc.json"].1, 0o600,
            "job specs are root-only"
        );
        assert_eq!(files["etc/systemd/system/bakgen-etc.timer"].1, 0o644);
        // What was installed is exactly what `build` produces.
        let out = tmp("fresh-build");
        let out = out.path().to_owned();
        let b = bakgen(&["build", V1, "--out", s(&out)]);
        assert!(b.status.success());
        assert_eq!(files, tree(&out.join("h1")));
        // No temporary file is left behind.
        assert!(!files.keys().any(|k| k.contains(".bakgen-tmp")));
        assert_eq!(
            commands(&r.stdout),
            [
                format!("systemd-sysusers {}/etc/sysusers.d/bakgen.conf", s(&root)),
                "systemctl daemon-reload".to_owned(),
                "systemctl enable --now bakgen-etc.timer bakgen-home.timer".to_owned(),
            ]
        );
        assert!(
            r.stdout.contains("not run: the root is not /"),
            "{}",
            r.stdout
        );
        assert!(
            !r.stdout.contains("\nrun: "),
            "systemctl must not run for a root that is not /"
        );
    });
}

#[test]
fn a_second_apply_without_change_writes_nothing_and_plans_no_command() {
    let root = tmp("again");
    let root = root.path().to_owned();
    apply_ok(V1, &root);
    let before = stamps(&root);
    let r = timed("no-change apply", || apply_ok(V1, &root));
    assert_eq!(before, stamps(&root), "files were rewritten");
    assert_eq!(
        r.stdout,
        "host h1: nothing to change under ".to_owned() + s(&root) + "\n"
    );
    assert!(commands(&r.stdout).is_empty());
    let d = diff(V1, &root, &[]);
    assert_eq!(d.code, 0, "{}", d.stdout);
}

#[test]
fn a_changed_policy_updates_adds_and_removes_and_plans_units_in_order() {
    let root = tmp("changed");
    let root = root.path().to_owned();
    apply_ok(V1, &root);
    let d = diff(V2, &root, &[]);
    assert_eq!(d.code, 3);
    let r = timed("changed apply", || apply_ok(V2, &root));
    let files = tree(&root);
    assert!(!files.contains_key("etc/systemd/system/bakgen-home.timer"));
    assert!(!files.contains_key("etc/systemd/system/bakgen-home.service"));
    assert!(!files.contains_key("etc/bakgen/jobs/home.json"));
    assert!(files.contains_key("etc/systemd/system/bakgen-srv.timer"));
    let timer =
        String::from_utf8_lossy(&files["etc/systemd/system/bakgen-etc.timer"].0).into_owned();
    assert!(timer.contains("OnCalendar=*-*-* 04:30:00"), "{timer}");
    let out = tmp("changed-build");
    let out = out.path().to_owned();
    assert!(bakgen(&["build", V2, "--out", s(&out)]).status.success());
    assert_eq!(files, tree(&out.join("h1")));
    // Stale timers are disabled before their files go; the sysusers file did not change.
    assert_eq!(
        commands(&r.stdout),
        [
            "systemctl disable --now bakgen-home.timer",
            "systemctl daemon-reload",
            "systemctl enable --now bakgen-srv.timer",
            "systemctl restart bakgen-etc.timer",
        ]
    );
    for line in [
        "change  unit      etc/systemd/system/bakgen-etc.timer",
        "remove  unit      etc/systemd/system/bakgen-home.timer",
        "remove  job spec  etc/bakgen/jobs/home.json",
        "add     unit      etc/systemd/system/bakgen-srv.timer",
        "-OnCalendar=*-*-* 03:00:00",
        "+OnCalendar=*-*-* 04:30:00",
    ] {
        assert!(
            r.stdout.contains(line),
            "missing `{line}` in:\n{}",
            r.stdout
        );
    }
}

#[test]
fn a_file_bakgen_does_not_own_is_refused_and_nothing_is_written() {
    let root = tmp("foreign");
    let root = root.path().to_owned();
    let timer = root.join(UNITS).join("bakgen-etc.timer");
    std::fs::create_dir_all(timer.parent().expect("parent")).expect("mkdir");
    std::fs::write(&timer, "# an admin's own timer\n").expect("write");
    let r = apply(V1, &root, &[]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("[not bakgen's: not in its manifest]"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("-# an admin's own timer"),
        "the diff is shown:\n{}",
        r.stdout
    );
    assert!(r.stderr.contains("refused"), "{}", r.stderr);
    let files = tree(&root);
    assert_eq!(files.len(), 1, "only the foreign file: {:?}", files.keys());
    // The same bytes as bakgen's are not a conflict: nothing would be overwritten.
    let out = tmp("foreign-build");
    let out = out.path().to_owned();
    assert!(bakgen(&["build", V1, "--out", s(&out)]).status.success());
    std::fs::copy(out.join("h1").join(UNITS).join("bakgen-etc.timer"), &timer).expect("copy");
    apply_ok(V1, &root);
}

#[test]
fn a_hand_edited_file_is_refused_unless_forced() {
    let root = tmp("edited");
    let root = root.path().to_owned();
    apply_ok(V1, &root);
    let timer = root.join(UNITS).join("bakgen-etc.timer");
    let mut text = std::fs::read_to_string(&timer).expect("read");
    text.push_str("# tuned by hand\n");
    std::fs::write(&timer, &text).expect("write");
    // Overwriting it (schedule changed in v2) and removing an edited stale file are refused.
    let service = root.join(UNITS).join("bakgen-home.service");
    std::fs::write(&service, "# edited\n").expect("write");
    let before = tree(&root);
    let r = apply(V2, &root, &[]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("[edited by hand since the last apply]"));
    assert_eq!(before, tree(&root), "a refused apply wrote something");
    // --dry-run refuses the same way.
    assert_eq!(apply(V2, &root, &["--dry-run"]).code, 4);
    // Also when the policy did not change: the edit would be undone.
    assert_eq!(apply(V1, &root, &[]).code, 4);
    // --force overwrites and removes; the result is the clean v2 bundle.
    let r = apply(V2, &root, &["--force"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let out = tmp("edited-build");
    let out = out.path().to_owned();
    assert!(bakgen(&["build", V2, "--out", s(&out)]).status.success());
    assert_eq!(tree(&root), tree(&out.join("h1")));
}

#[test]
fn forced_undo_of_a_hand_edit_restarts_the_timer() {
    let root = tmp("undo");
    let root = root.path().to_owned();
    apply_ok(V1, &root);
    let timer = root.join(UNITS).join("bakgen-etc.timer");
    std::fs::write(&timer, "# replaced\n").expect("write");
    let r = apply(V1, &root, &["--force"]);
    assert_eq!(r.code, 0);
    assert_eq!(
        commands(&r.stdout),
        [
            "systemctl daemon-reload",
            "systemctl restart bakgen-etc.timer"
        ]
    );
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let root = tmp("dry");
    let root = root.path().to_owned();
    apply_ok(V1, &root);
    let before = stamps(&root);
    let r = apply(V2, &root, &["--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("commands (not run: dry run):"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("systemctl restart bakgen-etc.timer"));
    assert_eq!(before, stamps(&root));
    let empty = tmp("dry-empty");
    let empty = empty.path().to_owned();
    assert_eq!(apply(V1, &empty, &["--dry-run"]).code, 0);
    assert!(tree(&empty).is_empty());
}

#[test]
fn a_wrong_mode_is_a_change_and_is_fixed() {
    let root = tmp("mode");
    let root = root.path().to_owned();
    apply_ok(V1, &root);
    let spec = root.join("etc/bakgen/jobs/etc.json");
    std::fs::set_permissions(&spec, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let d = diff(V1, &root, &[]);
    assert_eq!(d.code, 3);
    assert!(
        d.stdout
            .contains("mode    job spec  etc/bakgen/jobs/etc.json (mode 0600)"),
        "{}",
        d.stdout
    );
    apply_ok(V1, &root);
    let mode = std::fs::metadata(&spec).expect("stat").permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600);
    assert_eq!(diff(V1, &root, &[]).code, 0);
}

#[test]
fn a_committed_bundle_is_applied_exactly_or_refused_when_tampered() {
    let out = tmp("bundle-out");
    let out = out.path().to_owned();
    assert!(bakgen(&["build", V1, "--out", s(&out)]).status.success());
    let bundle = out.join("h1");
    let root = tmp("bundle-root");
    let root = root.path().to_owned();
    let r = run(&[
        "apply",
        "--bundle",
        s(&bundle),
        "--host",
        "h1",
        "--root",
        s(&root),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(tree(&root), tree(&bundle));
    // The compiled policy and the committed bundle agree: nothing to change.
    assert_eq!(diff(V1, &root, &[]).code, 0);

    let other = tmp("bundle-root2");
    let other = other.path().to_owned();
    let timer = bundle.join(UNITS).join("bakgen-etc.timer");
    let original = std::fs::read(&timer).expect("read");
    std::fs::write(&timer, b"# tampered\n").expect("write");
    let r = run(&[
        "apply",
        "--bundle",
        s(&bundle),
        "--host",
        "h1",
        "--root",
        s(&other),
    ]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("differs from the hash in the manifest"),
        "{}",
        r.stderr
    );
    assert!(tree(&other).is_empty());
    std::fs::write(&timer, &original).expect("restore");

    // A file the manifest does not list is not part of what was reviewed.
    let extra = bundle.join(UNITS).join("extra.service");
    std::fs::write(&extra, b"[Service]\n").expect("write");
    let r = run(&[
        "apply",
        "--bundle",
        s(&bundle),
        "--host",
        "h1",
        "--root",
        s(&other),
    ]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("not listed in the manifest"),
        "{}",
        r.stderr
    );
    std::fs::remove_file(&extra).expect("rm");

    // A file the manifest lists is missing.
    std::fs::rename(&timer, bundle.join("moved")).expect("mv");
    let r = run(&[
        "apply",
        "--bundle",
        s(&bundle),
        "--host",
        "h1",
        "--root",
        s(&other),
    ]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("listed in the manifest but missing"),
        "{}",
        r.stderr
    );
    std::fs::rename(bundle.join("moved"), &timer).expect("mv back");

    // Another host's bundle.
    let r = run(&[
        "apply",
        "--bundle",
        s(&bundle),
        "--host",
        "h2",
        "--root",
        s(&other),
    ]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(tree(&other).is_empty());
}

#[test]
fn diff_exit_codes_and_json() {
    let root = tmp("diff");
    let root = root.path().to_owned();
    let d = diff(V1, &root, &[]);
    assert_eq!(d.code, 3, "{}", d.stderr);
    assert!(d
        .stdout
        .contains("+++ b/etc/systemd/system/bakgen-etc.timer"));
    let j = diff(V1, &root, &["--format", "json"]);
    assert_eq!(j.code, 3);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).expect("json");
    assert_eq!(v["changes"], true);
    assert_eq!(
        v["units"]["enable"],
        serde_json::json!(["bakgen-etc.timer", "bakgen-home.timer"])
    );
    assert_eq!(v["files"][0]["change"], "add");
    assert!(tree(&root).is_empty(), "diff wrote something");
    apply_ok(V1, &root);
    assert_eq!(diff(V1, &root, &[]).code, 0);
    let j = diff(V1, &root, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).expect("json");
    assert_eq!(v["changes"], false);
    // Policy errors: 1, with the diagnostics; an unknown host: 2.
    let b = diff(BROKEN, &root, &[]);
    assert_eq!(b.code, 1);
    assert!(b.stderr.contains("broken.kdl"), "{}", b.stderr);
    assert_eq!(apply(BROKEN, &root, &[]).code, 1);
    let r = run(&["diff", V1, "--host", "nope", "--root", s(&root)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no host `nope`"), "{}", r.stderr);
    // An unreadable manifest: 2, unless forced.
    std::fs::write(root.join(MANIFEST), "not json").expect("write");
    assert_eq!(diff(V1, &root, &[]).code, 2);
    assert_eq!(apply(V1, &root, &[]).code, 2);
    assert_eq!(apply(V1, &root, &["--force"]).code, 0);
    assert_eq!(diff(V1, &root, &[]).code, 0);
}

/// An apply can stop anywhere (crash, power cut, a failing systemctl). Every state it can
/// leave — any prefix of its file operations done, manifest not yet written — must be
/// finished by the next apply: same final files, and the systemd commands planned again.
#[test]
fn every_interrupted_apply_is_finished_by_the_next() {
    let t = Instant::now();
    let reference = tmp("crash-ref");
    let reference = reference.path().to_owned();
    apply_ok(V1, &reference);
    apply_ok(V2, &reference);
    let want = tree(&reference);

    let v1 = tmp("crash-v1");
    let v1 = v1.path().to_owned();
    apply_ok(V1, &v1);
    let old = tree(&v1);
    // The file operations apply does, in its order: writes (path order), then removals.
    let mut ops: Vec<(String, Option<File>)> = want
        .iter()
        .filter(|(p, f)| p.as_str() != MANIFEST && old.get(*p) != Some(f))
        .map(|(p, f)| (p.clone(), Some(f.clone())))
        .collect();
    ops.extend(
        old.keys()
            .filter(|p| p.as_str() != MANIFEST && !want.contains_key(*p))
            .map(|p| (p.clone(), None)),
    );
    assert!(ops.len() >= 6, "a real change: {ops:?}");
    for k in 0..=ops.len() {
        let root = tmp(&format!("crash-{k}"));
        let root = root.path().to_owned();
        apply_ok(V1, &root);
        for (path, op) in &ops[..k] {
            let full = root.join(path);
            match op {
                Some((bytes, mode)) => {
                    std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
                    std::fs::write(&full, bytes).expect("write");
                    std::fs::set_permissions(&full, std::fs::Permissions::from_mode(*mode))
                        .expect("chmod");
                }
                None => std::fs::remove_file(&full).expect("rm"),
            }
        }
        let r = apply(V2, &root, &[]);
        assert_eq!(
            r.code, 0,
            "after {k} operations:\n{}\n{}",
            r.stdout, r.stderr
        );
        assert_eq!(tree(&root), want, "after {k} operations");
        let c = commands(&r.stdout);
        for must in [
            "systemctl daemon-reload",
            "systemctl enable --now bakgen-srv.timer",
            "systemctl restart bakgen-etc.timer",
        ] {
            assert!(
                c.iter().any(|l| l == must),
                "after {k} operations, missing {must}: {c:?}"
            );
        }
        // The stale timer is disabled while its file exists; once gone it was disabled.
        let stale_present = !ops[..k]
            .iter()
            .any(|(p, op)| p.ends_with("bakgen-home.timer") && op.is_none());
        assert_eq!(
            c.iter()
                .any(|l| l == "systemctl disable --now bakgen-home.timer"),
            stale_present,
            "after {k} operations: {c:?}"
        );
        assert_eq!(diff(V2, &root, &[]).code, 0);
    }
    eprintln!(
        "{} interrupted states recovered in {:.0} ms",
        ops.len() + 1,
        t.elapsed().as_secs_f64() * 1e3
    );
}

#[test]
fn a_second_concurrent_apply_is_refused() {
    let root = tmp("locked");
    let root = root.path().to_owned();
    // What a running apply holds: flock on the root folder.
    let held = std::fs::File::open(&root).expect("open root");
    held.try_lock().expect("lock");
    let r = apply(V1, &root, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("another bakgen apply is running"),
        "{}",
        r.stderr
    );
    assert!(tree(&root).is_empty());
    // A dry run reads only, so it does not wait for the lock.
    assert_eq!(apply(V1, &root, &["--dry-run"]).code, 0);
    drop(held);
    apply_ok(V1, &root);
}

/// systemd refuses automounts inside a container, so the e2e tests cannot run these
/// commands; their plan is checked here.
#[test]
fn automounts_are_enabled_and_stale_mounts_stopped_before_removal() {
    let root = tmp("view");
    let root = root.path().to_owned();
    let r = apply_ok(V1_VIEW, &root);
    assert!(
        commands(&r.stdout).contains(
            &"systemctl enable --now bakgen-etc.timer bakgen-home.timer srv-view.automount"
                .to_owned()
        ),
        "{}",
        r.stdout
    );
    assert!(tree(&root).contains_key("etc/systemd/system/srv-view.mount"));
    let r = apply_ok(V1, &root);
    assert_eq!(
        commands(&r.stdout),
        [
            "systemctl disable --now srv-view.automount",
            "systemctl stop srv-view.mount",
            "systemctl daemon-reload",
        ]
    );
    assert!(!tree(&root).contains_key("etc/systemd/system/srv-view.mount"));
}
