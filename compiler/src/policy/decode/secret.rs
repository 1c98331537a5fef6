//! `secret "name" file=…|credential=…|command=…`: where a secret's value lives.

use kdl::{KdlEntry, KdlNode};

use super::super::model::*;
use super::super::reader::{args, prop, Cx, Shape};
use super::named;
use super::values::absolute;
use crate::diagnostic::Diagnostic;

/// Where a secret's value may come from; exactly one is given.
pub const SOURCES: [&str; 3] = ["file", "credential", "command"];

pub fn decode_secret(cx: &mut Cx<'_>, node: &KdlNode, shape: &Shape<'_>) -> Option<Secret> {
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
    let name = named(cx, node, shape)?;
    let found: Vec<(&str, &KdlEntry)> = SOURCES
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
