//! Shared by the CLI tests: running the built `bakgen`, and a fresh temporary folder that
//! is removed when the test ends, also on panic.
#![allow(dead_code)]

pub mod fleet;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// The cache folder the tests' `bakgen` keeps build stamps in: under the target folder,
/// never the user's `~/.cache`.
pub const CACHE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache");

/// The built `bakgen` with colour off and its cache in [`CACHE`].
pub fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bakgen"));
    c.env("NO_COLOR", "1").env("XDG_CACHE_HOME", CACHE);
    c
}

/// `bakgen ARGS…` (see [`command`]), its whole output collected.
pub fn bakgen(args: &[&str]) -> Output {
    command().args(args).output().expect("bakgen runs")
}

/// A new empty folder `bakgen-<name>-XXXXXX` under the system's temporary folder, removed
/// when the value is dropped: `let dir = tmp("x"); let dir = dir.path().to_owned();` keeps
/// it for the whole test, since a shadowed binding lives to the end of its scope. A failure
/// to remove it is ignored (tempfile's rule), so it never masks the test's result.
pub fn tmp(name: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("bakgen-{name}-"))
        .tempdir()
        .expect("temp dir")
}

/// The names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A fresh folder (see [`tmp`]) holding `<inside>/`, the folder bakgen is pointed at, and
/// `outside/` beside it, where nothing may be written through a link.
pub fn with_outside(name: &str, inside: &str) -> (TempDir, PathBuf, PathBuf) {
    let dir = tmp(name);
    let (inside, outside) = (dir.path().join(inside), dir.path().join("outside"));
    std::fs::create_dir_all(&inside).expect("inside");
    std::fs::create_dir_all(&outside).expect("outside");
    (dir, inside, outside)
}
