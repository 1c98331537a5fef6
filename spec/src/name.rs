//! The one rule for the names of hosts, jobs and destinations (and the templates that
//! name jobs). A name becomes a path component on the host — the snapshot folder
//! `<path>/<host>/<job>`, the job spec `<job>.json`, the lock, status and metrics files —
//! so it must stay one visible component: `bakgen check` refuses what `bakrun` would.

/// What is wrong with a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("is empty")]
    Empty,
    /// Also covers `.` and `..`. A leading dot hides the file (`ls`, node_exporter's
    /// textfile collector skips hidden files) and the atomic writer's temporary files
    /// start with one.
    #[error("starts with `.`")]
    LeadingDot,
    #[error("holds `/`")]
    Slash,
    #[error("holds a NUL character")]
    Nul,
}

/// The rule in one sentence, for help texts.
pub const RULE: &str =
    "a name is not empty, does not start with `.` (no hidden files), and holds no `/` or NUL";

/// Whether `name` can be a host, job or destination name.
pub fn check(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        Err(NameError::Empty)
    } else if name.starts_with('.') {
        Err(NameError::LeadingDot)
    } else if name.contains('/') {
        Err(NameError::Slash)
    } else if name.contains('\0') {
        Err(NameError::Nul)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_escape_or_hide_are_refused() {
        for (name, why) in [
            ("", NameError::Empty),
            (".", NameError::LeadingDot),
            ("..", NameError::LeadingDot),
            (".hidden", NameError::LeadingDot),
            ("a/b", NameError::Slash),
            ("/", NameError::Slash),
            ("a\0b", NameError::Nul),
        ] {
            assert_eq!(check(name), Err(why), "{name:?}");
        }
        for name in ["etc", "web-1", "a.b", "a..b", "ünï cödé", "-x", "x."] {
            assert_eq!(check(name), Ok(()), "{name:?}");
        }
    }
}
