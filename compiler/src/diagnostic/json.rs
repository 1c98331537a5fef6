//! `--format json`: one object per diagnostic, positions as one-based line and column;
//! texts cut as in [`super::bounds`].

use std::borrow::Cow;

use serde::Serialize;

use super::bounds::clip;
use super::{Diagnostic, Label, Severity};
use crate::source::SourceSet;

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    severity: Severity,
    code: &'a str,
    message: Cow<'a, str>,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    help: Option<Cow<'a, str>>,
    labels: Vec<JsonLabel<'a>>,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    message: Cow<'a, str>,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
}

struct Position<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
}

fn position<'a>(label: &Label, sources: &'a SourceSet) -> Position<'a> {
    let f = sources.get(label.span.file);
    let (line, column) = f.line_col(label.span.range.start);
    let (end_line, end_column) = f.line_col(label.span.range.end);
    Position {
        file: &f.name,
        line,
        column,
        end_line,
        end_column,
    }
}

/// A pretty JSON array, newline-terminated.
pub fn to_json(diags: &[Diagnostic], sources: &SourceSet) -> String {
    let items: Vec<JsonDiagnostic> = diags
        .iter()
        .map(|d| {
            let p = position(&d.primary, sources);
            let labels = std::iter::once(&d.primary)
                .chain(&d.secondary)
                .map(|l| {
                    let q = position(l, sources);
                    JsonLabel {
                        message: clip(&l.text),
                        file: q.file,
                        line: q.line,
                        column: q.column,
                        end_line: q.end_line,
                        end_column: q.end_column,
                    }
                })
                .collect();
            JsonDiagnostic {
                severity: d.severity,
                code: d.code,
                message: clip(&d.message),
                file: p.file,
                line: p.line,
                column: p.column,
                end_line: p.end_line,
                end_column: p.end_column,
                help: d.help.as_deref().map(clip),
                labels,
            }
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_owned());
    s.push('\n');
    s
}
