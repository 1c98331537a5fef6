//! Where things live on a host. One place, so units, job specs and docs agree; the paths
//! bakrun reads too (jobs, state and metrics folders, a job's spec file) are the contract
//! crate's.

pub use bakgen_spec::installed::{installed_spec, JOBS_DIR, METRICS_DIR, STATE_DIR};

/// The runtime; `make install`/the README put it here.
pub const BAKRUN: &str = "/usr/local/bin/bakrun";
pub const MANIFEST: &str = "etc/bakgen/manifest.json";
pub const UNIT_DIR: &str = "etc/systemd/system";
/// `CacheDirectory=bakgen`: restic's cache.
pub const CACHE_DIR: &str = "/var/cache/bakgen";
/// The system user jobs run as (created by the bundle's sysusers.d file); LVM jobs run as
/// root because lvcreate requires it.
pub const SERVICE_USER: &str = "bakgen";
pub const SYSUSERS: &str = "etc/sysusers.d/bakgen.conf";
