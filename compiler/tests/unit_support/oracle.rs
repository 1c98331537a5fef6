//! systemd itself as the judge of how a unit file reads: `systemd --test --system` loads a
//! unit from a folder and dumps what it parsed (Description, What, Where, Options, the
//! command line, RequiresMountsFor, ReadWritePaths …), without running anything. It refuses
//! to run as root, so it runs as `nobody`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const SYSTEMD: &str = "/lib/systemd/systemd";

/// The dumped properties of `unit`, loaded from `dir`: name → values in dump order.
pub fn systemd_reads(dir: &Path, unit: &str) -> BTreeMap<String, Vec<String>> {
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", SYSTEMD])
        .args(["--test", "--system", "--no-pager"])
        .arg(format!("--unit={unit}"))
        .env("SYSTEMD_UNIT_PATH", format!("{}:", dir.display()))
        .output()
        .expect("setpriv and systemd run (needs root and the systemd package)");
    let text = String::from_utf8_lossy(&o.stdout);
    let header = format!("\t-> Unit {unit}:");
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| !l.starts_with("\t-> Unit "))
        .collect();
    assert!(
        !block.is_empty(),
        "systemd --test did not dump {unit}:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in block {
        if let Some((key, value)) = line.trim_start_matches('\t').split_once(": ") {
            out.entry(key.to_owned())
                .or_default()
                .push(value.to_owned());
        }
    }
    out
}
