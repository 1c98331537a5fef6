//! The workspace's built binaries, for tests that bind them into a container or VM.

use std::path::{Path, PathBuf};

/// `target/<profile>/NAME`, beside the folder of the running test executable (`…/deps/`).
/// Panics with what to run when it is missing: a test must not skip silently.
pub fn built_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let bin = dir.join(name);
    assert!(
        bin.is_file(),
        "{} is missing: build it first in the tests' profile, e.g. `cargo build -p bakgen -p bakrun`",
        bin.display()
    );
    bin
}

/// Binds for a container: the built `bakgen` and `bakrun` at `/usr/bin/`, read-only (where
/// the generated units' `ExecStart=` expects bakrun by default, as the Debian package
/// installs it).
pub fn installed_binaries() -> Vec<(PathBuf, PathBuf, bool)> {
    ["bakgen", "bakrun"]
        .iter()
        .map(|name| {
            (
                built_binary(name),
                PathBuf::from(format!("/usr/bin/{name}")),
                true,
            )
        })
        .collect()
}
