//! Policy files to KDL documents, with KDL's syntax errors turned into bakgen diagnostics
//! that carry the file name and say how to fix the common KDL 2.0 traps.

use kdl::{KdlDocument, KdlError};

use super::decode::decode_document;
use super::model::Policy;
use super::reader::Cx;
use super::structure::{self, Problem, Scan};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::{FileId, SourceSet, Span};

/// Stack for the `kdl` parser, which recurses per nested block and per part of a comment;
/// [`structure`] bounds both so that this is always enough. Only touched pages are used.
const PARSER_STACK: usize = 64 * 1024 * 1024;
/// Blocks in a file given to the KDL 1.0 parser: 60-odd hosts with a job each.
const MAX_V1_BLOCKS: usize = 256;
/// Syntax errors shown per file: past the first few, the rest are usually one mistake's echo.
const MAX_SYNTAX_ERRORS: usize = 20;

/// Parses and decodes every file; files with syntax errors contribute diagnostics only.
pub fn parse_policy(sources: &SourceSet) -> (Policy, Diagnostics) {
    let mut policy = Policy::default();
    let mut diags = Diagnostics::default();
    for (file, source) in sources.iter() {
        let text = source.text.as_str();
        let scan = structure::scan(text);
        if let Some((problem @ (Problem::TooDeep | Problem::CommentTooComplex), at)) = &scan.problem
        {
            diags.push(too_deep(problem, Span::new(file, at.clone())));
            continue;
        }
        let until = scan.parse_until(text);
        match on_parser_stack(|| KdlDocument::parse_v2(&text[..until])) {
            Ok(doc) if scan.problem.is_none() => {
                let mut cx = Cx {
                    file,
                    text,
                    diags: &mut diags,
                };
                decode_document(&mut cx, &doc, &mut policy);
            }
            Ok(_) => {
                let mut out = Vec::new();
                first_problem(file, text, &scan, &mut out);
                push_capped(file, out, &mut diags);
            }
            Err(err) => syntax_errors(file, text, &scan, until, &err, &mut diags),
        }
    }
    (policy, diags)
}

/// Runs the parser on a thread with a known, large stack: the caller's may be small (a
/// test thread has 2 MiB). Runs it here if no thread can be started.
fn on_parser_stack<T: Send>(parse: impl Fn() -> T + Sync) -> T {
    std::thread::scope(|s| {
        match std::thread::Builder::new()
            .name("kdl-parser".to_owned())
            .stack_size(PARSER_STACK)
            .spawn_scoped(s, &parse)
        {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => parse(),
        }
    })
}

fn too_deep(problem: &Problem, span: Span) -> Diagnostic {
    let (message, help) = match problem {
        Problem::TooDeep => (
            format!("blocks nest more than {} deep", structure::MAX_DEPTH),
            "a policy needs a few levels (host, job, setting); look for `{` without its `}`",
        ),
        _ => (
            format!(
                "this /* */ comment nests more than {} deep or has more than {} `*` and `/`",
                structure::MAX_COMMENT_DEPTH,
                structure::MAX_COMMENT_PARTS
            ),
            "comment long passages out with // on each line",
        ),
    };
    Diagnostic::error("bakgen::too-deep", message, span)
        .label("bakgen reads no deeper")
        .help(help)
}

/// The validator's own words for the first problem, when the parser has none for it.
fn first_problem(file: FileId, text: &str, scan: &Scan, out: &mut Vec<Diagnostic>) {
    if let Some((Problem::Syntax(expected), at)) = &scan.problem {
        let found = text[at.clone()]
            .chars()
            .next()
            .map_or_else(|| "the end of the file".to_owned(), |c| format!("{:?}", c));
        out.push(
            Diagnostic::error(
                "bakgen::kdl-syntax",
                format!("not valid KDL 2.0: expected {expected}, found {found}"),
                Span::new(file, at.clone()),
            )
            .label("here"),
        );
    }
    if let Some(&open) = scan.unclosed.first() {
        let inside = scan.unclosed.len() - 1;
        let mut help = "add the missing `}` at the end of this block".to_owned();
        if inside > 0 {
            help.push_str(&format!(
                " ({inside} block{} opened inside it {} not closed either)",
                if inside == 1 { "" } else { "s" },
                if inside == 1 { "is" } else { "are" }
            ));
        }
        out.push(
            Diagnostic::error(
                "bakgen::kdl-syntax",
                "No closing '}' for child block",
                Span::new(file, open..open + 1),
            )
            .label("not closed")
            .help(help),
        );
    }
}

/// At most [`MAX_SYNTAX_ERRORS`], then one line saying how many more there are.
fn push_capped(file: FileId, mut found: Vec<Diagnostic>, diags: &mut Diagnostics) {
    found.sort_by(|a, b| a.primary.span.cmp(&b.primary.span));
    let more = found.len().saturating_sub(MAX_SYNTAX_ERRORS);
    let next = found.get(MAX_SYNTAX_ERRORS).map(|d| d.primary.span.clone());
    for d in found.into_iter().take(MAX_SYNTAX_ERRORS) {
        diags.push(d);
    }
    if let Some(span) = next {
        diags.push(
            Diagnostic::error(
                "bakgen::kdl-syntax",
                format!("{more} more syntax errors in this file are not shown"),
                Span::new(file, span.range),
            )
            .label("the next one")
            .help("fix the ones above first; most of the rest usually follow from them"),
        );
    }
}

/// The KDL 1.0 parser recurses per block and per comment part, and takes time quadratic in
/// the nesting; nothing bounds either in text that is not KDL 2.0. It runs only where the
/// number of `{` (a bound on the nesting) and of `*` and `/` keep it safe and fast; a
/// larger KDL 1.0 file gets the KDL 2.0 errors instead.
fn v1_parse_is_safe(text: &str) -> bool {
    let braces = text.bytes().filter(|b| *b == b'{').count();
    let comment_parts = text.bytes().filter(|b| matches!(b, b'*' | b'/')).count();
    braces <= MAX_V1_BLOCKS && comment_parts <= structure::MAX_COMMENT_PARTS
}

fn syntax_errors(
    file: FileId,
    text: &str,
    scan: &Scan,
    until: usize,
    err: &KdlError,
    diags: &mut Diagnostics,
) {
    // A file that parses as KDL 1.0 gets one clear message instead of a cascade.
    if v1_parse_is_safe(text) && on_parser_stack(|| KdlDocument::parse_v1(text).is_ok()) {
        let first = err
            .diagnostics
            .first()
            .map(|d| d.span.offset())
            .unwrap_or(0);
        let span = token_span(file, text, first);
        let converted = on_parser_stack(|| KdlDocument::v1_to_v2(text).ok());
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
        push_capped(file, slips, diags);
        return;
    }
    // Unclosed blocks are reported once, below; when the parser saw only a prefix, the
    // blocks open where it stopped are not unclosed at all.
    let skip_unclosed = until < text.len() || !scan.unclosed.is_empty();
    let mut found = Vec::new();
    for d in &err.diagnostics {
        let message = d
            .message
            .clone()
            .unwrap_or_else(|| "syntax error".to_owned());
        if skip_unclosed && message.to_ascii_lowercase().contains("closing '}'") {
            continue;
        }
        let start = d.span.offset().min(until);
        let end = (d.span.offset() + d.span.len()).min(until);
        let token = text.get(start..end).unwrap_or("");
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
        found.push(diag);
    }
    if found.is_empty() || !scan.unclosed.is_empty() {
        first_problem(file, text, scan, &mut found);
    }
    push_capped(file, found, diags);
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
