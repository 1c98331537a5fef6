//! Hostile values (spaces, `%`, `$`, quotes, backslashes, trailing backslashes, unicode, a
//! leading `-`) in names and paths: after `bakgen apply`, the real systemd reads the units back as exactly the
//! values of the policy, and the job with such a name runs. Needs root and the built
//! binaries (`cargo build -p bakgen -p bakrun`); fails, never skips, without them.

use bakgen_e2e::{apply_policy, boot_with_bakgen, SystemdContainer};

const POLICY: &str = r#"
secret "pass %i $HOME" file="/etc/bakgen/secrets/pass %i"
secret "key\\;+" file="/etc/bakgen/secrets/key;\\"
destination "disk one" {
    path "/srv/back ups/100%/$USER"
}
destination "edge\\" {
    restic "/srv/restic two\\"
    password secret="key\\;+"
}
destination "repo" {
    restic "/srv/restic repo/{host}"
    password secret="pass %i $HOME"
}
host "e2e" {
    job "-lead" {
        source "/srv/with space" "/srv/$HOME/\"quoted\""
        to "disk one"
        schedule "*-*-* 02:30"
        retention keep-daily=7
        on-failure "/usr/local/bin/notify" "100%" "$HOME" "a \"b\" c"
    }
    job "100% $HOME \"q\" back\\slash ünï" {
        source "/srv/with space"
        to "disk one"
        schedule "daily"
        retention keep-daily=7
    }
    job "edge\\" {
        source "/opt"
        to "edge\\"
        schedule "weekly"
        retention keep-weekly=4
    }
    job "r%" {
        source "/opt"
        to "repo"
        schedule "weekly"
        retention keep-weekly=4
    }
}
"#;

fn show(ct: &SystemdContainer, unit: &str, prop: &str) -> String {
    ct.exec_ok(&["systemctl", "show", "-p", prop, "--value", unit])
        .expect("systemctl show")
        .trim()
        .to_owned()
}

/// Starts `unit`: a credential systemd cannot load fails the start with status 243
/// (CREDENTIALS) before bakrun runs. Whatever bakrun then says, it is not 243.
fn assert_credentials_load(ct: &SystemdContainer, unit: &str) {
    let _ = ct.exec(&["systemctl", "start", unit]);
    assert_ne!(
        show(ct, unit, "ExecMainStatus"),
        "243",
        "systemd could not load a credential of {unit}: {}",
        show(ct, unit, "Result")
    );
    assert_ne!(
        show(ct, unit, "ExecMainStartTimestampMonotonic"),
        "0",
        "bakrun never started in {unit}"
    );
}

#[test]
#[ignore = "tier: system — needs root and a real systemd in an nspawn container; run by scripts/test"]
fn systemd_reads_hostile_values_back_exactly() {
    let ct = boot_with_bakgen();
    ct.sh("mkdir -p '/srv/with space' '/srv/$HOME/\"quoted\"' '/srv/back ups/100%/$USER' && echo x > '/srv/with space/f'")
        .expect("sources");
    apply_policy(&ct, POLICY, "e2e");

    let lead = "bakgen--lead.service";
    let exec = show(&ct, lead, "ExecStart");
    assert!(
        exec.contains("argv[]=/usr/bin/bakrun run /etc/bakgen/jobs/-lead.json"),
        "{exec}"
    );
    assert_eq!(
        show(&ct, lead, "Description"),
        "bakgen backup job -lead of host e2e"
    );
    let mounts = show(&ct, lead, "RequiresMountsFor");
    // systemctl quotes a path with a space when it prints the list, and escapes `$`.
    assert!(
        mounts.contains("\"/srv/back ups/100%/\\$USER\""),
        "RequiresMountsFor read back as {mounts}"
    );
    let rw = show(&ct, lead, "ReadWritePaths");
    assert!(rw.contains("\"-/srv/back ups/100%/\\$USER\""), "{rw}");

    // A failure starts bakgen-notify@<job>.service: the instance is the job's name, even
    // one that begins with `-`, and bakrun finds the job and runs its command from it.
    let notify = "bakgen-notify@-lead.service";
    assert_eq!(show(&ct, lead, "OnFailure"), notify);
    ct.write_file(
        "/usr/local/bin/notify",
        b"#!/bin/sh\necho \"notified: $*\"\n",
    )
    .expect("notify command");
    ct.exec_ok(&["chmod", "755", "/usr/local/bin/notify"])
        .expect("chmod");
    let _ = ct.exec(&["systemctl", "start", notify]);
    assert_eq!(show(&ct, notify, "Result"), "success", "{notify}");
    let journal = ct
        .exec_ok(&["journalctl", "-u", notify, "--no-pager", "-o", "cat"])
        .expect("journal");
    assert!(
        journal.contains("notified: 100% $HOME a \"b\" c bakgen--lead.service"),
        "{journal}"
    );

    let odd = "bakgen-100\\x25\\x20\\x24HOME\\x20\\x22q\\x22\\x20back\\x5cslash\\x20\\xc3\\xbcn\\xc3\\xaf.service";
    let exec = show(&ct, odd, "ExecStart");
    // systemctl shows argv before variable expansion, where `$$` still stands for `$`.
    assert!(
        exec.contains(
            "argv[]=/usr/bin/bakrun run /etc/bakgen/jobs/100% $$HOME \"q\" back\\slash ünï.json"
        ),
        "{exec}"
    );
    // systemctl cannot print LoadCredential= in systemd 252; instead, start the job: a
    // credential path read wrongly fails the start (see assert_credentials_load).
    ct.sh("mkdir -p /etc/bakgen/secrets && echo s3cret > '/etc/bakgen/secrets/pass %i' && chmod 600 '/etc/bakgen/secrets/pass %i'")
        .expect("secret file");
    assert_credentials_load(&ct, "bakgen-r\\x25.service");

    // Trailing backslashes in a job, destination and secret name and in paths: no unit
    // line joins the next, the description reads back whole, and the credential whose
    // name holds a backslash loads.
    ct.sh("echo s3cret > '/etc/bakgen/secrets/key;\\' && chmod 600 '/etc/bakgen/secrets/key;\\'")
        .expect("secret file");
    let edge = "bakgen-edge\\x5c.service";
    assert_eq!(
        show(&ct, edge, "Description"),
        "bakgen backup job edge\\ of host e2e"
    );
    let mounts = show(&ct, edge, "RequiresMountsFor");
    assert!(mounts.contains("/srv/restic two\\"), "{mounts}");
    assert_eq!(
        show(&ct, "bakgen-prune-edge\\x5c.service", "Description"),
        "bakgen restic prune of destination edge\\ from host e2e"
    );
    assert_credentials_load(&ct, edge);

    let spec_path = "/etc/bakgen/jobs/100% $HOME \"q\" back\\slash ünï.json";
    let spec = String::from_utf8(
        ct.read_file(spec_path)
            .expect("the spec the unit names exists"),
    )
    .expect("utf-8");
    assert!(
        spec.contains("\"job\": \"100% $HOME \\\"q\\\" back\\\\slash ünï\""),
        "{spec}"
    );

    // Both jobs really run, as user bakgen, into the odd path: the arguments systemd
    // passed named the right spec files.
    for (unit, folder) in [(lead, "-lead"), (odd, "100% $HOME \"q\" back\\slash ünï")] {
        ct.exec_ok(&["systemctl", "start", unit])
            .expect("start the job");
        assert_eq!(show(&ct, unit, "Result"), "success", "{unit}");
        let dir = format!("/srv/back ups/100%/$USER/e2e/{folder}");
        let listing = ct.exec_ok(&["ls", &dir]).expect("snapshot folder");
        assert!(
            listing.lines().any(|l| l.starts_with("20")),
            "no snapshot in {dir}: {listing}"
        );
    }
}
