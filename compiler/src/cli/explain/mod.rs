//! `bakgen explain POLICY… --host H [--job J]`: a job as resolved — each setting with the
//! level of its chain it came from (the job, a template, `defaults`, or built in), its next
//! runs with their jitter window, and the files it becomes (units and job spec).

mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::diff::out;
use super::output::{with_plan, Format};
use super::schedule::{jitter_window, When, FIXED_DELAY_WHY};
use crate::emit::paths::installed_spec;
use crate::emit::{Bundle, Emitter};
use crate::resolve::Origin;
use crate::source::SourceSet;
use crate::validate::{Plan, PlannedJob};

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// Policy files (.kdl) or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The host whose jobs to explain.
    #[arg(long)]
    pub host: String,
    /// Only this job of the host; every job when not given.
    #[arg(long)]
    pub job: Option<String>,
    /// How many next runs to show per job.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub count: u32,
    #[command(flatten)]
    pub when: When,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

#[derive(Serialize)]
struct Explained {
    host: String,
    job: String,
    settings: Vec<Setting>,
    schedule: Schedule,
    /// Every file the job adds to its host's bundle (paths under the host's root): its
    /// service, timer and spec, and the units it shares (mounts, maintenance, notify).
    files: Vec<String>,
    spec_file: String,
    spec: serde_json::Value,
}

#[derive(Serialize)]
struct Setting {
    setting: String,
    #[serde(flatten)]
    origin: Origin,
    /// As written in the policy; absent when no level writes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    /// Where it is written: `file:line`.
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    /// What applies when no level writes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<String>,
}

#[derive(Serialize)]
struct Schedule {
    expression: String,
    normalized: String,
    /// The zone the expression is read in (its own, or the host's).
    timezone: String,
    jitter_seconds: u64,
    next: Vec<Run>,
}

/// One run: the timer elapses at `start`; with jitter, systemd starts it at a fixed
/// per-machine offset before `end`.
#[derive(Serialize)]
struct Run {
    start: String,
    end: String,
    /// `start–end` in the schedule's zone.
    window: String,
}

pub fn run(args: ExplainArgs) -> ExitCode {
    let (from, local) = match args.when.resolve() {
        Ok(w) => w,
        Err(code) => return code,
    };
    with_plan(&args.paths, "asking how jobs resolve", |checked, plan| {
        show(&args, &checked.sources, plan, from, local)
    })
}

fn show(
    args: &ExplainArgs,
    sources: &SourceSet,
    plan: &Plan,
    from: DateTime<Utc>,
    local: Tz,
) -> ExitCode {
    let jobs = match chosen_jobs(plan, &args.host, args.job.as_deref()) {
        Ok(j) => j,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let mut emitter = match Emitter::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut explained = Vec::new();
    for job in jobs {
        match explain(plan, job, sources, &mut emitter, &from, local, args.count) {
            Ok(e) => explained.push(e),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&explained) {
            Ok(s) => out(&format!("{s}\n")),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        Format::Human if explained.is_empty() => {
            out(&format!("host {} runs no job\n", args.host));
        }
        Format::Human => out(&human(&explained)),
    }
    ExitCode::SUCCESS
}

/// The host's jobs, or the one named; an unknown name says what is there.
fn chosen_jobs<'p>(
    plan: &'p Plan,
    host: &str,
    job: Option<&str>,
) -> Result<Vec<&'p PlannedJob>, String> {
    let hosts = &plan.policy().hosts;
    if !hosts.iter().any(|h| h.name.value == host) {
        let names = hosts.iter().map(|h| h.name.value.as_str());
        return Err(format!(
            "the policy has no host `{host}`{}",
            hint(host, names)
        ));
    }
    let of_host: Vec<&PlannedJob> = plan
        .jobs()
        .iter()
        .filter(|j| j.host.value == host)
        .collect();
    let Some(name) = job else {
        return Ok(of_host);
    };
    match of_host.iter().find(|j| j.name.value == name) {
        Some(j) => Ok(vec![*j]),
        None if of_host.is_empty() => {
            Err(format!("host `{host}` has no job (looked for `{name}`)"))
        }
        None => Err(format!(
            "host `{host}` has no job `{name}`{}",
            hint(name, of_host.iter().map(|j| j.name.value.as_str()))
        )),
    }
}

/// "; did you mean `x`?", or the names there are when none is close (the first 10).
fn hint<'a>(word: &str, names: impl Iterator<Item = &'a str> + Clone) -> String {
    if let Some(s) = crate::suggest::did_you_mean(word, names.clone()) {
        return format!("; did you mean `{s}`?");
    }
    let all: Vec<&str> = names.collect();
    match all.len() {
        0 => String::new(),
        n if n <= 10 => format!("; it has: {}", all.join(", ")),
        n => format!("; it has: {}, … ({n} in all)", all[..10].join(", ")),
    }
}

fn explain(
    plan: &Plan,
    job: &PlannedJob,
    sources: &SourceSet,
    emitter: &mut Emitter,
    from: &DateTime<Utc>,
    local: Tz,
    count: u32,
) -> Result<Explained, crate::emit::RenderError> {
    let settings = job
        .origins
        .iter()
        .map(|(field, origin)| {
            let shown = settings::shown(&job.settings, field, sources);
            let at = shown.as_ref().map(|s| {
                let file = sources.get(s.span.file);
                let (line, _) = file.line_col(s.span.range.start);
                format!("{}:{}", file.name, line)
            });
            let unset = *origin == Origin::BuiltIn;
            Setting {
                setting: settings::node_name(field),
                origin: origin.clone(),
                value: shown
                    .map(|s| s.text)
                    .or_else(|| (!unset).then(|| "(set)".to_owned())),
                at,
                default: unset.then(|| settings::built_in(field, job)),
            }
        })
        .collect();
    let zone = job.calendar.zone(local);
    let jitter = job
        .schedule
        .jitter
        .as_ref()
        .map_or(0, |j| j.value.approx_seconds());
    let next = job
        .calendar
        .elapses(from, local)
        .take(count as usize)
        .map(|t| {
            let end = t + chrono::TimeDelta::seconds(jitter as i64);
            Run {
                start: rfc3339(&t),
                end: rfc3339(&end),
                window: jitter_window(&t, jitter, zone),
            }
        })
        .collect();
    // The job's files: its host's bundle with only this job, less what the host has
    // without any job (a watch's units, alerting rules, the manifest).
    let alone = emitter.bundle(plan, &job.host.value, std::slice::from_ref(job))?;
    let bare = emitter.bundle(plan, &job.host.value, &[])?;
    let spec_file = installed_spec(&job.name.value);
    let spec = alone
        .files
        .get(spec_file.trim_start_matches('/'))
        .and_then(|f| serde_json::from_slice(&f.contents).ok())
        .unwrap_or(serde_json::Value::Null);
    Ok(Explained {
        host: job.host.value.clone(),
        job: job.name.value.clone(),
        settings,
        schedule: Schedule {
            expression: job.schedule.calendar.value.clone(),
            normalized: job.calendar.normalized(),
            timezone: zone.name().to_owned(),
            jitter_seconds: jitter,
            next,
        },
        files: own_files(&alone, &bare),
        spec_file,
        spec,
    })
}

fn own_files(alone: &Bundle, bare: &Bundle) -> Vec<String> {
    alone
        .files
        .keys()
        .filter(|p| !bare.files.contains_key(*p))
        .map(|p| format!("/{p}"))
        .collect()
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn origin_words(o: &Origin) -> String {
    match o {
        Origin::Job => "job".to_owned(),
        Origin::Template(t) => format!("template {t}"),
        Origin::Defaults => "defaults".to_owned(),
        Origin::BuiltIn => "built-in".to_owned(),
    }
}

fn human(jobs: &[Explained]) -> String {
    let mut s = String::new();
    for (i, e) in jobs.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push_str(&format!("job {} of host {}\n", e.job, e.host));
        s.push_str("  settings (value — from where):\n");
        let width = e
            .settings
            .iter()
            .map(|x| x.setting.len())
            .max()
            .unwrap_or(0);
        for x in &e.settings {
            let line = match (&x.value, &x.default) {
                (Some(v), _) => format!(
                    "{v}  — {}{}",
                    origin_words(&x.origin),
                    x.at.as_ref().map(|a| format!(" ({a})")).unwrap_or_default()
                ),
                (None, Some(d)) => format!("{d}  — built-in"),
                (None, None) => "—".to_owned(),
            };
            s.push_str(&format!("    {:<width$}  {line}\n", x.setting));
        }
        let sc = &e.schedule;
        s.push_str(&format!(
            "  schedule: {} ({}), in {}\n",
            sc.expression, sc.normalized, sc.timezone
        ));
        if sc.jitter_seconds > 0 {
            s.push_str(&format!("    a window is the jitter: {FIXED_DELAY_WHY}\n"));
        }
        if sc.next.is_empty() {
            s.push_str("    never elapses\n");
        }
        for r in &sc.next {
            s.push_str(&format!("    {}   ({})\n", r.window, r.start));
        }
        s.push_str("  files:\n");
        for f in &e.files {
            s.push_str(&format!("    {f}\n"));
        }
        s.push_str(&format!("  spec {}:\n", e.spec_file));
        for line in spec_summary(&e.spec) {
            s.push_str(&format!("    {line}\n"));
        }
    }
    s
}

/// The spec in a few lines: what is read, where it goes, how it is kept.
fn spec_summary(spec: &serde_json::Value) -> Vec<String> {
    let compact = |v: &serde_json::Value| serde_json::to_string(v).unwrap_or_default();
    let mut lines = Vec::new();
    for key in [
        "remote",
        "sources",
        "excludes",
        "destination",
        "retention",
        "steps",
        "limits",
        "on-failure",
        "ping",
        "verify",
    ] {
        match spec.get(key) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Array(a)) if a.is_empty() => {}
            Some(serde_json::Value::Object(o)) if o.is_empty() => {}
            Some(v) => lines.push(format!("{key}: {}", compact(v))),
        }
    }
    if let Some(late) = spec
        .get("schedule")
        .and_then(|s| s.get("late-after-seconds"))
    {
        lines.push(format!("late after: {late} s (bakrun status)"));
    }
    lines
}
