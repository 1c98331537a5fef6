//! Terminal rendering through miette's graphical handler.

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use super::{Diagnostic, Label, Severity};
use crate::source::{FileId, SourceSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unicode and colour, for a terminal.
    Colour,
    /// Unicode without colour: pipes, files, and snapshot tests.
    Plain,
}

/// Renders each diagnostic as miette draws it; labels in another file than the primary
/// one become a related note pointing into that file.
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
    source: NamedSource<Arc<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl Report {
    fn new(d: &Diagnostic, sources: &SourceSet) -> Self {
        let file = d.primary.span.file;
        let mut labels = vec![labeled(&d.primary, true)];
        let mut related = Vec::new();
        for l in &d.secondary {
            if l.span.file == file {
                labels.push(labeled(l, false));
            } else {
                related.push(Report {
                    severity: Severity::Warning,
                    code: "",
                    message: format!("{} (see {})", l.text, sources.get(l.span.file).name),
                    help: None,
                    source: named(sources, l.span.file),
                    labels: vec![labeled(l, true)],
                    related: Vec::new(),
                });
            }
        }
        Report {
            severity: d.severity,
            code: d.code,
            message: d.message.clone(),
            help: d.help.clone(),
            source: named(sources, file),
            labels,
            related,
        }
    }
}

fn named(sources: &SourceSet, file: FileId) -> NamedSource<Arc<String>> {
    let f = sources.get(file);
    NamedSource::new(f.name.clone(), f.text.clone()).with_language("kdl")
}

fn labeled(l: &Label, primary: bool) -> LabeledSpan {
    let span = SourceSpan::from(l.span.range.start..l.span.range.end);
    let text = (!l.text.is_empty()).then(|| l.text.clone());
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
        Some(&self.source)
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
