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
            "bakgen reads KDL 2.0, where booleans are #true/#false and null is #null; ",
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
    // The parser's own messages for the common KDL 2.0 slips are a cascade of "no closing
    // brace" far from the cause; when a slip is recognisable, report it instead.
    let slips = find_slips(file, text);
    if !slips.is_empty() {
        for d in slips {
            diags.push(d);
        }
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

/// Bare words that KDL 2.0 rejects and people write anyway: unquoted paths, durations and
/// sizes (`30m`, `2MiB`), and `true`/`false`/`null` without `#`.
fn find_slips(file: FileId, text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let code = outside_strings(line);
        let mut i = 0;
        let bytes = code.as_bytes();
        while i < bytes.len() {
            let at_word = i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'=' | b'{' | b';');
            if !at_word || bytes[i] == b' ' {
                i += 1;
                continue;
            }
            let end = code[i..]
                .find(|c: char| c.is_whitespace() || matches!(c, ';' | '{' | '}' | '='))
                .map_or(code.len(), |e| i + e);
            let word = &code[i..end];
            let message =
                if word.starts_with("//") || word.starts_with("/*") || word.starts_with("/-") {
                    break; // a comment or slashdash: the rest of the line is not code we can judge
                } else if word.starts_with('/') && word.len() > 1 {
                    Some(("a path must be quoted", format!("write \"{word}\"")))
                } else if word.len() > 1
                    && word.as_bytes()[0].is_ascii_digit()
                    && word.chars().any(|c| c.is_ascii_alphabetic())
                    && !word.starts_with("0x")
                    && !word.starts_with("0o")
                    && !word.starts_with("0b")
                    && !word.contains(['e', 'E'])
                {
                    Some((
                        "durations, sizes and times are strings in KDL",
                        format!("write \"{word}\""),
                    ))
                } else if matches!(word, "true" | "false" | "null") && i > 0 {
                    Some(("KDL 2.0 writes keywords with #", format!("write #{word}")))
                } else {
                    None
                };
            if let Some((msg, help)) = message {
                out.push(
                    Diagnostic::error(
                        "bakgen::kdl-syntax",
                        msg,
                        Span::new(file, offset + i..offset + end),
                    )
                    .label("not valid KDL 2.0")
                    .help(help),
                );
            }
            i = end.max(i + 1);
        }
        offset += line.len();
    }
    out
}

/// The line with the contents of quoted strings blanked out (same length, so offsets hold).
fn outside_strings(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in line.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
                out.push('"');
                continue;
            }
            for _ in 0..c.len_utf8() {
                out.push(' ');
            }
        } else {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
    }
    out
}
