//! What an install of bakgen ships besides the two binaries, made from the workspace
//! itself: man pages and shell completions from the binaries' clap definitions,
//! `bakgen.policy(5)` from docs/policy.md, and the Debian package holding all of it.

pub mod completions;
pub mod deb;
pub mod man;
pub mod markdown;
pub mod roff;

use std::path::{Path, PathBuf};

/// A file to write: its name and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub text: String,
}

impl File {
    pub fn new(name: String, text: String) -> Self {
        Self { name, text }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DistError {
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot run {program}: {source} (is it installed? scripts/packages.txt lists it)")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{command} failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("{0}")]
    Other(String),
}

pub fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> DistError + 'a {
    move |source| DistError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// The workspace this crate was built in: where docs/, policies/ and README.md are.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Every man page: the command pages and `bakgen.policy.5` from `<workspace>/docs/policy.md`.
pub fn man_pages(workspace: &Path) -> Result<Vec<File>, DistError> {
    let policy = workspace.join("docs/policy.md");
    let text = std::fs::read_to_string(&policy).map_err(io("read", &policy))?;
    let mut pages = man::command_pages().map_err(|e| DistError::Other(e.to_string()))?;
    pages.push(man::policy_page(&text));
    Ok(pages)
}

/// Writes `files` into `dir` (made if missing).
pub fn write_all(dir: &Path, files: &[File]) -> Result<(), DistError> {
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    for f in files {
        let path = dir.join(&f.name);
        std::fs::write(&path, &f.text).map_err(io("write", &path))?;
    }
    Ok(())
}
