//! KDL documents to the policy model, by hand, so that every value keeps its span and
//! every problem in every file is reported in one run.

use bakgen_spec::duration::Duration;
use kdl::{KdlDocument, KdlEntry, KdlNode};

use super::model::*;
use super::reader::{arg, args, prop, Cx, Shape};
use super::size::parse_bytes;
use crate::diagnostic::Diagnostic;
use crate::schedule::CalendarSpec;
use crate::suggest::did_you_mean;

mod retention;

const TOP_LEVEL: &[&str] = &[
    "defaults",
    "template",
    "destination",
    "secret",
    "host",
    "monitoring",
];

/// Nodes that set a job's behaviour; allowed in jobs, templates and `defaults`.
pub const SETTINGS: &[&str] = &[
    "btrfs-snapshot",
    "exclude",
    "from",
    "io-class",
    "limit-download",
    "limit-upload",
    "lvm-snapshot",
    "mysql",
    "nice",
    "on-failure",
    "postgres",
    "retention",
    "schedule",
    "source",
    "timeout",
    "to",
];

const DESTINATION_NODES: &[&str] = &[
    "check-schedule",
    "device",
    "env",
    "limit-download",
    "limit-upload",
    "password",
    "path",
    "prune-schedule",
    "read-only-view",
    "restic",
    "sentinel",
    "ssh",
];

/// Adds one parsed file's nodes to `policy`.
pub fn decode_document(cx: &mut Cx<'_>, doc: &KdlDocument, policy: &mut Policy) {
    for node in doc.nodes() {
        match node.name().value() {
            "defaults" => {
                if !cx.shape(
                    node,
                    &Shape {
                        args: (0, 0),
                        arg_what: "",
                        props: &[],
                        children: true,
                    },
                ) {
                    continue;
                }
                let settings = decode_settings(cx, node.children(), false);
                let span = cx.name_span(node);
                if let Some(first) = &policy.defaults {
                    let d = Diagnostic::error(
                        "bakgen::duplicate-name",
                        "a second `defaults` block",
                        span.clone(),
                    )
                    .label("second defaults")
                    .with(first.span.clone(), "first defaults here")
                    .help("a policy has one `defaults` block: merge them");
                    cx.push(d);
                } else {
                    policy.defaults = Some(Spanned::new(settings, span));
                }
            }
            "template" => {
                if let Some(name) = named(cx, node, "a template name", &["template"], true) {
                    let mut settings = decode_settings(cx, node.children(), true);
                    settings.template =
                        prop(node, "template").and_then(|e| cx.string(e, "template"));
                    policy.templates.push(Template { name, settings });
                }
            }
            "destination" => {
                if let Some(d) = decode_destination(cx, node) {
                    policy.destinations.push(d);
                }
            }
            "secret" => {
                if let Some(s) = decode_secret(cx, node) {
                    policy.secrets.push(s);
                }
            }
            "host" => {
                if let Some(h) = decode_host(cx, node) {
                    policy.hosts.push(h);
                }
            }
            "monitoring" => {
                super::monitoring::decode_monitoring(cx, node, &mut policy.monitoring);
            }
            other => {
                let mut d = Diagnostic::error(
                    "bakgen::unknown-node",
                    format!("unknown node `{other}` at the top of the policy"),
                    cx.name_span(node),
                )
                .label("unknown node");
                d = if other == "job" {
                    d.help("a job belongs inside a host: host \"name\" { job \"…\" { … } }")
                } else if SETTINGS.contains(&other) {
                    d.help(format!(
                        "`{other}` is a job setting: put it in a job, a template or `defaults`"
                    ))
                } else {
                    match did_you_mean(other, TOP_LEVEL.iter().copied()) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help(format!("the top level holds: {}", TOP_LEVEL.join(", "))),
                    }
                };
                cx.push(d);
            }
        }
    }
}

/// A node whose first argument is its name: `host "web1" …`.
fn named(
    cx: &mut Cx<'_>,
    node: &KdlNode,
    what: &str,
    props: &[&str],
    children: bool,
) -> Option<Spanned<String>> {
    let shape = Shape {
        args: (1, 1),
        arg_what: what,
        props,
        children,
    };
    if !cx.shape(node, &shape) {
        return None;
    }
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

fn decode_host(cx: &mut Cx<'_>, node: &KdlNode) -> Option<Host> {
    let name = named(cx, node, "a host name", &["address"], true)?;
    let address = prop(node, "address").and_then(|e| cx.string(e, "address"));
    let mut jobs = Vec::new();
    for child in node.children().map(|c| c.nodes()).unwrap_or_default() {
        if child.name().value() != "job" {
            let other = child.name().value();
            let mut d = Diagnostic::error(
                "bakgen::unknown-node",
                format!("unknown node `{other}` in host `{}`", name.value),
                cx.name_span(child),
            )
            .label("unknown node");
            d = if SETTINGS.contains(&other) {
                d.help(format!(
                    "`{other}` is a job setting: put it inside a `job` of this host"
                ))
            } else if did_you_mean(other, ["job"]).is_some() {
                d.help("did you mean `job`?")
            } else {
                d.help("a host holds `job` nodes")
            };
            cx.push(d);
            continue;
        }
        let Some(job_name) = named(cx, child, "a job name", &["template"], true) else {
            continue;
        };
        let mut settings = decode_settings(cx, child.children(), true);
        settings.template = prop(child, "template").and_then(|e| cx.string(e, "template"));
        jobs.push(Job {
            name: job_name,
            settings,
        });
    }
    Some(Host {
        name,
        address,
        jobs,
    })
}

fn decode_settings(cx: &mut Cx<'_>, body: Option<&KdlDocument>, in_job: bool) -> Settings {
    let mut s = Settings::default();
    let mut seen: Vec<(String, crate::source::Span)> = Vec::new();
    for node in body.map(|b| b.nodes()).unwrap_or_default() {
        let name = node.name().value();
        let repeatable = matches!(name, "source" | "exclude" | "postgres" | "mysql");
        if SETTINGS.contains(&name) && !repeatable {
            let span = cx.name_span(node);
            if let Some((_, first)) = seen.iter().find(|(n, _)| n == name) {
                let d = Diagnostic::error(
                    "bakgen::duplicate-setting",
                    format!("`{name}` is set twice"),
                    span,
                )
                .label("again here")
                .with(first.clone(), "first here")
                .help("keep one; later settings do not add to earlier ones");
                cx.push(d);
                continue;
            }
            seen.push((name.to_owned(), span));
        }
        match name {
            "source" => {
                if cx.shape(
                    node,
                    &Shape {
                        args: (1, usize::MAX),
                        arg_what: "a path",
                        props: &[],
                        children: false,
                    },
                ) {
                    let list = s.sources.get_or_insert_with(Vec::new);
                    for e in args(node) {
                        if let Some(p) = cx.string(e, "source") {
                            absolute(cx, &p, "source");
                            list.push(p);
                        }
                    }
                }
            }
            "exclude" => {
                if cx.shape(
                    node,
                    &Shape {
                        args: (1, usize::MAX),
                        arg_what: "a pattern",
                        props: &[],
                        children: false,
                    },
                ) {
                    let list = s.excludes.get_or_insert_with(Vec::new);
                    list.extend(args(node).filter_map(|e| cx.string(e, "exclude")));
                }
            }
            "to" => s.to = single_string(cx, node, "a destination name"),
            "from" => s.from = decode_pull(cx, node),
            "schedule" => s.schedule = decode_schedule(cx, node),
            "retention" => s.retention = retention::decode(cx, node),
            "lvm-snapshot" => s.lvm_snapshot = decode_lvm(cx, node),
            "btrfs-snapshot" => s.btrfs_snapshot = decode_btrfs(cx, node),
            "postgres" | "mysql" => {
                if let Some(d) = decode_dump(cx, node) {
                    s.dumps.get_or_insert_with(Vec::new).push(d);
                }
            }
            "nice" => {
                if cx.shape(
                    node,
                    &Shape {
                        args: (1, 1),
                        arg_what: "a niceness from -20 to 19",
                        props: &[],
                        children: false,
                    },
                ) {
                    s.nice = arg(node, 0).and_then(|e| cx.integer(e, "nice", (-20, 19)));
                }
            }
            "io-class" => s.io_class = decode_io_class(cx, node),
            "timeout" => {
                s.timeout = single_string(cx, node, "a duration such as \"6h\"")
                    .and_then(|v| duration(cx, &v, "timeout"));
            }
            "limit-upload" | "limit-download" => {
                let rate =
                    single_string(cx, node, "a rate such as \"2MiB\"").and_then(|v| rate(cx, &v));
                if name == "limit-upload" {
                    s.limit_upload = rate;
                } else {
                    s.limit_download = rate;
                }
            }
            "on-failure" => s.on_failure = decode_notify(cx, node),
            "template" => {
                let d = Diagnostic::error(
                    "bakgen::unknown-node",
                    "`template` is written as a property here",
                    cx.name_span(node),
                )
                .label("not a setting")
                .help(if in_job {
                    "write job \"name\" template=\"base\" { … }"
                } else {
                    "`defaults` cannot use a template"
                });
                cx.push(d);
            }
            other => {
                let mut d = Diagnostic::error(
                    "bakgen::unknown-node",
                    format!("unknown setting `{other}`"),
                    cx.name_span(node),
                )
                .label("unknown node");
                d = match did_you_mean(other, SETTINGS.iter().copied()) {
                    Some(sugg) => d.help(format!("did you mean `{sugg}`?")),
                    None if other == "job" => d.help("jobs are written inside a host"),
                    None => d.help(format!("settings are: {}", SETTINGS.join(", "))),
                };
                cx.push(d);
            }
        }
    }
    s
}

fn single_string(cx: &mut Cx<'_>, node: &KdlNode, what: &str) -> Option<Spanned<String>> {
    if !cx.shape(
        node,
        &Shape {
            args: (1, 1),
            arg_what: what,
            props: &[],
            children: false,
        },
    ) {
        return None;
    }
    cx.string(arg(node, 0)?, node.name().value())
}

/// Paths must be absolute: a unit runs with `/` as its working directory, so a relative
/// path would silently mean something else on the host.
fn absolute(cx: &mut Cx<'_>, path: &Spanned<String>, what: &str) -> bool {
    if path.value.starts_with('/') {
        return true;
    }
    let d = Diagnostic::error(
        "bakgen::relative-path",
        format!("{what} `{}` is not an absolute path", path.value),
        path.span.clone(),
    )
    .label("relative path")
    .help(format!(
        "write the full path from /, e.g. \"/{}\"",
        path.value.trim_start_matches("./")
    ));
    cx.push(d);
    false
}

fn duration(cx: &mut Cx<'_>, text: &Spanned<String>, what: &str) -> Option<Spanned<Duration>> {
    match Duration::parse(&text.value) {
        Ok(d) => Some(Spanned::new(d, text.span.clone())),
        Err(e) => {
            let inner = cx.string_inner(text);
            let span = if inner.range.len() == text.value.len() {
                inner.sub(e.start..e.end.max(e.start + 1))
            } else {
                inner
            };
            let d = Diagnostic::error(
                "bakgen::invalid-duration",
                format!("{what} `{}` is not a duration: {}", text.value, e.message),
                span,
            )
            .label("here")
            .help("a duration is numbers with units s, m (minutes), h, D, W, M (months), Y: \"30m\", \"3D12h\"");
            cx.push(d);
            None
        }
    }
}

fn rate(cx: &mut Cx<'_>, text: &Spanned<String>) -> Option<Spanned<u64>> {
    match parse_bytes(&text.value) {
        Ok(0) | Err(_) if text.value.is_empty() => None,
        Ok(bytes) if bytes >= 1024 => Some(Spanned::new(bytes, text.span.clone())),
        Ok(_) => {
            let d = Diagnostic::error(
                "bakgen::out-of-range",
                format!("rate `{}` is below 1 KiB/s", text.value),
                text.span.clone(),
            )
            .label("too small")
            .help("engines limit bandwidth in KiB/s; give at least \"1KiB\"");
            cx.push(d);
            None
        }
        Err(msg) => {
            let d = Diagnostic::error(
                "bakgen::invalid-size",
                format!("`{}` is not a rate: {msg}", text.value),
                text.span.clone(),
            )
            .label("not a rate")
            .help("write a number and a unit per second, e.g. \"2MiB\" or \"500KiB/s\"");
            cx.push(d);
            None
        }
    }
}

fn decode_pull(cx: &mut Cx<'_>, node: &KdlNode) -> Option<Pull> {
    if !cx.shape(
        node,
        &Shape {
            args: (1, 1),
            arg_what: "a host name",
            props: &["user", "port", "identity", "known-hosts"],
            children: false,
        },
    ) {
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

/// `ssh port=2222 identity="/root/.ssh/id" known-hosts="/etc/bakgen/known_hosts"` in a
/// destination with an `sftp:` repository.
fn decode_sftp_ssh(cx: &mut Cx<'_>, node: &KdlNode) -> Option<SftpSsh> {
    if !cx.shape(
        node,
        &Shape {
            args: (0, 0),
            arg_what: "no argument",
            props: &["port", "identity", "known-hosts"],
            children: false,
        },
    ) {
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

fn decode_schedule(cx: &mut Cx<'_>, node: &KdlNode) -> Option<Schedule> {
    decode_schedule_with(cx, node, &["jitter"])
}

/// A schedule node that may carry more properties (`check-schedule … read-data=`).
fn decode_schedule_with(cx: &mut Cx<'_>, node: &KdlNode, props: &[&str]) -> Option<Schedule> {
    if !cx.shape(
        node,
        &Shape {
            args: (1, 1),
            arg_what: "a calendar expression such as \"daily\"",
            props,
            children: false,
        },
    ) {
        return None;
    }
    let calendar = cx.string(arg(node, 0)?, "schedule")?;
    if calendar.value.trim().is_empty() {
        let d = Diagnostic::error("bakgen::invalid-schedule", "the schedule is empty", calendar.span.clone())
            .label("empty")
            .help("write a keyword (hourly, daily, weekly, monthly) or a systemd calendar expression such as \"Mon..Fri *-*-* 02:30\"");
        cx.push(d);
        return None;
    }
    let jitter = prop(node, "jitter")
        .and_then(|e| cx.string(e, "jitter"))
        .and_then(|v| duration(cx, &v, "jitter"));
    let spec = match CalendarSpec::parse(&calendar.value) {
        Ok(spec) => Some(spec),
        Err(e) => {
            let inner = cx.string_inner(&calendar);
            // Point into the string when its bytes map one to one onto the file.
            let span = if inner.range.len() == calendar.value.len() {
                inner.sub(e.span.clone())
            } else {
                inner
            };
            let help = e.help.clone().unwrap_or_else(|| {
                "see systemd.time(7); `bakgen calendar EXPR` shows how an expression is read"
                    .to_owned()
            });
            let d = Diagnostic::error(
                "bakgen::invalid-schedule",
                format!("invalid schedule: {}", e.message),
                span,
            )
            .label(e.message.clone())
            .help(help);
            cx.push(d);
            None
        }
    };
    Some(Schedule {
        calendar,
        spec,
        jitter,
        span: cx.name_span(node),
    })
}

fn decode_lvm(cx: &mut Cx<'_>, node: &KdlNode) -> Option<LvmSnapshot> {
    if !cx.shape(
        node,
        &Shape {
            args: (1, 1),
            arg_what: "a volume as \"group/volume\"",
            props: &["size", "mount-point"],
            children: false,
        },
    ) {
        return None;
    }
    let volume = cx.string(arg(node, 0)?, "lvm-snapshot")?;
    let mount_point = match prop(node, "mount-point") {
        Some(e) => {
            let p = cx.string(e, "mount-point")?;
            if !absolute(cx, &p, "mount-point") {
                return None;
            }
            Some(p)
        }
        None => None,
    };
    let parts: Vec<&str> = volume.value.split('/').collect();
    if parts.len() != 2 || parts.iter().any(|p| p.is_empty() || p.starts_with('-')) {
        let d = Diagnostic::error(
            "bakgen::invalid-volume",
            format!("`{}` is not a logical volume", volume.value),
            volume.span.clone(),
        )
        .label("expected group/volume")
        .help("name the origin as volume group and logical volume, e.g. \"vg0/root\"");
        cx.push(d);
        return None;
    }
    let span = cx.name_span(node);
    let size = match prop(node, "size") {
        Some(e) => cx.string(e, "size")?,
        None => {
            let d = Diagnostic::error(
                "bakgen::missing-value",
                "`lvm-snapshot` needs a snapshot size",
                span.clone(),
            )
            .label("size missing")
            .help("add size=\"2G\" (space for changes during the backup) or size=\"20%ORIGIN\"");
            cx.push(d);
            return None;
        }
    };
    if !lvm_size_ok(&size.value) {
        let d = Diagnostic::error("bakgen::invalid-size", format!("`{}` is not a snapshot size", size.value), size.span.clone())
            .label("not a size")
            .help("write a size with a unit (\"512M\", \"2G\") or a percentage (\"20%ORIGIN\", \"10%FREE\")");
        cx.push(d);
        return None;
    }
    Some(LvmSnapshot {
        volume,
        size,
        mount_point,
        span,
    })
}

fn decode_btrfs(cx: &mut Cx<'_>, node: &KdlNode) -> Option<BtrfsSnapshot> {
    if !cx.shape(
        node,
        &Shape {
            args: (1, 1),
            arg_what: "the path of a btrfs subvolume",
            props: &[],
            children: false,
        },
    ) {
        return None;
    }
    let subvolume = cx.string(arg(node, 0)?, "btrfs-snapshot")?;
    if !absolute(cx, &subvolume, "btrfs-snapshot subvolume") {
        return None;
    }
    Some(BtrfsSnapshot {
        span: cx.name_span(node),
        subvolume,
    })
}

fn lvm_size_ok(text: &str) -> bool {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if digits == 0 {
        return false;
    }
    let rest = &text[digits..];
    if let Some(pct) = rest.strip_prefix('%') {
        let n: u32 = text[..digits].parse().unwrap_or(0);
        return (1..=100).contains(&n) && matches!(pct, "ORIGIN" | "FREE" | "VG" | "PVS");
    }
    matches!(rest, "k" | "K" | "m" | "M" | "g" | "G" | "t" | "T")
        && text[..digits].parse::<u64>().is_ok_and(|n| n > 0)
}

fn decode_dump(cx: &mut Cx<'_>, node: &KdlNode) -> Option<Dump> {
    let kind = if node.name().value() == "postgres" {
        DumpKind::Postgres
    } else {
        DumpKind::Mysql
    };
    let props = ["host", "port", "user", "password-secret"];
    if !cx.shape(
        node,
        &Shape {
            args: (0, usize::MAX),
            arg_what: "database names",
            props: &props,
            children: false,
        },
    ) {
        return None;
    }
    let databases = args(node)
        .filter_map(|e| cx.string(e, "database"))
        .collect();
    Some(Dump {
        kind,
        databases,
        host: prop(node, "host").and_then(|e| cx.string(e, "host")),
        port: prop(node, "port").and_then(|e| cx.integer(e, "port", (1, 65535))),
        user: prop(node, "user").and_then(|e| cx.string(e, "user")),
        password_secret: prop(node, "password-secret")
            .and_then(|e| cx.string(e, "password-secret")),
        span: cx.name_span(node),
    })
}

fn decode_io_class(cx: &mut Cx<'_>, node: &KdlNode) -> Option<IoClass> {
    if !cx.shape(
        node,
        &Shape {
            args: (1, 1),
            arg_what: "an I/O class (idle, best-effort, realtime)",
            props: &["priority"],
            children: false,
        },
    ) {
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

fn decode_notify(cx: &mut Cx<'_>, node: &KdlNode) -> Option<Notify> {
    if !cx.shape(
        node,
        &Shape {
            args: (0, usize::MAX),
            arg_what: "a command",
            props: &["url"],
            children: false,
        },
    ) {
        return None;
    }
    let span = cx.name_span(node);
    let argv: Vec<Spanned<String>> = args(node)
        .filter_map(|e| cx.string(e, "on-failure command"))
        .collect();
    let url = prop(node, "url").and_then(|e| cx.string(e, "url"));
    let target = match (argv.is_empty(), url) {
        (false, None) => {
            absolute(cx, &argv[0], "notification command");
            NotifyTarget::Command(argv)
        }
        (true, Some(url)) => {
            if !(url.value.starts_with("https://") || url.value.starts_with("http://")) {
                let d = Diagnostic::error(
                    "bakgen::invalid-value",
                    format!("`{}` is not an http(s) URL", url.value),
                    url.span.clone(),
                )
                .label("not a URL")
                .help("the failure report is POSTed to an http:// or https:// URL");
                cx.push(d);
            }
            NotifyTarget::Url(url)
        }
        (false, Some(url)) => {
            let d = Diagnostic::error(
                "bakgen::conflicting-settings",
                "`on-failure` has both a command and a URL",
                url.span.clone(),
            )
            .label("URL")
            .with(argv[0].span.clone(), "command")
            .help("keep one of them");
            cx.push(d);
            return None;
        }
        (true, None) => {
            let d = Diagnostic::error("bakgen::missing-value", "`on-failure` needs a command or a URL", span)
                .label("nothing to notify")
                .help("write on-failure \"/usr/local/bin/page-ops\" \"--team=ops\", or on-failure url=\"https://…\"");
            cx.push(d);
            return None;
        }
    };
    Some(Notify { target, span })
}

fn decode_destination(cx: &mut Cx<'_>, node: &KdlNode) -> Option<Destination> {
    let name = named(cx, node, "a destination name", &[], true)?;
    let mut path = None;
    let mut device = None;
    let mut sentinel = None;
    let mut view = None;
    let mut restic = None;
    let mut password = None;
    let mut environment = Vec::new();
    let mut limit_upload = None;
    let mut limit_download = None;
    let mut prune_schedule = None;
    let mut check_schedule = None;
    let mut check_read_data = None;
    let mut ssh = None;
    let mut seen: Vec<(String, crate::source::Span)> = Vec::new();
    for child in node.children().map(|c| c.nodes()).unwrap_or_default() {
        let key = child.name().value();
        if DESTINATION_NODES.contains(&key) && key != "env" {
            let span = cx.name_span(child);
            if let Some((_, first)) = seen.iter().find(|(n, _)| n == key) {
                let d = Diagnostic::error(
                    "bakgen::duplicate-setting",
                    format!("`{key}` is set twice"),
                    span,
                )
                .label("again here")
                .with(first.clone(), "first here")
                .help("keep one of them");
                cx.push(d);
                continue;
            }
            seen.push((key.to_owned(), span));
        }
        match key {
            "path" => {
                path = single_string(cx, child, "an absolute folder");
                if let Some(p) = &path {
                    absolute(cx, p, "path");
                }
            }
            "read-only-view" => {
                view = single_string(cx, child, "an absolute folder");
                if let Some(p) = &view {
                    absolute(cx, p, "read-only-view");
                }
            }
            "sentinel" => {
                if cx.shape(
                    child,
                    &Shape {
                        args: (1, 1),
                        arg_what: "#true or #false",
                        props: &[],
                        children: false,
                    },
                ) {
                    sentinel = arg(child, 0).and_then(|e| cx.boolean(e, "sentinel"));
                }
            }
            "device" => device = decode_device(cx, child),
            "restic" => restic = single_string(cx, child, "a repository (path, sftp:, rest:, s3:)"),
            "password" => password = decode_secret_use(cx, child),
            "ssh" => ssh = decode_sftp_ssh(cx, child),
            "prune-schedule" => prune_schedule = decode_schedule(cx, child),
            "check-schedule" => {
                check_schedule = decode_schedule_with(cx, child, &["jitter", "read-data"]);
                if check_schedule.is_some() {
                    check_read_data = prop(child, "read-data")
                        .and_then(|e| cx.string(e, "read-data"))
                        .and_then(|v| read_data_subset(cx, v));
                }
            }
            "env" => {
                if cx.shape(
                    child,
                    &Shape {
                        args: (1, 1),
                        arg_what: "a variable name",
                        props: &["secret"],
                        children: false,
                    },
                ) {
                    if let Some(var) = arg(child, 0).and_then(|e| cx.string(e, "env")) {
                        match prop(child, "secret").and_then(|e| cx.string(e, "secret")) {
                            Some(secret) => environment.push((var, secret)),
                            None if prop(child, "secret").is_none() => {
                                let d = Diagnostic::error("bakgen::missing-value", format!("`env \"{}\"` needs secret=", var.value), cx.name_span(child))
                                    .label("no secret")
                                    .help("environment values for restic come from secrets: env \"AWS_SECRET_ACCESS_KEY\" secret=\"s3-key\"");
                                cx.push(d);
                            }
                            None => {}
                        }
                    }
                }
            }
            "limit-upload" => {
                limit_upload =
                    single_string(cx, child, "a rate such as \"2MiB\"").and_then(|v| rate(cx, &v))
            }
            "limit-download" => {
                limit_download =
                    single_string(cx, child, "a rate such as \"2MiB\"").and_then(|v| rate(cx, &v))
            }
            other => {
                let mut d = Diagnostic::error(
                    "bakgen::unknown-node",
                    format!("unknown node `{other}` in destination `{}`", name.value),
                    cx.name_span(child),
                )
                .label("unknown node");
                d = match did_you_mean(other, DESTINATION_NODES.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!(
                        "a destination holds: {}",
                        DESTINATION_NODES.join(", ")
                    )),
                };
                cx.push(d);
            }
        }
    }
    let kind = match (path, restic) {
        (Some(path), None) => {
            for s in [&prune_schedule, &check_schedule].into_iter().flatten() {
                let d = Diagnostic::error(
                    "bakgen::engine-unsupported",
                    "`prune-schedule` and `check-schedule` apply to restic repositories",
                    s.span.clone(),
                )
                .label("not for snapshot folders")
                .help("snapshot folders are pruned by each job's retention; remove this line");
                cx.push(d);
            }
            if let Some(ssh) = &ssh {
                let d = Diagnostic::error("bakgen::engine-unsupported", "`ssh` applies to sftp: restic repositories, not to snapshot folders", ssh.span.clone())
                    .label("ssh for a snapshot folder")
                    .help("remove it; to pull a job's sources over ssh, write from \"host\" port=… identity=… in the job");
                cx.push(d);
            }
            if let Some(p) = &password {
                let d = Diagnostic::error("bakgen::engine-unsupported", "rsync snapshots are not encrypted: `password` has no effect here", p.span.clone())
                    .label("encryption on a snapshot folder")
                    .help("encrypted backups need a restic repository: write restic \"/path\" instead of path");
                cx.push(d);
            }
            DestinationKind::Snapshots(SnapshotFolder {
                path,
                device,
                sentinel,
                read_only_view: view,
            })
        }
        (None, Some(url)) => {
            for (what, span) in [
                ("device", device.as_ref().map(|d| d.what.span.clone())),
                ("read-only-view", view.as_ref().map(|v| v.span.clone())),
                ("sentinel", sentinel.as_ref().map(|s| s.span.clone())),
            ] {
                if let Some(span) = span {
                    let d = Diagnostic::error("bakgen::engine-unsupported", format!("`{what}` applies to snapshot folders, not restic repositories"), span)
                        .label("not for restic")
                        .help("mount a local restic repository's disk outside bakgen, or back up to a `path` destination");
                    cx.push(d);
                }
            }
            check_repository(cx, &url);
            if let Some(ssh) = &ssh {
                if !url.value.starts_with("sftp:") {
                    let d = Diagnostic::error(
                        "bakgen::engine-unsupported",
                        "`ssh` applies to sftp: repositories",
                        ssh.span.clone(),
                    )
                    .label("not an sftp repository")
                    .with(url.span.clone(), "repository")
                    .help("remove `ssh`, or write the repository as sftp:user@host:/path");
                    cx.push(d);
                }
            }
            if password.is_none() {
                let d = Diagnostic::error("bakgen::missing-value", format!("restic destination `{}` needs a password", name.value), name.span.clone())
                    .label("no password")
                    .help("add password secret=\"name\" and define secret \"name\" file=… (or credential=, command=)");
                cx.push(d);
            }
            DestinationKind::Restic(ResticRepository {
                url,
                password_secret: password,
                environment,
                prune_schedule,
                check_schedule,
                check_read_data,
                ssh,
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
        limit_upload,
        limit_download,
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

fn check_repository(cx: &mut Cx<'_>, url: &Spanned<String>) {
    let v = &url.value;
    let ok = v.starts_with('/')
        || v.strip_prefix("sftp:")
            .is_some_and(|r| r.contains(':') || r.starts_with("//"))
        || v.starts_with("rest:http://")
        || v.starts_with("rest:https://")
        || v.starts_with("s3:")
        || v.starts_with("b2:")
        || v.starts_with("azure:")
        || v.starts_with("gs:")
        || v.starts_with("rclone:");
    if !ok {
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
}

/// `password secret="name"`; a literal (`password "hunter2"`) is refused.
fn decode_secret_use(cx: &mut Cx<'_>, node: &KdlNode) -> Option<Spanned<String>> {
    if let Some(e) = arg(node, 0) {
        if e.value().is_string() {
            let d = Diagnostic::error("bakgen::inline-secret", "a password written into the policy", cx.span(e.span()))
                .label("secret written inline")
                .help("policies are committed and reviewed: move it to a root-only file, define secret \"name\" file=\"/etc/bakgen/secrets/name\", and write password secret=\"name\"");
            cx.push(d);
            return None;
        }
    }
    if !cx.shape(
        node,
        &Shape {
            args: (0, 0),
            arg_what: "",
            props: &["secret"],
            children: false,
        },
    ) {
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

fn decode_device(cx: &mut Cx<'_>, node: &KdlNode) -> Option<Device> {
    if !cx.shape(
        node,
        &Shape {
            args: (1, 1),
            arg_what: "a device path",
            props: &["fstype", "options", "idle-timeout"],
            children: false,
        },
    ) {
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

fn decode_secret(cx: &mut Cx<'_>, node: &KdlNode) -> Option<Secret> {
    let sources = ["file", "credential", "command"];
    // Say "inline secret" rather than "unknown property" for the obvious mistakes.
    let literal = node
        .entries()
        .iter()
        .filter(|e| e.value().is_string())
        .find(|e| match e.name() {
            None => false,
            Some(k) => matches!(k.value(), "value" | "password" | "passphrase" | "text"),
        })
        .or_else(|| args(node).nth(1));
    if let Some(e) = literal {
        let d = Diagnostic::error("bakgen::inline-secret", "a secret's value written into the policy", cx.span(e.span()))
            .label("secret written inline")
            .help("a secret names where the value lives: file=\"/etc/bakgen/secrets/x\" (root-only), credential=\"/etc/credstore.encrypted/x\" or command=\"pass show x\"");
        cx.push(d);
        return None;
    }
    let name = named(cx, node, "a secret name", &sources, false)?;
    let found: Vec<(&str, &KdlEntry)> = sources
        .iter()
        .filter_map(|k| prop(node, k).map(|e| (*k, e)))
        .collect();
    match found.as_slice() {
        [(kind, e)] => {
            let value = cx.string(e, kind)?;
            let source = match *kind {
                "file" => {
                    absolute(cx, &value, "secret file");
                    SecretSource::File(value)
                }
                "credential" => {
                    absolute(cx, &value, "credential");
                    SecretSource::Credential(value)
                }
                _ => {
                    if value.value.trim().is_empty() {
                        let d = Diagnostic::error("bakgen::missing-value", "the secret command is empty", value.span.clone())
                            .label("empty command")
                            .help("write the command that prints the secret, e.g. command=\"pass show backup/offsite\"");
                        cx.push(d);
                        return None;
                    }
                    SecretSource::Command(value)
                }
            };
            Some(Secret { name, source })
        }
        [] => {
            let d = Diagnostic::error("bakgen::missing-value", format!("secret `{}` does not say where its value is", name.value), name.span.clone())
                .label("no source")
                .help("add file=\"/etc/bakgen/secrets/…\", credential=\"/etc/credstore.encrypted/…\" or command=\"…\"");
            cx.push(d);
            None
        }
        [_, (_, second), ..] => {
            let d = Diagnostic::error(
                "bakgen::conflicting-settings",
                format!("secret `{}` has more than one source", name.value),
                cx.span(second.span()),
            )
            .label("second source")
            .help("a secret comes from exactly one of file=, credential= or command=");
            cx.push(d);
            None
        }
    }
}
