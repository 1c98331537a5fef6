//! What a backup program's failure means, in words: "exit code 11" tells an operator
//! nothing, "the destination is full" tells them what to do. One [`ExitTable`] per program
//! (rsync's is [`RSYNC`]), read by [`ExitTable::explain`].
//!
//! Standard error is read before the exit code: the same cause reaches several codes
//! (rsync reports a full disk as 11, 12 or 23 depending on which process hit it), while
//! the kernel's message ("No space left on device") is always the same.

/// Maps a program's standard error and exit codes to what happened.
#[derive(Debug)]
pub struct ExitTable {
    /// Checked first, in order: when a line of standard error contains the text, that is
    /// the cause. More specific texts come before more general ones.
    pub messages: &'static [(&'static str, &'static str)],
    /// Then the exit code's meaning.
    pub codes: &'static [(i32, &'static str)],
}

/// Longest line of standard error quoted in a reason (status files stay small).
const MAX_QUOTE: usize = 300;

impl ExitTable {
    /// `exit code 11: the destination file system is full (rsync: write failed on "/x": No
    /// space left on device (28))`. The quoted line is the first that names the cause; the
    /// code alone when nothing is known about it.
    pub fn explain(&self, code: Option<i32>, stderr: &[String]) -> String {
        let status = code.map_or("a signal".to_owned(), |c| format!("exit code {c}"));
        for (text, meaning) in self.messages {
            if let Some(line) = stderr.iter().find(|l| l.contains(text)) {
                return format!("{status}: {meaning} ({})", quote(line));
            }
        }
        match code.and_then(|c| self.codes.iter().find(|(k, _)| *k == c)) {
            Some((_, meaning)) => format!("{status}: {meaning}"),
            None => status,
        }
    }
}

fn quote(line: &str) -> String {
    let line = line.trim();
    match line.char_indices().nth(MAX_QUOTE) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

/// rsync (man rsync, EXIT VALUES) and the ssh it runs for a pull.
pub const RSYNC: ExitTable = ExitTable {
    messages: &[
        (
            "No space left on device",
            "the destination file system is full; free space or move the destination, then run again (the partial snapshot is kept and reused)",
        ),
        (
            "Disk quota exceeded",
            "the destination's disk quota is exhausted",
        ),
        (
            "Read-only file system",
            "the destination file system is mounted read-only",
        ),
        (
            "Host key verification failed",
            "ssh refused the remote's host key: it is missing from known-hosts or has changed",
        ),
        (
            "Permission denied (publickey",
            "ssh could not log in to the remote: the key was refused",
        ),
        (
            "Could not resolve hostname",
            "the remote's name does not resolve",
        ),
        ("Connection refused", "the remote refused the ssh connection"),
        (
            "Connection timed out",
            "the remote did not answer (connection timed out)",
        ),
        (
            "Permission denied",
            "permission denied: bakrun could not read a source or write the destination",
        ),
    ],
    codes: &[
        (1, "rsync rejected its arguments (syntax or usage error)"),
        (2, "rsync protocol incompatibility between the two ends"),
        (3, "a source or the destination folder could not be opened"),
        (5, "the rsync protocol could not start (is rsync installed on the remote?)"),
        (10, "socket I/O error"),
        (11, "file I/O error on the destination"),
        (
            12,
            "the rsync data stream broke (the other end or ssh died, or the destination filled up)",
        ),
        (14, "rsync's inter-process communication failed"),
        (20, "rsync was stopped by a signal"),
        (22, "rsync ran out of memory"),
        (
            23,
            "partial transfer: some files could not be copied (see the warnings above)",
        ),
        (24, "some source files vanished during the transfer"),
        (30, "timeout: no data moved for too long"),
        (35, "timeout waiting for the remote rsync"),
        (
            255,
            "ssh failed: the remote is unreachable or refused the login",
        ),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn standard_error_names_the_cause_before_the_code() {
        let err = lines(&[
            "rsync: [receiver] write failed on \"/b/x\": No space left on device (28)",
            "rsync error: error in file IO (code 11)",
        ]);
        let why = RSYNC.explain(Some(11), &err);
        assert!(
            why.starts_with("exit code 11: the destination file system is full"),
            "{why}"
        );
        assert!(why.contains("write failed on \"/b/x\""), "{why}");
        // Same cause, other code: still a full disk.
        assert!(RSYNC.explain(Some(23), &err).contains("is full"));
    }

    #[test]
    fn codes_alone_are_explained_and_unknown_ones_kept() {
        assert_eq!(
            RSYNC.explain(Some(24), &[]),
            "exit code 24: some source files vanished during the transfer"
        );
        assert!(RSYNC.explain(Some(255), &[]).contains("ssh failed"));
        assert!(RSYNC.explain(Some(30), &[]).contains("timeout"));
        assert_eq!(RSYNC.explain(Some(99), &[]), "exit code 99");
        assert_eq!(RSYNC.explain(None, &[]), "a signal");
    }

    #[test]
    fn ssh_key_refusal_is_not_taken_for_a_file_permission() {
        let err = lines(&["root@h: Permission denied (publickey,password)."]);
        assert!(RSYNC.explain(Some(255), &err).contains("key was refused"));
        let err = lines(&["rsync: [sender] opendir \"/s\" failed: Permission denied (13)"]);
        assert!(RSYNC
            .explain(Some(23), &err)
            .contains("could not read a source"));
    }

    #[test]
    fn long_lines_are_cut() {
        let err = vec![format!("{} No space left on device", "x".repeat(2000))];
        assert!(RSYNC.explain(Some(11), &err).len() < 700);
    }
}
