//! Why an expression was refused, and where.

use std::fmt;
use std::ops::Range;

/// An invalid calendar expression: what is wrong, the byte range of the offending part
/// of the text, and, where one helps, what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarError {
    pub message: String,
    /// A byte range inside the text, on character boundaries.
    pub span: Range<usize>,
    pub help: Option<String>,
}

impl CalendarError {
    pub(crate) fn new(text: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        CalendarError {
            message: message.into(),
            span: char_aligned(text, span),
            help: None,
        }
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Clamps a span into the text and widens it to whole characters, so that every span
/// can be sliced and rendered whatever bytes the expression holds.
fn char_aligned(text: &str, span: Range<usize>) -> Range<usize> {
    let len = text.len();
    let mut start = span.start.min(len);
    let mut end = span.end.clamp(start, len);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    while !text.is_char_boundary(end) {
        end += 1;
    }
    // An empty span is widened to a character so that it shows: the one it stands at,
    // or at the end of the text the last one.
    if start == end && end == len && len > 0 {
        start -= 1;
        while !text.is_char_boundary(start) {
            start -= 1;
        }
    } else if start == end && end < len {
        end += 1;
        while !text.is_char_boundary(end) {
            end += 1;
        }
    }
    start..end
}

impl fmt::Display for CalendarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CalendarError {}

impl miette::Diagnostic for CalendarError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("bakgen::calendar"))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_primary_with_span(None, self.span.clone()),
        )))
    }
}
