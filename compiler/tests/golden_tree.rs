//! The golden tree: `policies/` compiled through the library must give `generated/` byte for
//! byte, with no file missing and none extra (fixture-tree style, like zram-generator's).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bakgen::ops::build::build;
use bakgen::ops::check::check;
use bakgen::source::SourceSet;
use similar::TextDiff;

const REGENERATE: &str = "cargo build --release -p bakgen && \
target/release/bakgen build policies --out generated";

/// How many differing files are shown in full before the rest are only named.
const SHOWN: usize = 3;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the compiler crate sits in the workspace")
        .to_path_buf()
}

/// Every file under `root`, relative path → bytes. Links are not followed: the build
/// writes none, so one in either tree is a difference.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .map(|e| e.expect("a readable folder entry").path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            let meta = std::fs::symlink_metadata(&p).expect("metadata");
            if meta.is_dir() {
                walk(root, &p, out);
            } else if meta.is_file() {
                out.insert(rel, std::fs::read(&p).expect("readable file"));
            } else {
                out.insert(rel, b"<not a regular file>".to_vec());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn unified(path: &str, want: &[u8], got: &[u8]) -> String {
    let (want, got) = (String::from_utf8_lossy(want), String::from_utf8_lossy(got));
    TextDiff::from_lines(want.as_ref(), got.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&format!("generated/{path}"), &format!("built/{path}"))
        .to_string()
}

#[test]
fn policies_compile_to_generated_byte_for_byte() {
    let root = workspace();
    let sources = SourceSet::load(&[root.join("policies")]).expect("policies/ loads");
    let checked = check(sources);
    let Some(plan) = checked.plan() else {
        panic!("policies/ has errors: {:#?}", checked.diagnostics);
    };
    let out = tempfile::tempdir().expect("a temporary folder");
    build(plan, out.path()).expect("policies/ builds");

    let built = tree(out.path());
    let golden = tree(&root.join("generated"));
    assert!(!golden.is_empty(), "generated/ is empty or missing");

    let mut report = String::new();
    let mut differing = 0;
    for (path, want) in &golden {
        match built.get(path) {
            None => writeln!(report, "missing from the build: generated/{path}").unwrap(),
            Some(got) if got != want => {
                differing += 1;
                if differing <= SHOWN {
                    report.push_str(&unified(path, want, got));
                } else {
                    writeln!(report, "differs: generated/{path}").unwrap();
                }
            }
            Some(_) => {}
        }
    }
    for path in built.keys().filter(|p| !golden.contains_key(*p)) {
        writeln!(report, "built but not in generated/: {path}").unwrap();
    }
    assert!(
        report.is_empty(),
        "generated/ is not what policies/ compiles to:\n{report}\nto regenerate: {REGENERATE}"
    );
}

/// The comparison itself must see a changed byte, a missing file and an extra one.
#[test]
fn the_comparison_notices_each_kind_of_difference() {
    let a = tempfile::tempdir().expect("a temporary folder");
    std::fs::create_dir_all(a.path().join("h/etc")).expect("mkdir");
    std::fs::write(a.path().join("h/etc/x"), "one\ntwo\n").expect("write");
    let before = tree(a.path());
    std::fs::write(a.path().join("h/etc/x"), "one\nthree\n").expect("write");
    std::fs::write(a.path().join("h/y"), "").expect("write");
    let after = tree(a.path());
    assert_eq!(before.keys().collect::<Vec<_>>(), ["h/etc/x"]);
    assert_eq!(after.keys().collect::<Vec<_>>(), ["h/etc/x", "h/y"]);
    let diff = unified("h/etc/x", &before["h/etc/x"], &after["h/etc/x"]);
    assert!(diff.contains("-two") && diff.contains("+three"), "{diff}");
}
