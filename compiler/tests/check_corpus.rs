//! Every invalid policy in tests/fixtures/invalid/ is reported, rendered and in JSON,
//! exactly as the reviewed snapshots say.

use std::path::PathBuf;

use bakgen::diagnostic::{render, to_json, Style};
use bakgen::ops::check::check;
use bakgen::source::SourceSet;

fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("tests/fixtures/invalid")
        .expect("the corpus folder exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .map(|p| PathBuf::from("tests/fixtures/invalid").join(p.file_name().expect("a file name")))
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_is_large_enough() {
    assert!(
        corpus().len() >= 40,
        "the corpus needs at least 40 invalid policies"
    );
}

#[test]
fn every_invalid_policy_is_reported_as_snapshotted() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/corpus");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for path in corpus() {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("utf-8 name")
                .to_owned();
            let checked =
                check(SourceSet::load(std::slice::from_ref(&path)).expect("fixture loads"));
            assert!(
                !checked.diagnostics.is_empty(),
                "{name}: an invalid policy produced no diagnostic"
            );
            let is_warning_case = name.contains("warning-");
            assert_eq!(
                checked.errors() == 0,
                is_warning_case,
                "{name}: warning cases have only warnings, the others at least one error"
            );
            let text = render(&checked.diagnostics, &checked.sources, Style::Plain);
            insta::assert_snapshot!(format!("{name}.txt"), text);
            let json = to_json(&checked.diagnostics, &checked.sources);
            insta::assert_snapshot!(format!("{name}.json"), json);
        }
    });
}

#[test]
fn one_run_reports_every_problem() {
    let checked = check(
        SourceSet::load(&[PathBuf::from("tests/fixtures/invalid/24-many-errors.kdl")])
            .expect("loads"),
    );
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    for expected in [
        "bakgen::wrong-type",
        "bakgen::relative-path",
        "bakgen::undefined-destination",
        "bakgen::invalid-schedule",
        "bakgen::out-of-range",
        "bakgen::unknown-node",
        "bakgen::duplicate-name",
    ] {
        assert!(codes.contains(&expected), "missing {expected} in {codes:?}");
    }
}
