//! The build stamp of an output folder `DIR`: which bakgen executable made the build in it,
//! and for each host the fingerprint of its inputs (`emit::fleet::inputs`) and the hash of
//! the manifest written for them. A host whose inputs, manifest and files are as stamped by
//! this very executable is not emitted again. The stamp is a cache: lost, unreadable or
//! from another executable, every host is emitted (and nothing unchanged is written).
//!
//! It is kept out of `DIR`, which holds the generated files alone (so `diff -r` of `DIR`
//! and a fresh build shows nothing), in the user's cache:
//! `$XDG_CACHE_HOME/bakgen/build-stamps/<SHA-256 of DIR's canonical path>.json`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bakgen_spec::atomic::{write_at, Durability, FileMode};
use serde::{Deserialize, Serialize};

use crate::emit::sha256_hex;

/// Where older bakgens kept the stamp: in `DIR` itself. The next build removes it.
pub const LEGACY: &str = ".bakgen-build.json";

/// The stamps' folder below the user's cache folder.
const FOLDER: &str = "bakgen/build-stamps";

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// SHA-256 of the executable that made the build: a fingerprint covers the policy,
    /// not bakgen's own code, so one from another bakgen is not trusted.
    pub bakgen: String,
    /// The canonical path of `DIR`: the file's name alone does not tell a person which
    /// folder it is the stamp of.
    #[serde(default)]
    pub out: String,
    pub hosts: BTreeMap<String, HostStamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostStamp {
    pub inputs: String,
    /// SHA-256 of the host's `manifest.json` as written.
    pub manifest: String,
}

/// The stamp could not be named, removed or written: the build is complete, but the next
/// one may emit hosts it could have skipped.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} the build stamp {}: {source}", path.display())]
pub struct StampError {
    action: &'static str,
    path: PathBuf,
    source: std::io::Error,
}

/// SHA-256 of the running executable, read once; `None` if it cannot be read (then no
/// host is ever skipped).
pub fn executable() -> Option<&'static str> {
    static EXE: OnceLock<Option<String>> = OnceLock::new();
    EXE.get_or_init(|| std::fs::read("/proc/self/exe").ok().map(|b| sha256_hex(&b)))
        .as_deref()
}

/// The folder stamps are kept in, from the environment (`bakgen build`'s); `None` when
/// there is no cache folder to keep them in (then every host is emitted).
pub fn folder_from_env() -> Option<PathBuf> {
    folder(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"))
}

/// `$XDG_CACHE_HOME/bakgen/build-stamps`, else `$HOME/.cache/bakgen/build-stamps`. A
/// relative or empty value is ignored, as the XDG Base Directory specification says.
fn folder(xdg_cache_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let absolute = |v: Option<OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    let cache = absolute(xdg_cache_home).or_else(|| absolute(home).map(|h| h.join(".cache")))?;
    Some(cache.join(FOLDER))
}

/// Where the stamp of one output folder is kept.
#[derive(Debug)]
pub struct StampFile {
    folder: PathBuf,
    name: String,
    out: String,
}

impl StampFile {
    /// The stamp of `out` (an existing folder) in `folder`, named for `out`'s canonical
    /// path, so that every path to one folder finds the same stamp.
    pub fn of(folder: &Path, out: &Path) -> Result<StampFile, StampError> {
        let canonical = std::fs::canonicalize(out).map_err(|source| StampError {
            action: "find the folder of",
            path: out.to_path_buf(),
            source,
        })?;
        Ok(StampFile {
            folder: folder.to_path_buf(),
            name: format!("{}.json", sha256_hex(canonical.as_os_str().as_bytes())),
            out: canonical.to_string_lossy().into_owned(),
        })
    }

    pub fn path(&self) -> PathBuf {
        self.folder.join(&self.name)
    }

    fn error(&self, action: &'static str) -> impl FnOnce(std::io::Error) -> StampError + '_ {
        move |source| StampError {
            action,
            path: self.path(),
            source,
        }
    }

    /// The stamp if this executable wrote it for this folder; else an empty one.
    pub fn read_trusted(&self) -> Stamp {
        let Ok(found) = std::fs::read(self.path()) else {
            return Stamp::default();
        };
        let Ok(stamp) = serde_json::from_slice::<Stamp>(&found) else {
            return Stamp::default();
        };
        if stamp.hosts.is_empty()
            || stamp.out != self.out
            || Some(stamp.bakgen.as_str()) != executable()
        {
            return Stamp::default();
        }
        stamp
    }

    pub fn remove(&self) -> Result<(), StampError> {
        match std::fs::remove_file(self.path()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.error("remove")(e)),
            _ => Ok(()),
        }
    }

    /// Written by this executable, atomically (a temporary file beside it, renamed over
    /// it), its folder created private as a cache folder is; nothing (and no stamp left)
    /// if the executable cannot be read.
    pub fn write(&self, mut stamp: Stamp) -> Result<(), StampError> {
        let Some(exe) = executable() else {
            return self.remove();
        };
        exe.clone_into(&mut stamp.bakgen);
        self.out.clone_into(&mut stamp.out);
        let mut text = serde_json::to_string_pretty(&stamp).unwrap_or_default();
        text.push('\n');
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.folder)
            .map_err(self.error("create the folder of"))?;
        let folder = std::fs::File::open(&self.folder).map_err(self.error("open the folder of"))?;
        // Unsynced: a stamp lost to a power cut costs one build that emits every host.
        write_at(
            folder.as_fd(),
            &self.name,
            text.as_bytes(),
            FileMode::Exact(0o600),
            Durability::Unsynced,
        )
        .map_err(self.error("write"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::tree::tests::scratch;

    fn os(s: &str) -> Option<OsString> {
        Some(s.into())
    }

    #[test]
    fn the_folder_follows_the_xdg_rules() {
        let want = |p: &str| Some(PathBuf::from(p));
        assert_eq!(
            folder(os("/c"), os("/home/u")),
            want("/c/bakgen/build-stamps")
        );
        assert_eq!(
            folder(None, os("/home/u")),
            want("/home/u/.cache/bakgen/build-stamps")
        );
        // Relative or empty: not a cache folder.
        assert_eq!(
            folder(os("rel"), os("/home/u")),
            want("/home/u/.cache/bakgen/build-stamps")
        );
        assert_eq!(
            folder(os(""), os("/home/u")),
            want("/home/u/.cache/bakgen/build-stamps")
        );
        assert_eq!(folder(None, None), None);
        assert_eq!(folder(os(""), os("")), None);
        assert_eq!(folder(os("rel"), os("home")), None);
    }

    #[test]
    fn every_path_to_one_folder_names_one_stamp_and_another_folder_another() {
        let (dir, a, b) = scratch();
        std::os::unix::fs::symlink(&a, dir.path().join("link")).expect("link");
        let cache = dir.path().join("cache");
        let name = |p: &Path| StampFile::of(&cache, p).expect("named").path();
        let a_name = name(&a);
        assert_eq!(a_name, name(&dir.path().join("outside/../root/.")));
        assert_eq!(a_name, name(&dir.path().join("link")));
        assert_ne!(a_name, name(&b));
        let canonical = std::fs::canonicalize(&a).expect("canonical");
        assert_eq!(
            a_name,
            cache.join(format!(
                "{}.json",
                sha256_hex(canonical.as_os_str().as_bytes())
            ))
        );
    }

    #[test]
    fn a_stamp_is_written_privately_read_back_and_not_trusted_for_another_folder() {
        let (dir, a, b) = scratch();
        let cache = dir.path().join("cache/bakgen/build-stamps");
        let file = StampFile::of(&cache, &a).expect("named");
        let mut stamp = Stamp::default();
        stamp.hosts.insert(
            "h".into(),
            HostStamp {
                inputs: "i".into(),
                manifest: "m".into(),
            },
        );
        file.write(stamp.clone()).expect("written");
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("cache")), 0o700);
        assert_eq!(mode(&cache), 0o700);
        assert_eq!(mode(&file.path()), 0o600);
        let names: Vec<_> = std::fs::read_dir(&cache)
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [file.path().file_name().expect("name")]);
        assert_eq!(file.read_trusted().hosts, stamp.hosts);

        // Renamed to be another folder's, it is not trusted there.
        let other = StampFile::of(&cache, &b).expect("named");
        std::fs::rename(file.path(), other.path()).expect("rename");
        assert_eq!(other.read_trusted(), Stamp::default());
        other.remove().expect("removed");
        other.remove().expect("already gone is no error");
    }
}
