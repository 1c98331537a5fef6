//! The one name rule, end to end: every host and job name `bakgen check` accepts ends up
//! in job specs that bakrun's loader (`bakgen_spec::job`, the code `bakrun run` reads
//! specs with) accepts, and every name that loader refuses is refused by `check` with an
//! `invalid-name` diagnostic pointing at the name. Names are generated from a fixed seed
//! out of the pieces that have broken name rules before: dots, slashes, spaces, dashes,
//! unicode, control characters and very long names.

#[path = "../../runtime/tests/rng/mod.rs"]
mod rng;

mod kdl_literal;

use bakgen::ops::build::bundles;
use bakgen::ops::check::{check, Checked};
use bakgen::source::{SourceFile, SourceSet};
use bakgen_spec::job::JobSpec;
use kdl_literal::kdl;
use rng::Rng;

const PIECES: &[&str] = &[
    "a", "etc", "Z9", "0", "-", "_", ".", "..", "/", " ", "ü", "日本", "é", "@", ":", "%", "$",
    "\\", "\"", "'", "\t", "\0", "\u{7f}", "+", "~",
];

/// The fixed cases, then generated ones.
fn names(rounds: usize) -> Vec<String> {
    let mut out: Vec<String> = [
        "",
        ".",
        "..",
        ".hidden",
        "..x",
        "x.",
        "a..b",
        "a.b",
        "-",
        "-x",
        " x",
        "x ",
        "a b",
        "ünïcödé",
        "日本語",
        "a/b",
        "/",
        "a\0b",
        "web-1",
        "back\\slash",
    ]
    .map(str::to_owned)
    .to_vec();
    for n in [200, 255, 256, 1000] {
        out.push("a".repeat(n));
        out.push(format!(".{}", "b".repeat(n)));
    }
    let mut rng = Rng::new(0x6e61_6d65);
    for _ in 0..rounds {
        let long = rng.chance(5);
        let pieces = if long {
            60 + rng.below(200)
        } else {
            1 + rng.below(6)
        };
        out.push((0..pieces).map(|_| *rng.pick(PIECES)).collect());
    }
    out
}

fn policy(name: &str) -> String {
    let n = kdl(name);
    format!(
        "destination \"usb\" {{ path \"/mnt/usb\"; }}\n\
         host {n} {{\n    job {n} {{ source \"/etc\"; to \"usb\"; schedule \"daily\"; retention keep-daily=7; }}\n}}\n"
    )
}

fn checked(text: &str) -> Checked {
    let mut set = SourceSet::default();
    set.add(SourceFile::new("names.kdl", text.to_owned()));
    check(set)
}

/// What bakrun says of a spec naming this host and job.
fn runtime_loads(name: &str) -> Result<JobSpec, String> {
    let spec = serde_json::json!({
        "version": 1, "host": name, "job": name, "unit": "bakgen-x.service",
        "sources": ["/etc"],
        "destination": {"engine": "snapshots", "path": "/mnt/usb"},
        "schedule": {"calendar": "*-*-* 02:00:00", "late-after-seconds": 7200},
        "retention": {"keep-daily": 7},
        "state-dir": "/var/lib/bakgen",
    });
    JobSpec::from_json("names.json", &spec.to_string()).map_err(|e| e.to_string())
}

/// The specs `build` would install for an accepted policy.
fn built_specs(checked: &Checked) -> Vec<(String, String)> {
    let plan = checked
        .plan()
        .unwrap_or_else(|| panic!("a policy without errors has a plan"));
    let bundles = bundles(plan).unwrap_or_else(|e| panic!("an accepted policy builds: {e}"));
    bundles
        .into_iter()
        .flat_map(|b| b.files.into_iter())
        .filter(|(path, _)| path.starts_with("etc/bakgen/jobs/") && path.ends_with(".json"))
        .map(|(path, file)| {
            let text = String::from_utf8(file.contents).expect("a spec is UTF-8");
            (path, text)
        })
        .collect()
}

#[test]
fn every_name_check_accepts_bakrun_accepts_and_every_name_bakrun_refuses_check_refuses() {
    let (mut accepted, mut refused_by_both, mut leading_dot, mut unicode) = (0, 0, 0, 0);
    for name in names(1500) {
        let text = policy(&name);
        let checked = checked(&text);
        let runtime = runtime_loads(&name);
        if checked.errors() == 0 {
            accepted += 1;
            unicode += usize::from(!name.is_ascii());
            if let Err(e) = &runtime {
                panic!("check accepts {name:?}, bakrun refuses it: {e}");
            }
            let specs = built_specs(&checked);
            assert_eq!(specs.len(), 1, "{name:?}: {specs:?}");
            for (path, text) in specs {
                let spec = JobSpec::from_json(&path, &text)
                    .unwrap_or_else(|e| panic!("bakrun refuses the built {path}: {e}"));
                assert_eq!((spec.host.as_str(), spec.job.as_str()), (&*name, &*name));
            }
        } else if let Err(why) = runtime {
            refused_by_both += 1;
            leading_dot += usize::from(name.starts_with('.'));
            let literal = kdl(&name);
            let at_name = checked.diagnostics.iter().any(|d| {
                d.code == "bakgen::invalid-name"
                    && text.get(d.primary.span.range.clone()) == Some(literal.as_str())
            });
            assert!(
                at_name,
                "bakrun refuses {name:?} ({why}); check refuses it but not as an invalid name at the name: {:?}",
                checked.diagnostics.iter().map(|d| (d.code, &d.message)).collect::<Vec<_>>()
            );
        }
    }
    // The generator must reach every side, or this proves nothing.
    assert!(accepted > 200, "only {accepted} names accepted");
    assert!(
        refused_by_both > 200,
        "only {refused_by_both} names refused"
    );
    assert!(leading_dot > 50, "only {leading_dot} leading-dot names");
    assert!(unicode > 20, "only {unicode} unicode names accepted");
}
