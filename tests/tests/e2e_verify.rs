//! The restore drill under a real systemd (PID 1 in an nspawn container): `bakgen apply`
//! installs and enables `bakgen-verify-<job>.timer`; its service, started as the timer
//! would, runs `bakrun verify` in its sandbox (user `bakgen`, read-only sources, private
//! `/tmp`, no network) and passes for a files job and for a job whose PostgreSQL dump it
//! loads into a throwaway server; a byte flipped in a snapshot fails the drill's unit and
//! the drill's record names the file. Needs root and the built binaries; fails (never
//! skips) without them.

use std::time::Instant;

use bakgen_e2e::process::output_text as text;
use bakgen_e2e::{apply_policy, boot_with_bakgen, start_ok, SystemdContainer};

const POLICY: &str = r#"
destination "local" { path "/srv/backups"; }
host "e2e" {
    job "files" {
        source "/srv/data"
        to "local"
        schedule "*-*-* 03:00:00"
        retention keep-daily=7
        verify {
            sample files=3
            critical "/srv/data/conf"
            count tolerance="0%"
        }
    }
    job "db" {
        postgres "shop" host="127.0.0.1" port=5433 user="postgres"
        to "local"
        schedule "*-*-* 04:00:00"
        retention keep-daily=7
        verify {
            query "SELECT count(*) FROM orders" database="shop" at-least=40
        }
    }
}
"#;

/// A PostgreSQL server inside the container (the "host's" server the job dumps), on
/// loopback port 5433, trusting local connections.
fn start_postgres(ct: &SystemdContainer) {
    let bin = ct
        .sh("ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1")
        .expect("PostgreSQL binaries (Debian package postgresql)");
    let bin = bin.trim();
    ct.sh(&format!(
        "install -d -o postgres -g postgres /var/lib/pg-e2e /run/pg-e2e \
         && runuser -u postgres -- {bin}/initdb -D /var/lib/pg-e2e -A trust >/dev/null \
         && runuser -u postgres -- {bin}/pg_ctl -D /var/lib/pg-e2e -w -l /var/lib/pg-e2e/log \
            -o '-p 5433 -k /run/pg-e2e -c listen_addresses=127.0.0.1' start >/dev/null \
         && {bin}/psql -h 127.0.0.1 -p 5433 -U postgres -qc 'CREATE DATABASE shop' \
         && {bin}/psql -h 127.0.0.1 -p 5433 -U postgres -d shop -qc \
            'CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 42)'"
    ))
    .expect("start the container's PostgreSQL");
}

fn record(ct: &SystemdContainer, job: &str) -> serde_json::Value {
    let text = ct
        .exec_ok(&["cat", &format!("/var/lib/bakgen/verify/{job}.json")])
        .expect("the drill's record");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
#[ignore = "tier: system — needs root, PostgreSQL and a real systemd in an nspawn container; run by scripts/test"]
fn the_drill_timer_s_service_runs_the_drill_in_its_sandbox() {
    let t = Instant::now();
    let ct = boot_with_bakgen();
    println!("container booted in {:.2?}", t.elapsed());
    ct.sh("mkdir -p /srv/data/conf /srv/backups \
         && for i in 1 2 3 4 5 6 7 8; do echo file $i > /srv/data/f$i; done \
         && echo secret-ish > /srv/data/conf/app.conf")
        .expect("sources");
    start_postgres(&ct);
    apply_policy(&ct, POLICY, "e2e");
    for job in ["files", "db"] {
        let enabled = ct
            .exec_ok(&[
                "systemctl",
                "is-enabled",
                &format!("bakgen-verify-{job}.timer"),
            ])
            .expect("is-enabled");
        assert_eq!(enabled.trim(), "enabled");
        start_ok(&ct, &format!("bakgen-{job}.service"));
    }
    println!("jobs ran: {:.2?}", t.elapsed());

    // The drills, as their timers would start them.
    let journal = start_ok(&ct, "bakgen-verify-files.service");
    assert!(journal.contains("--seed"), "the seed is logged: {journal}");
    let r = record(&ct, "files");
    assert_eq!(r["result"], "passed", "{r}");
    // 3 drawn at random plus the critical file (which may be among them).
    let checked = r["files_checked"].as_u64().unwrap_or(0);
    assert!((3..=4).contains(&checked), "{r}");
    // The 9 live files counted by rsync --list-only in the drill's sandbox.
    assert_eq!(
        r["count"],
        serde_json::json!({"run": 9, "live": 9, "tolerance_per_mille": 0, "passed": true}),
        "{r}"
    );
    let journal = start_ok(&ct, "bakgen-verify-db.service");
    let r = record(&ct, "db");
    assert_eq!(r["result"], "passed", "{r}\n{journal}");
    let checks = r["dumps"][0]["checks"].to_string();
    assert!(checks.contains("42 ≥ 40"), "{checks}");
    println!("drills passed: {:.2?}", t.elapsed());
    // The drill ran as the unit says, and left nothing behind.
    assert_eq!(
        ct.unit_property("bakgen-verify-db.service", "User")
            .expect("User"),
        "bakgen"
    );
    let left = ct
        .exec_ok(&["ls", "-A", "/var/lib/bakgen/verify"])
        .expect("ls");
    let mut left: Vec<&str> = left.split_whitespace().collect();
    left.sort_unstable();
    assert_eq!(left, ["db.json", "files.json"]);

    // A byte flipped in the snapshot's copy, size and time kept: the drill's unit fails
    // and the record names the file.
    ct.sh(
        "f=$(ls -d /srv/backups/e2e/files/2* | tail -1)/srv/data/conf/app.conf \
         && t=$(stat -c %y \"$f\") && printf 'S' | dd of=\"$f\" bs=1 seek=0 conv=notrunc 2>/dev/null \
         && touch -d \"$t\" \"$f\"",
    )
    .expect("corrupt the snapshot");
    let o = ct
        .exec(&["systemctl", "start", "bakgen-verify-files.service"])
        .expect("systemctl start");
    assert!(!o.status.success(), "the drill must fail: {}", text(&o));
    assert_eq!(
        ct.unit_property("bakgen-verify-files.service", "Result")
            .unwrap_or_default(),
        "exit-code"
    );
    let r = record(&ct, "files");
    assert_eq!(r["result"], "failed", "{r}");
    assert!(
        r["mismatches"]
            .to_string()
            .contains("/srv/data/conf/app.conf"),
        "{r}"
    );
    println!("total: {:.2?}", t.elapsed());
}
