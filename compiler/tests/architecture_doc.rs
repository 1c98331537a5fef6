//! docs/architecture.md is the code map a contributor reads first, so it must stay true:
//! every module its tables name exists, and every top-level module of each crate is named.
//!
//! The tables are read by a simple rule. A section `## <dir>/ (crate …)` maps to `<dir>/src`.
//! In a row's first cell, each backticked name is a module: `x` is `x.rs` or `x/`, `x/` a
//! folder, `a/b.rs` a file; a bare `b.rs` sits in the folder of the name before it; names in
//! parentheses are submodules of the name before them. In the other cells, a backticked name
//! ending in `.rs` or `/` is a file or folder somewhere under the row's first module, or a
//! path from the crate's `src/`, the crate's root (`tests/x.rs`) or the workspace's.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compiler/ has a parent")
        .to_path_buf()
}

fn backticked(cell: &str) -> Vec<(String, bool)> {
    // (name, inside parentheses)
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut rest = cell;
    while let Some(c) = rest.chars().next() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            '`' => {
                let body = &rest[1..];
                if let Some(end) = body.find('`') {
                    out.push((body[..end].to_string(), depth > 0));
                    rest = &body[end + 1..];
                    continue;
                }
            }
            _ => {}
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn module_exists(src: &Path, name: &str) -> bool {
    let name = name.trim_end_matches('/');
    if name.ends_with(".rs") {
        return src.join(name).is_file();
    }
    src.join(format!("{name}.rs")).is_file() || src.join(name).is_dir() || reexported(src, name)
}

/// A module the crate re-exports from another (`pub use bakgen_spec::duration;`,
/// `pub use bakgen_spec::job as spec;`) is named by the map like its own.
fn reexported(src: &Path, name: &str) -> bool {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap_or_default();
    lib.lines().any(|line| {
        let Some(path) = line.trim().strip_prefix("pub use ") else {
            return false;
        };
        let path = path.trim_end_matches(';');
        let exported = match path.split_once(" as ") {
            Some((_, alias)) => alias,
            None => path.rsplit("::").next().unwrap_or(path),
        };
        exported.trim() == name
    })
}

fn found_under(dir: &Path, name: &str) -> bool {
    let want = Path::new(name.trim_end_matches('/'));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.ends_with(want) {
            return true;
        }
        if p.is_dir() && found_under(&p, name) {
            return true;
        }
    }
    false
}

struct Section {
    src: PathBuf,
    named: BTreeSet<String>,
}

fn check_doc(doc: &str, root: &Path) -> (Vec<Section>, Vec<String>) {
    let mut sections: Vec<Section> = Vec::new();
    let mut problems = Vec::new();
    for (no, line) in doc.lines().enumerate() {
        let line_no = no + 1;
        if let Some(head) = line.strip_prefix("## ") {
            if let Some((dir, rest)) = head.split_once("/ (") {
                if rest.starts_with("crate") {
                    sections.push(Section {
                        src: root.join(dir).join("src"),
                        named: BTreeSet::new(),
                    });
                    continue;
                }
            }
        }
        let Some(section) = sections.last_mut() else {
            continue;
        };
        if !line.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = line.split(" | ").collect();
        let mut previous: Option<String> = None;
        let mut row_dir: Option<PathBuf> = None;
        for (name, nested) in backticked(cells[0]) {
            let full = if nested {
                // `retention` (`count`) → retention/count
                match &previous {
                    Some(p) => format!("{}/{name}", p.trim_end_matches('/')),
                    None => name.clone(),
                }
            } else if name.ends_with(".rs") && !name.contains('/') {
                match previous.as_deref().and_then(|p| p.rsplit_once('/')) {
                    Some((dir, _)) => format!("{dir}/{name}"),
                    None => name.clone(),
                }
            } else {
                name.clone()
            };
            if !module_exists(&section.src, &full) {
                problems.push(format!(
                    "docs/architecture.md:{line_no}: `{full}` is not a module under {}",
                    section.src.display()
                ));
            }
            let top = full
                .split('/')
                .next()
                .unwrap_or(&full)
                .trim_end_matches(".rs");
            section.named.insert(top.to_string());
            if row_dir.is_none() {
                let dir = section
                    .src
                    .join(full.trim_end_matches('/').trim_end_matches(".rs"));
                row_dir = Some(if dir.is_dir() {
                    dir
                } else {
                    section.src.clone()
                });
            }
            if !nested {
                previous = Some(full);
            }
        }
        let row_dir = row_dir.unwrap_or_else(|| section.src.clone());
        for cell in &cells[1..] {
            for (name, _) in backticked(cell) {
                let is_file = name.ends_with(".rs") && !name.contains(' ');
                let is_dir = name.ends_with('/') && !name.contains(' ') && !name.contains('.');
                // A path with a folder may also be from the crate's root (`tests/x.rs`).
                let crate_root = section.src.parent().unwrap_or(&section.src);
                let workspace = crate_root.parent().unwrap_or(crate_root);
                let known = found_under(&row_dir, &name)
                    || section.src.join(&name).exists()
                    || (name.contains('/') && crate_root.join(&name).exists())
                    || (name.contains('/') && workspace.join(&name).exists());
                if (is_file || is_dir) && !known {
                    problems.push(format!(
                        "docs/architecture.md:{line_no}: `{name}` is not found under {}",
                        row_dir.display()
                    ));
                }
            }
        }
    }
    (sections, problems)
}

#[test]
fn every_module_the_map_names_exists_and_every_top_level_module_is_named() {
    let root = workspace();
    let doc = std::fs::read_to_string(root.join("docs/architecture.md")).expect("read the doc");
    let (sections, mut problems) = check_doc(&doc, &root);
    assert!(
        sections.len() >= 2,
        "docs/architecture.md has no `## compiler/ (crate …)` and `## runtime/ (crate …)` sections"
    );
    for section in &sections {
        let entries = std::fs::read_dir(&section.src).expect("read a crate's src");
        let mut actual: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let module = name
                    .strip_suffix(".rs")
                    .map(str::to_string)
                    .or_else(|| e.path().is_dir().then_some(name.clone()))?;
                (module != "main" && module != "lib").then_some(module)
            })
            .collect();
        actual.sort();
        actual.dedup();
        for module in actual {
            if !section.named.contains(&module) {
                problems.push(format!(
                    "docs/architecture.md: module `{module}` of {} is missing from its table",
                    section.src.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_notices_a_module_that_does_not_exist() {
    let root = workspace();
    let doc = "## compiler/ (crate and binary `bakgen`)\n\n| module | what |\n| --- | --- |\n| `source` | reads `nowhere.rs` |\n| `no_such_module` | x |\n";
    let (_, problems) = check_doc(doc, &root);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("`nowhere.rs` is not found"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("`no_such_module` is not a module"),
        "{problems:?}"
    );
}
