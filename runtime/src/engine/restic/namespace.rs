//! Reading a snapshot step's sources at their original paths: restic runs in a mount
//! namespace of its own where each source is bind-mounted from the snapshot over itself.

use std::path::PathBuf;

use crate::command::Command;
use crate::source_view::SourceView;

/// Binds each source from the snapshot over its original path, then runs restic.
const BIND_SCRIPT: &str = r#"while [ "$1" != -- ]; do mount --bind -o ro -- "$1" "$2" || exit 125; shift 2; done; shift; exec "$@""#;

/// `cmd` run in a private mount namespace (`unshare --mount --propagation private`) where
/// every source is bind-mounted read-only from the snapshot tree over its original path.
/// The namespace dies with restic: no unmount to forget, nothing visible outside. The
/// environment (password file, keys) passes through unchanged.
pub(super) fn in_snapshot_view(cmd: Command, view: &SourceView<'_>, sources: &[String]) -> Command {
    let mut wrapped = Command::new("unshare").args([
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        BIND_SCRIPT,
        "bakrun-bind",
    ]);
    let mut targets: Vec<PathBuf> = Vec::new();
    for source in sources {
        // A source the live system lost since the snapshot has no mount point: bind the
        // nearest folder above it that still exists (inside the snapshot's origin, which
        // is a mount point and so always exists).
        let mut target = PathBuf::from(source);
        while target.symlink_metadata().is_err() {
            match target.parent() {
                Some(parent) => target = parent.to_owned(),
                None => break,
            }
        }
        // Missing from the snapshot too: restic reports it as a missing source.
        let from = view.path_of(&target.to_string_lossy());
        if from.symlink_metadata().is_err() || targets.contains(&target) {
            continue;
        }
        wrapped = wrapped.arg(from).arg(&target);
        targets.push(target);
    }
    wrapped = wrapped.arg("--").arg(cmd.program).args(cmd.args);
    wrapped.env = cmd.env;
    // unshare and sh exec restic in the same process: it gets restic's signal.
    wrapped.stop_with(cmd.stop_signal)
}
