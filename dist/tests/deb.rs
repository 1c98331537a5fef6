//! The Debian package from the release binaries: its file list (golden), its control
//! fields, binaries that run once extracted, and lintian with no error. Needs dpkg-deb,
//! dpkg-shlibdeps, strip and lintian (scripts/packages.txt) and `cargo build --release --bins`.

use std::path::{Path, PathBuf};
use std::process::Command;

use bakgen_dist::deb::{build, version, Inputs};
use bakgen_dist::workspace;

/// `target/release`, where the test's own executable's folder (`deps/`) is.
fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_owned();
    for bin in ["bakgen", "bakrun"] {
        assert!(
            dir.join(bin).is_file(),
            "{} is missing: run `cargo build --release --bins` first",
            dir.join(bin).display()
        );
    }
    dir
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
#[ignore = "tier: system — needs dpkg-deb, dpkg-shlibdeps, lintian and the release binaries; run by scripts/test"]
fn the_package_holds_what_an_install_needs_and_lintian_finds_no_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let deb = build(&Inputs {
        workspace: workspace(),
        bin_dir: release_dir(),
        out: dir.path().to_owned(),
    })
    .unwrap_or_else(|e| panic!("dist deb: {e}"));
    assert!(
        deb.file_name().is_some_and(|n| n
            .to_string_lossy()
            .starts_with(&format!("bakgen_{}_", version()))),
        "{}",
        deb.display()
    );

    // The file list: mode, owner and path (sizes and dates left out).
    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let files: Vec<String> = listing
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {} {}", f[0], f[1], f[5..].join(" "))
        })
        .collect();
    insta::assert_snapshot!("deb_files", files.join("\n"));

    let field = |name: &str| run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(name));
    let depends = field("Depends");
    assert!(depends.contains("libc6 (>="), "{depends}");
    assert!(depends.contains("rsync"), "{depends}");
    assert!(field("Recommends").contains("restic"));
    assert_eq!(field("Version").trim(), version());

    let root = dir.path().join("x");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    for bin in ["bakgen", "bakrun"] {
        let v = run(Command::new(root.join("usr/bin").join(bin)).arg("--version"));
        assert_eq!(v.trim(), format!("{bin} {}", env!("CARGO_PKG_VERSION")));
    }
    let sysusers = std::fs::read_to_string(root.join("usr/lib/sysusers.d/bakgen.conf"))
        .expect("sysusers fragment");
    assert_eq!(
        sysusers,
        bakgen::emit::paths::sysusers_conf(),
        "the same user as every bundle's"
    );

    let o = Command::new("lintian")
        .args(["--tag-display-limit", "0"])
        .arg(&deb)
        .output()
        .expect("lintian runs (package lintian)");
    let report = String::from_utf8_lossy(&o.stdout);
    println!("lintian:\n{report}{}", String::from_utf8_lossy(&o.stderr));
    // 0: no error; 1: errors (listed below); anything else: lintian could not check.
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "lintian failed: {:?}",
        o.status
    );
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E:")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{}", errors.join("\n"));
}
