//! `install { bakrun …; documentation … }`: the program every `ExecStart=` names (the
//! packaged `/usr/bin/bakrun` by default, a source install's path when the policy says so)
//! and `Documentation=` on every unit; each mistake with its code.

mod support;
#[path = "unit_support/verify.rs"]
mod unit_verify;

use bakgen::emit::Bundle;
use bakgen::ops::build::bundles;
use bakgen::ops::check::{check, Checked};
use bakgen::source::{SourceFile, SourceSet};

fn checked(text: &str) -> Checked {
    let mut set = SourceSet::default();
    set.add(SourceFile::new("p.kdl", text.to_owned()));
    check(set)
}

/// Every kind of unit a bundle holds: a job's service and timer, its failure notification,
/// a device's mount and automount, a read-only view, restic prune/check, the watch.
const FLEET: &str = r#"
secret "pw" file="/etc/bakgen/secrets/pw"
destination "usb" { path "/mnt/usb"; device "/dev/disk/by-label/usb"; read-only-view "/srv/view"; }
destination "vault" { restic "/srv/restic/{host}"; password secret="pw"; }
host "b1" {
    job "etc" { source "/etc"; to "usb"; schedule "daily"; retention keep-daily=7; on-failure "/bin/true"; }
    job "db" { source "/var/lib/db"; to "vault"; schedule "daily"; retention keep-daily=7; }
}
monitoring { watch "b1" { destination "usb"; }; }
"#;

fn built(text: &str) -> Bundle {
    let c = checked(text);
    assert_eq!(c.errors() + c.warnings(), 0, "{:#?}", c.diagnostics);
    let mut all = bundles(c.plan().expect("a plan")).expect("bundles render");
    assert_eq!(all.len(), 1);
    all.remove(0)
}

/// Every unit file of the bundle: (file name, text).
fn units(b: &Bundle) -> Vec<(String, String)> {
    b.files
        .iter()
        .filter_map(|(path, f)| {
            let name = path.strip_prefix("etc/systemd/system/")?;
            Some((
                name.to_owned(),
                String::from_utf8(f.contents.clone()).expect("utf-8"),
            ))
        })
        .collect()
}

fn lines<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(key)).collect()
}

#[test]
fn by_default_every_unit_runs_the_packaged_bakrun_and_names_its_man_page() {
    let units = units(&built(FLEET));
    let kinds: Vec<&str> = units
        .iter()
        .filter_map(|(n, _)| n.rsplit('.').next())
        .collect();
    for kind in ["service", "timer", "mount", "automount"] {
        assert!(kinds.contains(&kind), "no .{kind} among {units:?}");
    }
    let mut programs = 0;
    for (name, text) in &units {
        assert_eq!(
            lines(text, "Documentation="),
            ["Documentation=man:bakrun(1)"],
            "{name}"
        );
        for exec in lines(text, "ExecStart=") {
            assert!(
                exec.starts_with("ExecStart=/usr/bin/bakrun "),
                "{name}: {exec}"
            );
            programs += 1;
        }
    }
    // etc, db, notify@, prune, check, watch.
    assert_eq!(programs, 6, "{units:?}");
}

#[test]
fn a_source_install_path_and_a_documentation_url_reach_every_unit() {
    let policy = format!(
        "{FLEET}\ninstall {{\n    bakrun \"/usr/local/bin/bakrun\"\n    documentation \"https://wiki.example.net/back%20ups\"\n}}\n"
    );
    let units = units(&built(&policy));
    let mut programs = 0;
    for (name, text) in &units {
        assert_eq!(
            lines(text, "Documentation="),
            ["Documentation=man:bakrun(1) https://wiki.example.net/back%%20ups"],
            "{name}: `%` is a specifier in Documentation=, so it is doubled"
        );
        for exec in lines(text, "ExecStart=") {
            assert!(
                exec.starts_with("ExecStart=/usr/local/bin/bakrun "),
                "{name}: {exec}"
            );
            assert!(!exec.contains("/usr/bin/bakrun"), "{name}: {exec}");
            programs += 1;
        }
    }
    assert_eq!(programs, 6, "{units:?}");
}

#[test]
fn each_mistake_is_reported_with_its_code() {
    let base = r#"destination "d" { path "/srv/b"; }
host "h" { job "j" { source "/etc"; to "d"; schedule "daily"; retention keep-daily=1; }; }
"#;
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"install { bakrun "bin/bakrun"; }"#,
            "bakgen::relative-path",
            "bakrun path `bin/bakrun` is not an absolute path",
        ),
        (
            r#"install { bakrun "/usr/../bin/bakrun"; }"#,
            "bakgen::invalid-path",
            "has an empty, `.` or `..` component",
        ),
        (
            r#"install { bakrun "/usr/bin/"; }"#,
            "bakgen::invalid-path",
            "bakrun path `/usr/bin/` names a folder",
        ),
        (r#"install { bakrun 1; }"#, "bakgen::wrong-type", "bakrun"),
        (
            r#"install { bakrun "/a"; bakrun "/b"; }"#,
            "bakgen::duplicate-setting",
            "`bakrun` is set twice",
        ),
        (
            r#"install { bakrum "/a"; }"#,
            "bakgen::unknown-node",
            "did you mean `bakrun`?",
        ),
        (
            r#"install { bakrun "/a"; }
install { documentation "https://x"; }"#,
            "bakgen::duplicate-name",
            "a second `install` block",
        ),
        (r#"install "x" { }"#, "bakgen::extra-argument", "install"),
        (
            r#"install { documentation "ftp://x/y"; }"#,
            "bakgen::invalid-url",
            "does not start with https://, http://, file:/, man: or info:",
        ),
        (
            r#"install { documentation "https://"; }"#,
            "bakgen::invalid-url",
            "has nothing after its scheme",
        ),
        (
            r#"install { documentation "https://wiki/a b"; }"#,
            "bakgen::invalid-url",
            "holds a space",
        ),
        (
            r#"install { documentation "file:/doc/\"x\""; }"#,
            "bakgen::invalid-url",
            "holds a space, a quote",
        ),
        (
            r#"install { documentation "https://wiki/ü"; }"#,
            "bakgen::invalid-url",
            "not ASCII",
        ),
        (
            r#"install { documentation "https://a\nExecStartPre=+/x"; }"#,
            "bakgen::control-character",
            "documentation",
        ),
    ];
    for (install, code, text) in cases {
        let c = checked(&format!("{base}{install}\n"));
        let found = c.diagnostics.iter().find(|d| d.code == *code);
        let Some(d) = found else {
            panic!("{install}: no {code} in {:#?}", c.diagnostics);
        };
        let all = format!("{} {}", d.message, d.help.as_deref().unwrap_or(""));
        assert!(
            all.contains(text),
            "{install}: {code} says {all:?}, not {text:?}"
        );
        assert!(c.plan().is_none(), "{install}: an error builds nothing");
    }
    for fine in [
        r#"install { bakrun "/opt/bakgen/bin/bakrun"; documentation "file:/usr/share/doc/bakgen/README.md"; }"#,
        r#"install { documentation "man:bakgen.policy(5)"; }"#,
        r#"install { documentation "info:bakgen"; }"#,
        r#"install { }"#,
    ] {
        let c = checked(&format!("{base}{fine}\n"));
        assert_eq!(c.errors() + c.warnings(), 0, "{fine}: {:#?}", c.diagnostics);
    }
}

#[test]
#[ignore = "tier: system — needs root: systemd-analyze verify runs in a private mount namespace"]
fn systemd_reads_the_documentation_line_of_every_unit() {
    let policy = format!(
        "{FLEET}\ninstall {{ documentation \"https://wiki.example.net/back%20ups?a=1\"; }}\n"
    );
    let dir = support::tmp("install-units");
    let dir = dir.path().to_owned();
    let mut files = Vec::new();
    for (name, text) in units(&built(&policy)) {
        if name.contains('@') {
            continue; // a template unit is verified through an instance name only
        }
        let path = dir.join(&name);
        std::fs::write(&path, text).expect("write unit");
        files.push(path);
    }
    unit_verify::verify(&files);
}
