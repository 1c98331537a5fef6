//! The `retention` node: restic's `forget` rules (≥ 0.16), counts as integers or `"all"`.

use bakgen_spec::count::Count;
use kdl::{KdlEntry, KdlNode, KdlValue};

use super::super::model::{Retention, Spanned};
use super::super::reader::{prop, wrong_type, Cx, Shape};
use super::values::duration;
use crate::diagnostic::Diagnostic;

/// The rules, counts first, each in restic's order (`Retention::counts`, `durations`).
pub(crate) const KEYS: [&str; 12] = [
    "keep-last",
    "keep-hourly",
    "keep-daily",
    "keep-weekly",
    "keep-monthly",
    "keep-yearly",
    "keep-within",
    "keep-within-hourly",
    "keep-within-daily",
    "keep-within-weekly",
    "keep-within-monthly",
    "keep-within-yearly",
];

pub const SHAPE: Shape<'static> = Shape {
    args: (0, 0),
    arg_what: "",
    props: &KEYS,
    children: false,
};

pub(super) fn decode(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<Retention> {
    const COUNT_KEYS: [&str; 6] = [KEYS[0], KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]];
    const DURATION_KEYS: [&str; 6] = [KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]];
    cx.shape(node, shape);
    let [last, hourly, daily, weekly, monthly, yearly] =
        COUNT_KEYS.map(|key| prop(node, key).and_then(|e| count(cx, e, key)));
    let [within, within_hourly, within_daily, within_weekly, within_monthly, within_yearly] =
        DURATION_KEYS.map(|key| {
            prop(node, key)
                .and_then(|e| cx.string(e, key))
                .and_then(|v| duration(cx, &v, key))
        });
    // A rule that failed to decode was reported already; do not also call the retention empty.
    let given = node.entries().iter().filter(|e| e.name().is_some()).count();
    let mut r = Retention {
        keep_last: last,
        keep_hourly: hourly,
        keep_daily: daily,
        keep_weekly: weekly,
        keep_monthly: monthly,
        keep_yearly: yearly,
        keep_within: within,
        keep_within_hourly: within_hourly,
        keep_within_daily: within_daily,
        keep_within_weekly: within_weekly,
        keep_within_monthly: within_monthly,
        keep_within_yearly: within_yearly,
        span: None,
    };
    let decoded = r.counts().iter().filter(|c| c.is_some()).count()
        + r.durations().iter().filter(|d| d.is_some()).count();
    if decoded >= given {
        r.span = Some(cx.name_span(node));
    }
    Some(r)
}

/// A count: an integer from 0 to 2³²−1, or `"all"`. restic's `-1` and `unlimited` get a
/// pointer to `"all"` rather than a second spelling.
fn count(cx: &mut Cx<'_>, entry: &KdlEntry, key: &str) -> Option<Spanned<Count>> {
    let span = cx.value_span(entry);
    let refuse = |cx: &mut Cx<'_>, code: &'static str, message: String, label: &str| {
        cx.push(
            Diagnostic::error(code, message, span.clone())
                .label(label.to_owned())
                .help(format!(
                    "give a number of buckets such as {key}=7, or {key}=\"all\" to keep every one"
                )),
        );
        None
    };
    match entry.value() {
        KdlValue::String(s) if s == "all" => Some(Spanned::new(Count::All, span)),
        // A quoted number: the type error says to remove the quotes.
        KdlValue::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            cx.push(wrong_type(key, "an integer", entry.value(), span.clone()));
            None
        }
        KdlValue::String(s) => refuse(
            cx,
            "bakgen::invalid-value",
            format!("{key} `{s}` is not a count"),
            "neither a number nor \"all\"",
        ),
        KdlValue::Integer(-1) => refuse(
            cx,
            "bakgen::invalid-value",
            format!("{key} -1: bakgen writes restic's \"unlimited\" as \"all\""),
            "negative count",
        ),
        KdlValue::Integer(i) if *i < 0 => refuse(
            cx,
            "bakgen::out-of-range",
            format!("{key} {i}: a count must be 0 or more"),
            "negative count",
        ),
        KdlValue::Integer(_) => cx
            .integer(entry, key, (0, i64::from(u32::MAX)))
            .map(|v| Spanned::new(Count::Buckets(v.value as u32), v.span)),
        other => {
            cx.push(wrong_type(
                key,
                "an integer or \"all\"",
                other,
                span.clone(),
            ));
            None
        }
    }
}
