//! bakrun: runs one bakgen backup job, and owns the job-spec types shared with the compiler.

pub mod cli;
pub mod duration;
pub mod retention;
pub mod spec;
pub mod when;
