//! Terminal rendering through miette's graphical handler.

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

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
struct Report {
    severity: Severity,
    code: &'static str,
    message: String,
    help: Option<String>,
    /// `None` when the snippet is not drawn.
    source: Option<NamedSource<Arc<String>>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl Report {
    fn new(d: &Diagnostic, sources: &SourceSet) -> Self {
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
        sources: &SourceSet,
        file: FileId,
        labels: Vec<&Label>,
    ) -> Self {
        let f = sources.get(file);
        let source = if labels.iter().all(|l| drawable(f, &l.span.range)) {
            Some(named(sources, file))
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

fn named(sources: &SourceSet, file: FileId) -> NamedSource<Arc<String>> {
    let f = sources.get(file);
    NamedSource::new(f.name.clone(), f.text.clone()).with_language("kdl")
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

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
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
