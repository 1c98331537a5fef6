//! `monitoring { prometheus "HOST"; watch "HOST" { … } }`: the hosts that watch the fleet.
//! Each `prometheus` host gets the fleet's alerting rules in its bundle; each `watch` host
//! reads destinations (decode/watch.rs). One block per policy, so that what watches the
//! fleet is written in one place.

use kdl::KdlNode;

use super::decode::{second_block, watch};
use super::model::{Monitoring, Spanned, Watch};
use super::reader::{arg, Cx, Shape};
use crate::diagnostic::Diagnostic;
use crate::suggest::did_you_mean;

const NODES: &[&str] = &["prometheus", "watch"];

/// The `monitoring` block itself: children only.
pub const BLOCK: Shape<'static> = Shape {
    args: (0, 0),
    arg_what: "",
    props: &[],
    children: true,
};

/// Decodes a `monitoring` node of shape `block` into `slot`, reporting a second block.
pub fn decode_monitoring(
    cx: &mut Cx<'_>,
    node: &KdlNode,
    block: &Shape<'_>,
    slot: &mut Option<Monitoring>,
) {
    if !cx.shape(node, block) {
        return;
    }
    let span = cx.name_span(node);
    if let Some(first) = slot {
        cx.push(second_block("monitoring", span, first.span.clone()));
        return;
    }
    let mut prometheus: Vec<Spanned<String>> = Vec::new();
    let mut watches: Vec<Watch> = Vec::new();
    for child in node.children().map(|c| c.nodes()).unwrap_or_default() {
        let name = child.name().value();
        if name == "watch" {
            if let Some(w) = watch::decode_watch(cx, child) {
                match watches.iter().find(|x| x.host.value == w.host.value) {
                    Some(first) => watch::duplicate(cx, &first.host, &w.host),
                    None => watches.push(w),
                }
            }
            continue;
        }
        if name != "prometheus" {
            let d = Diagnostic::error(
                "bakgen::unknown-node",
                format!("unknown node `{name}` in `monitoring`"),
                cx.name_span(child),
            )
            .label("unknown node");
            let d = match did_you_mean(name, NODES.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(
                    "`monitoring` holds `prometheus \"HOST\"` and `watch \"HOST\" { … }` nodes",
                ),
            };
            cx.push(d);
            continue;
        }
        let shape = Shape {
            args: (1, 1),
            arg_what: "the host that runs Prometheus",
            props: &[],
            children: false,
        };
        if !cx.shape(child, &shape) {
            continue;
        }
        let Some(host) = arg(child, 0).and_then(|e| cx.string(e, "a host name")) else {
            continue;
        };
        if let Some(first) = prometheus.iter().find(|h| h.value == host.value) {
            let d = Diagnostic::error(
                "bakgen::duplicate-name",
                format!("host `{}` is named twice as a Prometheus host", host.value),
                host.span.clone(),
            )
            .label("named again")
            .with(first.span.clone(), "first named here")
            .help("name each Prometheus host once");
            cx.push(d);
            continue;
        }
        prometheus.push(host);
    }
    if prometheus.is_empty() && watches.is_empty() {
        let d = Diagnostic::error(
            "bakgen::missing-value",
            "`monitoring` names no host to watch the fleet",
            span.clone(),
        )
        .label("empty monitoring")
        .help("add the host that runs Prometheus, monitoring { prometheus \"HOST\" }, or one that watches destinations, monitoring { watch \"HOST\" { destination \"NAME\" } }");
        cx.push(d);
    }
    *slot = Some(Monitoring {
        prometheus,
        watches,
        span,
    });
}
