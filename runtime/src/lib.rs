//! bakrun: runs one bakgen backup job, and owns the job-spec types shared with the compiler.

pub mod atomic_file;
pub mod command;
pub mod dump;
pub mod duration;
pub mod engine;
pub mod jobs;
pub mod lock;
pub mod log;
pub mod metrics;
pub mod mount;
pub mod process;
pub mod restore_script;
pub mod retention;
pub mod runner;
pub mod secret;
pub mod signals;
pub mod spec;
pub mod status;
pub mod step;
pub mod when;
