//! Every diagnostic code the compiler can emit has its line in docs/policy.md: a code added
//! in compiler/src without documenting it fails here.

use std::path::Path;

/// `bakgen::<code>` string literals in every Rust file under `dir`.
fn codes_in(dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("a readable source folder") {
        let path = entry.expect("a readable entry").path();
        if path.is_dir() {
            codes_in(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("UTF-8 source");
            for piece in text.split("\"bakgen::").skip(1) {
                let code: String = piece
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                    .collect();
                if piece[code.len()..].starts_with('"') && !code.is_empty() {
                    found.push(format!("bakgen::{code}"));
                }
            }
        }
    }
}

#[test]
fn every_diagnostic_code_is_in_the_policy_reference() {
    let docs = std::fs::read_to_string("../docs/policy.md").expect("docs/policy.md");
    let mut codes = Vec::new();
    codes_in(Path::new("src"), &mut codes);
    codes.sort();
    codes.dedup();
    assert!(
        codes.len() >= 40,
        "the scan finds the codes ({} found): {codes:?}",
        codes.len()
    );
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| !docs.contains(&format!("`{c}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "diagnostic codes with no line in docs/policy.md: {missing:?}"
    );
}
