//! Text into roff (groff_man(7)): what must be escaped so that groff prints a character as
//! written, and the inline fonts.

/// Plain text for a roff text line: backslashes escaped, every character outside ASCII
/// written as groff's `\[uXXXX]` (so the page is ASCII and needs no preconv), and a line
/// that would start with a control character (`.` or `'`) protected by `\&`.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            c if c.is_ascii() => out.push(c),
            c => out.push_str(&format!("\\[u{:04X}]", u32::from(c))),
        }
    }
    out
}

/// Literal text (code, options, paths): as [`text`], and `-` as the ASCII minus `\-`, so
/// that an option copied from the page is the one typed.
pub fn literal(s: &str) -> String {
    text(s).replace('-', "\\-")
}

/// `s` in bold, then back to roman.
pub fn bold(s: &str) -> String {
    format!("\\fB{}\\fR", literal(s))
}

/// A finished line of text: protected when it starts like a request (`.` or `'`) and never
/// empty, since an empty line is a blank line in roff.
pub fn line(s: &str) -> String {
    let s = s.trim_end();
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else if s.is_empty() {
        "\\&".to_owned()
    } else {
        s.to_owned()
    }
}

/// A request argument in double quotes (`.SH "SEE ALSO"`); roff has no escape for `"`
/// inside one, so it becomes `\(dq`.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", text(s).replace('"', "\\(dq"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_backslashes_and_unicode_are_escaped() {
        assert_eq!(line(".hidden"), "\\&.hidden");
        assert_eq!(line("'quote"), "\\&'quote");
        assert_eq!(line(""), "\\&");
        assert_eq!(text("a\\b"), "a\\eb");
        assert_eq!(text("x … y"), "x \\[u2026] y");
        assert_eq!(literal("--out"), "\\-\\-out");
        assert_eq!(bold("keep-daily"), "\\fBkeep\\-daily\\fR");
        assert_eq!(quoted("say \"hi\""), "\"say \\(dqhi\\(dq\"");
    }
}
