//! KDL 2.0 literals: quoted, raw and multi-line strings with their escapes, and bare words
//! (identifiers and numbers).

use std::ops::Range;

use super::{is_disallowed, is_newline, is_space, Fail, Problem, Reader};

impl Reader<'_> {
    /// A `\` escape in a quoted string.
    fn escape(&mut self) -> Result<(), Fail> {
        let at = self.pos;
        self.pos += 1;
        match self.peek() {
            Some('\\' | '"' | 'b' | 'f' | 'n' | 'r' | 't' | 's') => self.pos += 1,
            Some('u') if self.rest().starts_with("u{") => {
                let digits = self.rest()[2..]
                    .bytes()
                    .take_while(u8::is_ascii_hexdigit)
                    .count();
                let ok = (1..=6).contains(&digits)
                    && self.rest()[2 + digits..].starts_with('}')
                    && u32::from_str_radix(&self.rest()[2..2 + digits], 16)
                        .ok()
                        .and_then(char::from_u32)
                        .is_some();
                if !ok {
                    self.pos = at;
                    return self.fail(Problem::Syntax("a valid \\u{...} escape"), 2);
                }
                self.pos += 3 + digits;
            }
            Some(c) if is_space(c) || is_newline(c) => {
                while let Some(c) = self.peek().filter(|c| is_space(*c) || is_newline(*c)) {
                    self.pos += c.len_utf8();
                }
            }
            _ => {
                self.pos = at;
                return self.fail(Problem::Syntax("a valid escape"), 2);
            }
        }
        Ok(())
    }

    pub(super) fn quoted(&mut self) -> Result<(), Fail> {
        let start = self.pos;
        if self.rest().starts_with("\"\"\"") {
            return self.multi_line(start, 0);
        }
        self.pos += 1;
        loop {
            match self.peek() {
                Some('"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some('\\') => self.escape()?,
                Some(c) if is_disallowed(c) => {
                    return self
                        .syntax("no character KDL forbids (controls, direction marks, U+FEFF)")
                }
                Some(c) if !is_newline(c) => self.pos += c.len_utf8(),
                _ => {
                    self.pos = start;
                    return self.syntax("a string closed on its line");
                }
            }
        }
    }

    pub(super) fn raw(&mut self, hashes: usize) -> Result<(), Fail> {
        let start = self.pos;
        if self.rest()[hashes..].starts_with("\"\"\"") {
            return self.multi_line(start, hashes);
        }
        self.pos += hashes + 1;
        let close = format!("\"{}", "#".repeat(hashes));
        loop {
            if self.rest().starts_with(&close) {
                self.pos += close.len();
                return Ok(());
            }
            match self.peek() {
                Some(c) if is_disallowed(c) => {
                    return self
                        .syntax("no character KDL forbids (controls, direction marks, U+FEFF)")
                }
                Some(c) if !is_newline(c) => self.pos += c.len_utf8(),
                _ => {
                    self.pos = start;
                    return self.syntax("a raw string closed on its line");
                }
            }
        }
    }

    /// `"""` (raw when `hashes` > 0): a newline right after the quotes, lines that all start
    /// with the closing line's indentation (or are blank), and `"""` alone on its line.
    fn multi_line(&mut self, start: usize, hashes: usize) -> Result<(), Fail> {
        let close = format!("\"\"\"{}", "#".repeat(hashes));
        self.pos += hashes + 3;
        if !self.newline() {
            self.pos = start;
            return self.syntax("a newline right after the opening \"\"\"");
        }
        let mut lines: Vec<Range<usize>> = Vec::new();
        loop {
            let line_start = self.pos;
            let indent = self.rest().len() - self.rest().trim_start_matches(is_space).len();
            if self.rest()[indent..].starts_with(&close) {
                self.pos += indent + close.len();
                let prefix = &self.text[line_start..line_start + indent];
                for line in lines {
                    let body = &self.text[line];
                    if !body.starts_with(prefix) && !body.chars().all(is_space) {
                        self.pos = start;
                        return self
                            .syntax("lines indented at least as much as the closing \"\"\"");
                    }
                }
                return Ok(());
            }
            loop {
                match self.peek() {
                    None => {
                        self.pos = start;
                        return self.syntax("a multi-line string that is closed");
                    }
                    Some(c) if is_newline(c) => break,
                    Some(c) if is_disallowed(c) => {
                        return self
                            .syntax("no character KDL forbids (controls, direction marks, U+FEFF)")
                    }
                    Some('\\') if hashes == 0 => {
                        if matches!(self.peek_at(1), Some(c) if is_space(c) || is_newline(c)) {
                            return self.syntax("no escaped line break in a multi-line string");
                        }
                        self.escape()?;
                    }
                    Some(_) if self.rest().starts_with(&close) => {
                        return self.syntax("\"\"\" alone on its line");
                    }
                    Some(c) => self.pos += c.len_utf8(),
                }
            }
            lines.push(line_start..self.pos);
            self.newline();
        }
    }
}

/// A bare word: `Some(true)` for an identifier string, `Some(false)` for a number, `None`
/// if it is neither.
pub(super) fn classify(word: &str) -> Option<bool> {
    let unsigned = word.strip_prefix(['+', '-']).unwrap_or(word);
    let first = unsigned.chars().next();
    if first.is_some_and(|c| c.is_ascii_digit()) {
        return is_number(unsigned).then_some(false);
    }
    if word.is_empty()
        || (unsigned.starts_with('.') && unsigned[1..].starts_with(|c: char| c.is_ascii_digit()))
        || matches!(word, "true" | "false" | "null" | "inf" | "-inf" | "nan")
    {
        return None;
    }
    Some(true)
}

fn is_number(s: &str) -> bool {
    let digits = |s: &str, ok: fn(u8) -> bool| {
        s.bytes().next().is_some_and(ok) && s.bytes().all(|b| ok(b) || b == b'_')
    };
    if let Some(h) = s.strip_prefix("0x") {
        return digits(h, |b| b.is_ascii_hexdigit());
    }
    if let Some(o) = s.strip_prefix("0o") {
        return digits(o, |b| (b'0'..=b'7').contains(&b));
    }
    if let Some(b) = s.strip_prefix("0b") {
        return digits(b, |b| b == b'0' || b == b'1');
    }
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let dec = |b: u8| b.is_ascii_digit();
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => digits(int, dec) && digits(frac, dec),
        None => digits(mantissa, dec),
    };
    mantissa_ok && exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e), dec))
}
