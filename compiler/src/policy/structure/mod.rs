//! A strict KDL 2.0 validator that reads a policy file before the `kdl` crate does.
//!
//! The `kdl` parser recurses once per nested block, per part of a `/* */` comment and per
//! character it skips while recovering from an error, so hostile text (1,300 nested blocks,
//! 30,000 stray `}` or `=`) overflows the stack. This validator is iterative and linear: it
//! accepts only valid KDL 2.0 within bakgen's nesting limits, so the parser is given whole
//! only text it parses without error recovery. Anything else stops at its first problem,
//! and the parser sees the text only up to shortly after it (see [`Scan::parse_until`]).

use std::ops::Range;

mod strings;
#[cfg(test)]
mod tests;

use strings::classify;

/// What must follow `/-` after a node's block.
const AFTER_BLOCK: &str = "a newline before `/-` (after a block, `/-` comments out only a block)";

/// Blocks nested deeper than this are refused; a policy needs four levels.
pub const MAX_DEPTH: usize = 64;
/// `/* */` comments nested deeper than this are refused.
pub const MAX_COMMENT_DEPTH: usize = 64;
/// The parser recurses once per `*`, `/` and run of other characters in a `/* */` comment.
pub const MAX_COMMENT_PARTS: usize = 20_000;
/// How much text past the first problem the parser sees, so that it reports the problem in
/// its own words without meeting an unbounded amount of garbage.
const TAIL: usize = 200;

/// What the validator found wrong first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Blocks nest deeper than [`MAX_DEPTH`]; the span is the `{` that goes too deep.
    TooDeep,
    /// A `/* */` comment nests too deep or has too many parts.
    CommentTooComplex,
    /// Anything else that is not KDL 2.0.
    Syntax(&'static str),
}

/// The result of reading one file.
#[derive(Debug, Default)]
pub struct Scan {
    /// The first problem and where it is; `None` if the file is valid up to its end.
    pub problem: Option<(Problem, Range<usize>)>,
    /// The `{` of every block still open at the end of the file, outermost first.
    pub unclosed: Vec<usize>,
}

impl Scan {
    /// The prefix of the text the `kdl` parser may safely read: all of it when the file
    /// is valid (or only misses closing braces), else up to the end of the problem's line
    /// and at most [`TAIL`] bytes past the problem.
    pub fn parse_until(&self, text: &str) -> usize {
        let Some((_, at)) = &self.problem else {
            return text.len();
        };
        let line_end = text[at.start..]
            .find(['\n', '\r'])
            .map_or(text.len(), |i| at.start + i);
        // Never less than the first character of the problem, never the whole of a long word.
        let first = text[at.start..].chars().next().map_or(0, char::len_utf8);
        let mut end = line_end.min(at.start + TAIL).max(at.start + first);
        while !text.is_char_boundary(end) {
            end += 1;
        }
        end.min(text.len())
    }
}

/// Reads `text` as KDL 2.0 and reports its first problem.
pub fn scan(text: &str) -> Scan {
    let mut r = Reader {
        text,
        pos: 0,
        blocks: Vec::new(),
        node_slashdashed: false,
    };
    let problem = r.document().err();
    Scan {
        unclosed: if problem.is_none() {
            r.blocks.iter().map(|b| b.open).collect()
        } else {
            Vec::new()
        },
        problem,
    }
}

type Fail = (Problem, Range<usize>);

/// One open `{`: where, whether its node already had a real (not slashdashed) block, and
/// whether the node itself is slashdashed.
struct Block {
    open: usize,
    node_had_children: bool,
    slashdashed: bool,
    node_slashdashed: bool,
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
    blocks: Vec<Block>,
    /// Whether the node being read is commented out with `/-`: the parser accepts no `;`
    /// after such a node, only a newline.
    node_slashdashed: bool,
}

const UNICODE_SPACES: [char; 18] = [
    '\u{0009}', '\u{0020}', '\u{00A0}', '\u{1680}', '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}',
    '\u{2004}', '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200A}', '\u{202F}',
    '\u{205F}', '\u{3000}',
];

fn is_space(c: char) -> bool {
    UNICODE_SPACES.contains(&c)
}

fn is_newline(c: char) -> bool {
    matches!(
        c,
        '\r' | '\n' | '\u{0085}' | '\u{000B}' | '\u{000C}' | '\u{2028}' | '\u{2029}'
    )
}

/// Code points KDL 2.0 forbids anywhere in a document.
fn is_disallowed(c: char) -> bool {
    matches!(c,
        '\u{0000}'..='\u{0008}'
        | '\u{000E}'..='\u{001F}'
        | '\u{200E}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}')
}

fn is_ident_char(c: char) -> bool {
    !(is_space(c)
        || is_newline(c)
        || is_disallowed(c)
        || matches!(
            c,
            '\\' | '/' | '(' | ')' | '{' | '}' | '[' | ']' | ';' | '"' | '#' | '='
        ))
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.text[self.pos..].chars().nth(n)
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn fail<T>(&self, problem: Problem, len: usize) -> Result<T, Fail> {
        let end = (self.pos + len.max(1)).min(self.text.len());
        let mut end = end;
        while !self.text.is_char_boundary(end) {
            end += 1;
        }
        Err((problem, self.pos..end))
    }

    fn syntax<T>(&self, what: &'static str) -> Result<T, Fail> {
        let len = self.peek().map_or(0, char::len_utf8);
        self.fail(Problem::Syntax(what), len)
    }

    /// Skips one newline (CRLF counts as one).
    fn newline(&mut self) -> bool {
        match self.peek() {
            Some('\r') if self.rest().starts_with("\r\n") => self.pos += 2,
            Some(c) if is_newline(c) => self.pos += c.len_utf8(),
            _ => return false,
        }
        true
    }

    /// `// ...` up to and including the newline.
    fn line_comment(&mut self) -> Result<(), Fail> {
        self.pos += 2;
        while let Some(c) = self.peek() {
            if is_newline(c) {
                self.newline();
                return Ok(());
            }
            self.pos += c.len_utf8();
        }
        Ok(())
    }

    /// `/* ... */`, nested, counting the parts the parser recurses on.
    fn block_comment(&mut self) -> Result<(), Fail> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut parts = 0usize;
        let mut in_run = false;
        loop {
            let rest = self.rest();
            if rest.starts_with("/*") {
                depth += 1;
                parts += 1;
                in_run = false;
                if depth > MAX_COMMENT_DEPTH {
                    return self.fail(Problem::CommentTooComplex, 2);
                }
                self.pos += 2;
            } else if rest.starts_with("*/") {
                depth -= 1;
                parts += 1;
                in_run = false;
                self.pos += 2;
                if depth == 0 {
                    return Ok(());
                }
            } else if let Some(c) = rest.chars().next() {
                if c == '*' || c == '/' {
                    parts += 1;
                    in_run = false;
                } else if !in_run {
                    parts += 1;
                    in_run = true;
                }
                self.pos += c.len_utf8();
            } else {
                self.pos = start;
                return self.fail(Problem::Syntax("a `*/` closing this comment"), 2);
            }
            if parts > MAX_COMMENT_PARTS {
                self.pos = start;
                return self.fail(Problem::CommentTooComplex, 2);
            }
        }
    }

    /// `node-space*`: spaces, `/* */` comments and escaped newlines. True if any.
    fn node_space(&mut self) -> Result<bool, Fail> {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(c) if is_space(c) => self.pos += c.len_utf8(),
                Some('/') if self.rest().starts_with("/*") => self.block_comment()?,
                Some('\\') => {
                    let at = self.pos;
                    self.pos += 1;
                    while let Some(c) = self.peek().filter(|c| is_space(*c)) {
                        self.pos += c.len_utf8();
                    }
                    if self.rest().starts_with("//") {
                        self.line_comment()?;
                    } else if !self.newline() && self.peek().is_some() {
                        self.pos = at;
                        return self.syntax("a newline after `\\`");
                    }
                }
                _ => return Ok(self.pos > start),
            }
        }
    }

    /// `line-space*`: node-space, newlines and `//` comments.
    fn line_space(&mut self) -> Result<(), Fail> {
        loop {
            self.node_space()?;
            if self.rest().starts_with("//") {
                self.line_comment()?;
            } else if !self.newline() {
                return Ok(());
            }
        }
    }

    /// Is the next character one that may follow a value?
    fn at_value_end(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) || is_newline(c) => true,
            Some('=' | ')' | '{' | '}' | ';' | '\\') => true,
            Some('/') => matches!(self.peek_at(1), Some('/' | '*')),
            Some(_) => false,
        }
    }

    fn document(&mut self) -> Result<(), Fail> {
        if self.peek() == Some('\u{FEFF}') {
            self.pos += 3;
        }
        loop {
            self.line_space()?;
            match self.peek() {
                None => return Ok(()),
                Some('}') => {
                    let Some(block) = self.blocks.pop() else {
                        return self.syntax("a `}` only after a `{`");
                    };
                    self.pos += 1;
                    let had = block.node_had_children || !block.slashdashed;
                    self.node_slashdashed = block.node_slashdashed;
                    self.after_children(had)?;
                }
                Some(_) => {
                    self.node_slashdashed = self.rest().starts_with("/-");
                    if self.node_slashdashed {
                        self.pos += 2;
                        self.line_space()?;
                        if matches!(self.peek(), None | Some('}')) || self.rest().starts_with("/-")
                        {
                            return self.syntax("a node after `/-`");
                        }
                    }
                    self.node()?;
                }
            }
        }
    }

    fn open_block(&mut self, node_had_children: bool, slashdashed: bool) -> Result<(), Fail> {
        if self.blocks.len() >= MAX_DEPTH {
            return self.fail(Problem::TooDeep, 1);
        }
        self.blocks.push(Block {
            open: self.pos,
            node_had_children,
            slashdashed,
            node_slashdashed: self.node_slashdashed,
        });
        self.pos += 1;
        Ok(())
    }

    /// A node: optional type, name, entries, blocks, terminator.
    fn node(&mut self) -> Result<(), Fail> {
        if self.peek() == Some('(') {
            self.type_annotation()?;
            self.node_space()?;
        }
        match self.peek() {
            Some('{') => return self.syntax("a node name before the block"),
            Some(c) if !matches!(c, '"' | '#') && !is_ident_char(c) => {
                return self.syntax("a node name")
            }
            _ => {}
        }
        if !self.value()? {
            return self.syntax("a node name that is a string");
        }
        loop {
            let spaced = self.node_space()?;
            match self.peek() {
                None => return Ok(()),
                Some('{') => return self.open_block(false, false),
                Some('}') => return Ok(()),
                _ if self.terminator()? => return Ok(()),
                _ if !spaced => return self.syntax("a space between values"),
                Some(_) => {
                    let slashdash = self.rest().starts_with("/-");
                    if slashdash {
                        self.pos += 2;
                        self.line_space()?;
                        if self.peek() == Some('{') {
                            return self.open_block(false, true);
                        }
                    }
                    self.entry()?;
                }
            }
        }
    }

    /// After a node's block closed: more slashdashed blocks, then a terminator.
    fn after_children(&mut self, had_children: bool) -> Result<(), Fail> {
        self.node_space()?;
        match self.peek() {
            None | Some('}') => Ok(()),
            _ if self.terminator()? => Ok(()),
            Some('/') if self.rest().starts_with("/-") => {
                self.pos += 2;
                self.line_space()?;
                if self.peek() != Some('{') {
                    return self.syntax(AFTER_BLOCK);
                }
                self.open_block(had_children, true)
            }
            Some('{') if !had_children => self.open_block(had_children, false),
            Some(_) => self.syntax("a newline or `;` after the block"),
        }
    }

    /// `;`, a newline or a `//` comment ends a node.
    fn terminator(&mut self) -> Result<bool, Fail> {
        if self.peek() == Some(';') {
            if self.node_slashdashed {
                return self.syntax("a newline after a node commented out with /- (not `;`)");
            }
            self.pos += 1;
            return Ok(true);
        }
        if self.rest().starts_with("//") {
            self.line_comment()?;
            return Ok(true);
        }
        Ok(self.newline())
    }

    /// `(type)`.
    fn type_annotation(&mut self) -> Result<(), Fail> {
        self.pos += 1;
        self.node_space()?;
        if !self.value()? {
            return self.syntax("a type name that is a string");
        }
        self.node_space()?;
        if self.peek() != Some(')') {
            return self.syntax("a `)` closing the type");
        }
        self.pos += 1;
        Ok(())
    }

    /// An argument or a `key=value` property.
    fn entry(&mut self) -> Result<(), Fail> {
        let typed = self.peek() == Some('(');
        if typed {
            self.type_annotation()?;
            self.node_space()?;
        }
        let is_string = self.value()?;
        let back = self.pos;
        self.node_space()?;
        if self.peek() != Some('=') {
            self.pos = back;
            return Ok(());
        }
        if typed || !is_string {
            return self.syntax("a property name that is a string");
        }
        self.pos += 1;
        self.node_space()?;
        if self.peek() == Some('(') {
            self.type_annotation()?;
            self.node_space()?;
        }
        self.value()?;
        Ok(())
    }

    /// A string, number or keyword followed by something that may end a value. True if it
    /// is a string (the only kind allowed as a name).
    fn value(&mut self) -> Result<bool, Fail> {
        let start = self.pos;
        let is_string = match self.peek() {
            Some('"') => {
                self.quoted()?;
                true
            }
            Some('#') => {
                let hashes = self.rest().bytes().take_while(|b| *b == b'#').count();
                if self.rest()[hashes..].starts_with('"') {
                    self.raw(hashes)?;
                    true
                } else {
                    self.pos += 1;
                    let word = self.word();
                    if !matches!(word, "true" | "false" | "null" | "inf" | "-inf" | "nan") {
                        self.pos = start;
                        return self.syntax("a keyword (#true, #false, #null, #inf, #-inf, #nan)");
                    }
                    false
                }
            }
            _ => {
                let word = self.word();
                match classify(word) {
                    Some(is_string) => is_string,
                    None => {
                        self.pos = start;
                        return self.fail(Problem::Syntax("a valid KDL 2.0 value"), word.len());
                    }
                }
            }
        };
        if !self.at_value_end() {
            return self.syntax("a space, newline or `;` after the value");
        }
        Ok(is_string)
    }

    fn word(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|c| is_ident_char(*c)) {
            self.pos += c.len_utf8();
        }
        &self.text[start..self.pos]
    }
}
