//! `host "name" address=… { job "name" template=… { settings } }`.

use kdl::KdlNode;

use super::super::model::*;
use super::super::reader::{prop, Cx, Shape};
use super::named;
use super::settings::{decode_settings, is_setting};
use super::table::{decode_block, named as named_shape, Node};
use crate::diagnostic::Diagnostic;
use crate::suggest::did_you_mean;

pub const HOST: &[Node<Vec<Job>>] = &[Node {
    name: "job",
    shape: named_shape("a job name", &["template"], true),
    repeatable: true,
    decode: |cx, node, shape, jobs| {
        let Some(name) = named(cx, node, shape) else {
            return;
        };
        let mut settings = decode_settings(cx, node.children(), true);
        settings.template = prop(node, "template").and_then(|e| cx.string(e, "template"));
        jobs.push(Job { name, settings });
    },
}];

pub fn decode_host(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<Host> {
    let name = named(cx, node, shape)?;
    let address = prop(node, "address").and_then(|e| cx.string(e, "address"));
    let mut jobs = Vec::new();
    // Every job is repeatable: the duplicate check never fires here.
    decode_block(cx, node.children(), HOST, &mut jobs, "", |cx, child| {
        let other = child.name().value();
        let d = Diagnostic::error(
            "bakgen::unknown-node",
            format!("unknown node `{other}` in host `{}`", name.value),
            cx.name_span(child),
        )
        .label("unknown node");
        let d = if is_setting(other) {
            d.help(format!(
                "`{other}` is a job setting: put it inside a `job` of this host"
            ))
        } else if did_you_mean(other, super::table::names(HOST)).is_some() {
            d.help("did you mean `job`?")
        } else {
            d.help("a host holds `job` nodes")
        };
        cx.push(d);
    });
    Some(Host {
        name,
        address,
        jobs,
    })
}
