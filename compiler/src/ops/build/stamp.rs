//! `<out>/.bakgen-build.json`, the build stamp: which bakgen executable made the build in
//! `<out>`, and for each host the fingerprint of its inputs (`emit::fleet::inputs`) and
//! the hash of the manifest written for them. A host whose inputs, manifest and files are
//! as stamped by this very executable is not emitted again. The stamp is a cache: lost,
//! unreadable or from another executable, every host is emitted (and nothing unchanged
//! is written). It is written last, after every host.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::emit::sha256_hex;
use crate::ops::tree::{Tree, TreeError};

pub const STAMP: &str = ".bakgen-build.json";

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// SHA-256 of the executable that made the build: a fingerprint covers the policy,
    /// not bakgen's own code, so one from another bakgen is not trusted.
    pub bakgen: String,
    pub hosts: BTreeMap<String, HostStamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostStamp {
    pub inputs: String,
    /// SHA-256 of the host's `manifest.json` as written.
    pub manifest: String,
}

/// SHA-256 of the running executable, read once; `None` if it cannot be read (then no
/// host is ever skipped).
pub fn executable() -> Option<&'static str> {
    static EXE: OnceLock<Option<String>> = OnceLock::new();
    EXE.get_or_init(|| std::fs::read("/proc/self/exe").ok().map(|b| sha256_hex(&b)))
        .as_deref()
}

impl Stamp {
    /// The stamp in `out` if this executable wrote it; else an empty one.
    pub fn read_trusted(out: &Tree) -> Stamp {
        let Ok(Some(found)) = out.read(STAMP) else {
            return Stamp::default();
        };
        let Ok(stamp) = serde_json::from_slice::<Stamp>(&found.contents) else {
            return Stamp::default();
        };
        if stamp.hosts.is_empty() || Some(stamp.bakgen.as_str()) != executable() {
            return Stamp::default();
        }
        stamp
    }

    /// Written by this executable; nothing (and no stamp left) if it cannot be read.
    pub fn write(mut self, out: &Tree) -> Result<(), TreeError> {
        let Some(exe) = executable() else {
            out.remove(STAMP)?;
            return Ok(());
        };
        exe.clone_into(&mut self.bakgen);
        let mut text = serde_json::to_string_pretty(&self).unwrap_or_default();
        text.push('\n');
        out.write(STAMP, text.as_bytes(), 0o644)
    }
}
