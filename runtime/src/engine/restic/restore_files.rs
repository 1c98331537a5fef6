//! Restoring many chosen files of a run at once (a restore drill's sample): one `restic
//! restore` per sources snapshot of the run with an `--include` per file, not a restic per
//! file (each pays for opening the repository). Files restic could not restore are named,
//! not fatal: the drill reports each as a failed file.

use std::path::Path;

use super::{tags, Restic};
use crate::command::Exec;
use crate::engine::{EngineError, Snapshot};

/// Bytes of `--include` arguments per restic call: far below the kernel's limit on a
/// command line (2 MiB here), so a large sample takes a few calls, never an E2BIG.
const INCLUDE_BYTES_PER_CALL: usize = 256 * 1024;

/// What restic said about files it could not restore: `(path, restic's words)`.
pub type Unrestored = Vec<(String, String)>;

impl Restic {
    /// Restores `paths` (absolute, as on the source) of `snapshot` under `target`, each at
    /// `target/<path>`, with their modification times. Dump snapshots of the run are left
    /// out: their files are no source files.
    pub fn restore_files(
        &self,
        exec: &Exec,
        snapshot: &Snapshot,
        paths: &[String],
        target: &Path,
    ) -> Result<Unrestored, EngineError> {
        let sources: Vec<String> = self
            .members(snapshot)?
            .into_iter()
            .filter(|m| tags::value(&m.tags, tags::DUMP).is_none())
            .map(|m| m.id)
            .collect();
        self.restore_files_of(exec, &sources, paths, target)
    }

    /// [`Restic::restore_files`] from the restic snapshots `ids` (a run's sources
    /// snapshot, named by a record of the run: [`Restic::recorded_run`]).
    pub fn restore_files_of(
        &self,
        exec: &Exec,
        ids: &[String],
        paths: &[String],
        target: &Path,
    ) -> Result<Unrestored, EngineError> {
        self.note_env(exec);
        let mut unrestored = Unrestored::new();
        for id in ids {
            for batch in batches(paths) {
                let mut cmd = self
                    .restic()?
                    .arg("restore")
                    .arg(id)
                    .arg("--target")
                    .arg(target);
                for path in batch {
                    cmd = cmd.arg("--include").arg(include_pattern(path));
                }
                let cmd = cmd.progress(crate::progress::Format::Restic);
                let ran = self.run(exec, &cmd)?;
                if ran.finished.interrupted || ran.finished.success() {
                    self.succeeded(ran)?;
                    continue;
                }
                // restic goes on past a file it cannot read and names it; only a failure
                // that names no file is the whole restore's.
                let named = ignored_errors(&ran.said.text(), batch);
                if named.is_empty() {
                    self.succeeded(ran)?;
                }
                unrestored.extend(named);
            }
        }
        Ok(unrestored)
    }
}

/// `paths` in runs of at most [`INCLUDE_BYTES_PER_CALL`] bytes of arguments.
fn batches(paths: &[String]) -> Vec<&[String]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, p) in paths.iter().enumerate() {
        let len = p.len() + "--include".len() + 2;
        if i > start && bytes + len > INCLUDE_BYTES_PER_CALL {
            out.push(&paths[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += len;
    }
    if start < paths.len() {
        out.push(&paths[start..]);
    }
    out
}

/// restic reads `--include` as a pattern (`*`, `?`, `[…]`, Go's `filepath.Match`): a
/// backslash makes each of those characters, and itself, stand for itself.
fn include_pattern(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `ignoring error for /path: why` lines of restic's standard error, for the paths asked
/// for (a path may hold `: ` itself, so the longest asked path the line starts with wins);
/// the first reason per path: what follows (setting the times of a file restic did not
/// write) is a consequence.
fn ignored_errors(said: &str, asked: &[String]) -> Unrestored {
    let mut out: Unrestored = Vec::new();
    for line in said.lines() {
        let Some(rest) = line.trim().strip_prefix("ignoring error for ") else {
            continue;
        };
        let found = asked
            .iter()
            .filter(|p| rest.len() > p.len() + 1 && rest.starts_with(p.as_str()))
            .filter(|p| rest[p.len()..].starts_with(": "))
            .max_by_key(|p| p.len());
        let (path, why) = match found {
            Some(p) => (p.clone(), rest[p.len() + 2..].to_owned()),
            None => match rest.split_once(": ") {
                Some((p, why)) => (p.to_owned(), why.to_owned()),
                None => (rest.to_owned(), String::new()),
            },
        };
        if !out.iter().any(|(p, _)| *p == path) {
            out.push((path, why));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_only_their_own_path() {
        assert_eq!(
            include_pattern("/etc/a*b?[c]\\d"),
            "/etc/a\\*b\\?\\[c\\]\\\\d"
        );
        assert_eq!(include_pattern("/plain/name"), "/plain/name");
    }

    #[test]
    fn a_large_sample_is_split_and_nothing_is_lost() {
        let paths: Vec<String> = (0..20_000).map(|i| format!("/srv/data/{i:030}")).collect();
        let parts = batches(&paths);
        assert!(parts.len() > 1);
        assert_eq!(parts.iter().map(|b| b.len()).sum::<usize>(), paths.len());
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn files_restic_could_not_restore_are_named_once() {
        let said = "restoring <Snapshot …>\n\
                    ignoring error for /srv/a: b.txt: ciphertext verification failed\n\
                    ignoring error for /srv/a: b.txt: UtimesNano: no such file or directory\n\
                    Fatal: There were 2 errors";
        let named = ignored_errors(said, &["/srv/a: b.txt".to_owned(), "/srv/a".to_owned()]);
        assert_eq!(
            named,
            vec![(
                "/srv/a: b.txt".to_owned(),
                "ciphertext verification failed".to_owned()
            )]
        );
    }
}
