//! The subset of Markdown the docs are written in, as a man page: `#`–`###` headings,
//! paragraphs, fenced code, `-` and `1.` lists, tables, and inline code, `**bold**` and
//! links. A table becomes a list of tagged paragraphs (its first column the tag), which
//! reads well at any terminal width where a table would not.

use crate::roff::{bold, line, literal, quoted, text};

/// What the page is called and what its NAME line says.
pub struct PageHead<'a> {
    /// `bakgen.policy`
    pub name: &'a str,
    /// `5`
    pub section: &'a str,
    /// The NAME line after the dash.
    pub summary: &'a str,
    /// The centre footer: `bakgen 0.1.0`.
    pub source: &'a str,
}

/// The man page of `markdown`: the level-1 heading is left out (the NAME line says it),
/// what precedes the first `##` is the DESCRIPTION, each `##` a section, each `###` a
/// subsection.
pub fn to_roff(markdown: &str, head: &PageHead<'_>) -> String {
    let mut out = Out(Vec::new());
    out.request(&format!(
        "TH {} {} \"\" {} \"\"",
        quoted(&head.name.to_uppercase()),
        head.section,
        quoted(head.source)
    ));
    out.request("SH NAME");
    out.text(&format!(
        "{} \\- {}",
        literal(head.name),
        text(head.summary)
    ));
    out.request("SH DESCRIPTION");
    let lines: Vec<&str> = markdown.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.trim().is_empty() || l.starts_with("# ") {
            i += 1;
        } else if let Some(title) = l.strip_prefix("## ") {
            out.request(&format!("SH {}", quoted(&title.trim().to_uppercase())));
            i += 1;
        } else if let Some(title) = l.strip_prefix("### ").or_else(|| l.strip_prefix("#### ")) {
            out.request(&format!("SS {}", quoted(title.trim())));
            i += 1;
        } else if l.starts_with("```") {
            i = code(&lines, i, &mut out);
        } else if l.starts_with('|') {
            i = table(&lines, i, &mut out);
        } else if let Some(mark) = item_mark(l) {
            i = item(&lines, i, mark, &mut out);
        } else {
            i = paragraph(&lines, i, &mut out);
        }
    }
    out.0.join("\n") + "\n"
}

struct Out(Vec<String>);

impl Out {
    fn request(&mut self, r: &str) {
        self.0.push(format!(".{r}"));
    }
    fn text(&mut self, t: &str) {
        self.0.push(line(t));
    }
}

/// A fenced block, shown as written, indented; returns the line after its closing fence.
fn code(lines: &[&str], start: usize, out: &mut Out) -> usize {
    out.request("PP");
    out.request("RS 4");
    out.request("nf");
    let mut i = start + 1;
    while i < lines.len() && !lines[i].starts_with("```") {
        out.text(&text(lines[i]));
        i += 1;
    }
    out.request("fi");
    out.request("RE");
    i + 1
}

/// Lines of a paragraph: up to a blank line or the start of another block.
fn paragraph(lines: &[&str], start: usize, out: &mut Out) -> usize {
    let mut i = start;
    let mut words: Vec<&str> = Vec::new();
    while i < lines.len() && !ends_paragraph(lines[i]) {
        words.push(lines[i].trim());
        i += 1;
    }
    out.request("PP");
    out.text(&inline(&words.join(" ")));
    i
}

fn ends_paragraph(l: &str) -> bool {
    l.trim().is_empty()
        || l.starts_with('#')
        || l.starts_with("```")
        || l.starts_with('|')
        || item_mark(l).is_some()
}

/// `- ` or `1. ` at the start of a list item: what the item is marked with.
fn item_mark(l: &str) -> Option<String> {
    if l.starts_with("- ") {
        return Some("\\(bu".to_owned());
    }
    let digits: String = l.chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty() && l[digits.len()..].starts_with(". ")).then(|| format!("{digits}."))
}

/// One list item and its indented continuation lines.
fn item(lines: &[&str], start: usize, mark: String, out: &mut Out) -> usize {
    let first = lines[start];
    let body = first[first.find(' ').map_or(0, |p| p + 1)..].trim();
    let mut words = vec![body];
    let mut i = start + 1;
    while i < lines.len() && lines[i].starts_with("  ") && !lines[i].trim().is_empty() {
        words.push(lines[i].trim());
        i += 1;
    }
    out.request(&format!("IP {mark} 4"));
    out.text(&inline(&words.join(" ")));
    i
}

/// A table as tagged paragraphs: the first cell is the tag; with more than two columns the
/// middle cells follow as `header: value`, then the last cell on its own line.
fn table(lines: &[&str], start: usize, out: &mut Out) -> usize {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut i = start;
    while i < lines.len() && lines[i].starts_with('|') {
        rows.push(cells(lines[i]));
        i += 1;
    }
    let header = rows.first().cloned().unwrap_or_default();
    let body = rows.iter().skip(1).filter(|r| !is_rule(r));
    for row in body {
        out.request("TP");
        let Some((tag, rest)) = row.split_first() else {
            continue;
        };
        out.text(&inline(tag));
        let Some((last, middle)) = rest.split_last() else {
            continue;
        };
        let fields: Vec<String> = middle
            .iter()
            .enumerate()
            .map(|(n, v)| match header.get(n + 1).filter(|h| !h.is_empty()) {
                Some(h) => format!("\\fI{}\\fR: {}", text(h), inline(v)),
                None => inline(v),
            })
            .collect();
        if !fields.is_empty() {
            out.text(&(fields.join("; ") + "."));
            out.request("br");
        }
        out.text(&inline(last));
    }
    out.request("PP");
    i
}

/// The cells of a table row: split at `|` unless escaped as `\|`.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cell).trim().to_owned()),
            c => cell.push(c),
        }
    }
    cells.push(cell.trim().to_owned());
    cells
}

/// The `| --- | :---: |` line under a table's header.
fn is_rule(row: &[String]) -> bool {
    row.iter()
        .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':')))
}

/// Inline Markdown: code spans (any run of backticks, closed by the same run) and
/// `**bold**` in bold, links as their text (and the address unless it is a link within
/// the page), everything else as text.
pub fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            let run = rest.len() - rest.trim_start_matches('`').len();
            let fence = &rest[..run];
            if let Some(end) = rest[run..].find(fence) {
                let code = &rest[run..run + end];
                let code = match code.strip_prefix(' ').and_then(|c| c.strip_suffix(' ')) {
                    Some(inner) if !inner.trim().is_empty() => inner,
                    _ => code,
                };
                out.push_str(&bold(code));
                rest = &rest[run + end + run..];
                continue;
            }
            out.push_str(fence);
            rest = &rest[run..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("**") {
            if let Some(end) = after.find("**") {
                out.push_str(&format!("\\fB{}\\fR", inline(&after[..end])));
                rest = &after[end + 2..];
                continue;
            }
        }
        if c == '[' {
            if let Some((label, target, used)) = link(rest) {
                out.push_str(&inline(label));
                if !target.starts_with('#') {
                    out.push_str(&format!(" <{}>", text(target)));
                }
                rest = &rest[used..];
                continue;
            }
        }
        out.push_str(&text(&c.to_string()));
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `[label](target)` at the start of `s`: the label, the target and the bytes used.
fn link(s: &str) -> Option<(&str, &str, usize)> {
    let close = s.find("](")?;
    let label = &s[1..close];
    if label.contains('[') || label.contains(']') {
        return None;
    }
    let after = &s[close + 2..];
    let end = after.find(')')?;
    Some((label, &after[..end], close + 2 + end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_code_bold_and_links() {
        assert_eq!(inline("use `a-b` now"), "use \\fBa\\-b\\fR now");
        assert_eq!(
            inline("each ```` ```kdl ```` block"),
            "each \\fB```kdl\\fR block"
        );
        assert_eq!(inline("**stop** it"), "\\fBstop\\fR it");
        assert_eq!(inline("see [Retention](#retention)."), "see Retention.");
        assert_eq!(
            inline("[KDL 2.0](https://kdl.dev)"),
            "KDL 2.0 <https://kdl.dev>"
        );
        assert_eq!(inline("a ` lone tick"), "a ` lone tick");
    }

    #[test]
    fn table_cells_split_at_unescaped_pipes() {
        assert_eq!(
            cells("| `a \\| b` | c |"),
            vec!["`a | b`".to_owned(), "c".to_owned()]
        );
        assert!(is_rule(&cells("| --- | :-: |")));
    }
}
