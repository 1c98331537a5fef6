//! One host's bundle: every file `bakgen build` writes under `<out>/<host>/`, keyed by its
//! path relative to the host's root.

use std::collections::BTreeMap;

use serde::Serialize;

use super::alerts::{AlertJob, AlertWatch, CASES as ALERT_CASES, RULES as ALERT_RULES};
use super::escape::{list_path, path_unit_name, verbatim};
use super::job::{job_spec, service_name, timer_name};
use super::manifest::{sha256_hex, Manifest, ManifestEntry, MANIFEST_VERSION};
use super::paths::{installed_spec, sysusers_conf, MANIFEST, SYSUSERS, UNIT_DIR};
use super::render::{InstallData, RenderError, Templates};
use super::schedule::{late_after, GapCache};
use super::service::service_unit;
use crate::policy::{Destination, DestinationKind};
use crate::validate::{Plan, PlannedJob};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    pub contents: Vec<u8>,
    /// Mode to install with: job specs are 0600, units 0644.
    pub mode: u32,
}

#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub host: String,
    pub files: BTreeMap<String, BundleFile>,
}

/// Builds every file for each host of a [`Plan`].
#[derive(Clone)]
pub struct Emitter {
    templates: Templates,
    gaps: GapCache,
    /// The fleet's alerting rules and their promtool cases, once [`Emitter::monitoring`] ran.
    alerts: Option<(String, String)>,
}

impl Emitter {
    pub fn new() -> Result<Self, RenderError> {
        Ok(Self {
            templates: Templates::new()?,
            gaps: GapCache::default(),
            alerts: None,
        })
    }

    /// Prepares the alerting rules for the Prometheus hosts from every job of the fleet;
    /// nothing when the policy names none.
    pub fn monitoring(&mut self, plan: &Plan) {
        if plan.policy().monitoring.is_none() {
            return;
        }
        let mut alert_jobs: Vec<AlertJob> = plan
            .jobs()
            .iter()
            .map(|job| {
                let spec = job_spec(job, &mut self.gaps);
                AlertJob::new(&spec, &job.destination.name.value)
            })
            .collect();
        let mut watches: Vec<AlertWatch> = plan
            .watches()
            .iter()
            .map(|w| AlertWatch {
                host: w.watch.host.value.clone(),
                late_after: late_after(self.gaps.longest_gap(&w.calendar), w.jitter_seconds, None),
                // The jobs the watch judges: those writing where it reads, with a late-after.
                jobs: alert_jobs
                    .iter()
                    .filter(|j| j.late_after > 0)
                    .filter(|j| {
                        w.destinations
                            .iter()
                            .any(|t| t.destination.name.value == j.destination)
                    })
                    .cloned()
                    .collect(),
            })
            .collect();
        self.alerts = Some(super::alerts::files(&mut alert_jobs, &mut watches));
    }

    /// The bundle of host `host`, which runs `jobs` (the plan's jobs of that host).
    pub fn bundle(
        &mut self,
        plan: &Plan,
        host: &str,
        jobs: &[PlannedJob],
    ) -> Result<Bundle, RenderError> {
        self.templates
            .set_install(InstallData::of(plan.policy().install.as_ref()));
        let mut b = Bundle {
            host: host.to_owned(),
            files: BTreeMap::new(),
        };
        let mut destinations: Vec<&Destination> = Vec::new();
        let mut notify = false;
        let mut sent: Vec<(&PlannedJob, bakgen_spec::job::JobSpec)> = Vec::new();
        for job in jobs {
            let spec = job_spec(job, &mut self.gaps);
            let d = &job.destination;
            if !destinations.iter().any(|x| x.name.value == d.name.value) {
                destinations.push(d);
            }
            sent.push((job, spec.clone()));
            notify |= spec.on_failure.is_some();
            let unit = service_unit(job, &job.settings, &spec);
            let service = service_name(&spec.job);
            b.add(
                format!("{UNIT_DIR}/{service}"),
                self.templates.render("service", &unit_data(&unit))?,
                0o644,
            );
            let timer = TimerData {
                description: verbatim(&format!(
                    "Timer of bakgen backup job {} of host {}",
                    spec.job, spec.host
                )),
                calendar: verbatim(&spec.schedule.calendar),
                timer: TimerData::jitter(spec.schedule.jitter_seconds),
                service: service.clone(),
            };
            b.add(
                format!("{UNIT_DIR}/{}", timer_name(&spec.job)),
                self.templates.render("timer", &timer)?,
                0o644,
            );
            b.add(
                installed_spec(&spec.job).trim_start_matches('/').to_owned(),
                spec.to_json(),
                0o600,
            );
            super::verify::add(&self.templates, &mut b, job, &spec)?;
        }
        for d in destinations {
            self.mounts(&mut b, d)?;
        }
        super::maintenance::add(&self.templates, &mut b, &sent)?;
        let watch = plan.watches().iter().find(|w| w.watch.host.value == host);
        if let Some(w) = watch {
            super::watch::add(&self.templates, &mut b, plan, w, &mut self.gaps)?;
        }
        if !jobs.is_empty() || watch.is_some() {
            b.add(SYSUSERS.to_owned(), sysusers_conf(), 0o644);
        }
        let watches = plan
            .policy()
            .monitoring
            .iter()
            .flat_map(|m| &m.prometheus)
            .any(|h| h.value == host);
        if let (true, Some((rules, cases))) = (watches, &self.alerts) {
            b.add(ALERT_RULES.to_owned(), rules.clone(), 0o644);
            b.add(ALERT_CASES.to_owned(), cases.clone(), 0o644);
        }
        if notify {
            let data = super::service::notify_unit();
            b.add(
                format!("{UNIT_DIR}/bakgen-notify@.service"),
                self.templates.render("notify", &unit_data(&data))?,
                0o644,
            );
        }
        let manifest = Manifest {
            version: MANIFEST_VERSION,
            host: b.host.clone(),
            files: b
                .files
                .iter()
                .map(|(path, f)| ManifestEntry {
                    path: path.clone(),
                    sha256: sha256_hex(&f.contents),
                    mode: format!("{:04o}", f.mode),
                })
                .collect(),
        };
        b.add(MANIFEST.to_owned(), manifest.to_json(), 0o644);
        Ok(b)
    }

    /// `.mount` + `.automount` for a destination's device, and for its read-only view.
    fn mounts(&self, b: &mut Bundle, d: &Destination) -> Result<(), RenderError> {
        let DestinationKind::Snapshots(folder) = &d.kind else {
            return Ok(());
        };
        let name = &d.name.value;
        if let Some(device) = &folder.device {
            let path = &folder.path.value;
            let mut mount = Vec::new();
            if let Some(t) = &device.fstype {
                mount.push(format!("Type={}", verbatim(&t.value)));
            }
            if let Some(o) = &device.options {
                mount.push(format!("Options={}", verbatim(&o.value)));
            }
            let unit = path_unit_name(path);
            let data = MountData {
                description: verbatim(&format!("bakgen destination {name}")),
                unit: Vec::new(),
                what: verbatim(&device.what.value),
                r#where: verbatim(path),
                mount,
            };
            b.add(
                format!("{UNIT_DIR}/{unit}.mount"),
                self.templates.render("mount", &data)?,
                0o644,
            );
            let idle = device
                .idle_timeout
                .as_ref()
                .map_or(600, |t| t.value.approx_seconds());
            let auto = AutomountData {
                description: verbatim(&format!("bakgen destination {name}, mounted on demand")),
                r#where: verbatim(path),
                automount: vec![format!("TimeoutIdleSec={idle}")],
            };
            b.add(
                format!("{UNIT_DIR}/{unit}.automount"),
                self.templates.render("automount", &auto)?,
                0o644,
            );
        }
        if let Some(view) = &folder.read_only_view {
            let unit = path_unit_name(&view.value);
            let data = MountData {
                description: verbatim(&format!("Read-only view of bakgen destination {name}")),
                unit: vec![format!(
                    "RequiresMountsFor={}",
                    list_path(&folder.path.value)
                )],
                what: verbatim(&folder.path.value),
                r#where: verbatim(&view.value),
                mount: vec!["Type=none".to_owned(), "Options=bind,ro".to_owned()],
            };
            b.add(
                format!("{UNIT_DIR}/{unit}.mount"),
                self.templates.render("mount", &data)?,
                0o644,
            );
            let auto = AutomountData {
                description: verbatim(&format!(
                    "Read-only view of bakgen destination {name}, mounted on demand"
                )),
                r#where: verbatim(&view.value),
                automount: Vec::new(),
            };
            b.add(
                format!("{UNIT_DIR}/{unit}.automount"),
                self.templates.render("automount", &auto)?,
                0o644,
            );
        }
        Ok(())
    }
}

impl Bundle {
    pub(super) fn add(&mut self, path: String, contents: String, mode: u32) {
        self.files.insert(
            path,
            BundleFile {
                contents: contents.into_bytes(),
                mode,
            },
        );
    }
}

#[derive(Serialize)]
pub(super) struct UnitData<'a> {
    description: &'a str,
    unit: &'a [String],
    bakrun_args: &'a str,
    service: &'a [String],
}

pub(super) fn unit_data(u: &super::service::ServiceUnit) -> UnitData<'_> {
    UnitData {
        description: &u.description,
        unit: &u.unit,
        bakrun_args: &u.bakrun_args,
        service: &u.service,
    }
}

#[derive(Serialize)]
pub(super) struct TimerData {
    pub(super) description: String,
    pub(super) calendar: String,
    pub(super) timer: Vec<String>,
    pub(super) service: String,
}

impl TimerData {
    /// The `[Timer]` lines of a jitter: a delay fixed per host and unit, so that runs stay
    /// evenly spaced.
    pub(super) fn jitter(seconds: u64) -> Vec<String> {
        if seconds == 0 {
            return Vec::new();
        }
        vec![
            format!("RandomizedDelaySec={seconds}"),
            "FixedRandomDelay=true".to_owned(),
        ]
    }
}

#[derive(Serialize)]
struct MountData {
    description: String,
    unit: Vec<String>,
    what: String,
    #[serde(rename = "where")]
    r#where: String,
    mount: Vec<String>,
}

#[derive(Serialize)]
struct AutomountData {
    description: String,
    #[serde(rename = "where")]
    r#where: String,
    automount: Vec<String>,
}
