//! `verify { schedule …; sample …; critical …; query …; within …; count … }`: a job's restore drill.
//! What the drill's paths and queries mean for the job (under a source, a dumped database)
//! is checked once the job is resolved (`validate/verify.rs`).

use kdl::KdlNode;

use super::super::model::{
    DumpKind, Spanned, VerifyCount, VerifyQuery, VerifySample, VerifySetting,
};
use super::super::reader::{arg, args, prop, Cx, Shape};
use super::schedule;
use super::table::{decode_block, nearest_or_all, Node};
use super::values::{absolute, duration, single_string};
use crate::diagnostic::Diagnostic;
use crate::suggest::did_you_mean;

pub const SHAPE: Shape<'static> = Shape {
    args: (0, 0),
    arg_what: "",
    props: &[],
    children: true,
};

const VERIFY: &[Node<VerifySetting>] = &[
    Node {
        name: "count",
        shape: Shape {
            args: (0, 0),
            arg_what: "",
            props: &["tolerance"],
            children: false,
        },
        repeatable: false,
        decode: |cx, node, shape, v| v.count = decode_count(cx, node, shape),
    },
    Node {
        name: "critical",
        shape: Shape {
            args: (1, usize::MAX),
            arg_what: "an absolute path under one of the job's sources",
            props: &[],
            children: false,
        },
        repeatable: true,
        decode: decode_critical,
    },
    Node {
        name: "query",
        shape: Shape {
            args: (1, 1),
            arg_what: "an SQL query whose first column is a number",
            props: &["database", "at-least", "engine"],
            children: false,
        },
        repeatable: true,
        decode: decode_query,
    },
    Node {
        name: "sample",
        shape: Shape {
            args: (0, 0),
            arg_what: "",
            props: &["files", "percent"],
            children: false,
        },
        repeatable: false,
        decode: |cx, node, shape, v| v.sample = decode_sample(cx, node, shape),
    },
    Node {
        name: "schedule",
        shape: schedule::SHAPE,
        repeatable: false,
        decode: |cx, node, shape, v| v.schedule = schedule::decode(cx, node, shape),
    },
    Node {
        name: "within",
        shape: super::table::one("a duration such as \"8D\""),
        repeatable: false,
        decode: |cx, node, shape, v| {
            v.within = single_string(cx, node, shape).and_then(|w| duration(cx, &w, "within"));
        },
    },
];

/// A `verify` node of shape [`SHAPE`]. An empty block is a drill with every default.
pub fn decode(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<VerifySetting> {
    cx.shape(node, shape);
    let mut v = VerifySetting {
        schedule: None,
        sample: None,
        critical: Vec::new(),
        queries: Vec::new(),
        within: None,
        count: None,
        span: cx.name_span(node),
    };
    decode_block(
        cx,
        node.children(),
        VERIFY,
        &mut v,
        "a verify has one of each: keep one",
        |cx, child| {
            let other = child.name().value();
            let d = Diagnostic::error(
                "bakgen::unknown-node",
                format!("unknown node `{other}` in `verify`"),
                cx.name_span(child),
            )
            .label("unknown node");
            cx.push(nearest_or_all(d, other, VERIFY, "`verify` holds"));
        },
    );
    Some(v)
}

#[cfg(test)]
pub(super) fn table() -> &'static [Node<VerifySetting>] {
    VERIFY
}

fn decode_critical(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'static>, v: &mut VerifySetting) {
    if !cx.shape(node, shape) {
        return;
    }
    for e in args(node) {
        if let Some(p) = cx.string(e, "critical") {
            if absolute(cx, &p, "critical path") {
                v.critical.push(p);
            }
        }
    }
}

fn decode_sample(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<VerifySample> {
    if !cx.shape(node, shape) {
        return None;
    }
    let span = cx.name_span(node);
    let files = prop(node, "files")
        .and_then(|e| cx.integer(e, "files", (0, i64::MAX)))
        .map(|f| Spanned::new(f.value as u64, f.span));
    let percent = prop(node, "percent").and_then(|e| cx.string(e, "percent"));
    let per_mille = percent.as_ref().and_then(|p| per_mille(cx, p));
    if prop(node, "files").is_none() && prop(node, "percent").is_none() {
        cx.push(
            Diagnostic::error("bakgen::missing-value", "`sample` gives no size", span)
                .label("neither files= nor percent=")
                .help("write sample files=1000, sample percent=\"1%\" or both (the larger wins); files=0 draws no random sample"),
        );
        return None;
    }
    // A size that did not decode was reported: no second error about an empty sample.
    let failed = (prop(node, "files").is_some() && files.is_none())
        || (percent.is_some() && per_mille.is_none());
    if failed {
        return None;
    }
    Some(VerifySample {
        files,
        per_mille,
        span,
    })
}

/// `"1%"`, `"0.5%"`, `"100%"` in per mille, in steps of 0.1 %; `None` for anything else.
fn percent_per_mille(text: &str) -> Option<u32> {
    let n = text.strip_suffix('%')?;
    let (whole, tenth) = n.split_once('.').unwrap_or((n, "0"));
    let digits = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(tenth) || tenth.len() != 1 {
        return None;
    }
    Some(whole.parse::<u32>().ok()? * 10 + tenth.parse::<u32>().ok()?)
}

/// A sample's `percent=`: above 0, at most 100 %.
fn per_mille(cx: &mut Cx<'_>, text: &Spanned<String>) -> Option<Spanned<u32>> {
    match percent_per_mille(&text.value) {
        Some(p) if (1..=1000).contains(&p) => Some(Spanned::new(p, text.span.clone())),
        _ => {
            cx.push(
                Diagnostic::error(
                    "bakgen::invalid-value",
                    format!("percent `{}` is not a share of a run's files", text.value),
                    text.span.clone(),
                )
                .label("not a percentage from 0.1% to 100%")
                .help("write a percentage with at most one decimal, such as percent=\"1%\" or percent=\"0.5%\"; files=0 with no percent= draws no random sample"),
            );
            None
        }
    }
}

fn decode_count(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<VerifyCount> {
    if !cx.shape(node, shape) {
        return None;
    }
    let span = cx.name_span(node);
    let tolerance = match prop(node, "tolerance") {
        None => None,
        Some(e) => {
            let text = cx.string(e, "tolerance")?;
            match percent_per_mille(&text.value).filter(|p| *p <= 1000) {
                Some(p) => Some(Spanned::new(p, text.span)),
                None => {
                    cx.push(
                        Diagnostic::error(
                            "bakgen::invalid-value",
                            format!("tolerance `{}` is not a share the count can use", text.value),
                            text.span.clone(),
                        )
                        .label("not a percentage from 0% to 100% with one decimal at most")
                        .help("write how many fewer files than the live ones the run may hold, such as tolerance=\"5%\" or tolerance=\"0.5%\""),
                    );
                    return None;
                }
            }
        }
    };
    Some(VerifyCount { tolerance, span })
}

fn decode_query(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'static>, v: &mut VerifySetting) {
    if !cx.shape(node, shape) {
        return;
    }
    let span = cx.name_span(node);
    let Some(sql) = arg(node, 0).and_then(|e| cx.string(e, "query")) else {
        return;
    };
    if sql.value.trim().is_empty() {
        cx.push(
            Diagnostic::error("bakgen::missing-value", "the query is empty", sql.span.clone())
                .label("empty")
                .help("write a query whose first column is a number, such as \"SELECT count(*) FROM orders\""),
        );
        return;
    }
    let at_least =
        prop(node, "at-least").and_then(|e| cx.integer(e, "at-least", (i64::MIN, i64::MAX)));
    let engine = prop(node, "engine")
        .and_then(|e| cx.string(e, "engine"))
        .and_then(|e| engine(cx, e));
    let Some(database) = prop(node, "database").and_then(|e| cx.string(e, "database")) else {
        if prop(node, "database").is_none() {
            cx.push(
                Diagnostic::error("bakgen::missing-value", "the query names no database", span)
                    .label("no database=")
                    .help("name the dumped database it runs in: query \"SELECT count(*) FROM orders\" database=\"shop\""),
            );
        }
        return;
    };
    v.queries.push(VerifyQuery {
        sql,
        database,
        at_least,
        engine,
        span,
    });
}

fn engine(cx: &mut Cx<'_>, name: Spanned<String>) -> Option<Spanned<DumpKind>> {
    let kind = match name.value.as_str() {
        "postgres" => DumpKind::Postgres,
        "mysql" => DumpKind::Mysql,
        other => {
            let d = Diagnostic::error(
                "bakgen::invalid-value",
                format!("unknown query engine `{other}`"),
                name.span.clone(),
            )
            .label("unknown engine");
            cx.push(match did_you_mean(other, ["postgres", "mysql"]) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(
                    "use engine=\"postgres\" or engine=\"mysql\", the dump the query runs against",
                ),
            });
            return None;
        }
    };
    Some(Spanned::new(kind, name.span))
}
