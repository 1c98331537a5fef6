//! `bakrun restore-script HOST`: print the disaster-recovery script of a host, made from
//! the job specs of that host in the jobs folder (installed ones, or a bundle's
//! `etc/bakgen/jobs` from `bakgen build`).

use std::process::ExitCode;

use bakrun::runner::exit;
use bakrun::spec::JobSpec;
use bakrun::{jobs, log, restore_script};

use super::JobsDirArg;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The host to rebuild: the `host` of the job specs to include.
    pub host: String,
    #[command(flatten)]
    pub jobs: JobsDirArg,
}

pub fn main(args: Args) -> ExitCode {
    let dir = &args.jobs.jobs_dir;
    let paths = match jobs::installed(dir) {
        Ok(p) => p,
        Err(e) => {
            log::error(format!(
                "cannot read the jobs folder {}: {e}; give the folder of the host's job specs with --jobs-dir",
                dir.display()
            ));
            return ExitCode::from(exit::BAD_SPEC);
        }
    };
    let mut specs = Vec::new();
    for path in &paths {
        match JobSpec::read(&path.to_string_lossy()) {
            Ok(spec) => specs.push(spec),
            Err(e) => {
                log::error(e.to_string());
                return ExitCode::from(exit::BAD_SPEC);
            }
        }
    }
    if !specs.iter().any(|s| s.host == args.host) {
        let mut hosts: Vec<&str> = specs.iter().map(|s| s.host.as_str()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        log::error(format!(
            "no job of host `{}` in {}{}",
            args.host,
            dir.display(),
            if hosts.is_empty() {
                String::new()
            } else {
                format!(" (its jobs are for: {})", hosts.join(", "))
            }
        ));
        return ExitCode::from(exit::BAD_SPEC);
    }
    match restore_script::generate(&args.host, &specs) {
        Ok(script) => {
            print!("{script}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::error(e.to_string());
            ExitCode::from(exit::BAD_SPEC)
        }
    }
}
