//! A command as data: a program, its arguments and environment, and the signal that stops
//! it; kept apart from running it so that `--dry-run` can print it shell-quoted.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// A program and its arguments, kept apart from execution so it can be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Extra environment variables. Never printed: they may hold secrets (restic's S3 keys).
    pub env: Vec<(OsString, OsString)>,
    /// The signal that asks the program to stop and clean up: passed on when bakrun is
    /// stopped, and sent when bakrun dies. SIGTERM, except for restic (see
    /// [`Command::stop_with`]).
    pub stop_signal: libc::c_int,
    /// The progress output the program prints on standard output, shown while it runs
    /// (see [`crate::progress`]).
    pub progress: Option<crate::progress::Format>,
}

impl Command {
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            stop_signal: libc::SIGTERM,
            progress: None,
        }
    }

    /// The program prints its progress on standard output as `format` says: shown while
    /// it runs, and taken out of what is logged where the format says so.
    pub fn progress(mut self, format: crate::progress::Format) -> Self {
        self.progress = Some(format);
        self
    }

    /// The program cleans up on `signal` rather than SIGTERM (restic 0.14 removes its
    /// repository lock only on SIGINT, and dies holding it on SIGTERM).
    pub fn stop_with(mut self, signal: libc::c_int) -> Self {
        self.stop_signal = signal;
        self
    }

    /// Adds an environment variable for the child only; [`Command::display`] leaves it out.
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The command as a shell would need it typed: every word quoted where needed.
    pub fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Quotes one word for a POSIX shell: plain words stay as they are, anything else goes in
/// single quotes. Bytes that are not UTF-8 are written as `$'\xNN'` so the line stays exact.
pub fn shell_quote(word: &OsStr) -> String {
    let bytes = word.as_bytes();
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(b);
    if !bytes.is_empty() && bytes.iter().all(plain) {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => format!("'{}'", text.replace('\'', "'\\''")),
        Err(_) => {
            let mut out = String::from("$'");
            for &b in bytes {
                match b {
                    b'\'' | b'\\' => {
                        out.push('\\');
                        out.push(b as char);
                    }
                    0x20..=0x7e => out.push(b as char),
                    _ => out.push_str(&format!("\\x{b:02x}")),
                }
            }
            out.push('\'');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_a_shell_would_split() {
        let c = Command::new("rsync").args([
            "-a",
            "/plain/path",
            "with space",
            "it's",
            "",
            "--exclude=*.tmp",
            "ünï",
        ]);
        assert_eq!(
            c.display(),
            "rsync -a /plain/path 'with space' 'it'\\''s' '' '--exclude=*.tmp' 'ünï'"
        );
        let raw = OsStr::from_bytes(b"a\xffb");
        assert_eq!(shell_quote(raw), "$'a\\xffb'");
    }
}
