//! `diff` and `apply`: installing one host's bundle under a root (normally `/`) and
//! telling systemd about it. One concept per file:
//!
//! - [`source`]: the bundle to install, compiled or read from a committed folder and verified;
//! - [`plan`]: what would change, file by file and unit by unit, and what is not ours to touch;
//! - [`patch`]: unified diffs of the planned changes, for people;
//! - [`systemctl`]: the systemd commands of a plan and their order;
//! - [`lock`]: one apply at a time per root;
//! - [`apply`]: carrying a plan out, manifest last.
//!
//! Files under the root are read and written through [`crate::ops::tree`], which never
//! follows a link.

pub mod apply;
pub mod lock;
pub mod patch;
pub mod plan;
pub mod source;
pub mod systemctl;

pub use apply::{apply, ApplyError, ApplyOptions, ApplyReport};
pub use lock::{lock_root, LockError, RootLock};
pub use plan::{plan, Change, Conflict, FileChange, Plan, PlanError, UnitPlan};
pub use source::{committed, compiled, Desired, SourceError};
