//! bakgen: compiles KDL backup policies into systemd units and job specs.

pub mod cli;
pub mod schedule;
