//! What the end-to-end tests do in a booted container with this build's bakgen and bakrun:
//! boot it, and apply a policy inside the way a deploy does.

use std::path::{Path, PathBuf};

use crate::binaries::installed_binaries;
use crate::container::{ContainerOptions, SystemdContainer};
use crate::process::output_text;

/// Where [`apply_policy`] writes the policy inside the container.
pub const POLICY_PATH: &str = "/root/policy/policy.kdl";

/// Boots a container with `bakgen` and `bakrun` installed in `/usr/bin`; panics
/// with the harness's error when it cannot (a test that cannot run fails).
pub fn boot_with_bakgen() -> SystemdContainer {
    SystemdContainer::boot(ContainerOptions {
        binds: installed_binaries(),
        ..ContainerOptions::default()
    })
    .unwrap_or_else(|e| panic!("boot container: {e}"))
}

/// Where [`boot_with_deb`] puts the package inside the container.
pub const DEB_PATH: &str = "/root/bakgen.deb";

/// Boots a container without this build's binaries and installs the Debian package `deb`
/// in it with `dpkg -i`, as an admin would; panics with dpkg's output when it fails.
pub fn boot_with_deb(deb: &Path) -> SystemdContainer {
    let ct = SystemdContainer::boot(ContainerOptions {
        binds: vec![(deb.to_owned(), PathBuf::from(DEB_PATH), true)],
        ..ContainerOptions::default()
    })
    .unwrap_or_else(|e| panic!("boot container: {e}"));
    let o = ct
        .exec(&["dpkg", "-i", DEB_PATH])
        .unwrap_or_else(|e| panic!("run dpkg -i: {e}"));
    assert!(o.status.success(), "dpkg -i failed: {}", output_text(&o));
    ct
}

/// Writes `policy` to [`POLICY_PATH`] and runs `bakgen apply --host HOST --root /` inside;
/// panics with its output when it fails, else returns its standard output.
pub fn apply_policy(ct: &SystemdContainer, policy: &str, host: &str) -> String {
    ct.sh("mkdir -p /root/policy")
        .unwrap_or_else(|e| panic!("policy folder: {e}"));
    ct.write_file(POLICY_PATH, policy.as_bytes())
        .unwrap_or_else(|e| panic!("write policy: {e}"));
    let o = ct
        .exec(&[
            "bakgen",
            "apply",
            POLICY_PATH,
            "--host",
            host,
            "--root",
            "/",
        ])
        .unwrap_or_else(|e| panic!("run bakgen apply: {e}"));
    assert!(
        o.status.success(),
        "bakgen apply failed: {}",
        output_text(&o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `systemctl start UNIT` (a oneshot service: returns when it ends) and its journal; panics
/// with systemctl's output and the journal unless it ran and its `Result` is `success`.
pub fn start_ok(ct: &SystemdContainer, unit: &str) -> String {
    let started = ct
        .exec(&["systemctl", "start", unit])
        .unwrap_or_else(|e| panic!("systemctl start {unit}: {e}"));
    let result = ct.unit_property(unit, "Result").unwrap_or_default();
    let journal = ct
        .exec(&["journalctl", "--no-pager", "-u", unit])
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        started.status.success() && result == "success",
        "{unit} failed (Result={result}): {}\n--- journal ---\n{journal}",
        output_text(&started)
    );
    journal
}
