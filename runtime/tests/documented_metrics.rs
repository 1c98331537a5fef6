//! Every metric (and label) `bakrun` writes has its line in docs/operations.md: a metric
//! name added in runtime/src or spec/src without documenting it fails here.

use std::path::Path;

/// Names in `"bakgen_…"` string literals (metric families and labels, not the
/// `bakgen_{job}.prom` file name) in every Rust file under `dir`.
fn metric_names(dir: &Path, names: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("a readable source folder") {
        let path = entry.expect("a readable entry").path();
        if path.is_dir() {
            metric_names(&path, names);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("UTF-8 source");
        for after in text.split("\"bakgen_").skip(1) {
            let end = after
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(after.len());
            // A whole literal only: `"bakgen_{job}.prom"` is a file name, not a metric.
            if end > 0 && after[end..].starts_with('"') {
                names.push(format!("bakgen_{}", &after[..end]));
            }
        }
    }
}

#[test]
fn every_metric_is_in_the_operations_guide() {
    let docs = std::fs::read_to_string("../docs/operations.md").expect("docs/operations.md");
    let mut names = Vec::new();
    // The names alerting rules query live in the contract crate, shared with the compiler.
    metric_names(Path::new("src"), &mut names);
    metric_names(Path::new("../spec/src"), &mut names);
    names.sort();
    names.dedup();
    for known in [
        "bakgen_job_last_run_result",
        "bakgen_job_last_snapshot_info",
        "bakgen_host",
    ] {
        assert!(
            names.iter().any(|n| n == known),
            "the scan finds {known}: {names:?}"
        );
    }
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !docs.contains(&format!("`{n}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "metrics bakrun writes with no line in docs/operations.md: {missing:?}"
    );
}
