//! Reading KDL nodes by hand: shape checks (arguments, properties, children) that report
//! every problem, and typed accessors that keep the span of each value.

use kdl::{KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::model::Spanned;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::{FileId, Span};
use crate::suggest::did_you_mean;

/// Property names that mean someone is about to write a secret into the policy.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passphrase",
    "passwd",
    "token",
    "secret-value",
    "api-key",
];

/// The file being decoded and the diagnostics found so far.
pub struct Cx<'a> {
    pub file: FileId,
    pub text: &'a str,
    pub diags: &'a mut Diagnostics,
}

/// What a node may carry.
pub struct Shape<'s> {
    /// Fewest and most positional arguments.
    pub args: (usize, usize),
    /// What the arguments are, for messages ("a path", "a database name").
    pub arg_what: &'s str,
    pub props: &'s [&'s str],
    pub children: bool,
}

impl<'a> Cx<'a> {
    pub fn span(&self, s: SourceSpan) -> Span {
        let start = s.offset().min(self.text.len());
        let end = (s.offset() + s.len()).min(self.text.len());
        Span::new(self.file, start..end)
    }

    pub fn name_span(&self, node: &KdlNode) -> Span {
        self.span(node.name().span())
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// The span of an entry's value alone (after `key=` for a property).
    pub fn value_span(&self, entry: &KdlEntry) -> Span {
        let whole = self.span(entry.span());
        let Some(name) = entry.name() else {
            return whole;
        };
        let key_end = self.span(name.span()).range.end;
        let rest = self.text.get(key_end..whole.range.end).unwrap_or("");
        let skip = rest
            .find('=')
            .map(|eq| {
                eq + 1
                    + rest[eq + 1..]
                        .find(|c: char| !c.is_whitespace())
                        .unwrap_or(0)
            })
            .unwrap_or(0);
        Span::new(self.file, key_end + skip..whole.range.end)
    }

    /// Checks arguments, properties and children against `shape`, reporting each problem.
    /// Returns false when the node is unusable (too few arguments).
    pub fn shape(&mut self, node: &KdlNode, shape: &Shape<'_>) -> bool {
        let node_name = node.name().value().to_owned();
        let mut args = 0usize;
        let mut seen: Vec<(&str, Span)> = Vec::new();
        for entry in node.entries() {
            match entry.name() {
                None => {
                    args += 1;
                    if args > shape.args.1 {
                        let msg = if shape.args.1 == 0 {
                            format!("`{node_name}` takes no argument")
                        } else {
                            format!(
                                "`{node_name}` takes at most {} argument{}",
                                shape.args.1,
                                if shape.args.1 == 1 { "" } else { "s" }
                            )
                        };
                        let d = Diagnostic::error(
                            "bakgen::extra-argument",
                            msg,
                            self.span(entry.span()),
                        )
                        .label("not expected")
                        .help(extra_arg_help(&node_name, shape));
                        self.push(d);
                    }
                }
                Some(key) => {
                    let key_name = key.value();
                    let span = self.span(entry.span());
                    if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key_name) {
                        let d = Diagnostic::error(
                            "bakgen::duplicate-property",
                            format!("property `{key_name}` is given twice"),
                            span.clone(),
                        )
                        .label("again here")
                        .with(first.clone(), "first here")
                        .help("keep one of them");
                        self.push(d);
                        continue;
                    }
                    seen.push((key_name, span.clone()));
                    if !shape.props.contains(&key_name) {
                        let d = self.unknown_property(&node_name, key_name, entry, shape);
                        self.push(d);
                    }
                }
            }
        }
        if let Some(children) = node.children() {
            if !shape.children {
                let span = self.span(children.span());
                let d = Diagnostic::error(
                    "bakgen::unexpected-children",
                    format!("`{node_name}` takes no child nodes"),
                    span,
                )
                .label("not expected")
                .help(format!(
                    "write the settings of `{node_name}` as arguments and properties on its line"
                ));
                self.push(d);
            }
        }
        if args < shape.args.0 {
            let d = Diagnostic::error(
                "bakgen::missing-value",
                format!("`{node_name}` needs {}", shape.arg_what),
                self.name_span(node),
            )
            .label(format!("{} missing", shape.arg_what))
            .help(format!("write it after the node name: {node_name} …"));
            self.push(d);
            return false;
        }
        true
    }

    fn unknown_property(
        &self,
        node_name: &str,
        key: &str,
        entry: &KdlEntry,
        shape: &Shape<'_>,
    ) -> Diagnostic {
        let span = self.span(entry.span());
        let lower = key.to_ascii_lowercase();
        if SECRET_WORDS.iter().any(|w| lower.contains(w)) && entry.value().is_string() {
            return Diagnostic::error(
                "bakgen::inline-secret",
                format!("`{key}` would put a secret into the policy"),
                span,
            )
            .label("a secret written inline")
            .help("define it with `secret \"name\" file=\"/etc/bakgen/secrets/name\"` (or credential=, command=) and refer to it by name");
        }
        let mut d = Diagnostic::error(
            "bakgen::unknown-property",
            format!("`{node_name}` has no property `{key}`"),
            span,
        )
        .label("unknown property");
        d = match did_you_mean(key, shape.props.iter().copied()) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None if shape.props.is_empty() => d.help(format!("`{node_name}` takes no properties")),
            None => d.help(format!("`{node_name}` knows: {}", shape.props.join(", "))),
        };
        d
    }

    pub fn string(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<String>> {
        let span = self.value_span(entry);
        match entry.value() {
            KdlValue::String(s) => {
                let value = Spanned::new(s.clone(), span);
                if let Some((at, c)) = super::text::control_character(s) {
                    let inner = self.string_inner(&value);
                    let span = if inner.range.len() == s.len() {
                        inner.sub(at..at + c.len_utf8())
                    } else {
                        value.span.clone()
                    };
                    self.push(super::text::control_character_error(what, c, span));
                }
                // Kept, so decoding goes on; the error stops `build`.
                Some(value)
            }
            other => {
                let d = wrong_type(what, "a string", other, span);
                self.push(d);
                None
            }
        }
    }

    pub fn integer(
        &mut self,
        entry: &KdlEntry,
        what: &str,
        range: (i64, i64),
    ) -> Option<Spanned<i64>> {
        let span = self.value_span(entry);
        match entry.value() {
            KdlValue::Integer(i) => {
                if *i < i128::from(range.0) || *i > i128::from(range.1) {
                    let d = Diagnostic::error(
                        "bakgen::out-of-range",
                        format!("{what} {i} is outside {}..{}", range.0, range.1),
                        span,
                    )
                    .label("out of range")
                    .help(format!("use a value from {} to {}", range.0, range.1));
                    self.push(d);
                    return None;
                }
                Some(Spanned::new(*i as i64, span))
            }
            other => {
                let d = wrong_type(what, "an integer", other, span);
                self.push(d);
                None
            }
        }
    }

    pub fn boolean(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<bool>> {
        let span = self.value_span(entry);
        match entry.value() {
            KdlValue::Bool(b) => Some(Spanned::new(*b, span)),
            other => {
                let d = wrong_type(what, "#true or #false", other, span);
                self.push(d);
                None
            }
        }
    }

    /// The inner span of a plain quoted string, when offsets inside the value map one to
    /// one onto the file (no escapes, not raw or multi-line); else the whole value.
    pub fn string_inner(&self, value: &Spanned<String>) -> Span {
        let raw = self.text.get(value.span.range.clone()).unwrap_or("");
        let plain = raw.len() == value.value.len() + 2
            && raw.starts_with('"')
            && raw.ends_with('"')
            && !raw.contains('\\');
        if plain {
            value.span.sub(1..raw.len() - 1)
        } else {
            value.span.clone()
        }
    }
}

pub fn args(node: &KdlNode) -> impl Iterator<Item = &KdlEntry> {
    node.entries().iter().filter(|e| e.name().is_none())
}

pub fn arg(node: &KdlNode, i: usize) -> Option<&KdlEntry> {
    args(node).nth(i)
}

/// The last property of that name (duplicates are reported by [`Cx::shape`]).
pub fn prop<'n>(node: &'n KdlNode, key: &str) -> Option<&'n KdlEntry> {
    node.entries()
        .iter()
        .rev()
        .find(|e| e.name().is_some_and(|n| n.value() == key))
}

fn extra_arg_help(node: &str, shape: &Shape<'_>) -> String {
    if shape.args.1 == 1 {
        format!("`{node}` takes one value: remove the others")
    } else if shape.props.is_empty() {
        format!("remove the extra argument of `{node}`")
    } else {
        format!(
            "`{node}` takes {} and properties {}",
            shape.arg_what,
            shape.props.join(", ")
        )
    }
}

fn type_name(v: &KdlValue) -> &'static str {
    match v {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a number with a fraction",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

pub fn wrong_type(what: &str, expected: &str, got: &KdlValue, span: Span) -> Diagnostic {
    let help = match (expected, got) {
        ("a string", KdlValue::Integer(_) | KdlValue::Float(_)) => {
            format!(
                "quote it: \"{got}\" (durations and sizes carry a unit, e.g. \"30m\", \"2MiB\")"
            )
        }
        ("a string", _) => "quote it".to_owned(),
        ("an integer", KdlValue::String(s)) => format!("remove the quotes: {s}"),
        ("#true or #false", _) => "KDL 2.0 writes booleans as #true and #false".to_owned(),
        _ => format!("write {expected}"),
    };
    Diagnostic::error(
        "bakgen::wrong-type",
        format!("{what} must be {expected}, not {}", type_name(got)),
        span,
    )
    .label(format!("{} here", type_name(got)))
    .help(help)
}
