//! The three languages a rules file nests: YAML double-quoted strings, PromQL string
//! literals inside expressions, and Go templates in labels and annotations. Names come
//! from the policy and may hold quotes, backslashes, `{{` or any Unicode character.

/// A YAML double-quoted scalar. Escapes what YAML would fold or refuse (controls, C1,
/// the Unicode line and paragraph separators, BOM and non-characters), keeps the rest.
pub fn yaml(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A PromQL double-quoted string literal (Go's escapes).
pub fn promql(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text that Prometheus's Go templating (labels and annotations) leaves as written: only
/// `{{` opens an action, so each one is printed by an action of its own.
pub fn literal(s: &str) -> String {
    s.replace("{{", "{{ \"{{\" }}")
}

/// A Prometheus duration: `1d1h0m30s` style, `0s` for zero.
pub fn duration(seconds: u64) -> String {
    let (d, h, m, s) = parts(seconds);
    let mut out = String::new();
    for (n, unit) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// What Prometheus's `humanizeDuration` prints for a whole number of seconds of at least
/// one minute (`1d 1h 5m 0s`); promtool cases compare annotations with it.
pub fn humanized(seconds: u64) -> String {
    let (d, h, m, s) = parts(seconds);
    if d > 0 {
        format!("{d}d {h}h {m}m {s}s")
    } else if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

fn parts(seconds: u64) -> (u64, u64, u64, u64) {
    (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_each_language() {
        assert_eq!(yaml("a\"b\\c\u{2028}é\u{85}"), r#""a\"b\\c\u2028é\u0085""#);
        assert_eq!(promql("h\"\\x"), r#""h\"\\x""#);
        assert_eq!(literal("a{{b}}"), r#"a{{ "{{" }}b}}"#);
        assert_eq!(duration(90_061), "1d1h1m1s");
        assert_eq!(duration(3600), "1h");
        assert_eq!(duration(0), "0s");
        assert_eq!(humanized(90_060), "1d 1h 1m 0s");
        assert_eq!(humanized(3660), "1h 1m 0s");
    }
}
