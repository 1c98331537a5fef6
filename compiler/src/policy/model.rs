//! The policy as written: every value keeps the span it came from, and nothing is inherited
//! yet (see `resolve` for defaults and templates).

use bakgen_spec::count::Count;
use bakgen_spec::duration::Duration;

use crate::source::Span;

/// A value and the place in a policy file it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Policy {
    pub defaults: Option<Spanned<Settings>>,
    pub templates: Vec<Template>,
    pub destinations: Vec<Destination>,
    pub secrets: Vec<Secret>,
    pub hosts: Vec<Host>,
    pub monitoring: Option<Monitoring>,
    pub install: Option<Install>,
}

/// `install { bakrun "/usr/local/bin/bakrun"; documentation "https://…" }`: how the hosts
/// have bakgen installed, which every unit names.
#[derive(Debug, Clone)]
pub struct Install {
    /// Where the units find the runtime; the packaged `/usr/bin/bakrun` when not set.
    pub bakrun: Option<Spanned<String>>,
    /// A URL of the fleet's own documentation, added to every unit's `Documentation=`.
    pub documentation: Option<Spanned<String>>,
    /// The `install` node's name.
    pub span: Span,
}

/// `monitoring { prometheus "mon1"; watch "backup1" { … } }`: hosts that watch the whole fleet.
#[derive(Debug, Clone)]
pub struct Monitoring {
    /// Hosts running Prometheus: each gets the fleet's alerting rules.
    pub prometheus: Vec<Spanned<String>>,
    /// Hosts that read destinations and judge, from what landed there, whether every job
    /// writing there is fresh.
    pub watches: Vec<Watch>,
    /// The `monitoring` node's name.
    pub span: Span,
}

/// `watch "backup1" { schedule …; destination "usb"; on-late … }`.
#[derive(Debug, Clone)]
pub struct Watch {
    /// The watching host.
    pub host: Spanned<String>,
    /// Hourly when not set.
    pub schedule: Option<Schedule>,
    pub destinations: Vec<WatchedDestination>,
    pub on_late: Option<Notify>,
    /// The `watch` node's name.
    pub span: Span,
}

/// `destination "nas" at="/mnt/nas" file-times=#true` inside a `watch`.
#[derive(Debug, Clone)]
pub struct WatchedDestination {
    pub name: Spanned<String>,
    /// Where the watching host reads it: a folder for a snapshot folder, a repository
    /// (placeholders and all) for restic; the destination's own when absent.
    pub at: Option<Spanned<String>>,
    /// Read a local restic repository's snapshot file times, without its password.
    pub file_times: Option<Spanned<bool>>,
}

/// Everything a job can set, and so everything `defaults` and templates can provide.
/// `None` means "not set here", to be inherited.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    pub template: Option<Spanned<String>>,
    pub from: Option<Pull>,
    pub sources: Option<Vec<Spanned<String>>>,
    pub excludes: Option<Vec<Spanned<String>>>,
    pub to: Option<Spanned<String>>,
    pub schedule: Option<Schedule>,
    pub retention: Option<Retention>,
    pub lvm_snapshot: Option<LvmSnapshot>,
    pub btrfs_snapshot: Option<BtrfsSnapshot>,
    pub dumps: Option<Vec<Dump>>,
    pub nice: Option<Spanned<i64>>,
    pub io_class: Option<IoClass>,
    pub timeout: Option<Spanned<Duration>>,
    pub limit_upload: Option<Spanned<u64>>,
    pub limit_download: Option<Spanned<u64>>,
    pub on_failure: Option<Notify>,
    pub ping: Option<PingSetting>,
    /// node_exporter's textfile folder, where the run writes `bakgen_<job>.prom`.
    pub metrics_dir: Option<Spanned<String>>,
    pub verify: Option<VerifySetting>,
}

/// `verify { … }`: the job's restore drill (`bakgen-verify-<job>.timer`). Inherited whole,
/// like `retention`: a job's `verify` replaces its template's.
#[derive(Debug, Clone)]
pub struct VerifySetting {
    /// The drill's own calendar; `Sun 05:00` with an hour's jitter when not written.
    pub schedule: Option<Schedule>,
    /// 1,000 files when not written.
    pub sample: Option<VerifySample>,
    /// Absolute paths every file below which is checked on every drill.
    pub critical: Vec<Spanned<String>>,
    pub queries: Vec<VerifyQuery>,
    /// A passed drill older than this is overdue; derived from the schedule when absent.
    pub within: Option<Spanned<Duration>>,
    /// `count tolerance="5%"`: the run's files counted against the live ones.
    pub count: Option<VerifyCount>,
    /// The `verify` node's name.
    pub span: Span,
}

/// `count tolerance="5%"`: the drill counts the live files and fails when the run holds
/// more than the tolerance fewer.
#[derive(Debug, Clone)]
pub struct VerifyCount {
    /// `tolerance=` in per mille (`"5%"` is 50); 5 % when not written.
    pub tolerance: Option<Spanned<u32>>,
    pub span: Span,
}

/// `sample files=1000 percent="1%"`: either or both (then the larger).
#[derive(Debug, Clone)]
pub struct VerifySample {
    pub files: Option<Spanned<u64>>,
    /// `percent=` in per mille (`"0.5%"` is 5).
    pub per_mille: Option<Spanned<u32>>,
    pub span: Span,
}

/// `query "SELECT count(*) FROM orders" database="shop" at-least=1 engine="postgres"`.
#[derive(Debug, Clone)]
pub struct VerifyQuery {
    pub sql: Spanned<String>,
    pub database: Spanned<String>,
    /// 1 when not written.
    pub at_least: Option<Spanned<i64>>,
    /// Needed only when the job dumps both PostgreSQL and MySQL.
    pub engine: Option<Spanned<DumpKind>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub name: Spanned<String>,
    pub settings: Settings,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: Spanned<String>,
    /// Where other hosts reach this one over ssh to pull its files.
    pub address: Option<Spanned<String>>,
    pub jobs: Vec<Job>,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub name: Spanned<String>,
    pub settings: Settings,
}

/// `from "web1" user=… port=… identity=…`: pull the sources over ssh from another host.
#[derive(Debug, Clone)]
pub struct Pull {
    pub host: Spanned<String>,
    pub user: Option<Spanned<String>>,
    pub port: Option<Spanned<i64>>,
    pub identity: Option<Spanned<String>>,
    /// The known_hosts file with the remote's host key; ssh's default files when absent.
    pub known_hosts: Option<Spanned<String>>,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    /// The calendar expression or keyword, with the span of the string itself.
    pub calendar: Spanned<String>,
    /// The expression parsed by bakgen's own systemd calendar implementation; `None` when
    /// it is invalid (and reported), so that the job does not also count as unscheduled.
    pub spec: Option<crate::schedule::CalendarSpec>,
    pub jitter: Option<Spanned<Duration>>,
    /// The node, for messages about the schedule as a whole.
    pub span: Span,
}

#[derive(Debug, Clone, Default)]
pub struct Retention {
    pub keep_last: Option<Spanned<Count>>,
    pub keep_hourly: Option<Spanned<Count>>,
    pub keep_daily: Option<Spanned<Count>>,
    pub keep_weekly: Option<Spanned<Count>>,
    pub keep_monthly: Option<Spanned<Count>>,
    pub keep_yearly: Option<Spanned<Count>>,
    pub keep_within: Option<Spanned<Duration>>,
    pub keep_within_hourly: Option<Spanned<Duration>>,
    pub keep_within_daily: Option<Spanned<Duration>>,
    pub keep_within_weekly: Option<Spanned<Duration>>,
    pub keep_within_monthly: Option<Spanned<Duration>>,
    pub keep_within_yearly: Option<Spanned<Duration>>,
    /// The node; `None` when a rule failed to decode (reported already), so that the
    /// retention is not also called empty.
    pub span: Option<Span>,
}

impl Retention {
    /// The count rules, in restic's order.
    pub fn counts(&self) -> [&Option<Spanned<Count>>; 6] {
        [
            &self.keep_last,
            &self.keep_hourly,
            &self.keep_daily,
            &self.keep_weekly,
            &self.keep_monthly,
            &self.keep_yearly,
        ]
    }

    /// The duration rules: `keep-within`, then `keep-within-hourly` … `-yearly`.
    pub fn durations(&self) -> [&Option<Spanned<Duration>>; 6] {
        [
            &self.keep_within,
            &self.keep_within_hourly,
            &self.keep_within_daily,
            &self.keep_within_weekly,
            &self.keep_within_monthly,
            &self.keep_within_yearly,
        ]
    }
}

#[derive(Debug, Clone)]
pub struct LvmSnapshot {
    /// `vg/lv`.
    pub volume: Spanned<String>,
    /// As lvcreate takes it: `2G` or `20%ORIGIN`.
    pub size: Spanned<String>,
    /// Where the volume is mounted on the live system; `/` when not written.
    pub mount_point: Option<Spanned<String>>,
    pub span: Span,
}

/// `btrfs-snapshot "/srv"`: back up from a read-only snapshot of that subvolume.
#[derive(Debug, Clone)]
pub struct BtrfsSnapshot {
    /// Absolute path of the subvolume on the live system.
    pub subvolume: Spanned<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    Postgres,
    Mysql,
}

#[derive(Debug, Clone)]
pub struct Dump {
    pub kind: DumpKind,
    /// Empty means every database (`pg_dumpall`, `mysqldump --all-databases`).
    pub databases: Vec<Spanned<String>>,
    pub host: Option<Spanned<String>>,
    pub port: Option<Spanned<i64>>,
    pub user: Option<Spanned<String>>,
    pub password_secret: Option<Spanned<String>>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoClassKind {
    Realtime,
    BestEffort,
    Idle,
}

#[derive(Debug, Clone)]
pub struct IoClass {
    pub class: Spanned<IoClassKind>,
    pub priority: Option<Spanned<i64>>,
}

#[derive(Debug, Clone)]
pub enum NotifyTarget {
    /// argv of a command, run with the failed unit's name appended.
    Command(Vec<Spanned<String>>),
    Url(Spanned<String>),
}

/// Where a job's pings go: a URL in the policy, or a secret holding it.
#[derive(Debug, Clone)]
pub enum PingTarget {
    Url(Spanned<String>),
    /// The name of a secret.
    Secret(Spanned<String>),
}

#[derive(Debug, Clone)]
pub struct PingSetting {
    pub kind: bakgen_spec::job::PingKind,
    pub target: PingTarget,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Notify {
    pub target: NotifyTarget,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Destination {
    pub name: Spanned<String>,
    pub kind: DestinationKind,
    pub limit_upload: Option<Spanned<u64>>,
    pub limit_download: Option<Spanned<u64>>,
    /// Lines that belong to the other kind of destination (`password` on a snapshot
    /// folder, `device` on a restic repository): kept so that `validate` refuses them.
    pub misplaced: Vec<Misplaced>,
}

/// A destination line its kind does not use: the node's name and where it is written.
#[derive(Debug, Clone)]
pub struct Misplaced {
    pub node: &'static str,
    pub span: Span,
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // a handful per policy; boxing would only add noise
pub enum DestinationKind {
    Snapshots(SnapshotFolder),
    Restic(ResticRepository),
}

#[derive(Debug, Clone)]
pub struct SnapshotFolder {
    pub path: Spanned<String>,
    pub device: Option<Device>,
    /// Refuse to run when `NOT_MOUNTED` is visible in the folder; default on.
    pub sentinel: Option<Spanned<bool>>,
    pub read_only_view: Option<Spanned<String>>,
}

#[derive(Debug, Clone)]
pub struct Device {
    pub what: Spanned<String>,
    pub fstype: Option<Spanned<String>>,
    pub options: Option<Spanned<String>>,
    /// Unmount after this long unused (the automount's `TimeoutIdleSec=`).
    pub idle_timeout: Option<Spanned<Duration>>,
}

#[derive(Debug, Clone)]
pub struct ResticRepository {
    /// As written, placeholders and all.
    pub url: Spanned<String>,
    /// `url` parsed; `None` when it is no form restic knows (reported by decode).
    pub location: Option<super::Repository>,
    pub password_secret: Option<Spanned<String>>,
    /// Extra variables for restic (S3 keys, REST credentials), each from a secret.
    pub environment: Vec<(Spanned<String>, Spanned<String>)>,
    /// When `restic prune` frees forgotten data (`bakgen-prune-<dest>.timer`); weekly
    /// when not set.
    pub prune_schedule: Option<Schedule>,
    /// When `restic check` verifies the repository (`bakgen-check-<dest>.timer`); monthly
    /// when not set.
    pub check_schedule: Option<Schedule>,
    /// `read-data="5%"` on `check-schedule`: the share of pack files a check reads back.
    pub check_read_data: Option<Spanned<String>>,
    /// `ssh port=… identity=… known-hosts=…`: how ssh reaches an `sftp:` repository.
    pub ssh: Option<SftpSsh>,
}

impl ResticRepository {
    /// The repository as written, when it is a folder on the machine that runs the job.
    pub fn local_path(&self) -> Option<&Spanned<String>> {
        self.location
            .as_ref()
            .is_some_and(|l| l.is_local())
            .then_some(&self.url)
    }
}

/// The ssh options of an `sftp:` repository; user and host come from its URL.
#[derive(Debug, Clone)]
pub struct SftpSsh {
    pub port: Option<Spanned<i64>>,
    pub identity: Option<Spanned<String>>,
    /// The known_hosts file with the server's host key; ssh's default files when absent.
    pub known_hosts: Option<Spanned<String>>,
    /// The whole `ssh` node, for diagnostics.
    pub span: crate::source::Span,
}

#[derive(Debug, Clone)]
pub struct Secret {
    pub name: Spanned<String>,
    pub source: SecretSource,
}

#[derive(Debug, Clone)]
pub enum SecretSource {
    /// A root-only file, handed to the service with `LoadCredential=`.
    File(Spanned<String>),
    /// A systemd-creds encrypted credential, `LoadCredentialEncrypted=`.
    Credential(Spanned<String>),
    /// A command that prints the secret (a password manager).
    Command(Spanned<String>),
}
