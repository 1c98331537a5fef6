//! bakgen: compiles KDL backup policies into systemd units and job specs.
//!
//! Data flows one way: source text ([`source`]) → spanned model ([`policy`]) → resolved
//! jobs with defaults and templates applied ([`resolve`]) → checks ([`validate`]) → plan
//! and files. See docs/architecture.md.

pub mod cli;
pub mod diagnostic;
pub mod emit;
pub mod ops;
pub mod policy;
pub mod resolve;
pub mod schedule;
pub mod source;
pub mod suggest;
pub mod validate;
