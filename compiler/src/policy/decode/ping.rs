//! `ping`: push pings to a monitoring service at the start and end of each run.

use kdl::KdlNode;

use super::super::model::*;
use super::super::reader::{arg, prop, Cx, Shape};
use crate::diagnostic::Diagnostic;
use crate::suggest::did_you_mean;
use bakgen_spec::job::validate::is_http_url;
use bakgen_spec::job::PingKind;

pub const SHAPE: Shape<'static> = Shape {
    args: (0, 1),
    arg_what: "a ping URL",
    props: &["kind", "secret"],
    children: false,
};

const KINDS: [&str; 3] = ["healthchecks", "ntfy", "webhook"];

pub fn decode(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<PingSetting> {
    if !cx.shape(node, shape) {
        return None;
    }
    let span = cx.name_span(node);
    let url = arg(node, 0).and_then(|e| cx.string(e, "ping URL"));
    let secret = prop(node, "secret").and_then(|e| cx.string(e, "secret"));
    let kind = match prop(node, "kind").and_then(|e| cx.string(e, "kind")) {
        None => PingKind::Healthchecks,
        Some(k) => match k.value.as_str() {
            "healthchecks" => PingKind::Healthchecks,
            "ntfy" => PingKind::Ntfy,
            "webhook" => PingKind::Webhook,
            other => {
                let d = Diagnostic::error(
                    "bakgen::invalid-value",
                    format!("unknown ping kind `{other}`"),
                    k.span.clone(),
                )
                .label("unknown kind");
                cx.push(match did_you_mean(other, KINDS) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help("use healthchecks, ntfy or webhook"),
                });
                return None;
            }
        },
    };
    let target = match (url, secret) {
        (Some(url), None) => {
            if !is_http_url(&url.value) {
                cx.push(
                    Diagnostic::error(
                        "bakgen::invalid-url",
                        format!("`{}` is not an http(s) URL", url.value),
                        url.span.clone(),
                    )
                    .label("not http:// or https://")
                    .help("a ping goes to an http:// or https:// URL, such as \"https://hc-ping.com/<uuid>\""),
                );
            }
            PingTarget::Url(url)
        }
        (None, Some(secret)) => PingTarget::Secret(secret),
        (Some(url), Some(secret)) => {
            cx.push(
                Diagnostic::error(
                    "bakgen::conflicting-settings",
                    "`ping` has both a URL and a secret",
                    url.span.clone(),
                )
                .label("URL")
                .with(secret.span, "secret")
                .help("keep one of them: a URL that is a credential belongs in the secret"),
            );
            return None;
        }
        (None, None) => {
            cx.push(
                Diagnostic::error("bakgen::missing-value", "`ping` needs a URL or a secret", span)
                    .label("nowhere to ping")
                    .help("write ping \"https://hc-ping.com/<uuid>\", or ping secret=\"hc\" with secret \"hc\" file=\"/etc/bakgen/secrets/hc\""),
            );
            return None;
        }
    };
    Some(PingSetting { kind, target, span })
}
