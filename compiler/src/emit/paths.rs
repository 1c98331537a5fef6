//! Where things live on a host. One place, so units, job specs and docs agree.

/// The runtime; `make install`/the README put it here.
pub const BAKRUN: &str = "/usr/local/bin/bakrun";
pub const JOBS_DIR: &str = "/etc/bakgen/jobs";
pub const MANIFEST: &str = "etc/bakgen/manifest.json";
pub const UNIT_DIR: &str = "etc/systemd/system";
/// `StateDirectory=bakgen`: locks, status files.
pub const STATE_DIR: &str = "/var/lib/bakgen";
/// `CacheDirectory=bakgen`: restic's cache.
pub const CACHE_DIR: &str = "/var/cache/bakgen";
/// Debian's prometheus-node-exporter textfile collector folder.
pub const METRICS_DIR: &str = "/var/lib/prometheus/node-exporter";
/// The system user jobs run as (created by the bundle's sysusers.d file); LVM jobs run as
/// root because lvcreate requires it.
pub const SERVICE_USER: &str = "bakgen";
pub const SYSUSERS: &str = "etc/sysusers.d/bakgen.conf";
