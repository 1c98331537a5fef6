//! Unit files read back the way systemd 252 reads them (`config_parse`, `parse_line`,
//! `extract_first_word`, specifier and variable expansion), small enough to review: what a
//! test finds here is what systemd would find.
//!
//! Lines end at `\n`, `\r` or NUL; a line ending in an odd run of backslashes continues on
//! the next (the backslash becomes a space); lines starting with `#` or `;` are comments,
//! also inside a continuation; a setting is `key=value`, both stripped of whitespace.

/// One setting, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub section: String,
    pub key: String,
    pub value: String,
}

const WHITESPACE: &[char] = &[' ', '\t', '\n', '\r'];

pub fn settings(text: &str) -> Result<Vec<Setting>, String> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut continuation: Option<String> = None;
    for line in text.split(['\n', '\r', '\0']) {
        let first = line.trim_start_matches(WHITESPACE);
        if first.starts_with(['#', ';']) {
            continue;
        }
        let mut joined = continuation.take().unwrap_or_default();
        joined.push_str(line);
        if joined.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1 {
            joined.pop();
            joined.push(' ');
            continuation = Some(joined);
            continue;
        }
        let l = joined.trim_matches(WHITESPACE);
        if l.is_empty() {
            continue;
        }
        if let Some(rest) = l.strip_prefix('[') {
            section = rest
                .strip_suffix(']')
                .ok_or_else(|| format!("bad section header {l:?}"))?
                .to_owned();
            continue;
        }
        let (key, value) = l
            .split_once('=')
            .ok_or_else(|| format!("missing '=' in {l:?}"))?;
        if section.is_empty() {
            return Err(format!("setting outside a section: {l:?}"));
        }
        out.push(Setting {
            section: section.clone(),
            key: key.trim_matches(WHITESPACE).to_owned(),
            value: value.trim_matches(WHITESPACE).to_owned(),
        });
    }
    if continuation.is_some() {
        return Err("the file ends inside a continued line".to_owned());
    }
    Ok(out)
}

/// Specifier expansion: `%%` is `%`; any other specifier stays visible as `⟨%x⟩`, so a
/// value that expands by accident never equals the literal it was meant to be.
pub fn specifiers(value: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(s) => out.push_str(&format!("⟨%{s}⟩")),
            None => return Err(format!("lone % at the end of {value:?}")),
        }
    }
    Ok(out)
}

/// `extract_first_word` repeated with `EXTRACT_UNQUOTE` (and `EXTRACT_CUNESCAPE` when
/// `c_escapes`): words split at whitespace, quotes removed, a backslash taking the next
/// character literally (or starting a C escape).
pub fn words(value: &str, c_escapes: bool) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| WHITESPACE.contains(c)) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (c, quote) {
                ('\\', _) => {
                    let e = chars
                        .next()
                        .ok_or_else(|| format!("trailing backslash in {value:?}"))?;
                    if c_escapes {
                        word.push(c_escape(e, &mut chars)?);
                    } else {
                        word.push(e);
                    }
                }
                (c, Some(q)) if c == q => quote = None,
                (c, Some(_)) => word.push(c),
                ('"' | '\'', None) => quote = Some(c),
                (c, None) if WHITESPACE.contains(&c) => break,
                (c, None) => word.push(c),
            }
        }
        if quote.is_some() {
            return Err(format!("unbalanced quotes in {value:?}"));
        }
        out.push(word);
    }
}

fn c_escape(e: char, rest: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<char, String> {
    let hex = |rest: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize| {
        let digits: String = (0..n).filter_map(|_| rest.next()).collect();
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .filter(|c| *c != '\0')
            .ok_or_else(|| format!("bad escape \\{e}{digits}"))
    };
    Ok(match e {
        'a' => '\u{7}',
        'b' => '\u{8}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\u{b}',
        's' => ' ',
        'x' => hex(rest, 2)?,
        'u' => hex(rest, 4)?,
        'U' => hex(rest, 8)?,
        '\\' | '"' | '\'' => e,
        other => return Err(format!("unknown escape \\{other}")),
    })
}

/// `$$` is `$`; any other `$` would expand a variable when the command runs.
pub fn variables(word: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('$') => out.push('$'),
            other => return Err(format!("variable expansion at ${other:?} in {word:?}")),
        }
    }
    Ok(out)
}

/// `path_simplify`: no empty or `.` components, no trailing slash.
pub fn simplify(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

/// What systemd makes of one setting's value, as a list (one element for single values).
pub fn decode(key: &str, value: &str) -> Result<Vec<String>, String> {
    Ok(match key {
        "ExecStart" => {
            let mut argv = words(value, true)?;
            if let Some(first) = argv.first_mut() {
                if first.starts_with(['-', '@', ':', '+', '!']) {
                    return Err(format!("ExecStart= with a prefix: {first:?}"));
                }
            }
            for w in argv.iter_mut() {
                *w = variables(&specifiers(w)?)?;
            }
            argv
        }
        "RequiresMountsFor" | "ReadWritePaths" => {
            let mut paths = Vec::new();
            for w in words(value, false)? {
                let w = specifiers(&w)?;
                let (prefix, path) = match w.strip_prefix('-') {
                    Some(p) => ("-", p),
                    None => ("", w.as_str()),
                };
                paths.push(format!("{prefix}{}", simplify(path)));
            }
            paths
        }
        "LoadCredential" | "LoadCredentialEncrypted" => {
            let mut name = String::new();
            let mut chars = value.chars();
            loop {
                match chars.next() {
                    Some('\\') => name.push(chars.next().ok_or("trailing backslash")?),
                    Some(':') | None => break,
                    Some(c) => name.push(c),
                }
            }
            vec![specifiers(&name)?, specifiers(chars.as_str())?]
        }
        "Where" => vec![simplify(&specifiers(value)?)],
        "Unit" | "OnFailure" => vec![unit_name(&specifiers(value)?)],
        _ => vec![specifiers(value)?],
    })
}

/// The path a `.mount`/`.automount` unit is named after (`systemd-escape --unescape --path`),
/// or the unescaped name of any other unit.
pub fn unit_name(file: &str) -> String {
    let (stem, suffix) = file.rsplit_once('.').unwrap_or((file, ""));
    let path = matches!(suffix, "mount" | "automount");
    let mut bytes = Vec::new();
    let mut rest = stem.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        let hex = tail
            .get(1..3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, tail.first(), hex) {
            (b'\\', Some(b'x'), Some(v)) => {
                bytes.push(v);
                rest = &tail[3..];
                continue;
            }
            (b'-', _, _) if path => bytes.push(b'/'),
            (b, _, _) => bytes.push(b),
        }
        rest = tail;
    }
    let name = String::from_utf8_lossy(&bytes).into_owned();
    if path {
        format!("{}.{suffix}", simplify(&format!("/{name}")))
    } else {
        format!("{name}.{suffix}")
    }
}
