//! `install { bakrun "…"; documentation "…" }`: how the fleet has bakgen installed. One
//! block per policy; every unit of every host reads it.

use kdl::KdlNode;

use super::super::model::{Install, Spanned};
use super::super::reader::{Cx, Shape};
use super::table::{decode_block, nearest_or_all, one, second_block, Node};
use super::values::{absolute_string, single_string};
use crate::diagnostic::Diagnostic;

/// The `install` block itself: children only.
pub const BLOCK: Shape<'static> = Shape {
    args: (0, 0),
    arg_what: "",
    props: &[],
    children: true,
};

const NODES: &[Node<Install>] = &[
    Node {
        name: "bakrun",
        shape: one("the path of the bakrun binary"),
        repeatable: false,
        decode: |cx, node, shape, install| {
            install.bakrun = absolute_string(cx, node, shape, "bakrun path");
        },
    },
    Node {
        name: "documentation",
        shape: one("a documentation URL"),
        repeatable: false,
        decode: |cx, node, shape, install| {
            install.documentation = single_string(cx, node, shape).filter(|u| documentation(cx, u));
        },
    },
];

/// Decodes an `install` node into `slot`, reporting a second block.
pub fn decode_install(
    cx: &mut Cx<'_>,
    node: &KdlNode,
    shape: &Shape<'static>,
    slot: &mut Option<Install>,
) {
    if !cx.shape(node, shape) {
        return;
    }
    let span = cx.name_span(node);
    if let Some(first) = slot {
        cx.push(second_block("install", span, first.span.clone()));
        return;
    }
    let mut install = Install {
        bakrun: None,
        documentation: None,
        span,
    };
    decode_block(
        cx,
        node.children(),
        NODES,
        &mut install,
        "an `install` block sets each value once",
        |cx, child| {
            let other = child.name().value();
            let d = Diagnostic::error(
                "bakgen::unknown-node",
                format!("unknown node `{other}` in `install`"),
                cx.name_span(child),
            )
            .label("unknown node");
            cx.push(nearest_or_all(d, other, NODES, "`install` holds"));
        },
    );
    *slot = Some(install);
}

/// The URL schemes systemd accepts in `Documentation=`.
const SCHEMES: [&str; 5] = ["https://", "http://", "file:/", "man:", "info:"];

/// A URL systemd takes in `Documentation=` as one word: one of its schemes, then printable
/// ASCII without spaces, quotes or backslashes (which would split or unquote the word).
/// True when it is; otherwise the error is reported.
fn documentation(cx: &mut Cx<'_>, url: &Spanned<String>) -> bool {
    let v = &url.value;
    let rest = SCHEMES.iter().find_map(|s| v.strip_prefix(s));
    let problem = match rest {
        None => "does not start with https://, http://, file:/, man: or info:",
        Some("") => "has nothing after its scheme",
        Some(r)
            if !r
                .chars()
                .all(|c| c.is_ascii_graphic() && !"\"'\\".contains(c)) =>
        {
            "holds a space, a quote, a backslash or a character that is not ASCII"
        }
        Some(_) => return true,
    };
    cx.push(
        Diagnostic::error(
            "bakgen::invalid-url",
            format!("documentation `{v}` {problem}"),
            url.span.clone(),
        )
        .label("not a URL systemd takes in Documentation=")
        .help("write one URL such as \"https://wiki.example.net/backups\" or \"file:/usr/share/doc/bakgen/README.md\"; percent-encode spaces (%20)"),
    );
    false
}
