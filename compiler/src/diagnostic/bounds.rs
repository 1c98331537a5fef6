//! How much of a policy a diagnostic may print, whatever the policy holds: rendering stays
//! proportional to the input, and miette is never handed a column it cannot draw.

use std::borrow::Cow;
use std::ops::Range;

use crate::source::SourceFile;

/// Longest message, label or help text shown, in characters; a longer one (a name pasted
/// from a log) is cut with "…".
pub const MAX_TEXT: usize = 500;
/// Longest source line drawn in a snippet, in bytes. A diagnostic touching a longer line
/// names its place in words instead.
pub const MAX_SNIPPET_LINE: usize = 300;
/// A label spanning more lines than this is drawn on its first line only.
pub const MAX_LABEL_LINES: usize = 8;

/// `text`, cut to [`MAX_TEXT`] characters.
pub fn clip(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_TEXT) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
        None => Cow::Borrowed(text),
    }
}

/// The part of `range` a snippet draws: all of it, or its first line if it spans many.
pub fn drawn(file: &SourceFile, range: &Range<usize>) -> Range<usize> {
    let first = file.line_index(range.start);
    if file.line_index(range.end) - first < MAX_LABEL_LINES {
        return range.clone();
    }
    range.start..file.line_range(first).end.max(range.start)
}

/// Whether a snippet around `range` (as [`drawn`], with miette's one line of context on
/// each side) has only lines short enough to draw.
pub fn drawable(file: &SourceFile, range: &Range<usize>) -> bool {
    let range = drawn(file, range);
    let first = file.line_index(range.start).saturating_sub(1);
    let last = file.line_index(range.end) + 1;
    (first..=last).all(|line| file.line_range(line).len() <= MAX_SNIPPET_LINE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(MAX_TEXT + 10);
        let cut = clip(&long);
        assert_eq!(cut.chars().count(), MAX_TEXT + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn long_lines_and_tall_labels_are_not_drawn_whole() {
        let text = format!(
            "a\n{}\nb\nc\nd\ne\nf\ng\nh\ni\nj\n",
            "x".repeat(MAX_SNIPPET_LINE + 1)
        );
        let file = SourceFile::new("p.kdl", text.clone());
        assert!(!drawable(&file, &(0..1)), "the next line is too long");
        assert!(drawable(&file, &(text.len() - 2..text.len() - 1)));
        let tall = text.find('b').unwrap_or(0)..text.len();
        assert_eq!(drawn(&file, &tall), tall.start..tall.start + 1);
    }
}
