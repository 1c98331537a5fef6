//! A job's `verify` against what the job backs up: critical paths under its sources,
//! queries against databases it dumps, something to check at all, a `within` the drill's
//! schedule can keep, unit names that do not clash. The defaults the plan fills in are
//! here too, so the check and the plan read one rule.

use super::paths::contains;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::{Dump, DumpKind, Schedule, Settings, Spanned, VerifyQuery, VerifySetting};
use crate::resolve::ResolvedJob;
use crate::schedule::{CalendarSpec, GapCache};

/// The drill's calendar when `verify` writes no `schedule`: weekly, away from the default
/// prune (Monday 00:00) and check (the 1st, 00:00) of a restic repository, which lock it.
pub const VERIFY_SCHEDULE: &str = "Sun 05:00";
/// The jitter of a drill's schedule that writes none (as for `prune-schedule`): a fleet's
/// drills do not reach one repository server in the same minute; `jitter="0s"` opts out.
pub const VERIFY_JITTER_SECONDS: u64 = 3600;
/// The random sample when `verify` writes no `sample`.
pub const VERIFY_SAMPLE_FILES: u64 = 1000;
/// `count` without `tolerance=`: 5 % (per mille), room for a day's new files.
pub const VERIFY_COUNT_TOLERANCE: u32 = 50;
/// What a drill may take, on top of its schedule's longest gap and jitter, before it is
/// overdue when `within` is not written.
pub const VERIFY_SLACK_SECONDS: u64 = 86_400;

/// The drill's schedule, normalized, and its jitter in seconds; `None` when the written
/// schedule is invalid (reported by decode).
pub fn calendar(v: &VerifySetting) -> Option<(CalendarSpec, u64)> {
    match &v.schedule {
        Some(s) => Some((
            s.spec.clone()?,
            s.jitter
                .as_ref()
                .map_or(VERIFY_JITTER_SECONDS, |j| j.value.approx_seconds()),
        )),
        None => Some((
            CalendarSpec::parse(VERIFY_SCHEDULE).ok()?,
            VERIFY_JITTER_SECONDS,
        )),
    }
}

/// How old a passed drill may get: `within` as written, else the schedule's longest gap,
/// its jitter and a day; `None` when neither (a schedule that fires fewer than twice).
pub fn within_seconds(v: &VerifySetting, gaps: &mut GapCache) -> Option<u64> {
    if let Some(w) = &v.within {
        return Some(w.value.approx_seconds());
    }
    let (spec, jitter) = calendar(v)?;
    let gap = gaps.longest_gap(&spec);
    (gap > 0).then_some(gap + jitter + VERIFY_SLACK_SECONDS)
}

/// Why a query has no dump to run against.
pub enum NoEngine {
    /// The job dumps neither engine, or not the one `engine=` names.
    NoDump,
    /// The job dumps both and the query does not say which.
    Ambiguous,
}

/// The dump engine a query runs against: `engine=`, else the only engine the job dumps.
pub fn query_engine(q: &VerifyQuery, dumps: &[Dump]) -> Result<DumpKind, NoEngine> {
    let dumped = |k: DumpKind| dumps.iter().any(|d| d.kind == k);
    match &q.engine {
        Some(e) if dumped(e.value) => Ok(e.value),
        Some(_) => Err(NoEngine::NoDump),
        None => match (dumped(DumpKind::Postgres), dumped(DumpKind::Mysql)) {
            (true, true) => Err(NoEngine::Ambiguous),
            (true, false) => Ok(DumpKind::Postgres),
            (false, true) => Ok(DumpKind::Mysql),
            (false, false) => Err(NoEngine::NoDump),
        },
    }
}

pub fn check(jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    let mut gaps = GapCache::default();
    let mut seen: std::collections::HashSet<crate::source::Span> = Default::default();
    for job in jobs {
        let Some(v) = &job.settings.verify else {
            continue;
        };
        // What depends on the `verify` node alone is said once, however many jobs inherit it.
        if seen.insert(v.span.clone()) {
            timing(v, &mut gaps, diags);
        }
        let name = &job.name().value;
        critical(name, &job.settings, v, diags);
        queries(name, &job.settings, v, diags);
        nothing_to_check(name, &job.settings, v, diags);
        count(name, &job.settings, v, diags);
        clash(job, jobs, diags);
    }
}

fn schedule_span(v: &VerifySetting) -> crate::source::Span {
    v.schedule
        .as_ref()
        .map_or_else(|| v.span.clone(), |s: &Schedule| s.calendar.span.clone())
}

fn timing(v: &VerifySetting, gaps: &mut GapCache, diags: &mut Diagnostics) {
    let Some((spec, jitter)) = calendar(v) else {
        return;
    };
    let gap = gaps.longest_gap(&spec);
    match &v.within {
        None if gap == 0 => diags.push(
            Diagnostic::error(
                "bakgen::missing-value",
                "the drill's schedule fires fewer than twice, so `within` cannot be derived from it",
                schedule_span(v),
            )
            .label("fires at most once")
            .help("write how old a passed drill may get, such as within \"30D\", or a repeating schedule"),
        ),
        Some(w) if gap > 0 && w.value.approx_seconds() < gap + jitter => diags.push(
            Diagnostic::warning(
                "bakgen::verify-within-short",
                format!(
                    "`within` ({}) is shorter than the drill's schedule leaves between drills ({})",
                    w.value,
                    days_hours(gap + jitter)
                ),
                w.span.clone(),
            )
            .label("overdue before the next drill")
            .with(schedule_span(v), "the drill's schedule")
            .help("the drill is called overdue between two drills that pass; give within at least the longest gap plus the jitter, or leave it out to derive it"),
        ),
        _ => {}
    }
}

/// `8D1h`: seconds in the units `within` is written in.
fn days_hours(seconds: u64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    let mut out = String::new();
    for (n, unit) in [(d, 'D'), (h, 'h'), (m, 'm')] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() {
        out.push_str(&format!("{seconds}s"));
    }
    out
}

fn critical(job: &str, s: &Settings, v: &VerifySetting, diags: &mut Diagnostics) {
    let sources: &[Spanned<String>] = s.sources.as_deref().unwrap_or_default();
    for c in &v.critical {
        if sources.iter().any(|src| contains(&src.value, &c.value)) {
            continue;
        }
        let help = if sources.is_empty() {
            format!("job `{job}` backs up no files, only dumps: remove the critical path")
        } else {
            format!(
                "a critical path is checked in the backup, so it must be one of the job's sources or below one: {}",
                sources.iter().map(|x| x.value.as_str()).collect::<Vec<_>>().join(", ")
            )
        };
        diags.push(
            Diagnostic::error(
                "bakgen::verify-critical-outside-sources",
                format!(
                    "critical path `{}` is not under a source of job `{job}`",
                    c.value
                ),
                c.span.clone(),
            )
            .label("not backed up by this job")
            .help(help),
        );
    }
}

fn queries(job: &str, s: &Settings, v: &VerifySetting, diags: &mut Diagnostics) {
    let dumps: &[Dump] = s.dumps.as_deref().unwrap_or_default();
    for q in &v.queries {
        let kind = match query_engine(q, dumps) {
            Ok(k) => k,
            Err(NoEngine::Ambiguous) => {
                diags.push(
                    Diagnostic::error(
                        "bakgen::verify-ambiguous-engine",
                        format!("job `{job}` dumps both PostgreSQL and MySQL: which does the query run against?"),
                        q.span.clone(),
                    )
                    .label("no engine=")
                    .help("add engine=\"postgres\" or engine=\"mysql\""),
                );
                continue;
            }
            Err(NoEngine::NoDump) => {
                let what = match q.engine.as_ref().map(|e| e.value) {
                    Some(DumpKind::Postgres) => "no PostgreSQL database",
                    Some(DumpKind::Mysql) => "no MySQL database",
                    None => "no database",
                };
                let span = q.engine.as_ref().map_or(q.span.clone(), |e| e.span.clone());
                diags.push(
                    Diagnostic::error(
                        "bakgen::verify-query-without-dump",
                        format!("job `{job}` dumps {what}, so the query has nothing to run against"),
                        span,
                    )
                    .label("no such dump")
                    .help("a query runs on the job's own dump, loaded into a throwaway server: add the dump (postgres \"DB\" or mysql \"DB\") or remove the query"),
                );
                continue;
            }
        };
        let of_kind: Vec<&Dump> = dumps.iter().filter(|d| d.kind == kind).collect();
        // A dump of every database (`pg_dumpall`, `--all-databases`) holds any name.
        if of_kind.iter().any(|d| d.databases.is_empty()) {
            continue;
        }
        let names: Vec<&str> = of_kind
            .iter()
            .flat_map(|d| d.databases.iter().map(|n| n.value.as_str()))
            .collect();
        if names.contains(&q.database.value.as_str()) {
            continue;
        }
        let d = Diagnostic::error(
            "bakgen::verify-unknown-database",
            format!("job `{job}` does not dump database `{}`", q.database.value),
            q.database.span.clone(),
        )
        .label("not dumped by this job");
        diags.push(
            match crate::suggest::did_you_mean(&q.database.value, names.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("the job dumps: {}", names.join(", "))),
            },
        );
    }
}

fn nothing_to_check(job: &str, s: &Settings, v: &VerifySetting, diags: &mut Diagnostics) {
    let has_dumps = s.dumps.as_ref().is_some_and(|d| !d.is_empty());
    // A job with neither sources nor dumps is refused already (`missing-value`).
    if has_dumps || s.sources.is_none() || !v.critical.is_empty() || v.count.is_some() {
        return;
    }
    let Some(sample) = &v.sample else {
        return;
    };
    let draws = sample.files.as_ref().is_some_and(|f| f.value > 0) || sample.per_mille.is_some();
    if !draws {
        diags.push(
            Diagnostic::error(
                "bakgen::verify-nothing-to-check",
                format!("the drill of job `{job}` checks nothing: no sample, no critical path and no dump"),
                sample.span.clone(),
            )
            .label("draws no file")
            .help("give the sample a size (files=1000 or percent=\"1%\"), add a critical path, or remove verify"),
        );
    }
}

/// A count of the live files needs files: a job of dumps alone has none to count.
fn count(job: &str, s: &Settings, v: &VerifySetting, diags: &mut Diagnostics) {
    let Some(c) = &v.count else {
        return;
    };
    if s.sources.as_ref().is_some_and(|x| !x.is_empty()) {
        return;
    }
    diags.push(
        Diagnostic::error(
            "bakgen::verify-count-without-sources",
            format!("job `{job}` backs up no files, so `count` has nothing to count"),
            c.span.clone(),
        )
        .label("no sources")
        .help("count compares a run's files with the live sources; a job of dumps alone is checked by its dump drill: remove count"),
    );
}

/// `bakgen-verify-<job>.service` would be the unit of a job named `verify-<job>`.
fn clash(job: &ResolvedJob<'_>, jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    let name = &job.name().value;
    let other = format!("verify-{name}");
    let Some(o) = jobs
        .iter()
        .find(|o| std::ptr::eq(o.host, job.host) && o.name().value == other)
    else {
        return;
    };
    diags.push(
        Diagnostic::error(
            "bakgen::duplicate-name",
            format!("job `{other}` would share its units with the drill of job `{name}`"),
            o.name().span.clone(),
        )
        .label("clashes with bakgen-verify-<job>")
        .with(job.name().span.clone(), "this job has a verify")
        .help("rename the job; `verify-<job>` names a job's restore drill units"),
    );
}
