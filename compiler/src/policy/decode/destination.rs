//! `destination "name" { … }`: a snapshot folder (`path`) or a restic repository
//! (`restic`). Every line is decoded whatever the kind; lines that belong to the other
//! kind are kept as [`Misplaced`] for `validate` to refuse.

use kdl::KdlNode;

use super::super::model::*;
use super::super::reader::{arg, prop, Cx, Shape};
use super::super::Repository;
use super::table::{decode_block, nearest_or_all, one, Node};
use super::values::{absolute, absolute_string, duration, rate_node, single_string, RATE};
use super::{named, schedule};
use crate::diagnostic::Diagnostic;

/// Every line of a destination block, before its kind is known.
#[derive(Default)]
pub struct Lines {
    path: Option<Spanned<String>>,
    device: Option<Device>,
    sentinel: Option<Spanned<bool>>,
    view: Option<Spanned<String>>,
    restic: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
    environment: Vec<(Spanned<String>, Spanned<String>)>,
    limit_upload: Option<Spanned<u64>>,
    limit_download: Option<Spanned<u64>>,
    prune_schedule: Option<Schedule>,
    check_schedule: Option<Schedule>,
    check_read_data: Option<Spanned<String>>,
    ssh: Option<SftpSsh>,
}

const FOLDER: Shape<'static> = one("an absolute folder");

pub const DESTINATION: &[Node<Lines>] = &[
    Node {
        name: "check-schedule",
        shape: schedule::with_props(&["jitter", "read-data"]),
        repeatable: false,
        decode: |cx, node, shape, l| {
            l.check_schedule = schedule::decode(cx, node, shape);
            if l.check_schedule.is_some() {
                l.check_read_data = prop(node, "read-data")
                    .and_then(|e| cx.string(e, "read-data"))
                    .and_then(|v| read_data_subset(cx, v));
            }
        },
    },
    Node {
        name: "device",
        shape: Shape {
            args: (1, 1),
            arg_what: "a device path",
            props: &["fstype", "options", "idle-timeout"],
            children: false,
        },
        repeatable: false,
        decode: |cx, node, shape, l| l.device = decode_device(cx, node, shape),
    },
    Node {
        name: "env",
        shape: Shape {
            args: (1, 1),
            arg_what: "a variable name",
            props: &["secret"],
            children: false,
        },
        repeatable: true,
        decode: decode_env,
    },
    Node {
        name: "limit-download",
        shape: RATE,
        repeatable: false,
        decode: |cx, node, shape, l| l.limit_download = rate_node(cx, node, shape),
    },
    Node {
        name: "limit-upload",
        shape: RATE,
        repeatable: false,
        decode: |cx, node, shape, l| l.limit_upload = rate_node(cx, node, shape),
    },
    Node {
        name: "password",
        shape: Shape {
            args: (0, 0),
            arg_what: "",
            props: &["secret"],
            children: false,
        },
        repeatable: false,
        decode: |cx, node, shape, l| l.password = decode_secret_use(cx, node, shape),
    },
    Node {
        name: "path",
        shape: FOLDER,
        repeatable: false,
        decode: |cx, node, shape, l| l.path = absolute_string(cx, node, shape, "path"),
    },
    Node {
        name: "prune-schedule",
        shape: schedule::SHAPE,
        repeatable: false,
        decode: |cx, node, shape, l| l.prune_schedule = schedule::decode(cx, node, shape),
    },
    Node {
        name: "read-only-view",
        shape: FOLDER,
        repeatable: false,
        decode: |cx, node, shape, l| l.view = absolute_string(cx, node, shape, "read-only-view"),
    },
    Node {
        name: "restic",
        shape: one("a repository (path, sftp:, rest:, s3:)"),
        repeatable: false,
        decode: |cx, node, shape, l| l.restic = single_string(cx, node, shape),
    },
    Node {
        name: "sentinel",
        shape: one("#true or #false"),
        repeatable: false,
        decode: |cx, node, shape, l| {
            if cx.shape(node, shape) {
                l.sentinel = arg(node, 0).and_then(|e| cx.boolean(e, "sentinel"));
            }
        },
    },
    Node {
        name: "ssh",
        shape: Shape {
            args: (0, 0),
            arg_what: "no argument",
            props: &["port", "identity", "known-hosts"],
            children: false,
        },
        repeatable: false,
        decode: |cx, node, shape, l| l.ssh = decode_sftp_ssh(cx, node, shape),
    },
];

pub fn decode_destination(
    cx: &mut Cx<'_>,
    node: &KdlNode,
    shape: &Shape<'_>,
) -> Option<Destination> {
    let name = named(cx, node, shape)?;
    let mut l = Lines::default();
    decode_block(
        cx,
        node.children(),
        DESTINATION,
        &mut l,
        "keep one of them",
        |cx, child| {
            let other = child.name().value();
            let d = Diagnostic::error(
                "bakgen::unknown-node",
                format!("unknown node `{other}` in destination `{}`", name.value),
                cx.name_span(child),
            )
            .label("unknown node");
            let d = nearest_or_all(d, other, DESTINATION, "a destination holds");
            cx.push(d);
        },
    );
    let mut misplaced = Vec::new();
    let mut misplace = |node: &'static str, span: Option<crate::source::Span>| {
        if let Some(span) = span {
            misplaced.push(Misplaced { node, span });
        }
    };
    let kind = match (l.path, l.restic) {
        (Some(path), None) => {
            misplace("prune-schedule", l.prune_schedule.map(|s| s.span));
            misplace("check-schedule", l.check_schedule.map(|s| s.span));
            misplace("ssh", l.ssh.map(|s| s.span));
            misplace("password", l.password.map(|p| p.span));
            DestinationKind::Snapshots(SnapshotFolder {
                path,
                device: l.device,
                sentinel: l.sentinel,
                read_only_view: l.view,
            })
        }
        (None, Some(url)) => {
            misplace("device", l.device.map(|d| d.what.span));
            misplace("read-only-view", l.view.map(|v| v.span));
            misplace("sentinel", l.sentinel.map(|s| s.span));
            let location = check_repository(cx, &url);
            if l.password.is_none() {
                let d = Diagnostic::error("bakgen::missing-value", format!("restic destination `{}` needs a password", name.value), name.span.clone())
                    .label("no password")
                    .help("add password secret=\"name\" and define secret \"name\" file=… (or credential=, command=)");
                cx.push(d);
            }
            DestinationKind::Restic(ResticRepository {
                url,
                location,
                password_secret: l.password,
                environment: l.environment,
                prune_schedule: l.prune_schedule,
                check_schedule: l.check_schedule,
                check_read_data: l.check_read_data,
                ssh: l.ssh,
            })
        }
        (Some(p), Some(r)) => {
            let d = Diagnostic::error("bakgen::conflicting-settings", format!("destination `{}` has both `path` and `restic`", name.value), r.span.clone())
                .label("restic repository")
                .with(p.span.clone(), "snapshot folder")
                .help("a destination is either a snapshot folder (path) or a restic repository (restic); make two destinations");
            cx.push(d);
            return None;
        }
        (None, None) => {
            let d = Diagnostic::error("bakgen::missing-value", format!("destination `{}` says neither `path` nor `restic`", name.value), name.span.clone())
                .label("where do backups go?")
                .help("add path \"/srv/backups\" for rsync snapshots, or restic \"sftp:backup@nas:/repo\" for an encrypted repository");
            cx.push(d);
            return None;
        }
    };
    Some(Destination {
        name,
        kind,
        limit_upload: l.limit_upload,
        limit_download: l.limit_download,
        misplaced,
    })
}

fn decode_env(cx: &mut Cx<'_>, child: &KdlNode, shape: &Shape<'static>, l: &mut Lines) {
    if !cx.shape(child, shape) {
        return;
    }
    let Some(var) = arg(child, 0).and_then(|e| cx.string(e, "env")) else {
        return;
    };
    match prop(child, "secret").and_then(|e| cx.string(e, "secret")) {
        Some(secret) => l.environment.push((var, secret)),
        None if prop(child, "secret").is_none() => {
            let d = Diagnostic::error("bakgen::missing-value", format!("`env \"{}\"` needs secret=", var.value), cx.name_span(child))
                .label("no secret")
                .help("environment values for restic come from secrets: env \"AWS_SECRET_ACCESS_KEY\" secret=\"s3-key\"");
            cx.push(d);
        }
        None => {}
    }
}

/// `ssh port=2222 identity="/root/.ssh/id" known-hosts="/etc/bakgen/known_hosts"` in a
/// destination with an `sftp:` repository.
fn decode_sftp_ssh(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<SftpSsh> {
    if !cx.shape(node, shape) {
        return None;
    }
    let identity = prop(node, "identity").and_then(|e| cx.string(e, "identity"));
    if let Some(i) = &identity {
        absolute(cx, i, "identity");
    }
    let known_hosts = prop(node, "known-hosts").and_then(|e| cx.string(e, "known-hosts"));
    if let Some(k) = &known_hosts {
        absolute(cx, k, "known-hosts");
    }
    Some(SftpSsh {
        port: prop(node, "port").and_then(|e| cx.integer(e, "port", (1, 65535))),
        identity,
        known_hosts,
        span: cx.name_span(node),
    })
}

/// restic's `--read-data-subset`: a percentage (`5%`, `2.5%`, at most 100) or `n/m`.
fn read_data_subset(cx: &mut Cx<'_>, v: Spanned<String>) -> Option<Spanned<String>> {
    let text = v.value.trim();
    let ok = match text.strip_suffix('%') {
        Some(p) => p.parse::<f64>().is_ok_and(|p| p > 0.0 && p <= 100.0),
        None => text.split_once('/').is_some_and(|(n, m)| {
            matches!((n.parse::<u32>(), m.parse::<u32>()), (Ok(n), Ok(m)) if n >= 1 && n <= m)
        }),
    };
    if ok {
        return Some(v);
    }
    let d = Diagnostic::error(
        "bakgen::invalid-value",
        format!("`{}` is not a share of the repository to read", v.value),
        v.span.clone(),
    )
    .label("not a percentage or n/m")
    .help("write a percentage such as read-data=\"5%\", or a part such as read-data=\"1/12\" (restic's --read-data-subset)");
    cx.push(d);
    None
}

/// The repository's location, or `None` (reported) when restic would not know it.
fn check_repository(cx: &mut Cx<'_>, url: &Spanned<String>) -> Option<Repository> {
    let v = &url.value;
    let location = Repository::parse(v);
    if location.is_none() {
        let d = Diagnostic::error("bakgen::invalid-repository", format!("`{v}` is not a restic repository"), url.span.clone())
            .label("unknown repository form")
            .help("use an absolute path, sftp:user@host:/path, rest:https://host/path or s3:https://host/bucket/prefix; {host} and {job} are replaced");
        cx.push(d);
    }
    let mut rest = v.as_str();
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let field = &after[..close];
        if field != "host" && field != "job" {
            let d = Diagnostic::error(
                "bakgen::invalid-repository",
                format!("unknown placeholder `{{{field}}}`"),
                url.span.clone(),
            )
            .label("unknown placeholder")
            .help("the placeholders are {host} and {job}");
            cx.push(d);
        }
        rest = &after[close + 1..];
    }
    location
}

/// `password secret="name"`; a literal (`password "hunter2"`) is refused.
fn decode_secret_use(
    cx: &mut Cx<'_>,
    node: &KdlNode,
    shape: &Shape<'_>,
) -> Option<Spanned<String>> {
    if let Some(e) = arg(node, 0) {
        if e.value().is_string() {
            let d = Diagnostic::error("bakgen::inline-secret", "a password written into the policy", cx.span(e.span()))
                .label("secret written inline")
                .help("policies are committed and reviewed: move it to a root-only file, define secret \"name\" file=\"/etc/bakgen/secrets/name\", and write password secret=\"name\"");
            cx.push(d);
            return None;
        }
    }
    if !cx.shape(node, shape) {
        return None;
    }
    match prop(node, "secret") {
        Some(e) => cx.string(e, "secret"),
        None => {
            let d = Diagnostic::error(
                "bakgen::missing-value",
                "`password` needs secret=\"name\"",
                cx.name_span(node),
            )
            .label("no secret named")
            .help("write password secret=\"name\" and define secret \"name\" file=…");
            cx.push(d);
            None
        }
    }
}

fn decode_device(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<Device> {
    if !cx.shape(node, shape) {
        return None;
    }
    let what = cx.string(arg(node, 0)?, "device")?;
    absolute(cx, &what, "device");
    let idle_timeout = prop(node, "idle-timeout")
        .and_then(|e| cx.string(e, "idle-timeout"))
        .and_then(|v| duration(cx, &v, "idle-timeout"));
    Some(Device {
        what,
        fstype: prop(node, "fstype").and_then(|e| cx.string(e, "fstype")),
        options: prop(node, "options").and_then(|e| cx.string(e, "options")),
        idle_timeout,
    })
}
