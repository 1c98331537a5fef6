//! Operations on a policy, independent of the command line: check, build, diff, apply.

pub mod build;
pub mod check;
pub mod install;
pub mod tree;
