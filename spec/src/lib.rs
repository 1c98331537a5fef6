//! The contract between `bakgen` (the compiler) and `bakrun` (the runtime): what one
//! writes and the other reads or relies on. Both binaries depend on this crate and on
//! no copy of these rules elsewhere; the compiler does not depend on the runtime.
//!
//! - [`job`]: the versioned job spec and the checks made when it is loaded.
//! - [`name`]: the one rule for host, job and destination names.
//! - [`duration`], [`count`]: the value grammars the spec's retention uses.
//! - [`installed`]: where specs, state, locks, status and metrics files live.
//! - [`exit`]: bakrun's exit codes, which alerting rules read back.
//! - [`metrics`]: the metric and label names alerting rules query.
//! - [`atomic`]: the one way both write a file readers must never see half written.
//! - [`run_name`], [`restic_tags`]: how a run is named (an rsync folder, a restic `run=`
//!   tag) and the tags on every restic snapshot bakrun makes.
//! - [`verify`]: a job's restore drill (spot check and dump drill settings).
//! - [`watch`]: the watch spec, what a watching host reads to judge every job's freshness.

pub mod atomic;
pub mod count;
pub mod duration;
pub mod exit;
pub mod installed;
pub mod job;
pub mod metrics;
pub mod name;
pub mod restic_tags;
pub mod run_name;
pub mod verify;
pub mod watch;
