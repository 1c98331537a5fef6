//! Restic maintenance timers: `prune-schedule`/`check-schedule` decoded and validated,
//! and `bakgen-prune-<dest>`/`bakgen-check-<dest>` units emitted per host and destination.

mod support;

use support::{bakgen, tmp};

const POLICY: &str = r#"
secret "pw" file="/etc/bakgen/secrets/pw"
secret "pg" file="/etc/bakgen/secrets/pg"
destination "vault" {
    restic "rest:https://vault.example.net/{host}/{job}"
    password secret="pw"
    prune-schedule "Sun *-*-* 04:00" jitter="0s"
    check-schedule "monthly" read-data="5%"
}
host "db1" {
    job "etc" { source "/etc"; to "vault"; schedule "daily"; retention keep-daily=7; }
    job "pg" { postgres "app" password-secret="pg"; to "vault"; schedule "daily"; retention keep-daily=7; }
}
"#;

#[test]
fn prune_and_check_units_cover_every_repository_of_the_destination() {
    let dir = tmp("emit");
    let dir = dir.path().to_owned();
    std::fs::write(dir.join("p.kdl"), POLICY).unwrap();
    let out = dir.join("out");
    let o = bakgen(&[
        "build",
        dir.join("p.kdl").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let units = out.join("db1/etc/systemd/system");
    let prune = std::fs::read_to_string(units.join("bakgen-prune-vault.service")).unwrap();
    assert!(prune.contains(
        "ExecStart=/usr/bin/bakrun prune --repository-only /etc/bakgen/jobs/etc.json /etc/bakgen/jobs/pg.json"
    ), "{prune}");
    // Only the destination's credential, not the dump's; no user switching.
    assert!(prune.contains("LoadCredential=pw:"), "{prune}");
    assert!(!prune.contains("LoadCredential=pg:"), "{prune}");
    assert!(!prune.contains("CAP_SETUID"), "{prune}");
    let check = std::fs::read_to_string(units.join("bakgen-check-vault.service")).unwrap();
    assert!(
        check.contains(
            "check /etc/bakgen/jobs/etc.json /etc/bakgen/jobs/pg.json --read-data \"5%%\""
        ),
        "{check}"
    );
    let timer = std::fs::read_to_string(units.join("bakgen-prune-vault.timer")).unwrap();
    assert!(timer.contains("OnCalendar=Sun *-*-* 04:00:00"), "{timer}");
    assert!(!timer.contains("RandomizedDelaySec"), "{timer}");
    let timer = std::fs::read_to_string(units.join("bakgen-check-vault.timer")).unwrap();
    assert!(
        timer.contains("OnCalendar=*-*-01 00:00:00")
            && timer.contains("Unit=bakgen-check-vault.service")
    );
    // A schedule without jitter= keeps the default hour of jitter; jitter="0s" has none.
    assert!(
        timer.contains("RandomizedDelaySec=3600\nFixedRandomDelay=true"),
        "{timer}"
    );
}

#[test]
fn maintenance_settings_are_checked() {
    let dir = tmp("errors");
    let dir = dir.path().to_owned();
    let policy = r#"
secret "pw" file="/etc/bakgen/secrets/pw"
destination "usb" {
    path "/srv/backups"
    prune-schedule "weekly"
}
destination "vault" {
    restic "/srv/restic"
    password secret="pw"
    check-schedule "monthly" read-data="lots"
}
host "h" { job "a" { source "/etc"; to "vault"; schedule "daily"; retention keep-daily=7; }; }
host "h2" { job "prune-vault" { source "/etc"; to "vault"; schedule "daily"; retention keep-daily=7; }; }
"#;
    std::fs::write(dir.join("p.kdl"), policy).unwrap();
    let o = bakgen(&["check", dir.join("p.kdl").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("apply to restic repositories"), "{err}");
    assert!(
        err.contains("`lots` is not a share of the repository to read"),
        "{err}"
    );
}

#[test]
fn sftp_ssh_options_reach_the_job_spec_and_are_checked() {
    let dir = tmp("sftp");
    let dir = dir.path().to_owned();
    let policy = r#"
secret "pw" file="/etc/bakgen/secrets/pw"
destination "nas" {
    restic "sftp:backup@nas.example.net:/srv/restic/{host}"
    password secret="pw"
    ssh port=2222 identity="/root/.ssh/id_backup" known-hosts="/etc/bakgen/known_hosts"
}
host "h" { job "etc" { source "/etc"; to "nas"; schedule "daily"; retention keep-daily=7; }; }
"#;
    std::fs::write(dir.join("p.kdl"), policy).unwrap();
    let out = dir.join("out");
    let o = bakgen(&[
        "build",
        dir.join("p.kdl").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let spec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("h/etc/bakgen/jobs/etc.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        spec["destination"]["ssh"],
        serde_json::json!({
            "port": 2222,
            "identity": "/root/.ssh/id_backup",
            "known-hosts": "/etc/bakgen/known_hosts",
        })
    );
    assert_eq!(
        spec["destination"]["repository"],
        "sftp:backup@nas.example.net:/srv/restic/h"
    );

    let bad = r#"
secret "pw" file="/etc/bakgen/secrets/pw"
destination "usb" {
    path "/srv/backups"
    ssh port=22
}
destination "vault" {
    restic "/srv/restic"
    password secret="pw"
    ssh identity="relative/key"
}
host "h" { job "a" { source "/etc"; to "vault"; schedule "daily"; retention keep-daily=7; }; }
"#;
    std::fs::write(dir.join("bad.kdl"), bad).unwrap();
    let o = bakgen(&["check", dir.join("bad.kdl").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`ssh` applies to sftp: restic repositories, not to snapshot folders"),
        "{err}"
    );
    assert!(err.contains("`ssh` applies to sftp: repositories"), "{err}");
    assert!(err.contains("identity"), "{err}");
}
