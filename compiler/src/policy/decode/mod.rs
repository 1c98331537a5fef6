//! KDL documents to the policy model, by hand, so that every value keeps its span and
//! every problem in every file is reported in one run. Each block's nodes are declared
//! once in a table ([`table::Node`]); one module per kind of node.

use kdl::{KdlDocument, KdlNode};

use super::model::*;
use super::reader::{arg, prop, Cx, Shape};
use crate::diagnostic::Diagnostic;
use table::{decode_block, named as named_shape, nearest_or_all, Node};
pub(crate) use values::relative_path;

mod destination;
mod host;
mod install;
mod ping;
mod retention;
pub(crate) use retention::KEYS as RETENTION_KEYS;
mod schedule;
mod secret;
mod settings;
mod steps;
mod table;
mod values;
mod verify;
/// Read by `monitoring`, which holds the `watch` nodes.
pub(in crate::policy) mod watch;
pub(in crate::policy) use table::second_block;

/// The nodes at the top of a policy file.
const TOP_LEVEL: &[Node<Policy>] = &[
    Node {
        name: "defaults",
        shape: Shape {
            args: (0, 0),
            arg_what: "",
            props: &[],
            children: true,
        },
        repeatable: true,
        decode: decode_defaults,
    },
    Node {
        name: "template",
        shape: named_shape("a template name", &["template"], true),
        repeatable: true,
        decode: |cx, node, shape, policy| {
            if let Some(name) = named(cx, node, shape) {
                let mut settings = settings::decode_settings(cx, node.children(), true);
                settings.template = prop(node, "template").and_then(|e| cx.string(e, "template"));
                policy.templates.push(Template { name, settings });
            }
        },
    },
    Node {
        name: "destination",
        shape: named_shape("a destination name", &[], true),
        repeatable: true,
        decode: |cx, node, shape, policy| {
            if let Some(d) = destination::decode_destination(cx, node, shape) {
                policy.destinations.push(d);
            }
        },
    },
    Node {
        name: "secret",
        shape: named_shape("a secret name", &secret::SOURCES, false),
        repeatable: true,
        decode: |cx, node, shape, policy| {
            if let Some(s) = secret::decode_secret(cx, node, shape) {
                policy.secrets.push(s);
            }
        },
    },
    Node {
        name: "host",
        shape: named_shape("a host name", &["address"], true),
        repeatable: true,
        decode: |cx, node, shape, policy| {
            if let Some(h) = host::decode_host(cx, node, shape) {
                policy.hosts.push(h);
            }
        },
    },
    Node {
        name: "monitoring",
        shape: super::monitoring::BLOCK,
        repeatable: true,
        decode: |cx, node, shape, policy| {
            super::monitoring::decode_monitoring(cx, node, shape, &mut policy.monitoring);
        },
    },
    Node {
        name: "install",
        shape: install::BLOCK,
        repeatable: true,
        decode: |cx, node, shape, policy| {
            install::decode_install(cx, node, shape, &mut policy.install);
        },
    },
];

/// Adds one parsed file's nodes to `policy`.
pub fn decode_document(cx: &mut Cx<'_>, doc: &KdlDocument, policy: &mut Policy) {
    // Nothing at the top is set "twice": `defaults`, `monitoring` and `install` say so themselves.
    decode_block(cx, Some(doc), TOP_LEVEL, policy, "", unknown_top_level);
}

fn unknown_top_level(cx: &mut Cx<'_>, node: &KdlNode) {
    let other = node.name().value();
    let d = Diagnostic::error(
        "bakgen::unknown-node",
        format!("unknown node `{other}` at the top of the policy"),
        cx.name_span(node),
    )
    .label("unknown node");
    let d = if other == "job" {
        d.help("a job belongs inside a host: host \"name\" { job \"…\" { … } }")
    } else if settings::is_setting(other) {
        d.help(format!(
            "`{other}` is a job setting: put it in a job, a template or `defaults`"
        ))
    } else {
        nearest_or_all(d, other, TOP_LEVEL, "the top level holds")
    };
    cx.push(d);
}

fn decode_defaults(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'static>, policy: &mut Policy) {
    if !cx.shape(node, shape) {
        return;
    }
    let settings = settings::decode_settings(cx, node.children(), false);
    let span = cx.name_span(node);
    if let Some(first) = &policy.defaults {
        cx.push(table::second_block("defaults", span, first.span.clone()));
    } else {
        policy.defaults = Some(Spanned::new(settings, span));
    }
}

/// A node whose first argument is its name: `host "web1" …`; `shape.arg_what` says what
/// the name names.
fn named(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<Spanned<String>> {
    if !cx.shape(node, shape) {
        return None;
    }
    let what = shape.arg_what;
    let name = cx.string(arg(node, 0)?, what)?;
    check_name(cx, &name, what);
    Some(name)
}

/// Names become unit names, folder names and tags: refuse what cannot round-trip, by
/// the rule bakrun applies when it loads the spec.
fn check_name(cx: &mut Cx<'_>, name: &Spanned<String>, what: &str) {
    if let Err(why) = bakgen_spec::name::check(&name.value) {
        let d = Diagnostic::error(
            "bakgen::invalid-name",
            format!(
                "{what} `{}` cannot be used as a name: it {why}",
                name.value.escape_debug()
            ),
            name.span.clone(),
        )
        .label("invalid name")
        .help(bakgen_spec::name::RULE);
        cx.push(d);
    }
}
