//! The runtime's top-level modules (those `src/lib.rs` declares) form layers, lowest first
//! (docs/architecture.md, "Layers"): a module uses only modules of its own layer or of lower
//! ones, and no modules use each other in a cycle. Read from the source: every `crate::X`
//! (also `crate::{X, …}` and `super::` paths that climb to the crate root) in
//! `src/X.rs` or `src/X/**.rs` is a use of X. Comments do not count.
//!
//! A new module must be given a layer here; a use that breaks the order fails with the
//! file that makes it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lowest first. A module may use the modules of its own layer and of every layer before.
const LAYERS: &[&[&str]] = &[
    // Plain data and helpers that know nothing of a run.
    &["atomic_file", "duration", "jobs", "log", "private_file"],
    // The job spec (the contract with the compiler) and its retention counts; progress of
    // long work (parsed from a program's output, shown through the log).
    &["progress", "retention", "spec", "when"],
    // Child processes, stop signals and secrets for them.
    &["command", "http", "process", "secret", "signals"],
    // What a run is made of, each knowing nothing of the others: the job lock, mount
    // checks, database dumps, the interface between snapshot steps and engines, and the
    // snapshot steps themselves.
    &["dump", "lock", "mount", "ping", "source_view", "step"],
    // Backup programs, reading the sources through a `source_view::SourceView`.
    &["engine"],
    // What uses engines: status and metrics files, the restore script, the dump drill.
    &["drill", "metrics", "restore_script", "status"],
    // The runner, the watch of the destinations (reads them through the engines) and the
    // restore drill (reads a run through its engine, writes its own record).
    &["runner", "verify", "watch"],
    // The subcommands and their command line, over everything (the binary is one call).
    &["cli"],
];

/// Cycles that other work removes (issue 13): `command` and `secret` (a secret command is a
/// child process; a child inherits the secret files its command names), `spec` and
/// `retention` (the spec's retention counts). Each pair must still be a cycle, so that this
/// list shrinks when one goes.
const KNOWN_CYCLES: &[(&str, &str)] = &[];

type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<PathBuf>>>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn lib_rs() -> String {
    std::fs::read_to_string(src().join("lib.rs")).expect("src/lib.rs is readable")
}

/// The modules `src/lib.rs` declares (`mod x;` or `pub mod x;`).
fn top_modules(lib: &str) -> BTreeSet<String> {
    lib.lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            let name = l.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.trim().to_owned())
        })
        .collect()
}

/// The names src/lib.rs re-exports (`pub use other_crate::{spec, duration};`): modules of
/// another crate, which may keep their place in LAYERS and which the runtime's own files
/// cannot draw into a cycle.
fn reexports(lib: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for statement in without_comments(lib).split(';') {
        let Some(at) = statement.find("pub use ") else {
            continue;
        };
        let path = &statement[at + "pub use ".len()..];
        let items: Vec<&str> = match path.find('{') {
            Some(open) => path[open + 1..]
                .trim_end()
                .trim_end_matches('}')
                .split(',')
                .collect(),
            None => vec![path],
        };
        // The name each item is known by: after `as`, else its last segment.
        for item in items {
            let name = item
                .rsplit(|c: char| c == ':' || c.is_whitespace())
                .find(|w| !w.is_empty());
            out.extend(name.map(str::to_owned));
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a readable folder entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file below `src`: `engine/restic/locked.rs` → engine, restic,
/// locked; `engine/mod.rs` and `engine.rs` → engine.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if stem != "mod" {
            parts.push(stem.to_owned());
        }
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The source without `//` comments (doc comments name modules in links; they are no use).
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first identifier of each path `rest` starts with: `log::x` → log; `{log, signals}`
/// → log, signals; `{a::{b, c}, d}` → a, d.
fn heads(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut out = Vec::new();
        let mut depth = 0;
        let mut item_start = true;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => item_start = true,
                c if item_start && is_ident(c) => {
                    let word: String = group[i..].chars().take_while(|c| is_ident(*c)).collect();
                    out.push(word);
                    item_start = false;
                }
                _ => {}
            }
        }
        out
    } else {
        let word: String = rest.chars().take_while(|c| is_ident(*c)).collect();
        vec![word]
    }
}

/// The top-level names a file's paths reach from the crate root.
fn root_references(text: &str, depth: usize) -> BTreeSet<String> {
    let text = without_comments(text);
    let mut out = BTreeSet::new();
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let before = text[..at].chars().next_back();
        if before.is_some_and(is_ident) {
            at += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        if let Some(after) = rest.strip_prefix("crate::") {
            out.extend(heads(after));
            at += "crate::".len();
            continue;
        }
        let mut climbed = 0;
        let mut after = rest;
        while let Some(next) = after.strip_prefix("super::") {
            climbed += 1;
            after = next;
        }
        if climbed > 0 {
            // Inline modules (`mod tests`) are not counted: a `super::` there reads as
            // one level higher than it is, which can only add a use, never hide one.
            if climbed >= depth {
                out.extend(heads(after));
            }
            at += climbed * "super::".len();
            continue;
        }
        at += rest.chars().next().map_or(1, char::len_utf8);
    }
    out
}

/// For each top-level module, the others it uses and the files that do.
fn graph(src: &Path, modules: &BTreeSet<String>) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeMap::new()))
        .collect();
    for file in files {
        let relative = file.strip_prefix(src).expect("a file below src").to_owned();
        let path = module_path(&relative);
        let Some(top) = path.first().filter(|t| modules.contains(*t)) else {
            // lib.rs, main.rs and the binary's own modules (cli/).
            continue;
        };
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for used in root_references(&text, path.len()) {
            if &used != top && modules.contains(&used) {
                graph
                    .get_mut(top)
                    .expect("every module is a node")
                    .entry(used)
                    .or_default()
                    .insert(relative.clone());
            }
        }
    }
    graph
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Uses that go up a layer, and modules without a layer (or layers naming no module).
fn layer_problems(graph: &Graph, reexported: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    for module in graph.keys() {
        if layer_of(module).is_none() {
            problems.push(format!("module `{module}` has no layer in LAYERS: add it"));
        }
    }
    for name in LAYERS.iter().flat_map(|l| l.iter()) {
        if !graph.contains_key(*name) && !reexported.contains(*name) {
            problems.push(format!(
                "LAYERS names `{name}`, which src/lib.rs neither declares nor re-exports: remove it"
            ));
        }
    }
    for (module, uses) in graph {
        for (used, files) in uses {
            if let (Some(from), Some(to)) = (layer_of(module), layer_of(used)) {
                if to > from {
                    problems.push(format!(
                        "`{module}` (layer {from}) uses `{used}` (layer {to}, above it) in {}",
                        show(files)
                    ));
                }
            }
        }
    }
    problems
}

fn show(files: &BTreeSet<PathBuf>) -> String {
    files
        .iter()
        .map(|f| format!("src/{}", f.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_known(a: &str, b: &str) -> bool {
    KNOWN_CYCLES
        .iter()
        .any(|(x, y)| (*x == a && *y == b) || (*x == b && *y == a))
}

/// Every cycle, as the modules on it, except one made only of [`KNOWN_CYCLES`] pairs;
/// and every known cycle that is gone.
fn cycle_problems(graph: &Graph) -> Vec<String> {
    let mut problems = Vec::new();
    // Edges of known cycles are left out, so only the other cycles remain to be found.
    let edges = |from: &str| -> Vec<String> {
        graph[from]
            .keys()
            .filter(|to| !is_known(from, to))
            .cloned()
            .collect()
    };
    // Depth-first search; a back edge closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = graph.keys().map(|k| (k.as_str(), Mark::New)).collect();
    for start in graph.keys() {
        if marks[start.as_str()] != Mark::New {
            continue;
        }
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), edges(start))];
        marks.insert(start, Mark::Open);
        while let Some((node, pending)) = stack.last_mut() {
            let Some(next) = pending.pop() else {
                let node = node.clone();
                marks.insert(graph.get_key_value(&node).expect("a node").0, Mark::Done);
                stack.pop();
                continue;
            };
            match marks[next.as_str()] {
                Mark::New => {
                    marks.insert(graph.get_key_value(&next).expect("a node").0, Mark::Open);
                    let out = edges(&next);
                    stack.push((next, out));
                }
                Mark::Open => {
                    let from = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        stack[from..].iter().map(|(n, _)| n.clone()).collect();
                    cycle.push(next.clone());
                    problems.push(format!("import cycle: {}", cycle.join(" → ")));
                }
                Mark::Done => {}
            }
        }
    }
    for (a, b) in KNOWN_CYCLES {
        let uses = |x: &str, y: &str| graph.get(x).is_some_and(|u| u.contains_key(y));
        if !(uses(a, b) && uses(b, a)) {
            problems.push(format!(
                "`{a}` and `{b}` no longer use each other: remove the pair from KNOWN_CYCLES"
            ));
        }
    }
    problems
}

fn current() -> Graph {
    let src = src();
    graph(&src, &top_modules(&lib_rs()))
}

#[test]
fn modules_use_only_their_own_layer_and_lower_ones() {
    let problems = layer_problems(&current(), &reexports(&lib_rs()));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn modules_form_no_import_cycle() {
    let problems = cycle_problems(&current());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_runtime_is_read_as_it_is() {
    let graph = current();
    // Known uses, read through each kind of path this test understands.
    for (module, used) in [
        ("runner", "engine"), // use crate::engine::…
        ("engine", "dump"),   // crate::dump::pipe inside the engine
        ("step", "source_view"),
        ("engine", "source_view"),
        ("secret", "command"), // crate::command::… inside a function
        ("signals", "log"),    // use crate::log
    ] {
        assert!(
            graph[module].contains_key(used),
            "`{module}` uses `{used}`, but the test did not see it: {:?}",
            graph[module].keys().collect::<Vec<_>>()
        );
    }
    // Snapshot steps and engines meet only in source_view; dumps know no engine.
    for (module, unused) in [("step", "engine"), ("engine", "step"), ("dump", "engine")] {
        assert!(
            !graph[module].contains_key(unused),
            "`{module}` uses `{unused}`"
        );
    }
}

#[test]
fn a_step_that_uses_the_engine_is_refused() {
    let mut graph = current();
    let file = PathBuf::from("step/mod.rs");
    graph
        .get_mut("step")
        .expect("step is a module")
        .entry("engine".into())
        .or_default()
        .insert(file);
    let layers = layer_problems(&graph, &BTreeSet::new());
    assert!(
        layers
            .iter()
            .any(|p| p.contains("`step` (layer 3) uses `engine`") && p.contains("src/step/mod.rs")),
        "{layers:?}"
    );
    // And with engine → step as well, a cycle.
    graph
        .get_mut("engine")
        .expect("engine is a module")
        .entry("step".into())
        .or_default()
        .insert(PathBuf::from("engine/mod.rs"));
    let cycles = cycle_problems(&graph);
    assert!(
        cycles
            .iter()
            .any(|p| p.starts_with("import cycle:") && p.contains("step") && p.contains("engine")),
        "{cycles:?}"
    );
}

#[test]
fn paths_are_read_in_every_form() {
    let refs =
        |text: &str, depth: usize| root_references(text, depth).into_iter().collect::<Vec<_>>();
    assert_eq!(refs("use crate::{log, signals};", 1), ["log", "signals"]);
    assert_eq!(refs("use crate::{a::{b, c}, d::e};", 1), ["a", "d"]);
    assert_eq!(refs("let x = crate::engine::for_spec(s);", 2), ["engine"]);
    // `super::` from src/engine/restic/locked.rs (depth 3): two levels stay in engine.
    assert!(refs("use super::super::clock;", 3).is_empty());
    assert_eq!(refs("use super::super::super::step::X;", 3), ["step"]);
    // From src/when.rs (depth 1) one `super::` is the crate root.
    assert_eq!(refs("use super::duration::Duration;", 1), ["duration"]);
    // Comments and longer names are no use.
    assert!(refs("// see crate::engine\n/// [`crate::step`]", 1).is_empty());
    assert!(refs("use bakgen_crate::engine;", 1).is_empty());
}

#[test]
fn reexported_modules_are_read_from_lib_rs() {
    let lib = "pub mod engine;\nmod log;\n// pub use gone::old;\npub use bakgen_spec::{duration, spec as contract};\n#[doc(inline)]\npub use other::jobs;\n";
    let names = reexports(lib);
    let modules = top_modules(lib);
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["contract", "duration", "jobs"]
    );
    assert_eq!(modules.into_iter().collect::<Vec<_>>(), ["engine", "log"]);
}
