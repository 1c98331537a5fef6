//! `bakrun snapshots JOB [--at WHEN]`: a job's complete snapshots, or the files of the one
//! current at WHEN.

use std::process::ExitCode;

use chrono::Local;
use serde_json::json;

use bakrun::log;

use super::{at_arg, load_job, snapshot_at, Format, JobsDirArg};
use bakgen_spec::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Job name (looked up in --jobs-dir) or path to its spec.
    pub job: String,
    /// List the files of the snapshot current at WHEN (date, date-time, or `3D12h` ago).
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    #[command(flatten)]
    pub jobs: JobsDirArg,
}

pub fn main(args: Args) -> ExitCode {
    let (spec, engine) = match load_job(&args.job, &args.jobs.jobs_dir) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let snapshots = match engine.snapshots() {
        Ok(s) => s,
        Err(e) => {
            log::error(e.to_string());
            return ExitCode::from(Exit::Failed);
        }
    };
    let Some(at) = &args.at else {
        match args.format {
            Format::Human => {
                for s in &snapshots {
                    println!("{}  {}", s.id, s.time.to_rfc3339());
                }
            }
            Format::Json => {
                let list: Vec<_> = snapshots
                    .iter()
                    .map(|s| json!({"id": s.id, "time": s.time.to_rfc3339(), "path": s.path}))
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            }
        }
        return ExitCode::SUCCESS;
    };
    let when = match at_arg(at, Local::now().fixed_offset()) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let snapshot = match snapshot_at(&spec, &snapshots, &when) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let files = match engine.files(snapshot) {
        Ok(f) => f,
        Err(e) => {
            log::error(e.to_string());
            return ExitCode::from(Exit::Failed);
        }
    };
    match args.format {
        Format::Human => {
            println!(
                "# snapshot {} ({})",
                snapshot.id,
                snapshot.time.to_rfc3339()
            );
            for f in files {
                println!("{f}");
            }
        }
        Format::Json => println!(
            "{}",
            json!({"id": snapshot.id, "time": snapshot.time.to_rfc3339(), "files": files})
        ),
    }
    ExitCode::SUCCESS
}
