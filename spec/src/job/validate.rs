//! Checks on a job spec's values, made when it is loaded: a bad value must stop a run
//! before anything starts (exit 2), not after the whole backup ran. The compiler never
//! writes such a spec; these checks catch hand edits and specs from elsewhere.

use super::{Destination, JobSpec, Notify, Ping, PingUrl, Step};
use crate::duration::Duration;

/// One bad value: the field, written as in the JSON (`sources[1]`,
/// `retention.keep-within`), and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.field, self.problem)
    }
}

/// Every problem of the spec, in field order; empty when it can be run.
pub fn problems(spec: &JobSpec) -> Vec<FieldProblem> {
    let mut out = Problems::default();
    for (field, name) in [("host", &spec.host), ("job", &spec.job)] {
        if let Err(e) = crate::name::check(name) {
            out.add(
                field,
                format!(
                    "{field} name `{}` {e}: it cannot be used as a file name",
                    name.escape_debug()
                ),
            );
        }
    }
    if let Some(remote) = &spec.remote {
        let address = &remote.address;
        if address.is_empty()
            || address.starts_with('-')
            || address.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            out.add(
                "remote.address",
                format!("`{address}` is not a host name or address"),
            );
        }
        out.absolute("remote.identity", remote.identity.as_deref());
        out.absolute("remote.known-hosts", remote.known_hosts.as_deref());
    }
    for (i, source) in spec.sources.iter().enumerate() {
        // Also what keeps a source from reaching rsync or restic as an option (`-e`).
        out.absolute(&format!("sources[{i}]"), Some(source));
    }
    match &spec.destination {
        Destination::Snapshots {
            path, mount_point, ..
        } => {
            out.absolute("destination.path", Some(path));
            out.absolute("destination.mount-point", mount_point.as_deref());
        }
        Destination::Restic {
            repository,
            cache_dir,
            password,
            environment,
            ..
        } => {
            out.secret("destination.password", password);
            for (i, e) in environment.iter().enumerate() {
                out.secret(&format!("destination.environment[{i}].secret"), &e.secret);
            }
            if repository.is_empty() || repository.starts_with('-') {
                out.add(
                    "destination.repository",
                    format!("`{repository}` is not a restic repository"),
                );
            }
            out.absolute("destination.cache-dir", Some(cache_dir));
        }
    }
    let r = &spec.retention;
    for (field, value) in [
        ("retention.keep-within", &r.keep_within),
        ("retention.keep-within-hourly", &r.keep_within_hourly),
        ("retention.keep-within-daily", &r.keep_within_daily),
        ("retention.keep-within-weekly", &r.keep_within_weekly),
        ("retention.keep-within-monthly", &r.keep_within_monthly),
        ("retention.keep-within-yearly", &r.keep_within_yearly),
    ] {
        if let Some(text) = value {
            if let Err(e) = Duration::parse(text) {
                out.add(
                    field,
                    format!("`{text}` is not a duration ({e}); write it like `7D` or `3D12h`"),
                );
            }
        }
    }
    for (i, step) in spec.steps.iter().enumerate() {
        let at = |name: &str| format!("steps[{i}].{name}");
        match step {
            Step::LvmSnapshot {
                volume,
                origin_path,
                ..
            } => {
                let parts: Vec<&str> = volume.split('/').collect();
                if parts.len() != 2 || parts.iter().any(|p| p.is_empty() || p.starts_with('-')) {
                    out.add(
                        &at("volume"),
                        format!("`{volume}` is not `volume-group/volume`"),
                    );
                }
                out.absolute(&at("origin-path"), Some(origin_path));
            }
            Step::BtrfsSnapshot {
                subvolume,
                origin_path,
            } => {
                out.absolute(&at("subvolume"), Some(subvolume));
                out.absolute(&at("origin-path"), Some(origin_path));
            }
            Step::Postgres { .. } | Step::Mysql { .. } => {}
        }
    }
    if let Some(Notify::Command { argv }) = &spec.on_failure {
        if argv.first().is_none_or(|p| p.is_empty()) {
            out.add("on-failure.argv", "names no program".to_owned());
        }
    }
    if let Some(Ping {
        url: PingUrl::Plain(url),
        ..
    }) = &spec.ping
    {
        if !is_http_url(url) {
            out.add(
                "ping.url.plain",
                format!("`{url}` is not an http:// or https:// URL"),
            );
        }
    }
    out.absolute("state-dir", Some(&spec.state_dir));
    out.absolute("metrics-dir", spec.metrics_dir.as_deref());
    out.0
}

/// An `http://` or `https://` URL with a host: what curl is given for a ping or a
/// notification. One rule for the compiler and the runtime.
pub fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty()
            && !r.starts_with('/')
            && !url.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

#[derive(Default)]
struct Problems(Vec<FieldProblem>);

impl Problems {
    fn add(&mut self, field: &str, problem: String) {
        self.0.push(FieldProblem {
            field: field.to_owned(),
            problem,
        });
    }

    /// Where a credential is loaded from: absolute paths, one at most.
    fn secret(&mut self, field: &str, secret: &super::SecretRef) {
        if let super::SecretRef::Credential {
            file, encrypted, ..
        } = secret
        {
            if file.is_some() && encrypted.is_some() {
                self.add(field, "names both `file` and `encrypted`".to_owned());
            }
            self.absolute(&format!("{field}.file"), file.as_deref());
            self.absolute(&format!("{field}.encrypted"), encrypted.as_deref());
        }
    }

    /// Paths bakrun hands to other programs or joins others onto must be absolute: a
    /// relative one depends on the working folder, and one starting with `-` is an option.
    fn absolute(&mut self, field: &str, path: Option<&str>) {
        if let Some(path) = path {
            if !path.starts_with('/') || path.contains('\0') {
                self.add(field, format!("`{path}` is not an absolute path"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::job::{JobSpec, SpecError};

    fn spec_json() -> serde_json::Value {
        serde_json::json!({
            "version": 1, "host": "h1", "job": "files", "unit": "bakgen-files.service",
            "sources": ["/etc"],
            "destination": {"engine": "snapshots", "path": "/backup"},
            "schedule": {"calendar": "*-*-* 02:00:00", "late-after-seconds": 7200},
            "retention": {"keep-last": 3, "keep-within": "7D"},
            "state-dir": "/var/lib/bakgen",
        })
    }

    fn load(v: &serde_json::Value) -> Result<JobSpec, SpecError> {
        JobSpec::from_json("job.json", &v.to_string())
    }

    fn refused(v: &serde_json::Value) -> String {
        match load(v) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted: {v}"),
        }
    }

    #[test]
    fn a_ping_is_optional_and_its_plain_url_must_be_http() {
        // A spec from before pings existed loads, and has none.
        assert_eq!(load(&spec_json()).expect("loads").ping, None);
        let mut v = spec_json();
        v["ping"] = serde_json::json!({"kind": "healthchecks", "url": {"plain": "https://hc.example.net/ping/abc"}});
        let spec = load(&v).expect("loads");
        assert_eq!(
            spec.ping.as_ref().map(|p| p.kind),
            Some(crate::job::PingKind::Healthchecks)
        );
        let mut v = spec_json();
        v["ping"] = serde_json::json!({"kind": "webhook", "url": {"secret": {"from": "credential", "name": "hc"}}});
        assert!(load(&v).is_ok());
        v["ping"]["url"] = serde_json::json!({"plain": "ftp://hc.example.net/x"});
        let e = refused(&v);
        assert!(e.contains("ping.url.plain") && e.contains("ftp://"), "{e}");
        v["ping"]["kind"] = "pager".into();
        assert!(refused(&v).contains("pager"));
    }

    #[test]
    fn every_generated_spec_loads() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../generated");
        let mut seen = 0;
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "json")
                    && path
                        .parent()
                        .is_some_and(|p| p.ends_with("etc/bakgen/jobs"))
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    if let Err(e) = JobSpec::from_json(&path.to_string_lossy(), &text) {
                        panic!("{e}");
                    }
                    seen += 1;
                }
            }
        }
        assert!(seen > 10, "found only {seen} generated specs");
    }

    #[test]
    fn a_bad_keep_within_is_named_before_anything_runs() {
        let mut v = spec_json();
        v["retention"]["keep-within"] = "7 days".into();
        let e = refused(&v);
        assert!(
            e.contains("`retention.keep-within`: `7 days` is not a duration"),
            "{e}"
        );
    }

    #[test]
    fn every_keep_within_period_is_checked_and_named() {
        let periods = ["hourly", "daily", "weekly", "monthly", "yearly"];
        let mut v = spec_json();
        for (i, period) in periods.iter().enumerate() {
            v["retention"][format!("keep-within-{period}")] = format!("{i} weeks").into();
        }
        let e = refused(&v);
        for (i, period) in periods.iter().enumerate() {
            let said = format!("`retention.keep-within-{period}`: `{i} weeks` is not a duration");
            assert!(e.contains(&said), "{e}");
        }
        assert!(!e.contains("`retention.keep-within`"), "{e}");
        let mut v = spec_json();
        for period in periods {
            v["retention"][format!("keep-within-{period}")] = "1Y2M".into();
        }
        assert!(load(&v).is_ok());
    }

    #[test]
    fn a_credential_names_at_most_one_absolute_file() {
        let mut v = spec_json();
        v["destination"] = serde_json::json!({
            "engine": "restic", "repository": "/srv/r", "cache-dir": "/var/cache/bakgen",
            "password": {"from": "credential", "name": "pw", "file": "/etc/bakgen/secrets/pw"},
        });
        assert!(load(&v).is_ok());
        v["destination"]["password"]["encrypted"] = "/etc/credstore.encrypted/pw".into();
        assert!(refused(&v).contains("names both"), "{}", refused(&v));
        v["destination"]["password"] =
            serde_json::json!({"from": "credential", "name": "pw", "file": "pw"});
        assert!(
            refused(&v).contains("destination.password.file"),
            "{}",
            refused(&v)
        );
    }

    #[test]
    fn sources_and_paths_must_be_absolute() {
        let mut v = spec_json();
        v["sources"] = serde_json::json!(["/etc", "-e", "relative/x"]);
        v["state-dir"] = "state".into();
        let e = refused(&v);
        assert!(
            e.contains("`sources[1]`: `-e` is not an absolute path"),
            "{e}"
        );
        assert!(e.contains("`sources[2]`"), "{e}");
        assert!(e.contains("`state-dir`"), "{e}");
        assert!(!e.contains("sources[0]"), "{e}");
    }

    #[test]
    fn a_remote_address_cannot_be_an_option() {
        let mut v = spec_json();
        v["remote"] = serde_json::json!({"address": "-oProxyCommand=x"});
        assert!(refused(&v).contains("`remote.address`"));
    }

    #[test]
    fn a_version_that_is_not_an_integer_says_what_it_is() {
        for (version, shown) in [
            (serde_json::json!("1"), "\"1\""),
            (serde_json::json!(1.5), "1.5"),
            (serde_json::json!(-1), "-1"),
            (serde_json::json!(null), "null"),
        ] {
            let mut v = spec_json();
            v["version"] = version;
            let e = refused(&v);
            assert!(
                e.contains(&format!("`version` is {shown}, not an integer")),
                "{e}"
            );
            assert!(!e.contains("version 0"), "{e}");
        }
        let mut v = spec_json();
        v.as_object_mut().unwrap().remove("version");
        assert!(refused(&v).contains("`version` is missing"));
        v["version"] = 2.into();
        assert!(refused(&v).contains("is version 2"));
        assert!(load(&spec_json()).is_ok());
    }
}
