//! A restic job under a real systemd (nspawn container): `bakgen apply` installs it, the
//! repository password reaches restic through the unit's `LoadCredential=` (a file in
//! `$CREDENTIALS_DIRECTORY`, never an argument or `Environment=`), the service runs as the
//! `bakgen` user and makes a snapshot tagged for host and job, `bakrun status` reports it,
//! and the compiler's prune timer's service runs `restic prune` on the repository. The
//! run records its files for the job's drill in the cache folder, and the drill's unit,
//! in its own sandbox, restores its sample from that run and passes.
//! Needs root and the built binaries; fails (never skips) without them.

use std::time::Instant;

use bakgen_e2e::process::output_text as text;
use bakgen_e2e::{apply_policy, boot_with_bakgen, start_ok, SystemdContainer};

const PASSWORD: &str = "e2e restic password, never printed";

const POLICY: &str = r#"
secret "vault-password" file="/etc/bakgen/secrets/vault-password"
destination "vault" {
    restic "/srv/restic/{host}"
    password secret="vault-password"
    prune-schedule "Sun *-*-* 06:00:00"
}
host "e2e" {
    job "docs" {
        source "/srv/data"
        exclude "*.tmp"
        to "vault"
        schedule "*-*-* 03:00:00"
        retention keep-last=3
        verify { sample files=2; count tolerance="0%"; }
    }
}
"#;

fn start(ct: &SystemdContainer, unit: &str) {
    let journal = start_ok(ct, unit);
    assert!(
        !journal.contains(PASSWORD),
        "the password is in the journal"
    );
}

#[test]
#[ignore = "tier: system — needs root and a real systemd in an nspawn container; run by scripts/test"]
fn a_restic_job_runs_under_systemd_with_its_password_as_a_credential() {
    let t = Instant::now();
    let ct = boot_with_bakgen();
    println!("container booted in {:.2?}", t.elapsed());
    ct.sh(
        "mkdir -p /srv/data/sub /srv/restic /root/policy /etc/bakgen/secrets \
         && echo one > /srv/data/a && echo two > /srv/data/sub/b && echo skip > /srv/data/x.tmp",
    )
    .expect("sources");
    ct.write_file("/etc/bakgen/secrets/vault-password", PASSWORD.as_bytes())
        .expect("password");
    ct.sh("chmod 600 /etc/bakgen/secrets/vault-password")
        .expect("chmod");
    apply_policy(&ct, POLICY, "e2e");

    // The unit as installed: the password is a credential, nothing secret in it.
    let unit = ct
        .exec_ok(&["cat", "/etc/systemd/system/bakgen-docs.service"])
        .expect("unit");
    assert!(
        unit.contains("LoadCredential=vault-password:/etc/bakgen/secrets/vault-password"),
        "{unit}"
    );
    assert!(unit.contains("User=bakgen"), "{unit}");
    assert!(!unit.contains(PASSWORD));
    let spec = ct
        .exec_ok(&["cat", "/etc/bakgen/jobs/docs.json"])
        .expect("spec");
    assert!(spec.contains("\"from\": \"credential\""), "{spec}");

    // Initialise once, as the administrator would, with the same credential by hand.
    let init = ct
        .exec(&[
            "systemd-run",
            "--wait",
            "--pipe",
            "--property=LoadCredential=vault-password:/etc/bakgen/secrets/vault-password",
            "bakrun",
            "init",
            "docs",
        ])
        .expect("init");
    assert!(init.status.success(), "bakrun init: {}", text(&init));

    let t = Instant::now();
    start(&ct, "bakgen-docs.service");
    println!("bakgen-docs.service ran in {:.2?}", t.elapsed());
    // restic's own view of the repository: one snapshot, host and job tags, the excluded
    // file left out.
    let listed = ct
        .exec_ok(&[
            "env",
            "RESTIC_PASSWORD_FILE=/etc/bakgen/secrets/vault-password",
            "restic",
            "-r",
            "/srv/restic/e2e",
            "--no-cache",
            "ls",
            "latest",
        ])
        .expect("restic ls");
    assert!(
        listed.contains("/srv/data/sub/b") && !listed.contains("x.tmp"),
        "{listed}"
    );
    let snapshots = ct
        .exec_ok(&[
            "env",
            "RESTIC_PASSWORD_FILE=/etc/bakgen/secrets/vault-password",
            "restic",
            "-r",
            "/srv/restic/e2e",
            "--no-cache",
            "snapshots",
            "--json",
        ])
        .expect("restic snapshots");
    let parsed: serde_json::Value = serde_json::from_str(&snapshots).expect("JSON");
    let all = parsed.as_array().expect("array");
    assert_eq!(all.len(), 1, "{snapshots}");
    assert_eq!(all[0]["hostname"], "e2e");
    let tags = all[0]["tags"].to_string();
    assert!(
        tags.contains("job=docs") && tags.contains("host=e2e"),
        "{tags}"
    );

    let status = ct
        .exec(&["bakrun", "status", "--format", "json"])
        .expect("status");
    let report = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.status.success(), "bakrun status: {}", text(&status));
    assert!(report.contains("\"state\": \"ok\"") || report.contains("\"state\":\"ok\""));
    assert!(!report.contains(PASSWORD));

    // The run recorded its files for the drill (0600, in the cache folder the units
    // share), and the drill's unit restores its sample from that run.
    let record = ct
        .exec_ok(&[
            "stat",
            "-c",
            "%a %s",
            "/var/cache/bakgen/bakgen-run-files-e2e-docs",
        ])
        .expect("the run's record of its files");
    let (mode, size) = record.trim().split_once(' ').unwrap_or_default();
    assert_eq!(mode, "600", "{record}");
    assert!(size.parse::<u64>().unwrap_or(0) > 0, "{record}");
    let recorded = ct
        .exec_ok(&["cat", "/var/cache/bakgen/bakgen-run-files-e2e-docs"])
        .expect("cat");
    assert!(
        recorded.contains("\"/srv/data/sub/b\"") && !recorded.contains("x.tmp"),
        "{recorded}"
    );
    start(&ct, "bakgen-verify-docs.service");
    let drill = ct
        .exec_ok(&["cat", "/var/lib/bakgen/verify/docs.json"])
        .expect("the drill's record");
    let drill: serde_json::Value = serde_json::from_str(&drill).expect("JSON");
    assert_eq!(drill["result"], "passed", "{drill}");
    assert_eq!(drill["files_checked"], 2, "{drill}");
    // The live files counted by `restic backup --dry-run` in the drill's sandbox: a and
    // sub/b, not the excluded x.tmp.
    assert_eq!(
        drill["count"],
        serde_json::json!({"run": 2, "live": 2, "tolerance_per_mille": 0, "passed": true}),
        "{drill}"
    );
    assert_eq!(
        drill["snapshot"].as_str(),
        all[0]["short_id"].as_str(),
        "{drill}"
    );

    // The prune timer's service, as the timer would start it.
    let timers = ct
        .exec_ok(&["systemctl", "list-timers", "--all", "--no-legend"])
        .expect("timers");
    assert!(timers.contains("bakgen-prune-vault.timer"), "{timers}");
    start(&ct, "bakgen-prune-vault.service");

    ct.shutdown().expect("shutdown");
}
