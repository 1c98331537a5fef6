//! systemd's quoting and escaping rules, one function per kind of unit-file setting, so that
//! every value in a unit file is read back by systemd as exactly what the policy said
//! (systemd.unit(5), systemd.service(5), systemd 252's `config_parse` and
//! `extract_first_word`). No value reaches a unit line except through one of these.
//!
//! Two rules hold for every function here, whatever the value:
//! - the result holds no control character, so it never ends a line (`bakgen check`
//!   refuses control characters; here they become `\xNN` where the setting decodes C
//!   escapes, U+FFFD where it cannot carry them);
//! - the result never ends in an odd run of backslashes, which would join the next line.

use std::fmt::Write;

/// What stands for a control character in a setting that has no escape for it. Never
/// reached for a checked policy (`bakgen::control-character`); it keeps a line whole.
const NO_CONTROL: char = '\u{FFFD}';

/// `systemd-escape --path`: the unit name of a mount for `path`.
pub fn path_unit_name(path: &str) -> String {
    let trimmed: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if trimmed.is_empty() {
        return "-".to_owned();
    }
    escape_name(&trimmed.join("/"), true)
}

/// A unit name fragment for a job: letters, digits and `:_.-` stay readable (so
/// `db-dump` gives `bakgen-db-dump.service`); anything else is `\xNN`, as systemd-escape does.
pub fn name_fragment(name: &str) -> String {
    escape_name(name, false)
}

fn escape_name(text: &str, path: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, b) in text.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || b == b':'
            || b == b'_'
            || (b == b'.' && i > 0)
            || (b == b'-' && !path);
        if path && b == b'/' {
            out.push('-');
        } else if keep {
            out.push(b as char);
        } else {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// A setting systemd reads verbatim after stripping surrounding whitespace and expanding
/// specifiers: `Description=`, `What=`, `Where=`, `Type=`, `Options=`, `OnCalendar=`.
/// `%` is doubled; a trailing backslash gets a space after it, which keeps the line from
/// continuing and which systemd strips again once it has read the line.
pub fn verbatim(value: &str) -> String {
    let mut out: String = value
        .chars()
        .map(|c| if c.is_control() { NO_CONTROL } else { c })
        .collect::<String>()
        .replace('%', "%%");
    if ends_in_escape(&out) {
        out.push(' ');
    }
    out
}

/// True when `line` ends in an odd run of backslashes: systemd would join the next line.
fn ends_in_escape(line: &str) -> bool {
    line.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1
}

/// One `ExecStart=` argument: quoted when needed, with `\`, `"` escaped, control
/// characters as C escapes, `%` doubled and `$` doubled so that no specifier or variable
/// expansion changes it.
pub fn exec_arg(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:=+,@".contains(&b))
        && !arg.starts_with(['-', '@', ':', '+', '!']);
    let escaped = arg.replace('%', "%%").replace('$', "$$");
    if plain {
        return escaped;
    }
    let mut out = String::from("\"");
    for c in escaped.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A path in a space-separated list (`ReadWritePaths=`, `RequiresMountsFor=`), which
/// systemd splits into words, removing quotes and backslashes (no C escapes): quoted when
/// it holds spaces, quotes or backslashes, specifiers doubled.
pub fn list_path(path: &str) -> String {
    let escaped: String = specifiers(path)
        .chars()
        .map(|c| if c.is_control() { NO_CONTROL } else { c })
        .collect();
    if escaped
        .chars()
        .all(|c| !c.is_whitespace() && c != '"' && c != '\'' && c != '\\')
    {
        return escaped;
    }
    let mut out = String::from("\"");
    for c in escaped.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The value of `LoadCredential=`/`LoadCredentialEncrypted=`: `name:path`. systemd strips
/// the value, takes the name up to the first `:` not escaped by a backslash, removing
/// backslashes, and the rest verbatim as the path.
pub fn credential(name: &str, path: &str) -> String {
    let mut out = String::new();
    for (i, c) in specifiers(name).chars().enumerate() {
        match c {
            // systemd strips whitespace before the name; an escaped one stays.
            '\\' | ':' | ' ' if c != ' ' || i == 0 => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(NO_CONTROL),
            c => out.push(c),
        }
    }
    out.push(':');
    out.push_str(&verbatim(path));
    out
}

/// `%` → `%%`: a literal in any setting that expands specifiers.
fn specifiers(value: &str) -> String {
    value.replace('%', "%%")
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_escape_like_systemd_escape() {
        assert_eq!(path_unit_name("/var/backups"), "var-backups");
        assert_eq!(path_unit_name("/mnt/nas-1/data"), "mnt-nas\\x2d1-data");
        assert_eq!(path_unit_name("/"), "-");
        assert_eq!(path_unit_name("/a b/é"), "a\\x20b-\\xc3\\xa9");
        assert_eq!(path_unit_name("/.hidden/x"), "\\x2ehidden-x");
        assert_eq!(path_unit_name("//x//y/"), "x-y");
    }

    #[test]
    fn names_keep_dashes_readable() {
        assert_eq!(name_fragment("db-dump"), "db-dump");
        assert_eq!(name_fragment("a b"), "a\\x20b");
        assert_eq!(name_fragment(".x"), "\\x2ex");
        assert_eq!(name_fragment("é%$"), "\\xc3\\xa9\\x25\\x24");
    }

    #[test]
    fn exec_arguments_survive_quoting() {
        assert_eq!(
            exec_arg("/etc/bakgen/jobs/etc.json"),
            "/etc/bakgen/jobs/etc.json"
        );
        assert_eq!(exec_arg("/x/a b.json"), "\"/x/a b.json\"");
        assert_eq!(exec_arg("/x/100%.json"), "\"/x/100%%.json\"");
        assert_eq!(exec_arg("$HOME"), "\"$$HOME\"");
        assert_eq!(exec_arg("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(exec_arg("-x"), "\"-x\"");
        assert_eq!(exec_arg("a\nb\r"), "\"a\\nb\\u000d\"");
    }

    #[test]
    fn no_value_ends_or_continues_a_line() {
        for value in ["web\\", "a\nExecStartPre=+/x", "x\r", "\\\\\\", "p\\\\"] {
            for out in [
                verbatim(value),
                list_path(value),
                exec_arg(value),
                credential(value, value),
            ] {
                assert!(!out.contains(['\n', '\r']), "{out:?}");
                assert!(!ends_in_escape(&out), "{out:?}");
            }
        }
        assert_eq!(verbatim("host web\\"), "host web\\ ");
        assert_eq!(verbatim("a\\\\"), "a\\\\");
        assert_eq!(verbatim("100%"), "100%%");
    }

    #[test]
    fn credential_names_escape_their_separator() {
        assert_eq!(credential("pass %i", "/etc/p %i"), "pass %%i:/etc/p %%i");
        assert_eq!(credential("a\\b", "/x:y\\"), "a\\\\b:/x:y\\ ");
        assert_eq!(credential(" a:b", "/x"), "\\ a\\:b:/x");
    }
}
