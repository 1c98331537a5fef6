//! The man pages and shell completions, golden (insta): each changes only when a binary's
//! command line does, and the diff shows how. Each page renders with `man` at 80 columns
//! without a groff warning, `bakgen.policy(5)` from the real docs/policy.md included.

use std::process::Command;

use bakgen_dist::markdown::{to_roff, PageHead};
use bakgen_dist::{completions, man, man_pages, workspace, File};

#[test]
fn the_command_pages_are_golden() {
    let pages = man::command_pages().expect("pages render");
    let names: Vec<&str> = pages.iter().map(|p| p.name.as_str()).collect();
    for expected in [
        "bakgen.1",
        "bakgen-build.1",
        "bakgen-apply.1",
        "bakrun.1",
        "bakrun-run.1",
        "bakrun-restore.1",
    ] {
        assert!(names.contains(&expected), "no {expected} in {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
    for page in &pages {
        insta::assert_snapshot!(page.name.clone(), &page.text);
    }
}

#[test]
fn the_completions_are_golden() {
    let files = completions::all();
    assert_eq!(files.len(), 6, "two binaries, three shells");
    for f in &files {
        insta::assert_snapshot!(f.name.clone(), &f.text);
    }
}

#[test]
fn the_markdown_converter_is_golden_on_every_construct() {
    let md = std::fs::read_to_string("tests/fixtures/every_construct.md").expect("fixture");
    let head = PageHead {
        name: "sample",
        section: "5",
        summary: "every construct the converter knows",
        source: "bakgen 0.0.0",
    };
    let page = to_roff(&md, &head);
    insta::assert_snapshot!("every_construct.5", &page);
    check_renders(&File::new("every_construct.5".to_owned(), page));
}

/// `MANWIDTH=80 man --warnings -l PAGE`: prints the page, and nothing on standard error.
fn check_renders(page: &File) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(&page.name);
    std::fs::write(&path, &page.text).expect("write page");
    let o = Command::new("man")
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("LC_ALL", "C.UTF-8")
        .args(["--warnings", "-l"])
        .arg(&path)
        .output()
        .expect("man runs (package man-db)");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.trim().is_empty(),
        "{}: man warns:\n{err}",
        page.name
    );
    assert!(
        out.lines().count() > 5,
        "{}: rendered to {out:?}",
        page.name
    );
    assert!(
        out.lines()
            .all(|l| !l.contains("\\f") && !l.contains("\\[")),
        "{}: an escape was printed literally:\n{out}",
        page.name
    );
}

#[test]
fn every_page_renders_without_warnings() {
    let pages = man_pages(&workspace()).expect("pages");
    let policy = pages
        .iter()
        .find(|p| p.name == "bakgen.policy.5")
        .expect("bakgen.policy.5");
    for section in [
        "NAME",
        "DESCRIPTION",
        "HOST",
        "JOB SETTINGS",
        "DIAGNOSTICS",
        "SEE ALSO",
    ] {
        assert!(
            policy.text.contains(&format!(".SH \"{section}\""))
                || policy.text.contains(&format!(".SH {section}\n")),
            "bakgen.policy.5 has no section {section}"
        );
    }
    for page in &pages {
        check_renders(page);
    }
}
