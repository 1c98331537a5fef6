//! Terminal rendering through miette's graphical handler.

use std::fmt;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceSpan, SpanContents,
};

use super::bounds::{clip, drawable, drawn};
use super::{Diagnostic, Label, Severity};
use crate::source::{FileId, SourceFile, SourceSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unicode and colour, for a terminal.
    Colour,
    /// Unicode without colour: pipes, files, and snapshot tests.
    Plain,
}

/// Renders each diagnostic as miette draws it; labels in another file than the primary
/// one become a related note pointing into that file. A diagnostic whose snippet would
/// hold a line too long to draw names its place in words instead (see [`super::bounds`]).
pub fn render(diags: &[Diagnostic], sources: &SourceSet, style: Style) -> String {
    let theme = match style {
        Style::Colour => GraphicalTheme::unicode(),
        Style::Plain => GraphicalTheme::unicode_nocolor(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    for d in diags {
        let report = Report::new(d, sources);
        // Writing to a String cannot fail; a failure would only lose this one report.
        let _ = handler.render_report(&mut out, &report);
    }
    out
}

/// One diagnostic bound to its file, in the shape miette wants.
struct Report<'s> {
    severity: Severity,
    code: &'static str,
    message: String,
    help: Option<String>,
    /// `None` when the snippet is not drawn.
    source: Option<Lines<'s>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report<'s>>,
}

impl<'s> Report<'s> {
    fn new(d: &Diagnostic, sources: &'s SourceSet) -> Self {
        let file = d.primary.span.file;
        let (same, other): (Vec<&Label>, Vec<&Label>) =
            d.secondary.iter().partition(|l| l.span.file == file);
        let mut report = Report::located(
            d.severity,
            d.code,
            clip(&d.message).into_owned(),
            sources,
            file,
            std::iter::once(&d.primary).chain(same).collect(),
        );
        report.help = d.help.as_deref().map(|h| clip(h).into_owned());
        report.related = other
            .into_iter()
            .map(|l| {
                let message = format!("{} (see {})", clip(&l.text), sources.get(l.span.file).name);
                Report::located(
                    Severity::Warning,
                    "",
                    message,
                    sources,
                    l.span.file,
                    vec![l],
                )
            })
            .collect();
        report
    }

    /// A report on `labels` (the first is primary), all in `file`.
    fn located(
        severity: Severity,
        code: &'static str,
        mut message: String,
        sources: &'s SourceSet,
        file: FileId,
        labels: Vec<&Label>,
    ) -> Self {
        let f = sources.get(file);
        let source = if labels.iter().all(|l| drawable(f, &l.span.range)) {
            Some(Lines(f))
        } else {
            let (line, column) = f.line_col(labels.first().map_or(0, |l| l.span.range.start));
            message.push_str(&format!(
                "\n(at {}:{line}:{column}; the line is too long to show)",
                f.name
            ));
            None
        };
        let labels = match source {
            Some(_) => labels
                .iter()
                .enumerate()
                .map(|(i, l)| labeled(f, l, i == 0))
                .collect(),
            None => Vec::new(),
        };
        Report {
            severity,
            code,
            message,
            help: None,
            source,
            labels,
            related: Vec::new(),
        }
    }
}

/// A file as miette reads it, through the file's line index: the default reading of a
/// `str` scans from the start of the file for every label, which made rendering a large
/// policy with many diagnostics quadratic. Lines, columns (in bytes) and windows are the
/// ones miette's own reading gives, so output is unchanged.
struct Lines<'s>(&'s SourceFile);

impl miette::SourceCode for Lines<'_> {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let f = self.0;
        let text = f.text.as_str();
        let (offset, len) = (span.offset(), span.len());
        if offset + len > text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let first = f.line_index(offset);
        // miette counts a newline as the start of the line after it.
        let end_byte = (offset + len).saturating_sub(1);
        let last = match text.as_bytes().get(end_byte) {
            Some(b'\n') => f.line_index(end_byte + 1),
            _ => f.line_index(end_byte),
        };
        let (start, line, column) = if before == 0 {
            (offset, first, offset - f.line_range(first).start)
        } else {
            let line = first.saturating_sub(before);
            (f.line_range(line).start, line, 0)
        };
        let end = if after == 0 {
            (offset + len).max(offset + 1).min(text.len())
        } else {
            // Through the newline that ends the last line of context.
            f.line_range(last + after + 1).start
        };
        let contents = MietteSpanContents::new_named(
            f.name.clone(),
            &text.as_bytes()[start..end],
            (start, end - start).into(),
            line,
            column,
            f.line_index(end),
        )
        .with_language("kdl");
        Ok(Box::new(contents))
    }
}

fn labeled(file: &SourceFile, l: &Label, primary: bool) -> LabeledSpan {
    let range = drawn(file, &l.span.range);
    let span = SourceSpan::from(range);
    let text = (!l.text.is_empty()).then(|| clip(&l.text).into_owned());
    if primary {
        LabeledSpan::new_primary_with_span(text, span)
    } else {
        LabeledSpan::new_with_span(text, span)
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        (!self.code.is_empty()).then(|| Box::new(self.code) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning if self.code.is_empty() => miette::Severity::Advice,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

#[cfg(test)]
mod tests {
    use miette::{NamedSource, SourceCode};

    use super::*;

    /// Reading through the line index gives what miette's own reading of the text gives:
    /// the same window for a snippet, the same place for a header.
    #[test]
    fn lines_read_as_miette_reads_a_str() {
        let texts = [
            "",
            "a",
            "a\n",
            "host \"h\" {\n    job \"é\" { source \"/\" }\n}\n",
            "\n\n\nx\n\ny",
            "one\ntwo\nthree\nfour\nfive",
        ];
        for text in texts {
            let file = SourceFile::new("p.kdl", text);
            let ours = Lines(&file);
            let theirs = NamedSource::new("p.kdl", text.to_owned());
            let boundaries: Vec<usize> = (0..=text.len())
                .filter(|i| text.is_char_boundary(*i))
                .collect();
            for &start in &boundaries {
                for &end in boundaries.iter().filter(|e| **e >= start) {
                    for (before, after) in [(0, 0), (1, 1), (2, 2)] {
                        let span = SourceSpan::from(start..end);
                        let a = ours.read_span(&span, before, after);
                        let b = theirs.read_span(&span, before, after);
                        let (Ok(a), Ok(b)) = (a, b) else {
                            continue;
                        };
                        let what = format!("{text:?} {start}..{end} ({before}, {after})");
                        // Without context miette uses only the place, for the header.
                        if before > 0 {
                            assert_eq!(a.data(), b.data(), "{what}");
                            assert_eq!(a.span(), b.span(), "{what}");
                        }
                        assert_eq!(a.line(), b.line(), "{what}");
                        assert_eq!(a.column(), b.column(), "{what}");
                    }
                }
            }
        }
    }
}
