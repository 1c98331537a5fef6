//! `bakgen apply POLICY… --host H [--root R] [--dry-run] [--force] [--systemctl]
//! [--bundle DIR]`: install a host's bundle. Exit 0 done (or nothing to do), 1 policy
//! errors, 2 usage, I/O or command errors, 4 refused (nothing written).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::diff::{desired, out, plan_failed, render_plan, stdout_colour};
use crate::ops::install::systemctl::run as run_command;
use crate::ops::install::{apply, lock_root, plan, ApplyError, ApplyOptions};

#[derive(clap::Args)]
pub struct ApplyArgs {
    /// Policy files (.kdl) or folders of them.
    #[arg(required_unless_present = "bundle", conflicts_with = "bundle")]
    pub paths: Vec<PathBuf>,
    /// The host whose bundle to install.
    #[arg(long)]
    pub host: String,
    /// The root file system to install under.
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// Print the plan, the diffs and the commands; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Overwrite or remove files that bakgen does not own or that were edited by hand.
    #[arg(long)]
    pub force: bool,
    /// Run systemctl and systemd-sysusers even though the root is not `/` (they act on the
    /// running system).
    #[arg(long)]
    pub systemctl: bool,
    /// Install this committed bundle (e.g. generated/<host>) instead of compiling: every
    /// file is checked against the bundle's manifest first.
    #[arg(long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
}

pub fn run(args: ApplyArgs) -> ExitCode {
    let desired = match desired(&args.paths, args.bundle.as_deref(), &args.host) {
        Ok(d) => d,
        Err(code) => return code,
    };
    // Held from planning to the manifest: the plan must describe the state it changes.
    // A dry run changes nothing and needs no lock.
    let _lock = if args.dry_run {
        None
    } else {
        match lock_root(&args.root) {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let plan = match plan(&desired, &args.root, args.force) {
        Ok(p) => p,
        Err(e) => return plan_failed(&e),
    };
    let systemctl = args.systemctl || is_system_root(&args.root);
    let not_run = if args.dry_run {
        Some("dry run")
    } else if !systemctl {
        Some("the root is not /; --systemctl runs them")
    } else {
        None
    };
    out(&render_plan(&plan, stdout_colour(), not_run));
    let conflicts = plan.conflicts().count();
    if conflicts > 0 && !args.force {
        eprintln!(
            "refused: {conflicts} file{} above would be overwritten or removed but {} not bakgen's or edited by hand since the last apply; nothing was written. Move the change into the policy, or pass --force to overwrite",
            if conflicts == 1 { "" } else { "s" },
            if conflicts == 1 { "is" } else { "are" }
        );
        return ExitCode::from(4);
    }
    if args.dry_run {
        eprintln!("dry run: nothing was changed");
        return ExitCode::SUCCESS;
    }
    if plan.is_empty() {
        return ExitCode::SUCCESS;
    }
    let opts = ApplyOptions {
        force: args.force,
        systemctl,
    };
    let result = apply(&plan, opts, |argv| {
        out(&format!("run: {}\n", argv.join(" ")));
        run_command(argv)
    });
    match result {
        Ok(r) => {
            out(&format!(
                "applied host {}: {} written, {} removed, {} command{} run\n",
                plan.host,
                r.written.len(),
                r.removed.len(),
                r.ran.len(),
                if r.ran.len() == 1 { "" } else { "s" }
            ));
            ExitCode::SUCCESS
        }
        Err(ApplyError::Refused { .. }) => ExitCode::from(4),
        // A link swapped in after the plan: nothing was written through it.
        Err(ApplyError::Write(e)) if e.is_refusal() => {
            eprintln!("refused: {e}; the manifest was not updated, so the next apply retries");
            ExitCode::from(4)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// systemctl acts on the running system, so it runs by default only when installing
/// into that system's own root.
fn is_system_root(root: &Path) -> bool {
    root.canonicalize().is_ok_and(|p| p == Path::new("/"))
}
