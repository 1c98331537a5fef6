//! Policy sources: the `.kdl` files named on the command line, read once and kept for
//! diagnostics. A folder is read as all its `.kdl` files, sorted by name, as one policy.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Files larger than this are refused: a policy for thousands of hosts is a few MiB, and a
/// bigger file is almost certainly the wrong file (a log, an image) given by mistake.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Index of a file in a [`SourceSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// A byte range inside one policy file.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub range: Range<usize>,
}

/// As derived, except under `{:+?}`, which prints `_`: the fingerprint of a host's inputs
/// (`emit::fleet::inputs`) formats its jobs that way, so that text moved around a policy
/// (every span after it shifts) is not a change.
impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if f.sign_plus() {
            return f.write_str("_");
        }
        f.debug_struct("Span")
            .field("file", &self.file)
            .field("range", &self.range)
            .finish()
    }
}

impl Ord for Span {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.file, self.range.start, self.range.end).cmp(&(
            other.file,
            other.range.start,
            other.range.end,
        ))
    }
}

impl PartialOrd for Span {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Self {
        Self { file, range }
    }

    /// A sub-range, relative to this span's start, clamped inside it.
    pub fn sub(&self, range: Range<usize>) -> Span {
        let len = self.range.end - self.range.start;
        let start = self.range.start + range.start.min(len);
        let end = self.range.start + range.end.clamp(range.start.min(len), len);
        Span::new(self.file, start..end)
    }
}

#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user gave it (or as found in a folder), for messages.
    pub name: String,
    pub text: Arc<String>,
    /// Byte offset of the start of each line, for line:column positions.
    line_starts: Vec<usize>,
    /// (byte offset, characters before it) about every [`CHAR_MARK_BYTES`], so that a
    /// column deep in a long line is found without counting the line from its start.
    char_marks: Vec<(usize, usize)>,
}

const CHAR_MARK_BYTES: usize = 4096;

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text: String = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut char_marks = vec![(0, 0)];
        for (chars, (byte, _)) in text.char_indices().enumerate() {
            if byte >= char_marks[char_marks.len() - 1].0 + CHAR_MARK_BYTES {
                char_marks.push((byte, chars));
            }
        }
        Self {
            name: name.into(),
            text: Arc::new(text),
            line_starts,
            char_marks,
        }
    }

    /// Zero-based index of the line holding a byte offset.
    pub fn line_index(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }

    /// The byte range of a zero-based line, without its newline; empty past the end.
    pub fn line_range(&self, line: usize) -> Range<usize> {
        let Some(&start) = self.line_starts.get(line) else {
            return self.text.len()..self.text.len();
        };
        let end = self
            .line_starts
            .get(line + 1)
            .map_or(self.text.len(), |next| next - 1);
        start..end.max(start)
    }

    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_index(offset);
        let start = self.line_starts[line];
        let col = match (self.chars_before(offset), self.chars_before(start)) {
            (Some(end), Some(start)) => end - start,
            _ => offset - start,
        };
        (line + 1, col + 1)
    }

    /// Characters before a byte offset; `None` inside a character.
    fn chars_before(&self, offset: usize) -> Option<usize> {
        let i = self.char_marks.partition_point(|(byte, _)| *byte <= offset);
        let (byte, chars) = self.char_marks[i.saturating_sub(1)];
        Some(chars + self.text.get(byte..offset)?.chars().count())
    }
}

/// Every file of one policy.
#[derive(Debug, Default)]
pub struct SourceSet {
    files: Vec<SourceFile>,
}

impl SourceSet {
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId((self.files.len() - 1) as u32)
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Reads every path: a `.kdl` file, or a folder whose `.kdl` files (not recursive)
    /// are read in name order. The same file named twice is read once.
    pub fn load(paths: &[PathBuf]) -> Result<SourceSet, LoadError> {
        let mut files = Vec::new();
        for path in paths {
            let meta = std::fs::metadata(path).map_err(|source| LoadError::Unreadable {
                path: path.clone(),
                source,
            })?;
            if meta.is_dir() {
                let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(|source| LoadError::Unreadable {
                        path: path.clone(),
                        source,
                    })?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "kdl") && p.is_file())
                    .collect();
                if found.is_empty() {
                    return Err(LoadError::EmptyFolder { path: path.clone() });
                }
                found.sort();
                files.extend(found);
            } else {
                files.push(path.clone());
            }
        }
        let mut set = SourceSet::default();
        let mut seen = std::collections::BTreeSet::new();
        for path in files {
            let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if !seen.insert(key) {
                continue;
            }
            set.add(read_one(&path)?);
        }
        Ok(set)
    }
}

fn read_one(path: &Path) -> Result<SourceFile, LoadError> {
    let unreadable = |source| LoadError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            bytes: meta.len(),
        });
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..offset];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        LoadError::NotUtf8 {
            path: path.to_path_buf(),
            line,
            offset,
        }
    })?;
    Ok(SourceFile::new(path.display().to_string(), text))
}

/// Why the policy files could not be read: a usage or I/O error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} holds no .kdl file", path.display())]
    EmptyFolder { path: PathBuf },
    #[error("{} is not UTF-8 text (first bad byte at offset {offset}, line {line})", path.display())]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        offset: usize,
    },
    #[error("{} is {bytes} bytes; bakgen reads policy files up to {MAX_FILE_BYTES} bytes", path.display())]
    TooLarge { path: PathBuf, bytes: u64 },
}

impl LoadError {
    pub fn code(&self) -> &'static str {
        match self {
            LoadError::Unreadable { .. } => "bakgen::unreadable",
            LoadError::EmptyFolder { .. } => "bakgen::no-policy",
            LoadError::NotUtf8 { .. } => "bakgen::not-utf8",
            LoadError::TooLarge { .. } => "bakgen::too-large",
        }
    }

    pub fn help(&self) -> &'static str {
        match self {
            LoadError::Unreadable { .. } => "give a .kdl file or a folder of them",
            LoadError::EmptyFolder { .. } => "policy files end in .kdl; subfolders are not read",
            LoadError::NotUtf8 { .. } => {
                "policies are UTF-8 text; convert the file, e.g. with iconv"
            }
            LoadError::TooLarge { .. } => {
                "is this the right file? split a very large policy into several files in one folder"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let f = SourceFile::new("p.kdl", "a\nbé c\n");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(2), (2, 1));
        assert_eq!(f.line_col(6), (2, 4));
        assert_eq!(f.line_col(999), (3, 1));
        assert_eq!(f.line_index(3), 1);
        assert_eq!(f.line_range(1), 2..7);
        assert_eq!(f.line_range(2), 8..8);
        assert_eq!(f.line_range(9), 8..8);
    }

    #[test]
    fn columns_deep_in_long_lines_count_characters() {
        let line = format!("{}{}x", "é".repeat(5000), "a".repeat(5000));
        let f = SourceFile::new("p.kdl", format!("b\n{line}"));
        assert_eq!(f.line_col(2 + 10_000), (2, 5001));
        assert_eq!(f.line_col(2 + 15_000), (2, 10_001));
        assert_eq!(f.line_col(3), (2, 2), "inside a character: bytes");
    }

    #[test]
    fn sub_spans_stay_inside() {
        let s = Span::new(FileId(0), 10..20);
        assert_eq!(s.sub(2..4).range, 12..14);
        assert_eq!(s.sub(5..50).range, 15..20);
        assert_eq!(s.sub(50..60).range, 20..20);
    }
}
