//! Values shared by several nodes: single strings, absolute paths, durations and rates.

use bakgen_spec::duration::Duration;
use kdl::KdlNode;

use super::super::model::Spanned;
use super::super::reader::{arg, Cx, Shape};
use super::super::size::parse_bytes;
use crate::diagnostic::Diagnostic;

pub const RATE: Shape<'static> = Shape {
    args: (1, 1),
    arg_what: "a rate such as \"2MiB\"",
    props: &[],
    children: false,
};

/// The one string argument of a node of shape `shape`.
pub fn single_string(
    cx: &mut Cx<'_>,
    node: &KdlNode,
    shape: &Shape<'_>,
) -> Option<Spanned<String>> {
    if !cx.shape(node, shape) {
        return None;
    }
    cx.string(arg(node, 0)?, node.name().value())
}

/// The one string argument, an absolute path (a relative one is reported, and kept).
pub fn absolute_string(
    cx: &mut Cx<'_>,
    node: &KdlNode,
    shape: &Shape<'_>,
    what: &str,
) -> Option<Spanned<String>> {
    let path = single_string(cx, node, shape)?;
    absolute(cx, &path, what);
    Some(path)
}

/// A rate node (`limit-upload "2MiB"`).
pub fn rate_node(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<Spanned<u64>> {
    single_string(cx, node, shape).and_then(|v| rate(cx, &v))
}

/// Paths must be absolute: a unit runs with `/` as its working directory, so a relative
/// path would silently mean something else on the host.
pub fn absolute(cx: &mut Cx<'_>, path: &Spanned<String>, what: &str) -> bool {
    match relative_path(path, what) {
        None => true,
        Some(d) => {
            cx.push(d);
            false
        }
    }
}

/// The error for a path that is not absolute (also for paths only validation can tell
/// are paths, such as a watch's `at=` on a snapshot folder).
pub fn relative_path(path: &Spanned<String>, what: &str) -> Option<Diagnostic> {
    if path.value.starts_with('/') {
        return None;
    }
    Some(
        Diagnostic::error(
            "bakgen::relative-path",
            format!("{what} `{}` is not an absolute path", path.value),
            path.span.clone(),
        )
        .label("relative path")
        .help(format!(
            "write the full path from /, e.g. \"/{}\"",
            path.value.trim_start_matches("./")
        )),
    )
}

pub fn duration(cx: &mut Cx<'_>, text: &Spanned<String>, what: &str) -> Option<Spanned<Duration>> {
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

pub fn rate(cx: &mut Cx<'_>, text: &Spanned<String>) -> Option<Spanned<u64>> {
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
