//! Test support for unit files: a reader that follows systemd's own rules, and
//! `systemd-analyze verify`.

pub mod oracle;
pub mod parse;
pub mod verify;
