//! Property: for random hostile strings in every value slot of a policy that `check`
//! accepts, the built units hold exactly the intended settings, and each value reads back,
//! by systemd's rules (tests/unit_support/parse.rs), as exactly the policy's value. Values
//! `check` refuses never reach a unit. A sample is also checked by `systemd-analyze verify`.
//!
//! "Intended" is the same policy built with a plain token in each slot: its units must
//! have the same settings in the same order, and each value decodes to the token-built
//! value with every token replaced by the hostile string.

mod kdl_literal;
#[path = "../../runtime/tests/rng/mod.rs"]
mod rng;
mod support;
mod unit_support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use bakgen::ops::build::bundles;
use bakgen::ops::check::check;
use bakgen::source::{SourceFile, SourceSet};
use kdl_literal::kdl;
use rng::Rng;
use support::tmp;
use unit_support::oracle::systemd_reads;
use unit_support::parse::{decode, settings, simplify, unit_name, variables, words};

/// Pieces of hostile strings: what ends or continues a line, quotes, specifiers,
/// variables, separators, option-like prefixes, unicode.
const PIECES: &[&str] = &[
    "a",
    "Z",
    "0",
    "web",
    " ",
    "  ",
    "\\",
    "\\\\",
    "\"",
    "'",
    "%",
    "%i",
    "%n",
    "%%",
    "$",
    "$HOME",
    "${X}",
    "$$",
    ";",
    "-",
    "@",
    "+",
    "!",
    ":",
    "=",
    "[Service]",
    "#",
    "é",
    "ünï",
    "日本",
    "\u{2028}",
    "ExecStartPre=+/x",
    ".",
    "_",
    ",",
    "*",
    "?",
    "\\x41",
    "\\n",
];
/// Rarely: a control character, which `check` must refuse.
const CONTROL: &[&str] = &["\n", "\r", "\t", "\u{7}", "\u{85}", "\r\n"];
/// Secret names are credential names: printable ASCII.
const ASCII_PIECES: &[&str] = &[
    "a", "Z", "0", "pass", " ", "\\", "\"", "'", "%", "%i", "$", "$HOME", ";", "-", "@", "+", "!",
    "=", "#", ".", "_", ",", "[x]",
];

fn text(rng: &mut Rng, pieces: &[&str]) -> String {
    let mut s = String::new();
    for _ in 0..1 + rng.next() % 5 {
        s.push_str(rng.pick::<&str>(pieces));
    }
    if rng.chance(1) {
        let at = s
            .char_indices()
            .nth(s.chars().count() / 2)
            .map_or(0, |(i, _)| i);
        s.insert_str(at, rng.pick::<&str>(CONTROL));
    }
    if rng.chance(25) {
        s.push('\\');
    }
    s
}

fn path(rng: &mut Rng) -> String {
    let mut p = String::new();
    for _ in 0..1 + rng.next() % 3 {
        p.push('/');
        p.push_str(&text(rng, PIECES));
    }
    p
}

/// One value per slot: (token, value). Path tokens carry their leading `/`.
fn slots(rng: &mut Rng) -> Vec<(&'static str, String)> {
    vec![
        ("ZZHOSTZZ", text(rng, PIECES)),
        ("ZZJOBAZZ", text(rng, PIECES)),
        ("ZZJOBBZZ", text(rng, PIECES)),
        ("ZZDESTAZZ", text(rng, PIECES)),
        ("ZZDESTBZZ", text(rng, PIECES)),
        ("ZZSECRETZZ", text(rng, ASCII_PIECES)),
        ("/ZZSFILEZZ", path(rng)),
        ("/ZZPATHZZ", path(rng)),
        ("/ZZDEVZZ", path(rng)),
        ("ZZFSTYPEZZ", text(rng, PIECES)),
        ("ZZOPTSZZ", text(rng, PIECES)),
        ("/ZZVIEWZZ", path(rng)),
        ("/ZZREPOZZ", path(rng)),
        ("/ZZSUBVOLZZ", path(rng)),
    ]
}

fn policy(values: &[(&str, String)]) -> String {
    let v = |token: &str| {
        kdl(&values
            .iter()
            .find(|(t, _)| *t == token)
            .map(|(_, v)| v.clone())
            .unwrap_or_default())
    };
    let repo = values
        .iter()
        .find(|(t, _)| *t == "/ZZREPOZZ")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    format!(
        r#"secret {secret} file={sfile}
destination {desta} {{
    path {path}
    device {dev} fstype={fstype} options={opts}
    read-only-view {view}
}}
destination {destb} {{
    restic {repo}
    password secret={secret}
}}
host {host} {{
    job {joba} {{ source "/etc"; to {desta}; schedule "daily"; retention keep-daily=7; on-failure "/bin/true"; }}
    job {jobb} {{ btrfs-snapshot {sub}; source {sub}; to {destb}; schedule "weekly"; retention keep-weekly=4; }}
}}
"#,
        secret = v("ZZSECRETZZ"),
        sfile = v("/ZZSFILEZZ"),
        desta = v("ZZDESTAZZ"),
        path = v("/ZZPATHZZ"),
        dev = v("/ZZDEVZZ"),
        fstype = v("ZZFSTYPEZZ"),
        opts = v("ZZOPTSZZ"),
        view = v("/ZZVIEWZZ"),
        destb = v("ZZDESTBZZ"),
        repo = kdl(&format!("{repo}/{{host}}")),
        host = v("ZZHOSTZZ"),
        joba = v("ZZJOBAZZ"),
        jobb = v("ZZJOBBZZ"),
        sub = v("/ZZSUBVOLZZ"),
    )
}

type Units = BTreeMap<String, String>;

/// `Ok(units)` (file name → text) when `check` accepts the policy, else the error codes.
fn build(text: &str) -> Result<Units, Vec<&'static str>> {
    let mut set = SourceSet::default();
    set.add(SourceFile::new("p.kdl", text.to_owned()));
    let checked = check(set);
    if checked.errors() > 0 {
        let mut codes: Vec<&str> = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == bakgen::diagnostic::Severity::Error)
            .map(|d| d.code)
            .collect();
        codes.dedup();
        return Err(codes);
    }
    let mut units = Units::new();
    let plan = checked.plan().expect("a policy without errors has a plan");
    for b in bundles(plan).expect("renders") {
        for (path, file) in b.files {
            if let Some(name) = path.strip_prefix("etc/systemd/system/") {
                let text = String::from_utf8(file.contents).expect("utf-8 unit");
                units.insert(name.to_owned(), text);
            }
        }
    }
    Ok(units)
}

fn substitute(text: &str, values: &[(&str, String)]) -> String {
    values
        .iter()
        .fold(text.to_owned(), |t, (token, v)| t.replace(token, v))
}

fn is_path_key(key: &str) -> bool {
    matches!(key, "RequiresMountsFor" | "ReadWritePaths" | "Where")
}

/// Every unit of `hostile` is the intended one: same settings as the token build, each
/// value decoding to the token build's value with the hostile strings put in.
fn assert_intended(hostile: &Units, plain: &Units, values: &[(&str, String)], policy: &str) {
    assert_eq!(
        hostile.len(),
        plain.len(),
        "unit count differs for\n{policy}"
    );
    let by_name: BTreeMap<String, &String> =
        hostile.iter().map(|(n, t)| (unit_name(n), t)).collect();
    for (plain_name, plain_text) in plain {
        let expected_name = {
            let decoded = unit_name(plain_name);
            let name = substitute(&decoded, values);
            if plain_name.ends_with("mount") {
                let (path, suffix) = name.rsplit_once('.').expect("suffix");
                format!("{}.{suffix}", simplify(path))
            } else {
                name
            }
        };
        let text = by_name.get(&expected_name).unwrap_or_else(|| {
            panic!(
                "no unit {expected_name:?} among {:?}\n{policy}",
                by_name.keys().collect::<Vec<_>>()
            )
        });
        let got = settings(text).unwrap_or_else(|e| panic!("{expected_name}: {e}\n{text}"));
        let want = settings(plain_text).expect("the plain unit parses");
        let keys = |s: &[unit_support::parse::Setting]| -> Vec<(String, String)> {
            s.iter()
                .map(|s| (s.section.clone(), s.key.clone()))
                .collect()
        };
        assert_eq!(
            keys(&got),
            keys(&want),
            "{expected_name}: settings differ\n{text}\n{policy}"
        );
        for (g, w) in got.iter().zip(&want) {
            let decoded = decode(&g.key, &g.value)
                .unwrap_or_else(|e| panic!("{expected_name} {}: {e}\n{text}\n{policy}", g.key));
            let mut intended: Vec<String> = decode(&w.key, &w.value)
                .expect("the plain value decodes")
                .iter()
                .map(|v| substitute(v, values))
                .collect();
            if is_path_key(&w.key) {
                intended = intended
                    .iter()
                    .map(|p| match p.strip_prefix('-') {
                        Some(p) => format!("-{}", simplify(p)),
                        None => simplify(p),
                    })
                    .collect();
            }
            assert_eq!(
                decoded, intended,
                "{expected_name} {}={}\n{text}\n{policy}",
                g.key, g.value
            );
        }
    }
}

const ITERATIONS: usize = 1500;
/// How many accepted hostile builds also go through `systemd-analyze verify`.
const VERIFIED: usize = 3;

#[test]
#[ignore = "tier: system — needs root: systemd-analyze verify runs in a private mount namespace; run by scripts/test"]
fn hostile_values_read_back_exactly_or_are_refused() {
    let seed = std::env::var("BAKGEN_UNIT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let mut rng = Rng(seed);
    let plain_values: Vec<(&str, String)> = slots(&mut rng)
        .into_iter()
        .map(|(t, _)| (t, t.to_owned()))
        .collect();
    let plain = build(&policy(&plain_values)).expect("the token policy checks clean");
    assert!(
        plain.len() >= 12,
        "the policy makes every kind of unit: {:?}",
        plain.keys()
    );
    let (mut accepted, mut verified) = (0, 0);
    let allowed = [
        "bakgen::control-character",
        "bakgen::invalid-name",
        "bakgen::invalid-path",
        "bakgen::invalid-value",
        "bakgen::invalid-repository",
        "bakgen::too-long",
        "bakgen::relative-path",
        "bakgen::same-target",
        "bakgen::source-contains-destination",
        "bakgen::duplicate-name",
        "bakgen::duplicate-setting",
    ];
    for _ in 0..ITERATIONS {
        let values = slots(&mut rng);
        let text = policy(&values);
        let control = values.iter().any(|(_, v)| v.chars().any(char::is_control));
        match build(&text) {
            Err(codes) => {
                assert!(
                    codes.iter().all(|c| allowed.contains(c)),
                    "{codes:?}\n{text}"
                );
                assert!(
                    !control || codes.contains(&"bakgen::control-character"),
                    "{codes:?}\n{text}"
                );
            }
            Ok(units) => {
                assert!(!control, "a control character was accepted:\n{text}");
                assert_intended(&units, &plain, &values, &text);
                accepted += 1;
                // systemd-analyze verify of 252 fails on any unit file named with a `:`
                // ("Couldn't process aliases"), which systemd itself loads: left out here.
                if verified < VERIFIED && !units.keys().any(|n| n.contains(':')) {
                    verify_units(&units, verified);
                    verified += 1;
                }
            }
        }
    }
    assert!(
        accepted >= ITERATIONS / 12,
        "only {accepted} of {ITERATIONS} hostile policies were accepted"
    );
    assert_eq!(verified, VERIFIED);
}

fn verify_units(units: &Units, n: usize) {
    let dir = tmp(&format!("roundtrip-{n}"));
    let dir = dir.path().to_owned();
    let mut files: Vec<PathBuf> = Vec::new();
    for (name, text) in units {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write unit");
        files.push(p);
    }
    unit_support::verify::verify(&files);
    for (name, text) in units {
        assert_systemd_agrees(&dir, name, text);
    }
}

/// systemd's own reading of the unit (`systemd --test` dump) agrees with the test's parser
/// on every value the policy put in: the parser is checked against the real thing.
fn assert_systemd_agrees(dir: &std::path::Path, name: &str, text: &str) {
    // A template (bakgen-notify@.service) loads only as an instance; it holds no policy value.
    if name.contains('@') {
        return;
    }
    let dump = systemd_reads(dir, name);
    let ours: Vec<(String, Vec<String>)> = settings(text)
        .expect("parses")
        .into_iter()
        .map(|s| {
            let v = decode(&s.key, &s.value).expect("decodes");
            (s.key, v)
        })
        .collect();
    let one = |key: &str| -> Vec<String> {
        ours.iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.clone())
            .collect()
    };
    let theirs = |key: &str| dump.get(key).cloned().unwrap_or_default();
    let context = format!("{name}:\n{text}\nsystemd read: {dump:#?}");
    assert_eq!(theirs("Unit Load State"), ["loaded"], "{context}");
    assert_eq!(theirs("Description"), one("Description"), "{context}");
    let pairs: &[(&str, &str)] = if name.ends_with(".mount") {
        &[
            ("What", "What"),
            ("Where", "Where"),
            ("Options", "Options"),
            ("File System Type", "Type"),
        ]
    } else if name.ends_with(".automount") {
        &[("Where", "Where")]
    } else {
        &[]
    };
    for (dumped, key) in pairs {
        assert_eq!(theirs(dumped), one(key), "{key}= in {context}");
    }
    if name.ends_with(".service") {
        let argv: Vec<String> = words(&theirs("Command Line").concat(), false)
            .and_then(|w| w.iter().map(|a| variables(a)).collect())
            .unwrap_or_else(|e| panic!("{e}: {context}"));
        assert_eq!(argv, one("ExecStart"), "ExecStart= in {context}");
        let mut mounts: Vec<String> = theirs("RequiresMountsFor")
            .iter()
            .filter_map(|m| m.strip_suffix(" (origin-file)").map(str::to_owned))
            // StateDirectory=, CacheDirectory= and PrivateTmp= add these.
            .filter(|m| !["/var/lib/bakgen", "/var/cache/bakgen", "/var/tmp"].contains(&m.as_str()))
            .collect();
        let mut want = one("RequiresMountsFor");
        mounts.sort();
        want.sort();
        assert_eq!(mounts, want, "RequiresMountsFor= in {context}");
        assert_eq!(
            theirs("ReadWritePaths"),
            [one("ReadWritePaths").join(" ")],
            "ReadWritePaths= in {context}"
        );
    }
}
