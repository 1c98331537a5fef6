//! The settings of a job, a template or `defaults`: one table of the nodes that set a
//! job's behaviour.

use kdl::{KdlDocument, KdlNode};

use super::super::model::*;
use super::super::reader::{arg, args, prop, Cx, Shape};
use super::table::{decode_block, names, nearest_or_all, one, Node};
use super::values::{absolute, absolute_string, duration, rate_node, single_string, RATE};
use super::{ping, retention, schedule, steps, verify};
use crate::diagnostic::Diagnostic;
use crate::suggest::did_you_mean;

/// `on-failure` and `on-late`: a command and its arguments, or `url=`.
pub(super) const NOTIFY: Shape<'static> = Shape {
    args: (0, usize::MAX),
    arg_what: "a command",
    props: &["url"],
    children: false,
};

/// Nodes that set a job's behaviour; allowed in jobs, templates and `defaults`.
pub const SETTINGS: &[Node<Settings>] = &[
    Node {
        name: "btrfs-snapshot",
        shape: one("the path of a btrfs subvolume"),
        repeatable: false,
        decode: |cx, node, shape, s| s.btrfs_snapshot = steps::btrfs(cx, node, shape),
    },
    Node {
        name: "exclude",
        shape: Shape {
            args: (1, usize::MAX),
            arg_what: "a pattern",
            props: &[],
            children: false,
        },
        repeatable: true,
        decode: decode_exclude,
    },
    Node {
        name: "from",
        shape: Shape {
            args: (1, 1),
            arg_what: "a host name",
            props: &["user", "port", "identity", "known-hosts"],
            children: false,
        },
        repeatable: false,
        decode: |cx, node, shape, s| s.from = decode_pull(cx, node, shape),
    },
    Node {
        name: "io-class",
        shape: Shape {
            args: (1, 1),
            arg_what: "an I/O class (idle, best-effort, realtime)",
            props: &["priority"],
            children: false,
        },
        repeatable: false,
        decode: |cx, node, shape, s| s.io_class = decode_io_class(cx, node, shape),
    },
    Node {
        name: "limit-download",
        shape: RATE,
        repeatable: false,
        decode: |cx, node, shape, s| s.limit_download = rate_node(cx, node, shape),
    },
    Node {
        name: "limit-upload",
        shape: RATE,
        repeatable: false,
        decode: |cx, node, shape, s| s.limit_upload = rate_node(cx, node, shape),
    },
    Node {
        name: "lvm-snapshot",
        shape: Shape {
            args: (1, 1),
            arg_what: "a volume as \"group/volume\"",
            props: &["size", "mount-point"],
            children: false,
        },
        repeatable: false,
        decode: |cx, node, shape, s| s.lvm_snapshot = steps::lvm(cx, node, shape),
    },
    Node {
        name: "metrics-dir",
        shape: one("a folder path"),
        repeatable: false,
        decode: |cx, node, shape, s| {
            s.metrics_dir = absolute_string(cx, node, shape, "metrics-dir");
        },
    },
    Node {
        name: "mysql",
        shape: steps::DUMP,
        repeatable: true,
        decode: decode_dump,
    },
    Node {
        name: "nice",
        shape: one("a niceness from -20 to 19"),
        repeatable: false,
        decode: |cx, node, shape, s| {
            if cx.shape(node, shape) {
                s.nice = arg(node, 0).and_then(|e| cx.integer(e, "nice", (-20, 19)));
            }
        },
    },
    Node {
        name: "on-failure",
        shape: NOTIFY,
        repeatable: false,
        decode: |cx, node, shape, s| s.on_failure = decode_notify(cx, node, shape),
    },
    Node {
        name: "ping",
        shape: ping::SHAPE,
        repeatable: false,
        decode: |cx, node, shape, s| s.ping = ping::decode(cx, node, shape),
    },
    Node {
        name: "postgres",
        shape: steps::DUMP,
        repeatable: true,
        decode: decode_dump,
    },
    Node {
        name: "retention",
        shape: retention::SHAPE,
        repeatable: false,
        decode: |cx, node, shape, s| s.retention = retention::decode(cx, node, shape),
    },
    Node {
        name: "schedule",
        shape: schedule::SHAPE,
        repeatable: false,
        decode: |cx, node, shape, s| s.schedule = schedule::decode(cx, node, shape),
    },
    Node {
        name: "source",
        shape: Shape {
            args: (1, usize::MAX),
            arg_what: "a path",
            props: &[],
            children: false,
        },
        repeatable: true,
        decode: decode_source,
    },
    Node {
        name: "timeout",
        shape: one("a duration such as \"6h\""),
        repeatable: false,
        decode: |cx, node, shape, s| {
            s.timeout = single_string(cx, node, shape).and_then(|v| duration(cx, &v, "timeout"));
        },
    },
    Node {
        name: "to",
        shape: one("a destination name"),
        repeatable: false,
        decode: |cx, node, shape, s| s.to = single_string(cx, node, shape),
    },
    Node {
        name: "verify",
        shape: verify::SHAPE,
        repeatable: false,
        decode: |cx, node, shape, s| s.verify = verify::decode(cx, node, shape),
    },
];

pub fn is_setting(name: &str) -> bool {
    super::table::contains(SETTINGS, name)
}

/// The settings in `body`; `in_job` tells a job or template from `defaults` for messages.
pub fn decode_settings(cx: &mut Cx<'_>, body: Option<&KdlDocument>, in_job: bool) -> Settings {
    let mut s = Settings::default();
    decode_block(
        cx,
        body,
        SETTINGS,
        &mut s,
        "keep one; later settings do not add to earlier ones",
        |cx, node| unknown_setting(cx, node, in_job),
    );
    s
}

fn unknown_setting(cx: &mut Cx<'_>, node: &KdlNode, in_job: bool) {
    let d = match node.name().value() {
        "template" => Diagnostic::error(
            "bakgen::unknown-node",
            "`template` is written as a property here",
            cx.name_span(node),
        )
        .label("not a setting")
        .help(if in_job {
            "write job \"name\" template=\"base\" { … }"
        } else {
            "`defaults` cannot use a template"
        }),
        other => {
            let d = Diagnostic::error(
                "bakgen::unknown-node",
                format!("unknown setting `{other}`"),
                cx.name_span(node),
            )
            .label("unknown node");
            if other == "job" && did_you_mean(other, names(SETTINGS)).is_none() {
                d.help("jobs are written inside a host")
            } else {
                nearest_or_all(d, other, SETTINGS, "settings are")
            }
        }
    };
    cx.push(d);
}

fn decode_source(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'static>, s: &mut Settings) {
    if !cx.shape(node, shape) {
        return;
    }
    let list = s.sources.get_or_insert_with(Vec::new);
    for e in args(node) {
        if let Some(p) = cx.string(e, "source") {
            absolute(cx, &p, "source");
            list.push(p);
        }
    }
}

fn decode_exclude(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'static>, s: &mut Settings) {
    if cx.shape(node, shape) {
        let list = s.excludes.get_or_insert_with(Vec::new);
        list.extend(args(node).filter_map(|e| cx.string(e, "exclude")));
    }
}

fn decode_dump(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'static>, s: &mut Settings) {
    if let Some(d) = steps::dump(cx, node, shape) {
        s.dumps.get_or_insert_with(Vec::new).push(d);
    }
}

fn decode_pull(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<Pull> {
    if !cx.shape(node, shape) {
        return None;
    }
    let host = cx.string(arg(node, 0)?, "from")?;
    let identity = prop(node, "identity").and_then(|e| cx.string(e, "identity"));
    if let Some(i) = &identity {
        absolute(cx, i, "identity");
    }
    let known_hosts = prop(node, "known-hosts").and_then(|e| cx.string(e, "known-hosts"));
    if let Some(k) = &known_hosts {
        absolute(cx, k, "known-hosts");
    }
    Some(Pull {
        known_hosts,
        host,
        user: prop(node, "user").and_then(|e| cx.string(e, "user")),
        port: prop(node, "port").and_then(|e| cx.integer(e, "port", (1, 65535))),
        identity,
    })
}

fn decode_io_class(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<IoClass> {
    if !cx.shape(node, shape) {
        return None;
    }
    let name = cx.string(arg(node, 0)?, "io-class")?;
    let kind = match name.value.as_str() {
        "idle" => IoClassKind::Idle,
        "best-effort" => IoClassKind::BestEffort,
        "realtime" => IoClassKind::Realtime,
        other => {
            let mut d = Diagnostic::error(
                "bakgen::invalid-value",
                format!("unknown I/O class `{other}`"),
                name.span.clone(),
            )
            .label("unknown class");
            d = match did_you_mean(other, ["idle", "best-effort", "realtime"]) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help("use idle, best-effort or realtime"),
            };
            cx.push(d);
            return None;
        }
    };
    let priority = prop(node, "priority").and_then(|e| cx.integer(e, "priority", (0, 7)));
    if let (IoClassKind::Idle, Some(p)) = (kind, &priority) {
        let d = Diagnostic::error(
            "bakgen::invalid-value",
            "the idle I/O class has no priority",
            p.span.clone(),
        )
        .label("not used by idle")
        .help("remove priority=, or use best-effort with a priority from 0 (high) to 7 (low)");
        cx.push(d);
    }
    Some(IoClass {
        class: Spanned::new(kind, name.span),
        priority,
    })
}

/// `on-failure` and a watch's `on-late`: a command's argv, or `url=`.
pub(super) fn decode_notify(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<Notify> {
    if !cx.shape(node, shape) {
        return None;
    }
    let span = cx.name_span(node);
    let name = node.name().value();
    let argv: Vec<Spanned<String>> = args(node)
        .filter_map(|e| cx.string(e, &format!("{name} command")))
        .collect();
    let url = prop(node, "url").and_then(|e| cx.string(e, "url"));
    let target = match (argv.is_empty(), url) {
        (false, None) => {
            absolute(cx, &argv[0], "notification command");
            NotifyTarget::Command(argv)
        }
        (true, Some(url)) => {
            if !bakgen_spec::job::validate::is_http_url(&url.value) {
                let d = Diagnostic::error(
                    "bakgen::invalid-value",
                    format!("`{}` is not an http(s) URL", url.value),
                    url.span.clone(),
                )
                .label("not a URL")
                .help("the report is POSTed to an http:// or https:// URL");
                cx.push(d);
            }
            NotifyTarget::Url(url)
        }
        (false, Some(url)) => {
            let d = Diagnostic::error(
                "bakgen::conflicting-settings",
                format!("`{name}` has both a command and a URL"),
                url.span.clone(),
            )
            .label("URL")
            .with(argv[0].span.clone(), "command")
            .help("keep one of them");
            cx.push(d);
            return None;
        }
        (true, None) => {
            let d = Diagnostic::error("bakgen::missing-value", format!("`{name}` needs a command or a URL"), span)
                .label("nothing to notify")
                .help(format!("write {name} \"/usr/local/bin/page-ops\" \"--team=ops\", or {name} url=\"https://…\""));
            cx.push(d);
            return None;
        }
    };
    Some(Notify { target, span })
}
