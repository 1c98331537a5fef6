//! `watch "HOST" { … }` inside `monitoring`: a host that reads destinations and judges,
//! from what landed there, whether every job writing there is fresh.

use kdl::KdlNode;

use super::super::model::{Spanned, Watch, WatchedDestination};
use super::super::reader::{arg, prop, Cx, Shape};
use super::settings::{decode_notify, NOTIFY};
use super::table::{decode_block, named, nearest_or_all, Node};
use super::{check_name, schedule};
use crate::diagnostic::Diagnostic;

pub const SHAPE: Shape<'static> = named("the watching host", &[], true);

const WATCH: &[Node<Watch>] = &[
    Node {
        name: "schedule",
        shape: schedule::SHAPE,
        repeatable: false,
        decode: |cx, node, shape, w| w.schedule = schedule::decode(cx, node, shape),
    },
    Node {
        name: "destination",
        shape: named("a destination name", &["at", "file-times"], false),
        repeatable: true,
        decode: decode_destination,
    },
    Node {
        name: "on-late",
        shape: NOTIFY,
        repeatable: false,
        decode: |cx, node, shape, w| w.on_late = decode_notify(cx, node, shape),
    },
];

/// A `watch` node of shape [`SHAPE`]; `None` when it has no usable host name.
pub fn decode_watch(cx: &mut Cx<'_>, node: &KdlNode) -> Option<Watch> {
    if !cx.shape(node, &SHAPE) {
        return None;
    }
    let host = cx.string(arg(node, 0)?, "a host name")?;
    let mut watch = Watch {
        host,
        schedule: None,
        destinations: Vec::new(),
        on_late: None,
        span: cx.name_span(node),
    };
    decode_block(
        cx,
        node.children(),
        WATCH,
        &mut watch,
        "a watch has one of each: keep one",
        |cx, child| {
            let other = child.name().value();
            let d = Diagnostic::error(
                "bakgen::unknown-node",
                format!("unknown node `{other}` in `watch`"),
                cx.name_span(child),
            )
            .label("unknown node");
            cx.push(nearest_or_all(d, other, WATCH, "`watch` holds"));
        },
    );
    if watch.destinations.is_empty() {
        let d = Diagnostic::error(
            "bakgen::missing-value",
            format!("watch `{}` reads no destination", watch.host.value),
            watch.span.clone(),
        )
        .label("nothing to watch")
        .help("name each destination it reads: watch \"HOST\" { destination \"NAME\" }");
        cx.push(d);
    }
    Some(watch)
}

fn decode_destination(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'static>, w: &mut Watch) {
    if !cx.shape(node, shape) {
        return;
    }
    let Some(name) = arg(node, 0).and_then(|e| cx.string(e, "a destination name")) else {
        return;
    };
    check_name(cx, &name, "a destination name");
    if let Some(first) = w.destinations.iter().find(|d| d.name.value == name.value) {
        let d = Diagnostic::error(
            "bakgen::duplicate-name",
            format!(
                "destination `{}` is named twice in watch `{}`",
                name.value, w.host.value
            ),
            name.span.clone(),
        )
        .label("named again")
        .with(first.name.span.clone(), "first named here")
        .help("name each destination a watch reads once");
        cx.push(d);
        return;
    }
    let at = prop(node, "at").and_then(|e| cx.string(e, "at"));
    let file_times = prop(node, "file-times").and_then(|e| cx.boolean(e, "file-times"));
    w.destinations.push(WatchedDestination {
        name,
        at,
        file_times,
    });
}

#[cfg(test)]
pub(super) fn table() -> &'static [Node<Watch>] {
    WATCH
}

/// Kept with the spans of the `watch` nodes of one policy: the same host twice is refused.
pub fn duplicate(cx: &mut Cx<'_>, first: &Spanned<String>, again: &Spanned<String>) {
    let d = Diagnostic::error(
        "bakgen::duplicate-name",
        format!("host `{}` has two `watch` nodes", again.value),
        again.span.clone(),
    )
    .label("second watch")
    .with(first.span.clone(), "first watch here")
    .help("merge them: one watch per host, one `destination` line per destination it reads");
    cx.push(d);
}
