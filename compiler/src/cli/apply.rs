//! `bakgen apply POLICY… --host H [--root R] [--dry-run] [--force] [--systemctl]
//! [--bundle DIR] [--format human|json]`: install a host's bundle. Exit 0 done (or nothing
//! to do), 1 policy errors, 2 usage, I/O or command errors, 4 refused (nothing written).
//! With `--format json`, standard output is one JSON document: the plan and what was done.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use super::diff::{desired, out, plan_failed, render_plan, stdout_colour, JsonPlan};
use super::output::Format;
use crate::ops::install::systemctl::{run as run_command, Argv};
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
    /// `json`: one JSON document on standard output — the plan and what was done — for
    /// deploy tooling; messages stay on standard error.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// What `apply --format json` prints (docs/operations.md, "apply --format json").
#[derive(Serialize, Default)]
struct Report {
    host: String,
    root: String,
    /// `applied`, `nothing-to-do`, `dry-run`, `refused`, `failed`.
    outcome: &'static str,
    exit_code: u8,
    /// The exit code in words.
    meaning: &'static str,
    /// Absent when no plan was made (policy errors, usage, a plan that could not be made).
    plan: Option<serde_json::Value>,
    /// Files written (the manifest last), with the root.
    written: Vec<String>,
    removed: Vec<String>,
    /// Files not bakgen's or edited by hand that the change would touch (exit 4).
    refused: Vec<String>,
    /// Commands run, in order.
    commands_run: Vec<Argv>,
    /// Commands of the plan that did not run, and why.
    commands_not_run: Vec<Argv>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_run_because: Option<&'static str>,
    /// What went wrong, when `outcome` is `failed` or `refused`; the messages themselves are
    /// on standard error too.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(args: ApplyArgs) -> ExitCode {
    let mut report = Report {
        host: args.host.clone(),
        root: args.root.display().to_string(),
        ..Report::default()
    };
    let (outcome, code) = apply_host(&args, &mut report);
    if args.format == Format::Json {
        report.outcome = outcome;
        report.exit_code = code;
        report.meaning = meaning(code);
        match serde_json::to_string_pretty(&report) {
            Ok(s) => out(&format!("{s}\n")),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::from(code)
}

/// The exit codes of `apply` in words (docs/operations.md, "Exit codes").
fn meaning(code: u8) -> &'static str {
    match code {
        0 => "done: applied, nothing to do, or a dry run",
        1 => "policy errors: nothing was changed",
        4 => "refused: a file not bakgen's or edited by hand, a link where the bundle needs a file or folder, or a tampered bundle; nothing was written",
        _ => "usage, I/O or command error, or another apply holds the root",
    }
}

/// Installs the bundle, printing for people unless JSON was asked for, and filling
/// `report`; the outcome and the exit code.
fn apply_host(args: &ApplyArgs, report: &mut Report) -> (&'static str, u8) {
    let human = args.format == Format::Human;
    let failed = |code: ExitCode| -> (&'static str, u8) {
        // The functions shared with `diff` return an ExitCode; compare to find its number.
        let n = [1u8, 2, 4]
            .into_iter()
            .find(|n| ExitCode::from(*n) == code)
            .unwrap_or(2);
        (if n == 4 { "refused" } else { "failed" }, n)
    };
    let desired = match desired(&args.paths, args.bundle.as_deref(), &args.host) {
        Ok(d) => d,
        Err(code) => return failed(code),
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
                report.error = Some(e.to_string());
                return ("failed", 2);
            }
        }
    };
    let plan = match plan(&desired, &args.root, args.force) {
        Ok(p) => p,
        Err(e) => {
            report.error = Some(e.to_string());
            return failed(plan_failed(&e));
        }
    };
    report.plan = serde_json::to_value(JsonPlan::of(&plan)).ok();
    let systemctl = args.systemctl || is_system_root(&args.root);
    let not_run = if args.dry_run {
        Some("dry run")
    } else if !systemctl {
        Some("the root is not /; --systemctl runs them")
    } else {
        None
    };
    if human {
        out(&render_plan(&plan, stdout_colour(), not_run));
    }
    let planned_commands = super::diff::commands(&plan);
    let conflicts: Vec<String> = plan.conflicts().map(|f| f.path.clone()).collect();
    if !conflicts.is_empty() && !args.force {
        let n = conflicts.len();
        let message = format!(
            "{n} file{} above would be overwritten or removed but {} not bakgen's or edited by hand since the last apply; nothing was written. Move the change into the policy, or pass --force to overwrite",
            if n == 1 { "" } else { "s" },
            if n == 1 { "is" } else { "are" }
        );
        eprintln!("refused: {message}");
        report.refused = conflicts;
        report.commands_not_run = planned_commands;
        report.not_run_because = Some("refused");
        report.error = Some(message);
        return ("refused", 4);
    }
    if args.dry_run {
        eprintln!("dry run: nothing was changed");
        report.commands_not_run = planned_commands;
        report.not_run_because = not_run;
        return ("dry-run", 0);
    }
    if plan.is_empty() {
        return ("nothing-to-do", 0);
    }
    let opts = ApplyOptions {
        force: args.force,
        systemctl,
    };
    let mut ran: Vec<Argv> = Vec::new();
    let result = apply(&plan, opts, |argv| {
        if human {
            out(&format!("run: {}\n", argv.join(" ")));
        }
        run_command(argv)?;
        ran.push(argv.clone());
        Ok(())
    });
    report.commands_run = ran;
    let text = |paths: &[PathBuf]| paths.iter().map(|p| p.display().to_string()).collect();
    match result {
        Ok(r) => {
            if human {
                out(&format!(
                    "applied host {}: {} written, {} removed, {} command{} run\n",
                    plan.host,
                    r.written.len(),
                    r.removed.len(),
                    r.ran.len(),
                    if r.ran.len() == 1 { "" } else { "s" }
                ));
            }
            report.written = text(&r.written);
            report.removed = text(&r.removed);
            report.commands_not_run = r.skipped;
            report.not_run_because = not_run.filter(|_| !report.commands_not_run.is_empty());
            ("applied", 0)
        }
        Err(ApplyError::Refused { .. }) => ("refused", 4),
        // A link swapped in after the plan: nothing was written through it.
        Err(ApplyError::Write(e)) if e.is_refusal() => {
            eprintln!("refused: {e}; the manifest was not updated, so the next apply retries");
            report.error = Some(e.to_string());
            ("refused", 4)
        }
        Err(e) => {
            eprintln!("error: {e}");
            report.error = Some(e.to_string());
            ("failed", 2)
        }
    }
}

/// systemctl acts on the running system, so it runs by default only when installing
/// into that system's own root.
fn is_system_root(root: &Path) -> bool {
    root.canonicalize().is_ok_and(|p| p == Path::new("/"))
}
