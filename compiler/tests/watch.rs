//! `monitoring { watch "HOST" { … } }`: decoding, each mistake with its diagnostic, and what
//! the watching host's bundle holds — a watch spec `bakrun watch` loads, and units systemd
//! accepts.

mod support;
#[path = "unit_support/verify.rs"]
mod unit_verify;

use std::path::PathBuf;

use bakgen::diagnostic::Severity;
use bakgen::emit::Bundle;
use bakgen::ops::build::bundles;
use bakgen::ops::check::{check, Checked};
use bakgen::source::{SourceFile, SourceSet};
use bakgen_spec::job::{JobSpec, Notify, SecretRef};
use bakgen_spec::watch::{Read, WatchSpec, WATCH_SPEC};

fn checked(text: &str) -> Checked {
    let mut set = SourceSet::default();
    set.add(SourceFile::new("p.kdl", text.to_owned()));
    check(set)
}

const BASE: &str = r#"
secret "pw" file="/etc/bakgen/secrets/pw"
secret "s3" credential="/etc/credstore.encrypted/s3"
destination "usb" { path "/mnt/usb"; device "/dev/disk/by-label/usb"; }
destination "nas" { path "/srv/nas"; }
destination "vault" {
    restic "sftp:backup@vault.lan:/srv/restic/{host}"
    password secret="pw"
    env "AWS_SECRET_ACCESS_KEY" secret="s3"
    ssh port=2222 known-hosts="/etc/bakgen/known_hosts"
}
destination "local" { restic "/srv/restic/{host}-{job}"; password secret="pw"; }
host "web1" {
    job "etc" { source "/etc"; to "usb"; schedule "daily" jitter="30m"; timeout "2h"; retention keep-daily=7; }
    job "db" { source "/var/lib/db"; to "vault"; schedule "hourly"; retention keep-hourly=24; }
    job "home" { source "/home"; to "local"; schedule "daily"; retention keep-daily=7; }
    job "www" { source "/srv/www"; to "nas"; schedule "weekly"; retention keep-weekly=4; }
    job "once" { source "/opt"; to "nas"; schedule "2026-01-01 00:00"; retention keep-last=1; }
}
host "web2" {
    job "db" { source "/var/lib/db"; to "vault"; schedule "hourly"; retention keep-hourly=24; }
}
host "backup1"
"#;

const WATCH: &str = r#"
monitoring {
    prometheus "backup1"
    watch "backup1" {
        schedule "*:15" jitter="2m"
        destination "usb"
        destination "nas" at="/mnt/nas"
        destination "vault"
        destination "local" file-times=#true
        on-late "/usr/local/bin/notify-ops" "--late"
    }
}
"#;

fn policy(monitoring: &str) -> String {
    format!("{BASE}{monitoring}")
}

fn built(text: &str) -> Vec<Bundle> {
    let c = checked(text);
    assert_eq!(c.errors() + c.warnings(), 0, "{:#?}", c.diagnostics);
    bundles(c.plan().expect("a plan")).expect("bundles render")
}

fn file<'a>(b: &'a Bundle, path: &str) -> &'a str {
    let f = b
        .files
        .get(path)
        .unwrap_or_else(|| panic!("{} has no {path}: {:?}", b.host, b.files.keys()));
    std::str::from_utf8(&f.contents).expect("utf-8")
}

fn host<'a>(bundles: &'a [Bundle], name: &str) -> &'a Bundle {
    bundles
        .iter()
        .find(|b| b.host == name)
        .unwrap_or_else(|| panic!("no bundle for {name}"))
}

/// The `late-after-seconds` of a job's own spec, which the watch must repeat exactly.
fn late_after(bundles: &[Bundle], h: &str, job: &str) -> u64 {
    let text = file(host(bundles, h), &format!("etc/bakgen/jobs/{job}.json"));
    JobSpec::from_json(job, text)
        .expect("a job spec")
        .schedule
        .late_after_seconds
}

#[test]
fn the_watching_host_gets_a_spec_bakrun_loads_with_every_store_and_job() {
    let b = built(&policy(WATCH));
    let watcher = host(&b, "backup1");
    let text = file(watcher, WATCH_SPEC.trim_start_matches('/'));
    let spec = WatchSpec::from_json(WATCH_SPEC, text).expect("the runtime loads it");
    assert_eq!(spec.host, "backup1");
    assert_eq!(
        spec.on_late,
        Some(Notify::Command {
            argv: vec!["/usr/local/bin/notify-ops".into(), "--late".into()]
        })
    );
    let summary: Vec<(String, String, Vec<String>)> = spec
        .stores
        .iter()
        .map(|s| {
            let place = match &s.read {
                Read::Snapshots { path, mount_point } => {
                    format!("snapshots {path} {mount_point:?}")
                }
                Read::Restic { repository, .. } => format!("restic {repository}"),
                Read::ResticFileTimes { path } => format!("file-times {path}"),
            };
            let jobs = s
                .jobs
                .iter()
                .map(|j| format!("{}/{}", j.host, j.job))
                .collect();
            (s.destination.clone(), place, jobs)
        })
        .collect();
    let expected: Vec<(String, String, Vec<String>)> = [
        (
            "local",
            "file-times /srv/restic/web1-home",
            vec!["web1/home"],
        ),
        // `at=` is where the watcher reads; the job that runs once is never late: not watched.
        ("nas", "snapshots /mnt/nas None", vec!["web1/www"]),
        (
            "usb",
            "snapshots /mnt/usb Some(\"/mnt/usb\")",
            vec!["web1/etc"],
        ),
        // One listing per repository that {host} makes.
        (
            "vault",
            "restic sftp:backup@vault.lan:/srv/restic/web1",
            vec!["web1/db"],
        ),
        (
            "vault",
            "restic sftp:backup@vault.lan:/srv/restic/web2",
            vec!["web2/db"],
        ),
    ]
    .into_iter()
    .map(|(d, p, j)| {
        (
            d.to_owned(),
            p.to_owned(),
            j.into_iter().map(String::from).collect(),
        )
    })
    .collect();
    assert_eq!(summary, expected);
    for store in &spec.stores {
        for j in &store.jobs {
            assert_eq!(
                j.expected_within_seconds,
                late_after(&b, &j.host, &j.job),
                "{}/{}",
                j.host,
                j.job
            );
        }
    }
    // daily + 30 min jitter + 2 h timeout.
    let etc = &spec.stores[2].jobs[0];
    assert_eq!(etc.expected_within_seconds, 86_400 + 1800 + 7200);
    let Read::Restic {
        password,
        environment,
        ssh,
        ..
    } = &spec.stores[3].read
    else {
        panic!("vault is listed with restic: {:?}", spec.stores[3]);
    };
    assert_eq!(
        password,
        &SecretRef::Credential {
            name: "pw".into(),
            file: Some("/etc/bakgen/secrets/pw".into()),
            encrypted: None,
        }
    );
    assert_eq!(environment[0].variable, "AWS_SECRET_ACCESS_KEY");
    assert_eq!(ssh.as_ref().and_then(|s| s.port), Some(2222));
    // The file is the compiler's serialization, in the manifest like every file.
    assert!(file(watcher, "etc/bakgen/manifest.json").contains("\"etc/bakgen/watch.json\""));
    assert_eq!(watcher.files["etc/bakgen/watch.json"].mode, 0o600);
}

#[test]
fn the_watch_service_reads_only_what_it_watches_and_holds_only_its_credentials() {
    let b = built(&policy(WATCH));
    let watcher = host(&b, "backup1");
    let service = file(watcher, "etc/systemd/system/bakgen-watch.service");
    for line in [
        "ExecStart=/usr/bin/bakrun watch",
        "User=bakgen",
        "ProtectSystem=strict",
        "ReadOnlyPaths=-/mnt/nas -/mnt/usb -/srv/restic/web1-home",
        "ReadWritePaths=-/var/lib/prometheus/node-exporter",
        "StateDirectory=bakgen",
        "CacheDirectory=bakgen",
        "LoadCredential=pw:/etc/bakgen/secrets/pw",
        "LoadCredentialEncrypted=s3:/etc/credstore.encrypted/s3",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "KillMode=mixed",
    ] {
        assert!(service.lines().any(|l| l == line), "{line}:\n{service}");
    }
    let timer = file(watcher, "etc/systemd/system/bakgen-watch.timer");
    for line in [
        "OnCalendar=*-*-* *:15:00",
        "Persistent=true",
        "RandomizedDelaySec=120",
        "Unit=bakgen-watch.service",
    ] {
        assert!(timer.lines().any(|l| l == line), "{line}:\n{timer}");
    }
    assert!(file(watcher, "etc/sysusers.d/bakgen.conf").contains("u bakgen"));
    // Hosts that do not watch get none of it.
    assert!(!host(&b, "web1").files.contains_key("etc/bakgen/watch.json"));
}

#[test]
fn a_watch_of_snapshot_folders_alone_has_no_network_no_credential_and_runs_hourly() {
    let b = built(&policy(
        r#"monitoring { watch "backup1" { destination "nas"; destination "usb"; }; }"#,
    ));
    let watcher = host(&b, "backup1");
    let service = file(watcher, "etc/systemd/system/bakgen-watch.service");
    assert!(service.contains("\nPrivateNetwork=yes\n"), "{service}");
    assert!(!service.contains("LoadCredential"), "{service}");
    assert!(!service.contains("CacheDirectory"), "{service}");
    let timer = file(watcher, "etc/systemd/system/bakgen-watch.timer");
    assert!(timer.contains("\nOnCalendar=*-*-* *:00:00\n"), "{timer}");
    // No Prometheus host: no rules.
    assert!(!watcher
        .files
        .contains_key("etc/prometheus/rules/bakgen.yml"));
}

#[test]
fn the_rules_alert_per_watched_job_and_when_the_watch_is_silent() {
    let b = built(&policy(WATCH));
    let rules = file(host(&b, "backup1"), "etc/prometheus/rules/bakgen.yml");
    let late = rules.matches("alert: BakgenWatchLate").count();
    assert_eq!(late, 5, "{rules}");
    assert_eq!(rules.matches("alert: BakgenWatchAbsent").count(), 1);
    assert!(rules.contains("bakgen_watch_late{bakgen_watcher=\\\"backup1\\\",bakgen_host=\\\"web2\\\",bakgen_job=\\\"db\\\",bakgen_destination=\\\"vault\\\"} == 1"), "{rules}");
    // Absent is the watch's own last run missing; stale is it older than the watch's
    // late-after (2 h 2 min), to the second.
    assert!(
        rules.contains(
            "absent(bakgen_watch_last_run_timestamp_seconds{bakgen_watcher=\\\"backup1\\\"})"
        ),
        "{rules}"
    );
    assert!(rules.contains("time() - bakgen_watch_last_run_timestamp_seconds{bakgen_watcher=\\\"backup1\\\"} > 7320\""), "{rules}");
    assert_eq!(rules.matches("alert: BakgenWatchStale").count(), 1);
    // *:15 with 2 min jitter: 1 h gap + 2 min + 1 h, rounded up to 3 h.
    assert!(
        rules.contains("        for: 3h\n        labels:\n          bakgen_watcher: \"backup1\""),
        "{rules}"
    );
    let cases = file(host(&b, "backup1"), "etc/bakgen/prometheus-rules.test.yml");
    assert!(cases.contains("alertname: BakgenWatchLate"), "{cases}");
    assert!(cases.contains("alertname: BakgenWatchAbsent"), "{cases}");
    // Exactly its late-after old at 0 h, a minute more at 1 h, then left as it was.
    assert!(
        cases.contains(
            "      - series: \"bakgen_watch_last_run_timestamp_seconds{bakgen_watcher=\\\"backup1\\\"}\"\n        values: \"-7320 -3780+0x2\"\n"
        ),
        "{cases}"
    );
    assert!(cases.contains("alertname: BakgenWatchStale"), "{cases}");
}

/// Each mistake and the code and words it is reported with.
#[test]
fn each_mistake_is_reported_with_its_code() {
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"monitoring { watch "backup2" { destination "nas"; }; }"#,
            "bakgen::undefined-host",
            "no host is named `backup2`",
        ),
        (
            r#"monitoring { watch "backup1" { destination "nass"; }; }"#,
            "bakgen::undefined-destination",
            "did you mean `nas`?",
        ),
        (
            r#"monitoring { watch "backup1" { destination "usb" file-times=#true; }; }"#,
            "bakgen::watch-file-times",
            "destination `usb` is a snapshot folder",
        ),
        (
            r#"monitoring { watch "backup1" { destination "vault" file-times=#true; }; }"#,
            "bakgen::watch-file-times",
            "is not a path",
        ),
        (
            r#"monitoring { watch "backup1" { destination "vault" at="/srv/restic/all" file-times=#true; }; }"#,
            "bakgen::watch-file-times",
            "repository `/srv/restic/all` holds 2 jobs (web1/db, web2/db)",
        ),
        (
            r#"monitoring { watch "backup1" { destination "nas" at="mnt/nas"; }; }"#,
            "bakgen::relative-path",
            "watched folder `mnt/nas` is not an absolute path",
        ),
        (
            r#"monitoring { watch "backup1" { destination "nas" at="/mnt/../nas"; }; }"#,
            "bakgen::invalid-path",
            "watched folder `/mnt/../nas`",
        ),
        (
            r#"monitoring { watch "backup1" { destination "vault" at="ftp://x/{host}"; }; }"#,
            "bakgen::invalid-repository",
            "is not a restic repository",
        ),
        (
            r#"monitoring { watch "backup1" { destination "nas"; }; watch "backup1" { destination "usb"; }; }"#,
            "bakgen::duplicate-name",
            "host `backup1` has two `watch` nodes",
        ),
        (
            r#"monitoring { watch "backup1" { destination "nas"; destination "nas"; }; }"#,
            "bakgen::duplicate-name",
            "destination `nas` is named twice in watch `backup1`",
        ),
        (
            r#"monitoring { watch "backup1" { schedule "hourly"; }; }"#,
            "bakgen::missing-value",
            "watch `backup1` reads no destination",
        ),
        (
            r#"monitoring { watch "backup1" { destination "nas"; on-lat "/bin/true"; }; }"#,
            "bakgen::unknown-node",
            "did you mean `on-late`?",
        ),
        (
            r#"monitoring { watch "backup1" { destination "nas"; on-late "/bin/x" url="https://x"; }; }"#,
            "bakgen::conflicting-settings",
            "`on-late` has both a command and a URL",
        ),
        (
            r#"monitoring { watch "backup1" { destination "nas"; schedule "hourly"; schedule "daily"; }; }"#,
            "bakgen::duplicate-setting",
            "`schedule` is set twice",
        ),
        (
            r#"monitoring { watch "backup1" { destination "nas"; schedule "*:99"; }; }"#,
            "bakgen::invalid-schedule",
            "invalid schedule",
        ),
        (
            r#"monitoring { watch "web1" { destination "nas"; }; }
               host "web1" { job "watch" { source "/x"; to "nas"; schedule "daily"; retention keep-daily=1; }; }"#,
            "bakgen::duplicate-name",
            "job `watch` of host `web1` would share its units with the host's watch",
        ),
        (
            r#"monitoring { watch "backup1" { destination "nas" at=1; }; }"#,
            "bakgen::wrong-type",
            "at",
        ),
        (
            r#"monitoring { wach "backup1"; }"#,
            "bakgen::unknown-node",
            "did you mean `watch`?",
        ),
    ];
    for (monitoring, code, words) in cases {
        // The last-but-two case adds a second `web1`: only for the job named `watch`.
        let text = if monitoring.contains("job \"watch\"") {
            policy(monitoring).replacen("host \"web1\" {", "host \"web0\" {", 1)
        } else {
            policy(monitoring)
        };
        let c = checked(&text);
        let found = c.diagnostics.iter().any(|d| {
            d.code == *code
                && d.severity == Severity::Error
                && format!("{} {}", d.message, d.help.clone().unwrap_or_default()).contains(words)
        });
        assert!(
            found,
            "{monitoring}\nwanted {code}: {words}\ngot {:#?}",
            c.diagnostics
        );
        assert!(c.plan().is_none(), "{monitoring}: an error, so no plan");
    }
}

#[test]
fn a_watched_destination_no_job_writes_to_is_a_warning() {
    let text = policy(
        r#"monitoring { watch "backup1" { destination "spare"; }; }
"#,
    ) + "destination \"spare\" { path \"/srv/spare\"; }\n";
    let c = checked(&text);
    assert_eq!(c.errors(), 0, "{:#?}", c.diagnostics);
    assert!(
        c.diagnostics.iter().any(|d| d.code == "bakgen::unused"
            && d.severity == Severity::Warning
            && d.message == "watch `backup1` reads destination `spare`, where no job writes"),
        "{:#?}",
        c.diagnostics
    );
    // Nothing to judge there: no store, and still a spec the runtime loads.
    let b = bundles(c.plan().expect("only warnings, so a plan")).expect("bundles render");
    let text = file(host(&b, "backup1"), "etc/bakgen/watch.json");
    let spec = WatchSpec::from_json(WATCH_SPEC, text).expect("loads");
    assert!(spec.stores.is_empty(), "{spec:?}");
}

#[test]
#[ignore = "tier: system — needs root: systemd-analyze verify runs in a private mount namespace"]
fn the_watch_units_pass_systemd_analyze_verify_and_the_security_bound() {
    let b = built(&policy(WATCH));
    let dir = support::tmp("watch-units");
    let dir = dir.path().to_owned();
    let watcher = host(&b, "backup1");
    let mut files: Vec<PathBuf> = Vec::new();
    for name in ["bakgen-watch.service", "bakgen-watch.timer"] {
        let path = dir.join(name);
        std::fs::write(&path, file(watcher, &format!("etc/systemd/system/{name}")))
            .expect("write unit");
        files.push(path);
    }
    unit_verify::verify(&files);
    let o = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&files[0])
        .output()
        .expect("systemd-analyze runs");
    let text = String::from_utf8_lossy(&o.stdout);
    let score: f64 = text
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no score: {text}"));
    assert!(score <= 2.0, "bakgen-watch.service scores {score}:\n{text}");
}
