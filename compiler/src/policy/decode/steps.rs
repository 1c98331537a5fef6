//! The steps before a backup: LVM and btrfs snapshots, database dumps.

use kdl::KdlNode;

use super::super::model::*;
use super::super::reader::{arg, args, prop, Cx, Shape};
use super::values::absolute;
use crate::diagnostic::Diagnostic;

/// `postgres` and `mysql`: database names, and how to reach the server.
pub const DUMP: Shape<'static> = Shape {
    args: (0, usize::MAX),
    arg_what: "database names",
    props: &["host", "port", "user", "password-secret"],
    children: false,
};

pub fn lvm(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<LvmSnapshot> {
    if !cx.shape(node, shape) {
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

pub fn btrfs(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<BtrfsSnapshot> {
    if !cx.shape(node, shape) {
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

pub fn dump(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<Dump> {
    let kind = if node.name().value() == "postgres" {
        DumpKind::Postgres
    } else {
        DumpKind::Mysql
    };
    if !cx.shape(node, shape) {
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
