//! rsync's `--info=progress2` records: the whole transfer's figures, one record per update,
//! each ended by a carriage return rather than a newline:
//!
//! `     43,800,000  31%   20.25MB/s    0:00:02 (xfr#11, to-chk=19/33)`
//!
//! The bytes are those transferred so far, the percentage is of the whole size, `xfr#` counts
//! the files transferred, and `to-chk=R/T` (`ir-chk` while the file list still grows) the
//! files left to check of those known. Thousands separators follow the locale.

use super::Progress;

/// One progress record, or `None` for any other output (the `--stats` block, messages).
pub fn parse(record: &str) -> Option<Progress> {
    let mut words = record.split_whitespace();
    let bytes = digits(words.next()?)?;
    let percent: f64 = words.next()?.strip_suffix('%')?.parse().ok()?;
    let rate = words.next()?;
    if !rate.ends_with("/s") {
        return None;
    }
    let time = words.next()?;
    if time.split(':').count() != 3 || !time.chars().all(|c| c.is_ascii_digit() || c == ':') {
        return None;
    }
    let mut progress = Progress {
        bytes_done: bytes,
        percent: Some(percent),
        ..Progress::default()
    };
    // The file counts come only with the record that ends a file.
    let rest: String = words.collect::<Vec<_>>().join(" ");
    if let Some(inner) = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        for part in inner.split(", ") {
            if let Some(n) = part.strip_prefix("xfr#") {
                progress.files_transferred = digits(n);
            } else if let Some(counts) = part
                .strip_prefix("to-chk=")
                .or_else(|| part.strip_prefix("ir-chk="))
            {
                let (left, total) = counts.split_once('/')?;
                let (left, total) = (digits(left)?, digits(total)?);
                progress.files_total = Some(total);
                progress.files_done = Some(total.saturating_sub(left));
            }
        }
    }
    Some(progress)
}

/// A count with the locale's thousands separators (`1,234` or `1.234`).
fn digits(word: &str) -> Option<u64> {
    if word.is_empty()
        || !word
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
    {
        return None;
    }
    word.chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}
