//! What any string in a policy may hold. Every string reaches a unit file, a job spec or a
//! command line, and none of them can carry a control character: in a unit a newline or
//! carriage return ends the setting (and starts a new one), and in a job spec it reaches
//! rsync, restic or a shell. One rule, applied by the string accessor to every value.

use crate::diagnostic::Diagnostic;
use crate::source::Span;

/// The first control character in `text` (C0, DEL, C1), with its byte offset.
pub fn control_character(text: &str) -> Option<(usize, char)> {
    text.char_indices().find(|(_, c)| c.is_control())
}

/// `span` is the character itself when the string maps onto the file, else the value.
pub fn control_character_error(what: &str, c: char, span: Span) -> Diagnostic {
    let name = match c {
        '\n' => "a newline".to_owned(),
        '\r' => "a carriage return".to_owned(),
        '\t' => "a tab".to_owned(),
        '\0' => "a NUL byte".to_owned(),
        c => format!("the control character U+{:04X}", u32::from(c)),
    };
    // `what` is a property or node name (`file`) or a description ("a host name").
    let what = match what.split_once(' ') {
        Some(("a" | "an", rest)) => format!("the {rest}"),
        Some(_) => what.to_owned(),
        None => format!("`{what}`"),
    };
    Diagnostic::error(
        "bakgen::control-character",
        format!("{what} holds {name}, which no unit file or job spec can carry"),
        span,
    )
    .label("control character")
    .help("write the value on one line, without tabs or other control characters; a file whose name holds one must be renamed (or reached through a folder above it) before a policy can name it")
}
