//! bakrun's exit codes (docs/operations.md, "Exit codes"). They are also the value of the
//! `bakgen_job_last_run_result` metric, which the compiler's alerting rules read back.

/// How a bakrun command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Exit {
    Ok = 0,
    /// The run failed, or was stopped by SIGTERM.
    Failed = 1,
    /// The spec is unreadable, newer than this bakrun or has bad values; or the command
    /// line, a rule or an input cannot be used.
    BadInput = 2,
    /// The destination is not mounted (or shows its `NOT_MOUNTED` sentinel): a quiet skip.
    NotMounted = 11,
    /// Another run of the job holds its lock.
    Locked = 12,
    /// `bakrun watch`: a watched job is late, never ran, or its destination is unreadable.
    Late = 13,
}

impl Exit {
    pub const fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    /// The codes are a published contract (docs, alerting rules): they never move.
    #[test]
    fn codes_are_the_documented_ones() {
        let codes = [
            Exit::Ok,
            Exit::Failed,
            Exit::BadInput,
            Exit::NotMounted,
            Exit::Locked,
            Exit::Late,
        ]
        .map(Exit::code);
        assert_eq!(codes, [0, 1, 2, 11, 12, 13]);
    }
}
