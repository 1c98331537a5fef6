//! From a checked policy to files: job specs, unit files and a manifest per host.

mod alerts;
mod bundle;
mod escape;
pub mod fleet;
mod job;
mod maintenance;
mod manifest;
pub mod paths;
mod render;
mod schedule;
mod service;
mod verify;
mod watch;

pub use bundle::{Bundle, BundleFile, Emitter};
pub use escape::{credential, exec_arg, list_path, name_fragment, path_unit_name, verbatim};
pub use job::{notify_name, repository, service_name, timer_name};
pub use maintenance::{timers as maintenance_timers, MaintenanceTimer};
pub use manifest::{sha256_hex, Manifest, ManifestEntry, MANIFEST_VERSION};
pub use render::RenderError;
pub use verify::{verify_service_name, verify_timer_name};
pub use watch::WATCH_TIMER;
