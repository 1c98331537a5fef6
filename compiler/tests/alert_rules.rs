//! The Prometheus alerting rules `bakgen build` writes for `monitoring { prometheus … }`:
//! Debian's promtool (scripts/packages.txt: prometheus) checks every rules file and runs
//! the generated cases, which prove when each alert fires. No promtool is a failure.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{bakgen, tmp};

const RULES: &str = "etc/prometheus/rules/bakgen.yml";
const CASES: &str = "etc/bakgen/prometheus-rules.test.yml";

fn promtool(args: &[&Path]) -> String {
    let o = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool runs: apt-get install prometheus (scripts/packages.txt)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "promtool {args:?}:\n{text}");
    text
}

/// `promtool check rules` and `promtool test rules` on one host's files.
fn promtool_passes(host: &Path) {
    let rules = host.join(RULES);
    let check = promtool(&[Path::new("check"), Path::new("rules"), &rules]);
    assert!(check.contains("SUCCESS"), "{check}");
    let test = promtool(&[Path::new("test"), Path::new("rules"), &host.join(CASES)]);
    assert!(test.contains("SUCCESS"), "{test}");
}

fn build(policy: &Path, out: &Path) {
    let o = bakgen(&[
        "build",
        policy.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Builds the policy `text` into a fresh folder; returns the output folder.
/// Builds `text` into a temporary folder: the folder (removed when dropped) and its `out`.
fn build_text(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tmp(name);
    let policy = dir.path().join("p.kdl");
    std::fs::write(&policy, text).unwrap();
    let out = dir.path().join("out");
    build(&policy, &out);
    (dir, out)
}

/// Every host folder under `out` that holds a rules file.
fn rule_hosts(out: &Path) -> Vec<PathBuf> {
    let mut hosts: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("out folder")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|h| h.join(RULES).is_file())
        .collect();
    hosts.sort();
    hosts
}

#[test]
#[ignore = "tier: system — needs promtool (Debian's prometheus package); run by scripts/test"]
fn example_policies_rules_pass_promtool_check_and_their_cases() {
    let out = tmp("examples");
    let out = out.path().to_owned();
    build(Path::new("../policies"), &out);
    let hosts = rule_hosts(&out);
    assert!(
        !hosts.is_empty(),
        "an example policy has a monitoring block"
    );
    for host in &hosts {
        promtool_passes(host);
    }
    // And what is committed under generated/ (scripts/check-generated keeps it current).
    let committed = rule_hosts(Path::new("../generated"));
    assert_eq!(committed.len(), hosts.len());
    for host in &committed {
        promtool_passes(host);
    }
    // The rules file is the bundle's like every other file: in its manifest.
    let manifest = std::fs::read_to_string(hosts[0].join("etc/bakgen/manifest.json")).unwrap();
    assert!(
        manifest.contains(RULES) && manifest.contains(CASES),
        "{manifest}"
    );
}

#[test]
#[ignore = "tier: system — needs promtool (Debian's prometheus package); run by scripts/test"]
fn hostile_names_reach_alerts_exactly_and_a_jobless_host_gets_the_rules() {
    let (_dir, out) = build_text(
        "hostile",
        r#"destination "d\"{{x}}" { path "/srv/backups" }
host "mon1"
host "web\"1{{ .X }}\\" {
    job "etc é🦀\\z\"q{{y}}" { source "/etc"; to "d\"{{x}}"; schedule "daily"; retention keep-daily=7; }
    job "weekly" { source "/var"; to "d\"{{x}}"; schedule "Mon 03:00"; timeout "2h"; retention keep-weekly=4; }
}
monitoring { prometheus "mon1"; }
"#,
    );
    let mon = out.join("mon1");
    // The Prometheus host runs no job: its bundle is the rules, the cases and the manifest.
    let mut files: Vec<String> = Vec::new();
    let mut stack = vec![mon.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p.strip_prefix(&mon).unwrap().display().to_string());
            }
        }
    }
    files.sort();
    assert_eq!(files, ["etc/bakgen/manifest.json", CASES, RULES]);
    let rules = std::fs::read_to_string(mon.join(RULES)).unwrap();
    // PromQL escaping inside a YAML double-quoted string.
    assert!(
        rules.contains(r#"bakgen_job=\"etc é🦀\\\\z\\\"q{{y}}\"} > 90000"#),
        "{rules}"
    );
    // In labels and annotations `{{` would open a Go template action.
    assert!(
        rules.contains(r#"bakgen_destination: "d\"{{ \"{{\" }}x}}""#),
        "{rules}"
    );
    // The cases compare every alert's labels and annotations with the names as written,
    // so promtool passing proves the three escapings compose.
    promtool_passes(&mon);
    let cases = std::fs::read_to_string(mon.join(CASES)).unwrap();
    assert!(
        cases.contains(r#"bakgen_job: "etc é🦀\\z\"q{{y}}""#),
        "{cases}"
    );
}

#[test]
#[ignore = "tier: system — needs promtool (Debian's prometheus package); run by scripts/test"]
fn the_watch_alerts_of_hostile_names_fire_when_their_cases_say() {
    let (_dir, out) = build_text(
        "hostile-watch",
        r#"destination "d\"{{x}}" { path "/srv/backups" }
destination "plain" { path "/srv/plain" }
host "mon1"
host "bk\"{{ .W }}"
host "web\"1{{ .X }}\\" {
    job "etc é🦀\\z\"q{{y}}" { source "/etc"; to "d\"{{x}}"; schedule "daily"; retention keep-daily=7; }
    job "hourly" { source "/var"; to "plain"; schedule "hourly"; retention keep-hourly=24; }
}
monitoring {
    prometheus "mon1"
    watch "bk\"{{ .W }}" { destination "d\"{{x}}"; destination "plain"; schedule "daily"; }
    watch "mon1" { destination "plain"; }
}
"#,
    );
    let mon = out.join("mon1");
    let rules = std::fs::read_to_string(mon.join(RULES)).unwrap();
    assert_eq!(
        rules.matches("alert: BakgenWatchLate").count(),
        3,
        "{rules}"
    );
    assert_eq!(
        rules.matches("alert: BakgenWatchAbsent").count(),
        2,
        "{rules}"
    );
    assert_eq!(
        rules.matches("alert: BakgenWatchStale").count(),
        2,
        "{rules}"
    );
    // A daily watch is missing after its own late-after: 1 d + 1 h.
    assert!(rules.contains("        for: 1d1h\n"), "{rules}");
    assert!(
        rules.contains(r#"bakgen_watcher: "bk\"{{ \"{{\" }} .W }}""#),
        "{rules}"
    );
    promtool_passes(&mon);
}

fn check_json(policy: &str) -> String {
    let dir = tmp("diag");
    let dir = dir.path().to_owned();
    let file = dir.join("p.kdl");
    std::fs::write(&file, policy).unwrap();
    let o = bakgen(&["check", file.to_str().unwrap(), "--format", "json"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
#[ignore = "tier: system — needs promtool (Debian's prometheus package); run by scripts/test"]
fn monitoring_mistakes_are_reported_where_written() {
    let base = "destination \"d\" { path \"/srv/b\" }\nhost \"mon1\"\n";
    let json = check_json(&format!("{base}monitoring {{ prometheus \"mon\"; }}\n"));
    assert!(json.contains("bakgen::undefined-host"), "{json}");
    assert!(json.contains("did you mean `mon1`?"), "{json}");
    let json = check_json(&format!("{base}monitoring {{ }}\n"));
    assert!(json.contains("bakgen::missing-value"), "{json}");
    let json = check_json(&format!(
        "{base}monitoring {{ prometheus \"mon1\"; }}\nmonitoring {{ prometheus \"mon1\"; }}\n"
    ));
    assert!(json.contains("a second `monitoring` block"), "{json}");
    let json = check_json(&format!(
        "{base}monitoring {{ prometheus \"mon1\"; prometheus \"mon1\"; }}\n"
    ));
    assert!(json.contains("bakgen::duplicate-name"), "{json}");
    let json = check_json(&format!("{base}monitoring {{ prometeus \"mon1\"; }}\n"));
    assert!(
        json.contains("bakgen::unknown-node") && json.contains("did you mean `prometheus`?"),
        "{json}"
    );
}
