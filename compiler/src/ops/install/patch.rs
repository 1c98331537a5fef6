//! Unified diffs of planned file changes, as a reviewer reads them: `a/` is what is
//! installed now, `b/` what the apply would leave.

use similar::TextDiff;

use super::plan::{Change, FileChange};

/// The unified diff of one change (empty for a mode-only change).
pub fn unified(f: &FileChange) -> String {
    if f.change == Change::Mode {
        return String::new();
    }
    let before = String::from_utf8_lossy(f.before.as_deref().unwrap_or_default());
    let after = String::from_utf8_lossy(f.after.as_deref().unwrap_or_default());
    let old = if f.before.is_some() {
        format!("a/{}", f.path)
    } else {
        "/dev/null".to_owned()
    };
    let new = if f.after.is_some() {
        format!("b/{}", f.path)
    } else {
        "/dev/null".to_owned()
    };
    let mut text = TextDiff::from_lines(before.as_ref(), after.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&old, &new)
        .missing_newline_hint(true)
        .to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// ANSI colours for a terminal: headers bold, hunks cyan, removals red, additions green.
pub fn colourize(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len() + diff.len() / 4);
    for line in diff.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let code = if body.starts_with("---") || body.starts_with("+++") {
            "1"
        } else if body.starts_with("@@") {
            "36"
        } else if body.starts_with('-') {
            "31"
        } else if body.starts_with('+') {
            "32"
        } else {
            ""
        };
        if code.is_empty() {
            out.push_str(line);
        } else {
            out.push_str(&format!("\x1b[{code}m{body}\x1b[0m{nl}"));
        }
    }
    out
}
