//! `bakrun retention` against a real restic: a local repository with ~60 snapshots spread
//! over two years (fixed-seed irregular gaps, several UTC offsets, a duplicate time, an ISO
//! week across the new year, a snapshot in the future), then for each rule set bakrun must
//! keep exactly what `restic forget --dry-run --json` keeps, for the same reasons.
//!
//! The restic here is Debian 12's 0.14; bakrun follows restic 0.16 and later. The two agree
//! whenever every count rule has filled its buckets by the time the walk reaches the oldest
//! snapshot (and no `keep-within-<period>` reaches it). Where they do not, restic ≥ 0.16
//! also keeps the oldest snapshot, naming it "oldest <rule>": those rule sets say so, and
//! bakrun must keep what 0.14 keeps plus exactly that. restic's own cases for 0.16+ are
//! checked in `retention_restic016.rs`.
//!
//! Needs the `restic` binary (scripts/packages.txt): the test fails, loudly, without it.

mod common;
mod rng;
use common::TempDir;
use rng::Rng;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use serde_json::Value;

/// One `restic backup --time`: the wall-clock time and the TZ restic reads it in.
#[derive(Clone, Debug)]
struct Backup {
    instant: DateTime<Utc>,
    tz: &'static str,
    offset_secs: i32,
}

/// Zones without daylight saving, so the wall time of an instant is a fixed shift.
const ZONES: [(&str, i32); 4] = [
    ("UTC", 0),
    ("Asia/Kolkata", 19_800),
    ("Asia/Tokyo", 32_400),
    ("America/Phoenix", -25_200),
];

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(h, min, 0))
        .map(|n| n.and_utc())
        .unwrap_or_else(|| panic!("bad fixed date {y}-{m}-{d}"))
}

fn backups() -> Vec<Backup> {
    let mut rng = Rng(0x5eed_2024);
    let mut out = Vec::new();
    let mut t = utc(2024, 1, 2, 3, 17);
    let end = utc(2025, 11, 25, 0, 0);
    while t < end && out.len() < 52 {
        let zone = match rng.range(0, 9) {
            0 => ZONES[1],
            1 => ZONES[2],
            2 => ZONES[3],
            _ => ZONES[0],
        };
        out.push(Backup {
            instant: t,
            tz: zone.0,
            offset_secs: zone.1,
        });
        // Irregular gaps: bursts minutes apart, a few per day, long pauses.
        let gap = match rng.range(0, 99) {
            0..=29 => Duration::minutes(rng.range(1, 180)),
            30..=54 => Duration::minutes(rng.range(6 * 60, 48 * 60)),
            _ => Duration::minutes(rng.range(10 * 1440, 50 * 1440)),
        };
        t += gap;
    }
    let fixed = |instant, zone: (&'static str, i32)| Backup {
        instant,
        tz: zone.0,
        offset_secs: zone.1,
    };
    // A duplicate time: two snapshots, one instant.
    let dup = out[out.len() / 2].clone();
    out.push(dup);
    // 2024-12-29 is 2024-W52; 2024-12-30 and 2025-01-05 are both 2025-W01.
    out.push(fixed(utc(2024, 12, 29, 10, 1), ZONES[0]));
    out.push(fixed(utc(2024, 12, 30, 10, 2), ZONES[0]));
    out.push(fixed(utc(2025, 1, 5, 10, 3), ZONES[0]));
    // Newest past snapshot on the 31st: Go's `AddDate(0, -1, 0)` gives 2025-12-01 12:00,
    // where clamping would give 2025-11-30 12:00. The two around it tell them apart.
    out.push(fixed(utc(2025, 11, 30, 13, 0), ZONES[0]));
    out.push(fixed(utc(2025, 12, 1, 11, 0), ZONES[0]));
    out.push(fixed(utc(2025, 12, 1, 12, 30), ZONES[0]));
    out.push(fixed(utc(2025, 12, 31, 12, 0), ZONES[0]));
    // A snapshot in the future: restic measures keep-within from the newest past one.
    out.push(fixed(utc(2099, 1, 1, 0, 0), ZONES[0]));
    out
}

struct Restic {
    dir: PathBuf,
}

impl Restic {
    fn command(&self, tz: &str) -> Command {
        let mut c = Command::new("restic");
        c.env("RESTIC_REPOSITORY", self.dir.join("repo"))
            .env("RESTIC_PASSWORD_FILE", self.dir.join("password"))
            .env("RESTIC_CACHE_DIR", self.dir.join("cache"))
            .env("TZ", tz)
            .env_remove("RESTIC_PASSWORD")
            .env_remove("RESTIC_PASSWORD_COMMAND")
            .env_remove("RESTIC_REPOSITORY_FILE")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, tz: &str, args: &[&str]) -> Output {
        let out = self
            .command(tz)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run restic {args:?}: {e}"));
        assert!(
            out.status.success(),
            "restic {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

fn json(out: &[u8], what: &str) -> Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

fn time_of(snapshot: &Value) -> String {
    snapshot["time"]
        .as_str()
        .unwrap_or_else(|| panic!("snapshot without time: {snapshot}"))
        .to_owned()
}

/// Times with their multiplicity, so duplicates count.
fn multiset<'a>(times: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for t in times {
        *m.entry(t.to_owned()).or_insert(0) += 1;
    }
    m
}

/// restic's reason text → bakrun's reason name: "daily snapshot" → "daily", "within 3d"
/// → "within", "daily within 1m" → "within-daily".
fn reason_name(restic: &str) -> String {
    match restic.split(' ').collect::<Vec<_>>().as_slice() {
        [period, "snapshot"] => (*period).to_owned(),
        ["within", _] => "within".to_owned(),
        [period, "within", _] => format!("within-{period}"),
        _ => panic!("unexpected restic reason `{restic}`"),
    }
}

/// What a tool decided: kept and removed times (with multiplicity), reasons per time.
#[derive(Debug, PartialEq, Eq)]
struct Verdict {
    keep: BTreeMap<String, usize>,
    remove: BTreeMap<String, usize>,
    reasons: BTreeMap<String, Vec<String>>,
}

fn restic_verdict(out: &[u8]) -> Verdict {
    let v = json(out, "restic forget --json");
    let groups = v.as_array().unwrap_or_else(|| panic!("restic forget: {v}"));
    assert_eq!(groups.len(), 1, "one host/paths group expected: {v}");
    let g = &groups[0];
    let list = |k: &str| -> Vec<String> {
        g[k].as_array()
            .map(|a| a.iter().map(time_of).collect())
            .unwrap_or_default()
    };
    let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in g["reasons"].as_array().into_iter().flatten() {
        let entry = reasons.entry(time_of(&r["snapshot"])).or_default();
        for m in r["matches"].as_array().into_iter().flatten() {
            let name = reason_name(m.as_str().unwrap_or_default());
            // Copies of one time: each reason once, as bakrun merges them.
            if !entry.contains(&name) {
                entry.push(name);
            }
        }
    }
    Verdict {
        keep: multiset(list("keep").iter().map(String::as_str)),
        remove: multiset(list("remove").iter().map(String::as_str)),
        reasons,
    }
}

fn bakrun_verdict(times: &[String], args: &[String]) -> Verdict {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bakrun"))
        .arg("retention")
        .args(args)
        .args(["--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run bakrun: {e}"));
    let input = times.join("\n") + "\n";
    child
        .stdin
        .take()
        .map(|mut s| s.write_all(input.as_bytes()))
        .transpose()
        .unwrap_or_else(|e| panic!("write to bakrun: {e}"));
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for bakrun: {e}"));
    assert!(
        out.status.success(),
        "bakrun retention {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out.stdout, "bakrun retention --format json");
    let list = |k: &str| -> Vec<String> {
        v[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let reasons = v["reasons"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, rs)| {
                    let names = rs
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|r| r.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    (k.clone(), names)
                })
                .collect()
        })
        .unwrap_or_default();
    Verdict {
        keep: multiset(list("keep").iter().map(String::as_str)),
        remove: multiset(list("remove").iter().map(String::as_str)),
        reasons,
    }
}

/// One rule set, in bakrun's and in restic's spelling (restic writes months as `m`).
struct RuleSet {
    ours: &'static [&'static str],
    theirs: &'static [&'static str],
    /// `None` where restic 0.14 and 0.16+ agree; otherwise the reasons restic ≥ 0.16 (and
    /// bakrun) keep the oldest snapshot for, which restic 0.14 removes.
    oldest: Option<&'static [&'static str]>,
}

fn rule_sets() -> Vec<RuleSet> {
    let agree = |ours, theirs| RuleSet {
        ours,
        theirs,
        oldest: None,
    };
    vec![
        agree(&["--keep-last", "5"], &["--keep-last", "5"]),
        agree(&["--keep-hourly", "12"], &["--keep-hourly", "12"]),
        agree(
            &[
                "--keep-daily",
                "7",
                "--keep-weekly",
                "4",
                "--keep-monthly",
                "12",
            ],
            &[
                "--keep-daily",
                "7",
                "--keep-weekly",
                "4",
                "--keep-monthly",
                "12",
            ],
        ),
        // Not full (32 weeks), but the oldest snapshot opens a week of its own.
        agree(&["--keep-weekly", "40"], &["--keep-weekly", "40"]),
        agree(
            &["--keep-monthly", "6", "--keep-yearly", "3"],
            &["--keep-monthly", "6", "--keep-yearly", "3"],
        ),
        agree(&["--keep-within", "6M"], &["--keep-within", "6m"]),
        agree(&["--keep-within", "1M"], &["--keep-within", "1m"]),
        agree(
            &["--keep-within", "1Y2M10D5h", "--keep-last", "2"],
            &["--keep-within", "1y2m10d5h", "--keep-last", "2"],
        ),
        agree(
            &[
                "--keep-last",
                "3",
                "--keep-hourly",
                "5",
                "--keep-daily",
                "9",
                "--keep-weekly",
                "6",
                "--keep-monthly",
                "8",
                "--keep-yearly",
                "2",
                "--keep-within",
                "20D",
            ],
            &[
                "--keep-last",
                "3",
                "--keep-hourly",
                "5",
                "--keep-daily",
                "9",
                "--keep-weekly",
                "6",
                "--keep-monthly",
                "8",
                "--keep-yearly",
                "2",
                "--keep-within",
                "20d",
            ],
        ),
        agree(
            &[
                "--keep-within-hourly",
                "2D",
                "--keep-within-daily",
                "1M",
                "--keep-within-weekly",
                "3M",
                "--keep-within-monthly",
                "1Y",
            ],
            &[
                "--keep-within-hourly",
                "2d",
                "--keep-within-daily",
                "1m",
                "--keep-within-weekly",
                "3m",
                "--keep-within-monthly",
                "1y",
            ],
        ),
        // Three years of a ten-year rule: 0.14 drops the oldest, 0.16 keeps it.
        RuleSet {
            ours: &[
                "--keep-yearly",
                "10",
                "--keep-within",
                "3D",
                "--keep-hourly",
                "3",
            ],
            theirs: &[
                "--keep-yearly",
                "10",
                "--keep-within",
                "3d",
                "--keep-hourly",
                "3",
            ],
            oldest: Some(&["oldest yearly"]),
        },
        // Everything is within five years: so is the oldest, in a year already kept.
        RuleSet {
            ours: &["--keep-within-yearly", "5Y"],
            theirs: &["--keep-within-yearly", "5y"],
            oldest: Some(&["oldest within-yearly"]),
        },
    ]
}

/// restic 0.14's verdict turned into restic 0.16's: the oldest snapshot kept as well.
fn with_oldest_kept(r: &Verdict, reasons: &[&str]) -> Verdict {
    let instant = |t: &String| {
        DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("restic time {t}: {e}"))
    };
    let oldest = r
        .keep
        .keys()
        .chain(r.remove.keys())
        .min_by_key(|t| instant(t))
        .unwrap_or_else(|| panic!("no snapshots"))
        .clone();
    assert_eq!(
        r.remove.get(&oldest),
        Some(&1),
        "restic 0.14 was expected to remove the oldest snapshot {oldest}, once"
    );
    let mut v = Verdict {
        keep: r.keep.clone(),
        remove: r.remove.clone(),
        reasons: r.reasons.clone(),
    };
    v.remove.remove(&oldest);
    v.keep.insert(oldest.clone(), 1);
    v.reasons
        .insert(oldest, reasons.iter().map(|s| s.to_string()).collect());
    v
}

fn restic_version() -> String {
    match Command::new("restic").arg("version").output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        Ok(o) => panic!(
            "`restic version` failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!(
            "restic is required by this test and is not installed ({e}); \
             install it: apt-get install -y --no-install-recommends restic (see scripts/packages.txt)"
        ),
    }
}

#[test]
#[ignore = "tier: system — long: compares with a real restic over many random histories, a minute in a debug build; run by scripts/test"]
fn bakrun_keeps_what_restic_forget_keeps() {
    let version = restic_version();
    let tmp = TempDir::new("retention-restic");
    let restic = Restic {
        dir: tmp.path().to_owned(),
    };
    std::fs::write(tmp.join("password"), "bakgen-test\n").unwrap_or_else(|e| panic!("{e}"));
    let data = tmp.join("data.txt");
    std::fs::write(&data, "a small file\n").unwrap_or_else(|e| panic!("{e}"));
    restic.run("UTC", &["init", "-q"]);

    // restic spends most of a backup deriving the key (~0.5 s): run a few at once. Backups
    // take non-exclusive locks, so they may share the repository.
    let plan = backups();
    let queue = Mutex::new(plan.clone());
    let data_arg = data.to_string_lossy().into_owned();
    std::thread::scope(|s| {
        for _ in 0..4 {
            // The lock guard is dropped inside `and_then`, not held while restic runs.
            s.spawn(|| {
                while let Some(b) = queue.lock().ok().and_then(|mut q| q.pop()) {
                    let offset = FixedOffset::east_opt(b.offset_secs)
                        .unwrap_or_else(|| panic!("bad offset {}", b.offset_secs));
                    let wall = b.instant.with_timezone(&offset).format("%Y-%m-%d %H:%M:%S");
                    restic.run(
                        b.tz,
                        &[
                            "backup",
                            "-q",
                            "--host",
                            "h",
                            "--time",
                            &wall.to_string(),
                            &data_arg,
                        ],
                    );
                }
            });
        }
    });

    let listed = json(
        &restic.run("UTC", &["snapshots", "--json"]).stdout,
        "restic snapshots --json",
    );
    let times: Vec<String> = listed
        .as_array()
        .unwrap_or_else(|| panic!("restic snapshots: {listed}"))
        .iter()
        .map(time_of)
        .collect();
    assert_eq!(
        times.len(),
        plan.len(),
        "{version}: one snapshot per backup"
    );
    // restic stored each time with the offset of the zone it ran in; check that the zones
    // were really applied (tzdata present), or the offsets test nothing.
    let mut stored: Vec<DateTime<FixedOffset>> = times
        .iter()
        .map(|t| DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("restic time {t}: {e}")))
        .collect();
    let mut wanted: Vec<DateTime<Utc>> = plan.iter().map(|b| b.instant).collect();
    stored.sort();
    wanted.sort();
    let stored_utc: Vec<DateTime<Utc>> = stored.iter().map(|t| t.with_timezone(&Utc)).collect();
    assert_eq!(
        stored_utc, wanted,
        "restic stored other instants than planned"
    );
    let offsets: std::collections::BTreeSet<i32> = stored
        .iter()
        .map(|t| t.offset().local_minus_utc())
        .collect();
    assert!(
        offsets.len() >= 3,
        "expected several UTC offsets in restic's times (is tzdata installed?): {offsets:?}"
    );

    // Feed bakrun the times in restic's listing order (oldest first): decide sorts.
    let results: Vec<(String, Option<&[&str]>, Verdict, Verdict)> = std::thread::scope(|s| {
        let handles: Vec<_> = rule_sets()
            .into_iter()
            .map(|set| {
                let restic = &restic;
                let times = &times;
                s.spawn(move || {
                    let mut args = vec!["--no-lock", "forget", "--dry-run", "--json"];
                    args.extend(set.theirs);
                    let r = restic_verdict(&restic.run("UTC", &args).stdout);
                    let ours: Vec<String> = set.ours.iter().map(|s| s.to_string()).collect();
                    let b = bakrun_verdict(times, &ours);
                    (ours.join(" "), set.oldest, r, b)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| panic!("a comparison thread panicked"))
            })
            .collect()
    });

    let mut failures = Vec::new();
    for (rules, oldest, r, b) in &results {
        let offset_kept = r.keep.keys().filter(|t| !t.ends_with('Z')).count();
        eprintln!(
            "{rules}: restic keeps {}, removes {} ({offset_kept} kept times carry a non-UTC offset)",
            r.keep.values().sum::<usize>(),
            r.remove.values().sum::<usize>()
        );
        assert!(
            !r.remove.is_empty() && r.keep.len() > 1,
            "{rules}: restic kept {} and removed {}; the rule set tests little",
            r.keep.len(),
            r.remove.len()
        );
        let want = oldest.map(|reasons| with_oldest_kept(r, reasons));
        let want = want.as_ref().unwrap_or(r);
        if want != b {
            failures.push(format!(
                "rules {rules}{}:\n  want keep  {:?}\n  bakrun keep  {:?}\n  want reasons {:?}\n  bakrun reasons {:?}",
                if oldest.is_some() { " (restic 0.14 + the oldest)" } else { "" },
                want.keep, b.keep, want.reasons, b.reasons
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{version}: bakrun and restic disagree\n{}",
        failures.join("\n")
    );
}
