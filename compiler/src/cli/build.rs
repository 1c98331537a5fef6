//! `bakgen build PATH… --out DIR [--host HOST]`. Exit 0 built, 1 policy errors, 2 usage
//! or I/O errors (also a `--host` the policy does not name), 4 refused: a symbolic link (or
//! a non-file) inside DIR where a file or folder of a bundle belongs.

use std::path::PathBuf;
use std::process::ExitCode;

use super::output::{load_and_check, print_diagnostics};
use crate::ops::build::{build_with, stamp, BuildOptions};

#[derive(clap::Args)]
pub struct BuildArgs {
    /// Policy files (.kdl) or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Where to write one folder per host.
    #[arg(long)]
    pub out: PathBuf,
    /// Build only this host's folder; the others (and hosts gone from the policy) are
    /// left as they are.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
}

pub fn run(args: BuildArgs) -> ExitCode {
    let checked = match load_and_check(&args.paths) {
        Ok(c) => c,
        Err(code) => return code,
    };
    print_diagnostics(&checked.diagnostics, &checked.sources);
    let Some(plan) = checked.plan() else {
        eprintln!("failed: {} errors; nothing was written", checked.errors());
        return ExitCode::from(1);
    };
    let options = BuildOptions {
        host: args.host,
        stamps: stamp::folder_from_env(),
    };
    match build_with(plan, &args.out, &options) {
        Ok(r) => {
            for p in &r.written {
                eprintln!("wrote {}", p.display());
            }
            for p in &r.removed {
                eprintln!("removed {}", p.display());
            }
            for p in &r.kept_edited {
                eprintln!(
                    "kept {} (no longer produced, but edited by hand: remove it yourself)",
                    p.display()
                );
            }
            for p in &r.foreign {
                eprintln!("left alone {} (not written by bakgen)", p.display());
            }
            if let Some(e) = &r.stamp_error {
                eprintln!(
                    "warning: {e} (the stamp is a cache: nothing is lost, hosts are emitted again)"
                );
            }
            eprintln!(
                "built {} host{}: {} written, {} unchanged, {} removed ({} host{} unchanged since the last build, not emitted)",
                r.hosts,
                if r.hosts == 1 { "" } else { "s" },
                r.written.len(),
                r.unchanged,
                r.removed.len(),
                r.skipped,
                if r.skipped == 1 { "" } else { "s" },
            );
            ExitCode::SUCCESS
        }
        Err(e) if e.is_refusal() => {
            eprintln!("refused: {e}");
            ExitCode::from(4)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
