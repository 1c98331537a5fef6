//! A resolved job's settings as `bakgen explain` shows them: each value in the words it was
//! written with (taken from the policy text), the place it was written, and what applies
//! when no level of the job's chain writes it.

use crate::policy::{NotifyTarget, PingTarget, Settings, Spanned};
use crate::source::{SourceSet, Span};
use crate::validate::PlannedJob;

/// One setting's value as written, and where.
pub struct Shown {
    pub text: String,
    pub span: Span,
}

/// The policy's name of a `Settings` field (`limit_upload` → `limit-upload`).
pub fn node_name(field: &str) -> String {
    match field {
        "sources" => "source".to_owned(),
        "excludes" => "exclude".to_owned(),
        "dumps" => "postgres/mysql".to_owned(),
        other => other.replace('_', "-"),
    }
}

/// What a setting no level writes means for the job.
pub fn built_in(field: &str, job: &PlannedJob) -> String {
    let destination_limit = |limit: &Option<Spanned<u64>>| match limit {
        Some(_) => format!("destination `{}`'s", job.destination.name.value),
        None => "none: no limit".to_owned(),
    };
    match field {
        "from" => "none: the sources are on this host".to_owned(),
        "nice" | "io_class" => "systemd's".to_owned(),
        "timeout" => "none: a run may take as long as it needs".to_owned(),
        "limit_upload" => destination_limit(&job.destination.limit_upload),
        "limit_download" => destination_limit(&job.destination.limit_download),
        "metrics_dir" => bakgen_spec::installed::METRICS_DIR.to_owned(),
        "verify" => "none: no restore drill".to_owned(),
        _ => "none".to_owned(),
    }
}

/// The value of `field` in `s` as written, with the place of its first part; `None` when
/// it is not set (or is a field this view does not know, shown as set without a value).
pub fn shown(s: &Settings, field: &str, sources: &SourceSet) -> Option<Shown> {
    let text = |span: &Span| -> String {
        let file = sources.get(span.file);
        file.text.get(span.range.clone()).unwrap_or("").to_owned()
    };
    let one = |v: &dyn Written| -> Option<Shown> {
        let mut parts = v.parts();
        parts.sort_by(|a, b| a.1.cmp(&b.1));
        let span = parts.first()?.1.clone();
        let words: Vec<String> = parts
            .iter()
            .map(|(key, span)| match key {
                Some(k) => format!("{k}={}", text(span)),
                None => text(span),
            })
            .collect();
        Some(Shown {
            text: words.join(" "),
            span,
        })
    };
    let list = |items: &[&dyn Written]| -> Option<Shown> {
        let shown: Vec<Shown> = items.iter().filter_map(|i| one(*i)).collect();
        let span = shown.first()?.span.clone();
        Some(Shown {
            text: shown
                .into_iter()
                .map(|s| s.text)
                .collect::<Vec<_>>()
                .join("; "),
            span,
        })
    };
    match field {
        "from" => one(s.from.as_ref()?),
        "sources" => one(s.sources.as_ref()?),
        "excludes" => one(s.excludes.as_ref()?),
        "to" => one(s.to.as_ref()?),
        "schedule" => {
            let sc = s.schedule.as_ref()?;
            let mut parts = vec![(None, sc.calendar.span.clone())];
            parts.extend(sc.jitter.iter().map(|j| (Some("jitter"), j.span.clone())));
            one(&Parts(parts))
        }
        "retention" => one(s.retention.as_ref()?),
        "lvm_snapshot" => {
            let l = s.lvm_snapshot.as_ref()?;
            let mut parts = vec![
                (None, l.volume.span.clone()),
                (Some("size"), l.size.span.clone()),
            ];
            parts.extend(
                l.mount_point
                    .iter()
                    .map(|m| (Some("mount-point"), m.span.clone())),
            );
            one(&Parts(parts))
        }
        "btrfs_snapshot" => one(&s.btrfs_snapshot.as_ref()?.subvolume),
        "dumps" => {
            let dumps = s.dumps.as_ref()?;
            let items: Vec<&dyn Written> = dumps.iter().map(|d| d as &dyn Written).collect();
            list(&items)
        }
        "nice" => one(s.nice.as_ref()?),
        "io_class" => {
            let io = s.io_class.as_ref()?;
            let mut parts = vec![(None, io.class.span.clone())];
            parts.extend(
                io.priority
                    .iter()
                    .map(|p| (Some("priority"), p.span.clone())),
            );
            one(&Parts(parts))
        }
        "timeout" => one(s.timeout.as_ref()?),
        "limit_upload" => one(s.limit_upload.as_ref()?),
        "limit_download" => one(s.limit_download.as_ref()?),
        "on_failure" => match &s.on_failure.as_ref()?.target {
            NotifyTarget::Command(argv) => one(argv),
            NotifyTarget::Url(url) => one(&Parts(vec![(Some("url"), url.span.clone())])),
        },
        "ping" => {
            let p = s.ping.as_ref()?;
            let mut shown = match &p.target {
                PingTarget::Url(url) => one(url)?,
                PingTarget::Secret(name) => one(&Parts(vec![(Some("secret"), name.span.clone())]))?,
            };
            let kind = serde_json::to_value(p.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            shown.text.push_str(&format!(" kind=\"{kind}\""));
            Some(shown)
        }
        "metrics_dir" => one(s.metrics_dir.as_ref()?),
        "verify" => {
            let v = s.verify.as_ref()?;
            let mut parts = Vec::new();
            if let Some(sc) = &v.schedule {
                parts.push((Some("schedule"), sc.calendar.span.clone()));
            }
            if let Some(sample) = &v.sample {
                parts.extend(sample.files.iter().map(|f| (Some("files"), f.span.clone())));
                parts.extend(
                    sample
                        .per_mille
                        .iter()
                        .map(|p| (Some("percent"), p.span.clone())),
                );
            }
            parts.extend(
                v.critical
                    .iter()
                    .map(|c| (Some("critical"), c.span.clone())),
            );
            parts.extend(
                v.queries
                    .iter()
                    .map(|q| (Some("query"), q.sql.span.clone())),
            );
            parts.extend(v.within.iter().map(|w| (Some("within"), w.span.clone())));
            if let Some(c) = &v.count {
                parts.push(match &c.tolerance {
                    // Shown as written: `count tolerance="2%"`.
                    Some(t) => (Some("count tolerance"), t.span.clone()),
                    None => (None, c.span.clone()),
                });
            }
            if parts.is_empty() {
                // `verify { }`: a drill with every default.
                return Some(Shown {
                    text: "verify { } (every default)".to_owned(),
                    span: v.span.clone(),
                });
            }
            one(&Parts(parts))
        }
        _ => None,
    }
}

/// A value's pieces as written: each piece's property name (none for an argument) and
/// span, in the order of the policy text.
trait Written {
    fn parts(&self) -> Vec<(Option<&'static str>, Span)>;
}

struct Parts(Vec<(Option<&'static str>, Span)>);

impl Written for Parts {
    fn parts(&self) -> Vec<(Option<&'static str>, Span)> {
        self.0.clone()
    }
}

impl<T> Written for Spanned<T> {
    fn parts(&self) -> Vec<(Option<&'static str>, Span)> {
        vec![(None, self.span.clone())]
    }
}

impl<T> Written for Vec<Spanned<T>> {
    fn parts(&self) -> Vec<(Option<&'static str>, Span)> {
        self.iter().map(|v| (None, v.span.clone())).collect()
    }
}

impl Written for crate::policy::Pull {
    fn parts(&self) -> Vec<(Option<&'static str>, Span)> {
        let mut out = vec![(None, self.host.span.clone())];
        for (key, v) in [("user", &self.user), ("identity", &self.identity)] {
            out.extend(v.iter().map(|v| (Some(key), v.span.clone())));
        }
        out.extend(self.port.iter().map(|p| (Some("port"), p.span.clone())));
        out.extend(
            self.known_hosts
                .iter()
                .map(|k| (Some("known-hosts"), k.span.clone())),
        );
        out
    }
}

impl Written for crate::policy::Retention {
    fn parts(&self) -> Vec<(Option<&'static str>, Span)> {
        let (counts, within) = crate::policy::RETENTION_KEYS.split_at(6);
        let counts = counts
            .iter()
            .zip(self.counts())
            .filter_map(|(k, v)| v.as_ref().map(|v| (Some(*k), v.span.clone())));
        let within = within
            .iter()
            .zip(self.durations())
            .filter_map(|(k, v)| v.as_ref().map(|v| (Some(*k), v.span.clone())));
        counts.chain(within).collect()
    }
}

impl Written for crate::policy::Dump {
    fn parts(&self) -> Vec<(Option<&'static str>, Span)> {
        let mut out = vec![(None, self.span.clone())];
        out.extend(self.databases.iter().map(|d| (None, d.span.clone())));
        for (key, v) in [
            ("host", &self.host),
            ("user", &self.user),
            ("password-secret", &self.password_secret),
        ] {
            out.extend(v.iter().map(|v| (Some(key), v.span.clone())));
        }
        out.extend(self.port.iter().map(|p| (Some("port"), p.span.clone())));
        out
    }
}
