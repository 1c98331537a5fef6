//! The least-privilege `bakgen-<job>.service`: what each job may touch is computed from what
//! it does, which no hand-written unit can keep up with.

use bakgen_spec::job::{Destination, JobSpec, Step};

use super::escape::{credential, exec_arg, list_path, verbatim};
use super::paths::{installed_spec, METRICS_DIR, SERVICE_USER};
use crate::policy::{IoClassKind, Secret, SecretSource, Settings};
use crate::validate::PlannedJob;

/// The lines of the unit, grouped by section, each already escaped.
pub struct ServiceUnit {
    pub description: String,
    pub unit: Vec<String>,
    /// `ExecStart=` after the program, which the template puts first (`{{bakrun}}`: the
    /// policy's `install { bakrun … }`).
    pub bakrun_args: String,
    pub service: Vec<String>,
}

/// What the job needs from the system.
struct Needs {
    network: bool,
    lvm: bool,
    /// The btrfs subvolume the job snapshots (it writes `.bakgen-<job>` there).
    btrfs: Option<String>,
    writes_snapshots: bool,
    switches_user: bool,
}

impl Needs {
    /// Snapshot steps mount (the snapshot, in the unit's own namespace) and run lvcreate,
    /// btrfs and mount(8), which refuse anyone but uid 0: root, bounded capabilities.
    fn snapshots(&self) -> bool {
        self.lvm || self.btrfs.is_some()
    }
}

fn needs(job: &PlannedJob, spec: &JobSpec) -> Needs {
    let restic_remote =
        matches!(&spec.destination, Destination::Restic { .. }) && job.local_repository().is_none();
    let tcp_dump = spec.steps.iter().any(|s| {
        matches!(s, Step::Postgres { host: Some(h), .. } | Step::Mysql { host: Some(h), .. } if !h.starts_with('/'))
    });
    Needs {
        // A ping reaches its monitoring service over the network.
        network: spec.remote.is_some() || restic_remote || tcp_dump || spec.ping.is_some(),
        lvm: spec
            .steps
            .iter()
            .any(|s| matches!(s, Step::LvmSnapshot { .. })),
        btrfs: spec.steps.iter().find_map(|s| match s {
            Step::BtrfsSnapshot { subvolume, .. } => Some(subvolume.clone()),
            _ => None,
        }),
        writes_snapshots: matches!(spec.destination, Destination::Snapshots { .. }),
        // pg_dump over the local socket authenticates as the postgres OS user.
        switches_user: spec
            .steps
            .iter()
            .any(|s| matches!(s, Step::Postgres { host: None, .. })),
    }
}

/// The service of `spec`, a spec of `job` (its own, or its destination's maintenance).
pub fn service_unit(job: &PlannedJob, settings: &Settings, spec: &JobSpec) -> ServiceUnit {
    unit(job, settings, spec, Access::Writes)
}

/// What the unit does with the destination.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// A backup or maintenance: writes it.
    Writes,
    /// A restore drill: reads it (restores into its private /tmp), writes only restic's
    /// lock files into a local repository.
    Reads,
}

/// `bakgen-verify-<job>.service`: `bakrun verify` as the job's user, in its sandbox, with
/// every source read-only and nothing of the job's steps: no snapshot (the drill compares
/// with the live files), no dump server (the drill starts its own, on a Unix socket in its
/// private /tmp), no ping; its network only for a pull's ssh or a remote repository.
pub fn verify_unit(job: &PlannedJob, spec: &JobSpec) -> ServiceUnit {
    let mut base = spec.clone();
    base.steps.clear();
    base.ping = None;
    // A drill's length is a restore's and a load's, not the backup's: no `timeout`.
    let settings = Settings {
        timeout: None,
        ..job.settings.clone()
    };
    let mut u = unit(job, &settings, &base, Access::Reads);
    u.description = verbatim(&format!(
        "Restore drill of bakgen backup job {} of host {}",
        spec.job, spec.host
    ));
    u.bakrun_args = format!("verify {}", exec_arg(&installed_spec(&spec.job)));
    u
}

fn unit(job: &PlannedJob, settings: &Settings, spec: &JobSpec, access: Access) -> ServiceUnit {
    let mut n = needs(job, spec);
    n.writes_snapshots &= access == Access::Writes;
    let mut unit = Vec::new();
    let mut service = Vec::new();

    let mut mounts: Vec<String> = Vec::new();
    let mut writable: Vec<String> = Vec::new();
    match &spec.destination {
        Destination::Snapshots { path, .. } => {
            mounts.push(path.clone());
            if access == Access::Writes {
                writable.push(path.clone());
            }
        }
        Destination::Restic { repository, .. } => {
            if job.local_repository().is_some() {
                mounts.push(repository.clone());
                writable.push(repository.clone());
            }
        }
    }
    if !mounts.is_empty() {
        unit.push(format!(
            "RequiresMountsFor={}",
            mounts
                .iter()
                .map(|m| list_path(m))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    if n.network {
        unit.push("Wants=network-online.target".to_owned());
        unit.push("After=network-online.target".to_owned());
    }
    if spec.on_failure.is_some() {
        unit.push(format!("OnFailure={}", super::notify_name(&spec.job)));
    }

    // Credentials: file and encrypted secrets the spec uses, by the secret's name.
    let used = used_secrets(spec);
    let mut credentials: Vec<String> = job
        .secrets()
        .into_iter()
        .filter(|secret| used.contains(&secret.name.value))
        .filter_map(load_credential)
        .collect();
    credentials.sort();
    credentials.dedup();

    // Exit 11 (the destination is absent) is a quiet skip, not a failure: `OnFailure=`
    // stays silent and the unit is not left failed (docs/operations.md, "Exit 11").
    service.push(format!(
        "SuccessExitStatus={}",
        bakgen_spec::exit::Exit::NotMounted.code()
    ));
    service.push("StateDirectory=bakgen".to_owned());
    if matches!(spec.destination, Destination::Restic { .. }) {
        service.push("CacheDirectory=bakgen".to_owned());
    }
    if let Some(t) = &settings.timeout {
        service.push(format!("TimeoutStartSec={}", t.value.approx_seconds()));
    }
    if let Some(nice) = &settings.nice {
        service.push(format!("Nice={}", nice.value));
    }
    if let Some(io) = &settings.io_class {
        let class = match io.class.value {
            IoClassKind::Idle => "idle",
            IoClassKind::BestEffort => "best-effort",
            IoClassKind::Realtime => "realtime",
        };
        service.push(format!("IOSchedulingClass={class}"));
        if let Some(p) = &io.priority {
            service.push(format!("IOSchedulingPriority={}", p.value));
        }
    }
    service.extend(credentials);

    if n.lvm {
        // lvcreate/lvremove lock in /run/lock/lvm, keep hints in /run/lvm and write metadata
        // archives and backups to /etc/lvm before and after changing the volume group;
        // ProtectSystem=strict would make each of them fail.
        writable.extend(
            [
                "/run/lock/lvm",
                "/run/lvm",
                "/etc/lvm/archive",
                "/etc/lvm/backup",
            ]
            .map(String::from),
        );
    }
    if let Some(subvolume) = &n.btrfs {
        // `btrfs subvolume snapshot` creates `<subvolume>/.bakgen-<job>`.
        writable.push(subvolume.clone());
    }
    // A stop sends SIGTERM to bakrun alone, which stops its children in order, each with
    // the signal that lets it clean up: restic gets SIGINT (on SIGTERM it dies holding
    // its repository lock), and a snapshot step then unmounts and removes the snapshot
    // (SIGTERM to every process would cut lvcreate, umount or lvremove short and leave a
    // half-made snapshot). What is left at TimeoutStopSec= is killed, all of it.
    service.push("KillMode=mixed".to_owned());
    writable.push(
        spec.metrics_dir
            .clone()
            .unwrap_or_else(|| METRICS_DIR.to_owned()),
    );
    service.extend(sandbox(&n, &writable));
    let spec_path = installed_spec(&spec.job);
    ServiceUnit {
        description: verbatim(&format!(
            "bakgen backup job {} of host {}",
            spec.job, spec.host
        )),
        unit,
        bakrun_args: format!("run {}", exec_arg(&spec_path)),
        service,
    }
}

/// How a file or encrypted secret reaches the service, under the secret's name; a
/// command secret is run by bakrun instead.
fn load_credential(secret: &Secret) -> Option<String> {
    let name = &secret.name.value;
    match &secret.source {
        SecretSource::File(p) => Some(format!("LoadCredential={}", credential(name, &p.value))),
        SecretSource::Credential(p) => Some(format!(
            "LoadCredentialEncrypted={}",
            credential(name, &p.value)
        )),
        SecretSource::Command(_) => None,
    }
}

/// Reading every file needs CAP_DAC_READ_SEARCH; writing a faithful copy needs the
/// ownership and mode capabilities (bakrun runs rsync with `--super`); LVM snapshots need
/// CAP_SYS_ADMIN to mount.
fn capabilities(n: &Needs) -> Vec<&'static str> {
    // DAC_OVERRIDE also lets a job write the metrics folder, owned by prometheus.
    let mut caps = vec!["CAP_DAC_READ_SEARCH", "CAP_DAC_OVERRIDE"];
    if n.writes_snapshots {
        caps.extend([
            "CAP_DAC_OVERRIDE",
            "CAP_CHOWN",
            "CAP_FOWNER",
            "CAP_FSETID",
            "CAP_MKNOD",
            "CAP_SETFCAP",
        ]);
    }
    if n.switches_user {
        caps.extend(["CAP_SETUID", "CAP_SETGID"]);
    }
    if n.lvm {
        caps.extend(["CAP_SYS_ADMIN", "CAP_SYS_RAWIO"]);
    }
    if n.btrfs.is_some() {
        // mount(2) of the snapshot and `btrfs subvolume delete` need it.
        caps.push("CAP_SYS_ADMIN");
    }
    caps.sort_unstable();
    caps.dedup();
    caps
}

fn used_secrets(spec: &JobSpec) -> Vec<String> {
    use bakgen_spec::job::SecretRef;
    use bakgen_spec::job::{Ping, PingUrl};
    let mut refs: Vec<&SecretRef> = Vec::new();
    if let Some(Ping {
        url: PingUrl::Secret(r),
        ..
    }) = &spec.ping
    {
        refs.push(r);
    }
    if let Destination::Restic {
        password,
        environment,
        ..
    } = &spec.destination
    {
        refs.push(password);
        refs.extend(environment.iter().map(|e| &e.secret));
    }
    for step in &spec.steps {
        if let Step::Postgres {
            password: Some(p), ..
        }
        | Step::Mysql {
            password: Some(p), ..
        } = step
        {
            refs.push(p);
        }
    }
    refs.into_iter()
        .filter_map(|r| match r {
            SecretRef::Credential { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// The sandbox. Everything is read-only but `writable`, the state and cache folders
/// (StateDirectory=/CacheDirectory= grant those); devices, network, kernel knobs and
/// system calls are cut to what the job needs.
fn sandbox(n: &Needs, writable: &[String]) -> Vec<String> {
    let mut service = Vec::new();
    service.push("UMask=0077".to_owned());
    service.push("ProtectSystem=strict".to_owned());
    // `-`: a missing folder is reported by bakrun (exit 11), not by a namespace error.
    service.push(format!(
        "ReadWritePaths={}",
        writable
            .iter()
            .map(|w| format!("-{}", list_path(w)))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    // systemd lets ProtectHome=read-only win over ReadWritePaths= on the very same path, so
    // a btrfs job snapshotting /home itself (it writes /home/.bakgen-<job>) goes without;
    // ProtectSystem=strict still keeps all but ReadWritePaths= read-only.
    let snapshots_home = n
        .btrfs
        .as_deref()
        .is_some_and(|s| ["/home", "/root", "/run/user"].contains(&s.trim_end_matches('/')));
    if !snapshots_home {
        service.push("ProtectHome=read-only".to_owned());
    }
    service.push("PrivateTmp=yes".to_owned());
    // Mounts the job makes (an LVM snapshot) stay inside its own namespace.
    service.push("PrivateMounts=yes".to_owned());
    service.push("NoNewPrivileges=yes".to_owned());
    service.push("ProtectKernelTunables=yes".to_owned());
    service.push("ProtectKernelModules=yes".to_owned());
    service.push("ProtectKernelLogs=yes".to_owned());
    service.push("ProtectControlGroups=yes".to_owned());
    service.push("ProtectClock=yes".to_owned());
    service.push("ProtectHostname=yes".to_owned());
    service.push("ProtectProc=invisible".to_owned());
    if n.snapshots() && !n.writes_snapshots {
        // restic reads a snapshot at the original paths through bind mounts in a mount
        // namespace of its own (`unshare --mount`): that one kind, no other.
        service.push("RestrictNamespaces=mnt".to_owned());
    } else {
        service.push("RestrictNamespaces=yes".to_owned());
    }
    service.push("RestrictRealtime=yes".to_owned());
    service.push("RestrictSUIDSGID=yes".to_owned());
    service.push("LockPersonality=yes".to_owned());
    service.push("MemoryDenyWriteExecute=yes".to_owned());
    service.push("RemoveIPC=yes".to_owned());
    service.push("SystemCallArchitectures=native".to_owned());
    service.push("SystemCallFilter=@system-service".to_owned());
    service.push(
        "SystemCallFilter=~@obsolete @cpu-emulation @debug @raw-io @reboot @swap @clock @module @resources"
            .to_owned(),
    );
    if n.snapshots() {
        service.push("SystemCallFilter=@mount".to_owned());
    }
    service.push("SystemCallErrorNumber=EPERM".to_owned());
    if n.lvm {
        // lvcreate needs the device mapper and block devices; mount needs CAP_SYS_ADMIN.
        service.push("DeviceAllow=/dev/mapper/control rw".to_owned());
        service.push("DeviceAllow=block-device-mapper rw".to_owned());
        service.push("DeviceAllow=block-blkext rw".to_owned());
        service.push("DeviceAllow=block-loop rw".to_owned());
    } else {
        service.push("PrivateDevices=yes".to_owned());
    }
    if n.network {
        let mut families = "AF_UNIX AF_INET AF_INET6".to_owned();
        if n.lvm {
            families.push_str(" AF_NETLINK");
        }
        service.push(format!("RestrictAddressFamilies={families}"));
    } else {
        service.push("PrivateNetwork=yes".to_owned());
        service.push("IPAddressDeny=any".to_owned());
        service.push(format!(
            "RestrictAddressFamilies=AF_UNIX{}",
            if n.lvm { " AF_NETLINK" } else { "" }
        ));
    }
    let caps = capabilities(n).join(" ");
    if n.snapshots() {
        // lvcreate and mount insist on uid 0.
        service.push(format!("CapabilityBoundingSet={caps}"));
    } else {
        // Not root: a system user holding exactly the capabilities the job needs.
        service.push(format!("User={SERVICE_USER}"));
        service.push(format!("Group={SERVICE_USER}"));
        service.push(format!("AmbientCapabilities={caps}"));
        service.push(format!("CapabilityBoundingSet={caps}"));
        service.push("ProcSubset=pid".to_owned());
    }

    service
}

/// `bakgen-notify@.service`: reads the failed job's spec and runs its notification.
pub fn notify_unit() -> ServiceUnit {
    let n = Needs {
        network: true,
        lvm: false,
        btrfs: None,
        writes_snapshots: false,
        switches_user: false,
    };
    let service = sandbox(&n, &[])
        .into_iter()
        .filter(|l| !l.starts_with("ReadWritePaths="))
        .collect();
    ServiceUnit {
        description: "bakgen failure notification for %i".to_owned(),
        unit: Vec::new(),
        // `--`: a job name may begin with `-`.
        bakrun_args: "notify -- %i".to_owned(),
        service,
    }
}

/// What `bakgen-watch.service` reads and holds.
pub struct WatchNeeds<'a> {
    /// A repository it lists over the network, or a notification to send.
    pub network: bool,
    /// It lists restic repositories (restic keeps a cache).
    pub restic: bool,
    /// Folders and local repositories it reads, read-only.
    pub reads: Vec<String>,
    /// The secrets of the repositories it lists.
    pub secrets: Vec<&'a Secret>,
}

/// `bakgen-watch.service`: `bakrun watch` as the bakgen user, reading the watched places
/// and writing only its state and metrics, in the sandbox of a job that writes nothing.
pub fn watch_unit(w: &WatchNeeds<'_>) -> ServiceUnit {
    let n = Needs {
        network: w.network,
        lvm: false,
        btrfs: None,
        writes_snapshots: false,
        switches_user: false,
    };
    let mut service = vec!["StateDirectory=bakgen".to_owned()];
    if w.restic {
        service.push("CacheDirectory=bakgen".to_owned());
    }
    let mut credentials: Vec<String> = w
        .secrets
        .iter()
        .filter_map(|s| load_credential(s))
        .collect();
    credentials.sort();
    credentials.dedup();
    service.extend(credentials);
    let mut reads = w.reads.clone();
    reads.sort();
    reads.dedup();
    if !reads.is_empty() {
        // `-`: an absent folder is reported by the watch as unreadable, not a start failure.
        service.push(format!(
            "ReadOnlyPaths={}",
            reads
                .iter()
                .map(|r| format!("-{}", list_path(r)))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    // bakrun stops a restic listing with SIGINT, so that restic removes its lock.
    service.push("KillMode=mixed".to_owned());
    service.extend(sandbox(&n, &[METRICS_DIR.to_owned()]));
    let mut unit = Vec::new();
    if n.network {
        unit.push("Wants=network-online.target".to_owned());
        unit.push("After=network-online.target".to_owned());
    }
    ServiceUnit {
        description: "bakgen watch: how fresh the newest run of each job is where it lands"
            .to_owned(),
        unit,
        bakrun_args: "watch".to_owned(),
        service,
    }
}
