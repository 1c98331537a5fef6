//! `bakgen diff POLICY… --host H [--root R]`: what `apply` would change, without changing
//! it. Exit 0 nothing would change, 3 something would, 1 policy errors, 2 usage or I/O,
//! 4 a link (or other non-file) where a file or folder of the bundle belongs.
//! The plan printing here is shared with `apply`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use super::output::{load_and_check, print_diagnostics, Format};
use crate::emit::paths::{MANIFEST, UNIT_DIR};
use crate::ops::install::patch::{colourize, unified};
use crate::ops::install::systemctl::{after_files, before_files, Argv};
use crate::ops::install::{
    committed, compiled, plan, Change, Conflict, Desired, FileChange, Plan, PlanError, SourceError,
    UnitPlan,
};

#[derive(clap::Args)]
pub struct DiffArgs {
    /// Policy files (.kdl) or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The host whose bundle to compare.
    #[arg(long)]
    pub host: String,
    /// The root file system the bundle is installed under.
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

pub fn run(args: DiffArgs) -> ExitCode {
    let desired = match desired(&args.paths, None, &args.host) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let plan = match plan(&desired, &args.root, false) {
        Ok(p) => p,
        Err(e) => return plan_failed(&e),
    };
    match args.format {
        Format::Human => out(&render_plan(&plan, stdout_colour(), None)),
        Format::Json => match serde_json::to_string_pretty(&JsonPlan::of(&plan)) {
            Ok(s) => out(&format!("{s}\n")),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    }
    if plan.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

/// The bundle to install: compiled from `paths`, or read from a committed `bundle` folder.
/// On failure the message is printed and the exit code returned (1 policy errors, 2 usage
/// or I/O, 4 a committed bundle that does not match its manifest).
pub(crate) fn desired(
    paths: &[PathBuf],
    bundle: Option<&Path>,
    host: &str,
) -> Result<Desired, ExitCode> {
    let result = match bundle {
        Some(dir) => committed(dir, host),
        None => {
            let checked = load_and_check(paths)?;
            print_diagnostics(&checked.diagnostics, &checked.sources);
            let Some(plan) = checked.plan() else {
                eprintln!("failed: {} errors; nothing was changed", checked.errors());
                return Err(ExitCode::from(1));
            };
            compiled(plan, host)
        }
    };
    result.map_err(|e| {
        eprintln!("error: {e}");
        match e {
            SourceError::Tampered { .. } => ExitCode::from(4),
            _ => ExitCode::from(2),
        }
    })
}

/// Reports a plan that could not be made: exit 4 when something not bakgen's (a link, a
/// folder) is where a file or folder of the bundle belongs, 2 otherwise.
pub(crate) fn plan_failed(e: &PlanError) -> ExitCode {
    match e {
        PlanError::Tree(t) if t.is_refusal() => {
            eprintln!("refused: {e}; nothing was written");
            ExitCode::from(4)
        }
        _ => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes to standard output; a closed pipe (`| head`) is not worth a panic, and the
/// exit code still tells the result.
pub(crate) fn out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Colour only on a terminal, and never when NO_COLOR is set.
pub(crate) fn stdout_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// The plan for people: one line per file and per unit action, the commands, then each
/// file's unified diff. `not_run` explains why the commands would not run, if so.
pub(crate) fn render_plan(plan: &Plan, colour: bool, not_run: Option<&str>) -> String {
    let mut out = String::new();
    let root = plan.root.display();
    if plan.is_empty() {
        out.push_str(&format!(
            "host {}: nothing to change under {root}\n",
            plan.host
        ));
        return out;
    }
    out.push_str(&format!("host {}: plan for {root}\n", plan.host));
    for f in &plan.files {
        let conflict = match f.conflict {
            None => String::new(),
            Some(Conflict::NotOwned) => "  [not bakgen's: not in its manifest]".to_owned(),
            Some(Conflict::Edited) => "  [edited by hand since the last apply]".to_owned(),
        };
        let mode = if f.change == Change::Mode {
            format!(" (mode {:04o})", f.mode)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "  {:<7} {:<9} {}{mode}{conflict}\n",
            change_word(f.change),
            kind(&f.path),
            f.path
        ));
    }
    if plan.manifest.is_some() {
        out.push_str(&format!("  {:<7} {:<9} {MANIFEST}\n", "write", "manifest"));
    }
    let u = &plan.units;
    for (verb, units) in [
        ("disable", &u.disable),
        ("stop", &u.stop),
        ("enable", &u.enable),
        ("restart", &u.restart),
    ] {
        for unit in units {
            out.push_str(&format!("  {verb:<7} {unit}\n"));
        }
    }
    let commands = commands(plan);
    if !commands.is_empty() {
        match not_run {
            Some(why) => out.push_str(&format!("commands (not run: {why}):\n")),
            None => out.push_str("commands:\n"),
        }
        for c in &commands {
            out.push_str(&format!("  {}\n", c.join(" ")));
        }
    }
    for f in &plan.files {
        let d = unified(f);
        if !d.is_empty() {
            out.push('\n');
            out.push_str(&if colour { colourize(&d) } else { d });
        }
    }
    out
}

/// Every command of the plan, in the order `apply` runs them.
pub(crate) fn commands(plan: &Plan) -> Vec<Argv> {
    let mut c = before_files(&plan.units);
    c.extend(after_files(&plan.units, &plan.root));
    c
}

fn change_word(c: Change) -> &'static str {
    match c {
        Change::Add => "add",
        Change::Update => "change",
        Change::Mode => "mode",
        Change::Remove => "remove",
    }
}

fn kind(path: &str) -> &'static str {
    if path.starts_with(&format!("{UNIT_DIR}/")) {
        "unit"
    } else if path.starts_with("etc/bakgen/jobs/") {
        "job spec"
    } else if path.starts_with("etc/sysusers.d/") {
        "sysusers"
    } else {
        "file"
    }
}

/// The plan as `diff --format json` prints it, and `apply --format json` within its report.
#[derive(Serialize)]
pub(crate) struct JsonPlan<'a> {
    host: &'a str,
    root: String,
    /// Whether `apply` would change anything (exit 3).
    changes: bool,
    files: Vec<JsonFile<'a>>,
    manifest: bool,
    units: &'a UnitPlan,
    commands: Vec<Argv>,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    path: &'a str,
    kind: &'static str,
    change: Change,
    conflict: Option<Conflict>,
    mode: Option<String>,
    diff: String,
}

impl<'a> JsonPlan<'a> {
    pub(crate) fn of(plan: &'a Plan) -> Self {
        JsonPlan {
            host: &plan.host,
            root: plan.root.display().to_string(),
            changes: !plan.is_empty(),
            files: plan.files.iter().map(JsonFile::of).collect(),
            manifest: plan.manifest.is_some(),
            units: &plan.units,
            commands: commands(plan),
        }
    }
}

impl<'a> JsonFile<'a> {
    fn of(f: &'a FileChange) -> Self {
        JsonFile {
            path: &f.path,
            kind: kind(&f.path),
            change: f.change,
            conflict: f.conflict,
            mode: (f.change != Change::Remove).then(|| format!("{:04o}", f.mode)),
            diff: unified(f),
        }
    }
}
