//! What the end-to-end tests do in a booted container with this build's bakgen and bakrun:
//! boot it, and apply a policy inside the way a deploy does.

use crate::binaries::installed_binaries;
use crate::container::{ContainerOptions, SystemdContainer};
use crate::process::output_text;

/// Where [`apply_policy`] writes the policy inside the container.
pub const POLICY_PATH: &str = "/root/policy/policy.kdl";

/// Boots a container with `bakgen` and `bakrun` installed in `/usr/local/bin`; panics
/// with the harness's error when it cannot (a test that cannot run fails).
pub fn boot_with_bakgen() -> SystemdContainer {
    SystemdContainer::boot(ContainerOptions {
        binds: installed_binaries(),
        ..ContainerOptions::default()
    })
    .unwrap_or_else(|e| panic!("boot container: {e}"))
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
