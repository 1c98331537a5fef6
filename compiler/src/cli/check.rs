//! `bakgen check PATH…`: exit 0 valid, 1 policy errors, 2 usage or I/O error.

use std::path::PathBuf;
use std::process::ExitCode;

use super::output::{load_and_check, print_diagnostics, print_json_diagnostics, Format};

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Policy files (.kdl) or folders of them, read together as one policy.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
}

pub fn run(args: CheckArgs) -> ExitCode {
    let checked = match load_and_check(&args.paths) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let (errors, warnings) = (checked.errors(), checked.warnings());
    match args.format {
        Format::Json => print_json_diagnostics(&checked.diagnostics, &checked.sources),
        Format::Human => {
            print_diagnostics(&checked.diagnostics, &checked.sources);
            let hosts = checked.policy.hosts.len();
            let summary = format!(
                "{} file{}, {hosts} host{}, {} job{}",
                checked.sources.len(),
                plural(checked.sources.len()),
                plural(hosts),
                checked.jobs(),
                plural(checked.jobs()),
            );
            if errors == 0 && warnings == 0 {
                eprintln!("ok: {summary}");
            } else {
                eprintln!(
                    "{}: {errors} error{}, {warnings} warning{} in {summary}",
                    if errors > 0 { "failed" } else { "ok" },
                    plural(errors),
                    plural(warnings)
                );
            }
        }
    }
    if errors > 0 || (args.deny_warnings && warnings > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
