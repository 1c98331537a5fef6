//! Shared command-line plumbing: output format, colour, and printing diagnostics.

use std::io::IsTerminal;

use crate::diagnostic::{render, to_json, Diagnostic, Style};
use crate::ops::check::{check, Checked};
use crate::source::{LoadError, SourceSet};

/// `--format`: what a person reads, or what a machine reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// Colour only on a terminal, and never when NO_COLOR is set.
pub fn stderr_style() -> Style {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        Style::Colour
    } else {
        Style::Plain
    }
}

pub fn print_diagnostics(diags: &[Diagnostic], sources: &SourceSet) {
    if !diags.is_empty() {
        eprint!("{}", render(diags, sources, stderr_style()));
    }
}

pub fn print_json_diagnostics(diags: &[Diagnostic], sources: &SourceSet) {
    print!("{}", to_json(diags, sources));
}

/// A usage or I/O error: exit 2 by the contract.
pub fn print_load_error(e: &LoadError) {
    eprintln!("error[{}]: {e}\n  help: {}", e.code(), e.help());
}

/// Reads the policy files and folders at `paths` and checks them (the one resolution of
/// the command); a file that cannot be read is reported here and is exit 2.
pub fn load_and_check(paths: &[std::path::PathBuf]) -> Result<Checked, std::process::ExitCode> {
    let sources = SourceSet::load(paths).map_err(|e| {
        print_load_error(&e);
        std::process::ExitCode::from(2)
    })?;
    Ok(check(sources))
}

/// Loads and checks the policy at `paths` and runs `f` on its plan; a policy with errors
/// prints its diagnostics and is exit 1 ("fix them before `doing`").
pub fn with_plan(
    paths: &[std::path::PathBuf],
    doing: &str,
    f: impl FnOnce(&Checked, &crate::validate::Plan) -> std::process::ExitCode,
) -> std::process::ExitCode {
    let checked = match load_and_check(paths) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(plan) = checked.plan() else {
        print_diagnostics(&checked.diagnostics, &checked.sources);
        eprintln!(
            "failed: {} errors; fix them before {doing}",
            checked.errors()
        );
        return std::process::ExitCode::from(1);
    };
    f(&checked, plan)
}
