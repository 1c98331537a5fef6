//! Policy files to KDL documents, with KDL's syntax errors turned into bakgen diagnostics
//! that carry the file name and say how to fix the common KDL 2.0 traps.

use kdl::{KdlDocument, KdlError};

use super::decode::decode_document;
use super::model::Policy;
use super::reader::Cx;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::{FileId, SourceSet, Span};

/// Parses and decodes every file; files with syntax errors contribute diagnostics only.
pub fn parse_policy(sources: &SourceSet) -> (Policy, Diagnostics) {
    let mut policy = Policy::default();
    let mut diags = Diagnostics::default();
    for (file, source) in sources.iter() {
        match KdlDocument::parse_v2(&source.text) {
            Ok(doc) => {
                let mut cx = Cx {
                    file,
                    text: &source.text,
                    diags: &mut diags,
                };
                decode_document(&mut cx, &doc, &mut policy);
            }
            Err(err) => syntax_errors(file, &source.text, &err, &mut diags),
        }
    }
    (policy, diags)
}

fn syntax_errors(file: FileId, text: &str, err: &KdlError, diags: &mut Diagnostics) {
    // A file that parses as KDL 1.0 gets one clear message instead of a cascade.
    if KdlDocument::parse_v1(text).is_ok() {
        let first = err
            .diagnostics
            .first()
            .map(|d| d.span.offset())
            .unwrap_or(0);
        let span = token_span(file, text, first);
        let converted = KdlDocument::v1_to_v2(text).ok();
        let mut help = String::from(
            "bakgen reads KDL 2.0: booleans are #true/#false, null is #null, and bare words need no quotes; ",
        );
        match converted
            .as_deref()
            .and_then(|c| c.lines().nth(line_of(text, first)))
        {
            Some(line) => help.push_str(&format!("this line in 2.0 reads: {}", line.trim())),
            None => help.push_str("convert the file with `kdl convert` or by hand"),
        }
        diags.push(
            Diagnostic::error("bakgen::kdl-v1", "this file is written in KDL 1.0", span)
                .label("KDL 1.0 syntax")
                .help(help),
        );
        return;
    }
    for d in &err.diagnostics {
        let start = d.span.offset().min(text.len());
        let end = (d.span.offset() + d.span.len()).min(text.len());
        let token = text.get(start..end).unwrap_or("");
        let message = d
            .message
            .clone()
            .unwrap_or_else(|| "syntax error".to_owned());
        let help = kdl2_hint(&message, token, text, start).or_else(|| d.help.clone());
        let label = d.label.clone().unwrap_or_else(|| "here".to_owned());
        let mut diag = Diagnostic::error(
            "bakgen::kdl-syntax",
            message,
            Span::new(file, start..end.max(start)),
        )
        .label(label);
        if let Some(h) = help {
            diag = diag.help(h);
        }
        diags.push(diag);
    }
}

/// The traps of KDL 2.0 that its parser reports in unhelpful words.
fn kdl2_hint(message: &str, token: &str, text: &str, start: usize) -> Option<String> {
    let word: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ';' | '{' | '}' | '='))
        .collect();
    match word.as_str() {
        "true" | "false" | "null" => {
            return Some(format!("KDL 2.0 writes `{word}` as #{word}"));
        }
        _ => {}
    }
    let before = text[..start].chars().last();
    if word.starts_with('/')
        || token.starts_with('/')
        || (before == Some('/') && message.contains("end of document"))
    {
        return Some("quote paths and expressions: source \"/etc\"".to_owned());
    }
    if message.contains("integer") || message.contains("number") || message.contains("float") {
        let w = word.trim_end_matches([';', ')']);
        if w.chars().next().is_some_and(|c| c.is_ascii_digit())
            && w.chars().any(|c| c.is_alphabetic() || c == ':')
        {
            return Some(format!("durations, sizes and times are strings: \"{w}\""));
        }
    }
    if message.contains("closing '}'") {
        return Some("add the missing `}` at the end of this block".to_owned());
    }
    None
}

fn token_span(file: FileId, text: &str, offset: usize) -> Span {
    let start = offset.min(text.len());
    let len = text[start..]
        .find(|c: char| c.is_whitespace())
        .unwrap_or(text.len() - start);
    Span::new(file, start..start + len)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count()
}
