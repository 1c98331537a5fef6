//! `bakrun retention [--keep-… N|all]… [--keep-within… D]… < TIMESTAMPS`: which of the given snapshot times a
//! retention rule keeps, and why.
//!
//! Input: one RFC 3339 timestamp per line; surrounding whitespace and blank lines are
//! ignored. Any bad line fails the whole run (exit 2, every bad line named on stderr,
//! nothing on stdout): a preview of a list we only half read would mislead.
//!
//! Output, newest first, each timestamp echoed exactly as given (trimmed):
//! `{"keep": [...], "remove": [...], "reasons": {"<timestamp>": ["daily", ...]}}` with
//! `--format json`, a table otherwise. `reasons` has one entry per kept timestamp; a
//! timestamp given more than once is still one key, holding the reasons of all its kept
//! copies (each reason once), because JSON objects cannot repeat a key.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};

use bakgen_spec::exit::Exit;
use bakrun::retention::{self, Count, Reason};
use bakrun::spec::Retention;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct RetentionArgs {
    /// Keep the N newest snapshots. Every count takes `all` (or restic's `-1`, `unlimited`).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub keep_last: Option<Count>,
    /// Keep the newest snapshot of each of the last N hours that have one.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub keep_hourly: Option<Count>,
    /// Keep the newest snapshot of each of the last N days that have one.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub keep_daily: Option<Count>,
    /// Keep the newest snapshot of each of the last N ISO weeks that have one.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub keep_weekly: Option<Count>,
    /// Keep the newest snapshot of each of the last N months that have one.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub keep_monthly: Option<Count>,
    /// Keep the newest snapshot of each of the last N years that have one.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub keep_yearly: Option<Count>,
    /// Keep every snapshot newer than DURATION before the newest one (e.g. 3D12h, 6M, 1Y).
    /// Units: s, m (minutes), h, D, W, M (months), Y; restic's `6m` (months) is `6M` here.
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<String>,
    /// Keep the newest snapshot of each hour among those within DURATION of the newest.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_hourly: Option<String>,
    /// Keep the newest snapshot of each day among those within DURATION of the newest.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_daily: Option<String>,
    /// Keep the newest snapshot of each ISO week among those within DURATION of the newest.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_weekly: Option<String>,
    /// Keep the newest snapshot of each month among those within DURATION of the newest.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_monthly: Option<String>,
    /// Keep the newest snapshot of each year among those within DURATION of the newest.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_yearly: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

impl RetentionArgs {
    pub fn rules(&self) -> Retention {
        Retention {
            keep_last: self.keep_last,
            keep_hourly: self.keep_hourly,
            keep_daily: self.keep_daily,
            keep_weekly: self.keep_weekly,
            keep_monthly: self.keep_monthly,
            keep_yearly: self.keep_yearly,
            keep_within: self.keep_within.clone(),
            keep_within_hourly: self.keep_within_hourly.clone(),
            keep_within_daily: self.keep_within_daily.clone(),
            keep_within_weekly: self.keep_within_weekly.clone(),
            keep_within_monthly: self.keep_within_monthly.clone(),
            keep_within_yearly: self.keep_within_yearly.clone(),
        }
    }
}

/// One bad input line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("line {line}: not UTF-8 text")]
    NotUtf8 { line: usize },
    #[error("line {line}: `{text}` is not an RFC 3339 timestamp: {reason} (expected e.g. 2026-04-01T02:30:00+02:00)")]
    BadTimestamp {
        line: usize,
        text: String,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error(transparent)]
    Rules(#[from] retention::RetentionError),
    #[error("{} bad line(s) on standard input", .0.len())]
    Input(Vec<LineError>),
}

/// One timestamp of the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub text: &'a str,
    pub keep: bool,
    pub reasons: Vec<Reason>,
}

/// The preview, newest first. `first_of_instant[i]` is true when entry `i` starts a run of
/// entries at the same instant (used to merge the reasons of repeated timestamps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview<'a> {
    pub entries: Vec<Entry<'a>>,
    first_of_instant: Vec<bool>,
}

/// Parses `input` and applies `rules` as of `now`.
pub fn preview<'a>(
    input: &'a [u8],
    rules: &Retention,
    now: DateTime<Utc>,
) -> Result<Preview<'a>, PreviewError> {
    let (texts, times) = parse_lines(input).map_err(PreviewError::Input)?;
    let eval = retention::evaluate(&times, rules, now)?;
    let mut decisions = eval.decisions;
    let mut entries = Vec::with_capacity(texts.len());
    let mut first_of_instant = Vec::with_capacity(texts.len());
    let mut previous: Option<DateTime<FixedOffset>> = None;
    for &i in &eval.newest_first {
        let d = std::mem::take(&mut decisions[i].reasons);
        first_of_instant.push(previous != Some(times[i]));
        previous = Some(times[i]);
        entries.push(Entry {
            text: texts[i],
            keep: decisions[i].keep,
            reasons: d,
        });
    }
    Ok(Preview {
        entries,
        first_of_instant,
    })
}

/// The good lines of the input: their trimmed text and parsed time, in input order.
pub type Lines<'a> = (Vec<&'a str>, Vec<DateTime<FixedOffset>>);

/// Splits `input` into trimmed, non-blank lines and parses each; collects every bad line.
pub fn parse_lines(input: &[u8]) -> Result<Lines<'_>, Vec<LineError>> {
    let mut texts = Vec::new();
    let mut times = Vec::new();
    let mut errors = Vec::new();
    for (n, raw) in input.split(|&b| b == b'\n').enumerate() {
        let line = n + 1;
        let raw = raw.trim_ascii();
        if raw.is_empty() {
            continue;
        }
        let Ok(text) = std::str::from_utf8(raw) else {
            errors.push(LineError::NotUtf8 { line });
            continue;
        };
        match DateTime::parse_from_rfc3339(text) {
            Ok(t) => {
                texts.push(text);
                times.push(t);
            }
            Err(e) => errors.push(LineError::BadTimestamp {
                line,
                text: shorten(text),
                reason: explain(text, e),
            }),
        }
    }
    if errors.is_empty() {
        Ok((texts, times))
    } else {
        Err(errors)
    }
}

/// chrono's reason, made specific for the most common mistake: a time with no offset.
fn explain(text: &str, e: chrono::ParseError) -> String {
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .any(|f| NaiveDateTime::parse_from_str(text, f).is_ok());
    if naive {
        "it has no UTC offset; add `Z` or one such as `+02:00`".to_owned()
    } else {
        e.to_string()
    }
}

/// Long garbage lines are cut so that the message stays readable.
fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

impl Preview<'_> {
    /// JSON as documented in the module header, one line. Written by hand rather than
    /// through serde: keys must stay newest first, and it is a third of the run time on
    /// 100k timestamps otherwise.
    pub fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        for (key, keep) in [("{\"keep\":[", true), ("],\"remove\":[", false)] {
            out.write_all(key.as_bytes())?;
            let mut first = true;
            for e in self.entries.iter().filter(|e| e.keep == keep) {
                if !first {
                    out.write_all(b",")?;
                }
                first = false;
                write_json_str(out, e.text)?;
            }
        }
        out.write_all(b"],\"reasons\":{")?;
        for (k, (text, reasons)) in self.merged_reasons().iter().enumerate() {
            if k > 0 {
                out.write_all(b",")?;
            }
            write_json_str(out, text)?;
            out.write_all(b":[")?;
            for (j, r) in reasons.iter().enumerate() {
                if j > 0 {
                    out.write_all(b",")?;
                }
                write_json_str(out, r.as_str())?;
            }
            out.write_all(b"]")?;
        }
        out.write_all(b"}}\n")
    }

    /// A table: timestamp, keep/remove, reasons; then a count.
    pub fn write_human(&self, out: &mut impl Write) -> io::Result<()> {
        // Parsed RFC 3339 text is ASCII, so bytes are columns; padding by hand is much
        // faster than `{:width$}` over 100k lines.
        let width = self
            .entries
            .iter()
            .map(|e| e.text.len())
            .max()
            .unwrap_or(0)
            .max("TIMESTAMP".len());
        let spaces = vec![b' '; width + 2];
        let cell = |out: &mut dyn Write, text: &str| -> io::Result<()> {
            out.write_all(text.as_bytes())?;
            out.write_all(&spaces[..width.saturating_sub(text.len()) + 2])
        };
        cell(out, "TIMESTAMP")?;
        out.write_all(b"ACTION  REASONS\n")?;
        let mut kept = 0usize;
        for e in &self.entries {
            cell(out, e.text)?;
            if e.keep {
                kept += 1;
                out.write_all(b"keep  ")?;
            } else {
                out.write_all(b"remove")?;
            }
            if e.keep && e.reasons.is_empty() {
                out.write_all(b"  (no rules: everything is kept)")?;
            }
            for (k, r) in e.reasons.iter().enumerate() {
                out.write_all(if k == 0 { b"  " } else { b", " })?;
                out.write_all(r.as_str().as_bytes())?;
            }
            out.write_all(b"\n")?;
        }
        writeln!(out, "{kept} kept, {} removed", self.entries.len() - kept)
    }

    /// Reasons per distinct text, newest first, the reasons of repeated texts merged.
    fn merged_reasons(&self) -> Vec<(&str, Vec<Reason>)> {
        let mut out: Vec<(&str, Vec<Reason>)> = Vec::new();
        // Equal texts are equal instants, so they sit in one run of equal instants:
        // look for a repeat only inside the current run.
        let mut run_start = 0;
        for (e, &first) in self.entries.iter().zip(&self.first_of_instant) {
            if first {
                run_start = out.len();
            }
            if !e.keep {
                continue;
            }
            match out[run_start..].iter_mut().find(|(t, _)| *t == e.text) {
                Some((_, reasons)) => {
                    for r in &e.reasons {
                        if !reasons.contains(r) {
                            reasons.push(*r);
                        }
                    }
                }
                None => out.push((e.text, e.reasons.clone())),
            }
        }
        out
    }
}

/// At most this many bad lines are listed; the rest are counted.
const MAX_LISTED_ERRORS: usize = 20;

pub fn run(args: RetentionArgs) -> ExitCode {
    let rules = args.rules();
    // Check the rules before reading anything, so a typo fails fast even on a tty.
    if let Err(e) = retention::evaluate(&[], &rules, Utc::now()) {
        eprintln!("bakrun retention: {e}");
        return ExitCode::from(Exit::BadInput);
    }
    let mut input = Vec::new();
    if let Err(e) = io::stdin().lock().read_to_end(&mut input) {
        eprintln!("bakrun retention: cannot read standard input: {e}");
        return ExitCode::from(Exit::BadInput);
    }
    let preview = match preview(&input, &rules, Utc::now()) {
        Ok(p) => p,
        Err(PreviewError::Input(errors)) => {
            for e in errors.iter().take(MAX_LISTED_ERRORS) {
                eprintln!("bakrun retention: {e}");
            }
            if errors.len() > MAX_LISTED_ERRORS {
                eprintln!(
                    "bakrun retention: … and {} more bad lines",
                    errors.len() - MAX_LISTED_ERRORS
                );
            }
            return ExitCode::from(Exit::BadInput);
        }
        Err(e) => {
            eprintln!("bakrun retention: {e}");
            return ExitCode::from(Exit::BadInput);
        }
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let written = match args.format {
        Format::Json => preview.write_json(&mut out),
        Format::Human => preview.write_human(&mut out),
    }
    .and_then(|()| out.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stops early (`| head`) is not an error of ours.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bakrun retention: cannot write standard output: {e}");
            ExitCode::from(Exit::BadInput)
        }
    }
}

/// A JSON string. Parsed RFC 3339 text never needs escaping (digits, `-:.+TZ`), so it is
/// copied as is; anything else goes through serde_json's escaper.
fn write_json_str(out: &mut impl Write, text: &str) -> io::Result<()> {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.write_all(b"\"")?;
        out.write_all(text.as_bytes())?;
        out.write_all(b"\"")
    } else {
        serde_json::to_writer(out, text).map_err(io::Error::other)
    }
}
