//! The names bakrun's metrics are written under and the compiler's alerting rules query.
//! The writer itself is the runtime's (`bakrun::metrics`).

/// The labels naming a job. Not `host`/`job`: Prometheus owns `job` and `instance` (a
/// scraped `job` label arrives renamed `exported_job`), and scrape configs often set `host`.
pub const HOST_LABEL: &str = "bakgen_host";
pub const JOB_LABEL: &str = "bakgen_job";

/// The families alerting rules read.
pub const LAST_SUCCESS: &str = "bakgen_job_last_success_timestamp_seconds";
pub const LAST_RESULT: &str = "bakgen_job_last_run_result";
pub const LATE_AFTER: &str = "bakgen_job_late_after_seconds";
