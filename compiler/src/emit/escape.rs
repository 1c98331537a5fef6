//! systemd's quoting and escaping rules, so that every value in a unit file is read back by
//! systemd as exactly what the policy said (systemd.unit(5), systemd.service(5)).

use std::fmt::Write;

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

/// `%` → `%%`: a literal in any setting that expands specifiers.
pub fn specifiers(value: &str) -> String {
    value.replace('%', "%%")
}

/// One `ExecStart=` argument: quoted when needed, with `\`, `"` escaped, `%` doubled and
/// `$` doubled so that no specifier or variable expansion changes it.
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
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A path in a space-separated list (`ReadWritePaths=`, `RequiresMountsFor=`): quoted when
/// it holds spaces or quotes, specifiers doubled.
pub fn list_path(path: &str) -> String {
    let escaped = specifiers(path);
    if escaped
        .bytes()
        .all(|b| !b.is_ascii_whitespace() && b != b'"' && b != b'\'' && b != b'\\')
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
    }
}
