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

/// What `bakrun watch` writes (`bakgen_watch.prom` on the watching host), per watched job,
/// labelled with [`WATCHER_LABEL`], [`HOST_LABEL`], [`JOB_LABEL`] and [`DESTINATION_LABEL`].
pub const DESTINATION_LABEL: &str = "bakgen_destination";
/// The watching host: two watches of one destination write series of their own.
pub const WATCHER_LABEL: &str = "bakgen_watcher";
/// Unix time the watch last finished judging, labelled with [`WATCHER_LABEL`] only: its
/// age tells a watch that stopped from one whose last file the textfile folder still holds.
pub const WATCH_LAST_RUN: &str = "bakgen_watch_last_run_timestamp_seconds";
/// When the newest complete run in the destination started (absent: never ran).
pub const WATCH_LAST_COMPLETE: &str = "bakgen_watch_last_complete_timestamp_seconds";
/// 1 while the job is late, never ran or its store is unreadable; else 0.
pub const WATCH_LATE: &str = "bakgen_watch_late";
/// The age the newest complete run must stay under (the job's late-after).
pub const WATCH_EXPECTED_WITHIN: &str = "bakgen_watch_expected_within_seconds";

/// What `bakrun verify` writes (`bakgen-verify_<job>.prom`), labelled with [`HOST_LABEL`]
/// and [`JOB_LABEL`]: when a drill last passed, and what the last drill checked.
pub const VERIFY_LAST_SUCCESS: &str = "bakgen_verify_last_success_timestamp_seconds";
pub const VERIFY_FILES_CHECKED: &str = "bakgen_verify_files_checked";
pub const VERIFY_MISMATCHES: &str = "bakgen_verify_mismatches";
/// The age a passed drill must stay under (the spec's `verify.within-seconds`).
pub const VERIFY_EXPECTED_WITHIN: &str = "bakgen_verify_expected_within_seconds";
