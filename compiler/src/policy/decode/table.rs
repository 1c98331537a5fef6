//! Each KDL node a block accepts, declared once: its name, its shape (arguments,
//! properties, children) and the function that decodes it. Dispatch, the duplicate check
//! and the "did you mean" lists all read the same table, so they cannot disagree.

use kdl::{KdlDocument, KdlNode};

use super::super::reader::{Cx, Shape};
use crate::diagnostic::Diagnostic;
use crate::source::Span;
use crate::suggest::did_you_mean;

/// Decodes one node into the block's value `T`. The shape is the node's own table entry:
/// the decoder checks it at the point its messages need (some refuse an inline secret
/// before anything else).
pub type Decode<T> = fn(&mut Cx<'_>, &KdlNode, &Shape<'static>, &mut T);

pub struct Node<T: 'static> {
    pub name: &'static str,
    pub shape: Shape<'static>,
    /// May appear more than once in one block (`source`, `postgres`, `env`, `host` …).
    pub repeatable: bool,
    pub decode: Decode<T>,
}

pub fn names<T>(table: &'static [Node<T>]) -> impl Iterator<Item = &'static str> {
    table.iter().map(|n| n.name)
}

pub fn contains<T>(table: &'static [Node<T>], name: &str) -> bool {
    table.iter().any(|n| n.name == name)
}

/// Decodes each node of `body` through `table`. A second non-repeatable node is reported
/// with `duplicate_help`; a node the table lacks goes to `unknown`.
pub fn decode_block<T>(
    cx: &mut Cx<'_>,
    body: Option<&KdlDocument>,
    table: &'static [Node<T>],
    into: &mut T,
    duplicate_help: &str,
    mut unknown: impl FnMut(&mut Cx<'_>, &KdlNode),
) {
    let mut seen: Vec<(&str, Span)> = Vec::new();
    for node in body.map(|b| b.nodes()).unwrap_or_default() {
        let name = node.name().value();
        let Some(entry) = table.iter().find(|n| n.name == name) else {
            unknown(cx, node);
            continue;
        };
        if !entry.repeatable {
            let span = cx.name_span(node);
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == entry.name) {
                let d = Diagnostic::error(
                    "bakgen::duplicate-setting",
                    format!("`{name}` is set twice"),
                    span,
                )
                .label("again here")
                .with(first.clone(), "first here")
                .help(duplicate_help);
                cx.push(d);
                continue;
            }
            seen.push((entry.name, span));
        }
        (entry.decode)(cx, node, &entry.shape, into);
    }
}

/// A second `name` block where a policy has one (`defaults`, `monitoring`, `install`).
pub fn second_block(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        "bakgen::duplicate-name",
        format!("a second `{name}` block"),
        span,
    )
    .label(format!("second {name}"))
    .with(first, format!("first {name} here"))
    .help(format!("a policy has one `{name}` block: merge them"))
}

/// Help for a node `table` lacks: the nearest name, else every name after `lead`.
pub fn nearest_or_all<T>(
    d: Diagnostic,
    other: &str,
    table: &'static [Node<T>],
    lead: &str,
) -> Diagnostic {
    match did_you_mean(other, names(table)) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!(
            "{lead}: {}",
            names(table).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// A leaf node with one argument and nothing else.
pub const fn one(arg_what: &'static str) -> Shape<'static> {
    Shape {
        args: (1, 1),
        arg_what,
        props: &[],
        children: false,
    }
}

/// A node whose first argument is its name (`host "web1" …`).
pub const fn named(
    arg_what: &'static str,
    props: &'static [&'static str],
    children: bool,
) -> Shape<'static> {
    Shape {
        args: (1, 1),
        arg_what,
        props,
        children,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{destination, host, settings, verify, watch, TOP_LEVEL};
    use super::*;

    fn check<T>(what: &str, table: &'static [Node<T>]) {
        let mut all: Vec<&str> = names(table).collect();
        assert!(!all.is_empty(), "{what}: empty table");
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "{what}: a node is declared twice");
        for node in table {
            let (min, max) = node.shape.args;
            assert!(min <= max, "{what}/{}: argument bounds", node.name);
            assert!(
                min == 0 || !node.shape.arg_what.is_empty(),
                "{what}/{}: a required argument needs a description",
                node.name
            );
        }
    }

    #[test]
    fn every_table_declares_each_node_once_with_a_sane_shape() {
        check("top level", TOP_LEVEL);
        check("settings", settings::SETTINGS);
        check("destination", destination::DESTINATION);
        check("host", host::HOST);
        check("watch", watch::table());
        check("verify", verify::table());
    }
}
