//! Shared by the CLI tests: running the built `bakgen`, and a fresh temporary folder that
//! is removed when the test ends, also on panic.
#![allow(dead_code)]

pub mod fleet;

use std::path::PathBuf;
use std::process::{Command, Output};

use tempfile::TempDir;

/// `bakgen ARGS…` with colour off, its whole output collected.
pub fn bakgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bakgen"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("bakgen runs")
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

/// A fresh folder (see [`tmp`]) holding `<inside>/`, the folder bakgen is pointed at, and
/// `outside/` beside it, where nothing may be written through a link.
pub fn with_outside(name: &str, inside: &str) -> (TempDir, PathBuf, PathBuf) {
    let dir = tmp(name);
    let (inside, outside) = (dir.path().join(inside), dir.path().join("outside"));
    std::fs::create_dir_all(&inside).expect("inside");
    std::fs::create_dir_all(&outside).expect("outside");
    (dir, inside, outside)
}
