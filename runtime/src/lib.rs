//! bakrun: runs one bakgen backup job. The job spec and the other rules shared with the
//! compiler live in the `bakgen_spec` crate; they are re-exported here under the paths the
//! runtime's modules use.

// The subcommands (`cli/`) name the library as `bakrun::…`, as they did from the binary.
extern crate self as bakrun;

pub use bakgen_spec::atomic as atomic_file;
pub use bakgen_spec::duration;
pub use bakgen_spec::installed;
pub use bakgen_spec::job as spec;

pub mod cli;
pub mod command;
pub mod drill;
pub mod dump;
pub mod engine;
pub mod http;
pub mod jobs;
pub mod lock;
pub mod log;
pub mod metrics;
pub mod mount;
pub mod ping;
pub mod private_file;
pub mod process;
pub mod progress;
pub mod restore_script;
pub mod retention;
pub mod runner;
pub mod secret;
pub mod signals;
pub mod source_view;
pub mod status;
pub mod step;
pub mod verify;
pub mod watch;
pub mod when;
