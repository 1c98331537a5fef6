//! Schedule nodes: `schedule`, and a destination's `prune-schedule` and `check-schedule`.

use kdl::KdlNode;

use super::super::model::Schedule;
use super::super::reader::{arg, prop, Cx, Shape};
use super::values::duration;
use crate::diagnostic::Diagnostic;
use crate::schedule::CalendarSpec;

const WHEN: &str = "a calendar expression such as \"daily\"";

pub const SHAPE: Shape<'static> = with_props(&["jitter"]);

/// A schedule node that may carry more properties (`check-schedule … read-data=`).
pub const fn with_props(props: &'static [&'static str]) -> Shape<'static> {
    Shape {
        args: (1, 1),
        arg_what: WHEN,
        props,
        children: false,
    }
}

pub fn decode(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<Schedule> {
    if !cx.shape(node, shape) {
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
