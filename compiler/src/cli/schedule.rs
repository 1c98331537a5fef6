//! `bakgen schedule POLICY…`: when each job will run — the review view of a policy.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::calendar::parse_time;
use super::output::{with_plan, Format};
use crate::emit::{maintenance_timers, timer_name, verify_timer_name, WATCH_TIMER};
use crate::policy::DestinationKind;
use crate::schedule::{local_timezone, CalendarSpec};
use crate::validate::verify::VERIFY_SCHEDULE;
use crate::validate::{Plan, WATCH_SCHEDULE};

#[derive(clap::Args)]
pub struct ScheduleArgs {
    /// Policy files (.kdl) or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Only this host's jobs.
    #[arg(long)]
    pub host: Option<String>,
    /// How many runs to show per job.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub count: u32,
    #[command(flatten)]
    pub when: When,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// Where in time `schedule` and `explain` start, and in which zone they show runs.
#[derive(clap::Args)]
pub struct When {
    /// Start from this time (RFC 3339); default now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,
    /// The hosts' time zone for expressions that name none (IANA name); default this
    /// machine's (TZ, then /etc/localtime). Runs are shown in it (and in UTC in JSON).
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
}

impl When {
    /// The start (`--from`, else now) and the zone (`--timezone`, else this machine's);
    /// exit 2 for a zone name that is none.
    pub fn resolve(&self) -> Result<(DateTime<Utc>, Tz), ExitCode> {
        Ok((
            self.from.unwrap_or_else(Utc::now),
            parse_zone(self.timezone.as_deref())?,
        ))
    }
}

/// Why a timer with jitter shows a window: what `systemctl list-timers` shows is one fixed
/// point inside it, different per machine.
pub const FIXED_DELAY_WHY: &str = "systemd starts each run at an offset within the window that is fixed per machine and timer (RandomizedDelaySec= with FixedRandomDelay=true), the same every time; `systemctl list-timers` shows that time";

#[derive(Serialize)]
struct TimerSchedule<'a> {
    host: &'a str,
    /// `job`, the job's restore drill `verify`, the destination maintenance `prune` and
    /// `check`, or `watch`.
    kind: &'static str,
    /// The job's name (of a `job` or `verify` timer); absent for the other timers.
    #[serde(skip_serializing_if = "Option::is_none")]
    job: Option<&'a str>,
    /// The restic destination a `prune` or `check` timer maintains.
    #[serde(skip_serializing_if = "Option::is_none")]
    destination: Option<&'a str>,
    timer: String,
    expression: String,
    normalized: String,
    jitter_seconds: u64,
    timezone: String,
    /// RFC 3339 in UTC, before jitter.
    next: Vec<String>,
    /// Each of `next` with the jitter window, in `timezone` ("Tue 2026-12-01 03:15–03:45 CET").
    windows: Vec<String>,
}

/// The zone named by `--timezone`, or this machine's; exit 2 for a name that is none.
pub fn parse_zone(name: Option<&str>) -> Result<Tz, ExitCode> {
    match name {
        None => Ok(local_timezone()),
        Some(name) => name.parse().map_err(|_| {
            eprintln!(
                "error: unknown time zone `{name}`; use an IANA name such as Europe/Berlin or UTC"
            );
            ExitCode::from(2)
        }),
    }
}

/// When a run that elapses at `start` begins: the minute itself without jitter, else the
/// window ("Tue 2026-12-01 03:15–03:45 CET", with the end's date when it is another day).
pub fn jitter_window(start: &DateTime<Utc>, jitter_seconds: u64, zone: Tz) -> String {
    let from = start.with_timezone(&zone);
    if jitter_seconds == 0 {
        return from.format("%a %Y-%m-%d %H:%M %Z").to_string();
    }
    let end = (*start + chrono::TimeDelta::seconds(jitter_seconds.min(i64::MAX as u64) as i64))
        .with_timezone(&zone);
    let end_format = if end.date_naive() == from.date_naive() {
        "%H:%M %Z"
    } else {
        "%a %Y-%m-%d %H:%M %Z"
    };
    format!(
        "{}–{}",
        from.format("%a %Y-%m-%d %H:%M"),
        end.format(end_format)
    )
}

pub fn run(args: ScheduleArgs) -> ExitCode {
    let (from, local) = match args.when.resolve() {
        Ok(w) => w,
        Err(code) => return code,
    };
    with_plan(&args.paths, "asking when jobs run", |_, plan| {
        show(&args, plan, from, local)
    })
}

fn show(args: &ScheduleArgs, plan: &Plan, from: DateTime<Utc>, local: Tz) -> ExitCode {
    if let Some(h) = &args.host {
        if !plan.policy().hosts.iter().any(|x| &x.name.value == h) {
            eprintln!("error: the policy has no host `{h}`");
            return ExitCode::from(2);
        }
    }
    let row = |host, kind, timer, expression: &str, spec: &CalendarSpec, jitter_seconds| {
        let zone = spec.zone(local);
        let next: Vec<DateTime<Utc>> = spec
            .elapses(&from, local)
            .take(args.count as usize)
            .collect();
        TimerSchedule {
            host,
            kind,
            job: None,
            destination: None,
            timer,
            expression: expression.to_owned(),
            normalized: spec.normalized(),
            jitter_seconds,
            timezone: zone.name().to_owned(),
            windows: next
                .iter()
                .map(|t| jitter_window(t, jitter_seconds, zone))
                .collect(),
            next: next
                .iter()
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .collect(),
        }
    };
    let mut rows: Vec<TimerSchedule<'_>> = Vec::new();
    for host in &plan.policy().hosts {
        let name = host.name.value.as_str();
        if args.host.as_ref().is_some_and(|h| h != name) {
            continue;
        }
        let jobs: Vec<_> = plan
            .jobs()
            .iter()
            .filter(|j| j.host.value == name)
            .collect();
        for j in &jobs {
            let jitter = j
                .schedule
                .jitter
                .as_ref()
                .map_or(0, |d| d.value.approx_seconds());
            let mut r = row(
                name,
                "job",
                timer_name(&j.name.value),
                &j.schedule.calendar.value,
                &j.calendar,
                jitter,
            );
            r.job = Some(&j.name.value);
            rows.push(r);
        }
        // Each job's restore drill, on its own timer.
        for j in &jobs {
            let Some(v) = &j.verify else { continue };
            let expression = v
                .setting
                .schedule
                .as_ref()
                .map_or(VERIFY_SCHEDULE, |s| s.calendar.value.as_str());
            let mut r = row(
                name,
                "verify",
                verify_timer_name(&j.name.value),
                expression,
                &v.calendar,
                v.jitter_seconds,
            );
            r.job = Some(&j.name.value);
            rows.push(r);
        }
        // One prune and one check timer per restic destination the host's jobs use.
        let mut seen: Vec<&str> = Vec::new();
        for j in &jobs {
            let DestinationKind::Restic(repo) = &j.destination.kind else {
                continue;
            };
            let dest = j.destination.name.value.as_str();
            if seen.contains(&dest) {
                continue;
            }
            seen.push(dest);
            for t in maintenance_timers(repo, dest) {
                let Some(spec) = &t.calendar else { continue };
                let mut r = row(
                    name,
                    t.kind,
                    t.unit.clone(),
                    &t.expression,
                    spec,
                    t.jitter_seconds,
                );
                r.destination = Some(dest);
                rows.push(r);
            }
        }
        for w in plan.watches().iter().filter(|w| w.watch.host.value == name) {
            let expression = w
                .watch
                .schedule
                .as_ref()
                .map_or(WATCH_SCHEDULE, |s| s.calendar.value.as_str());
            rows.push(row(
                name,
                "watch",
                WATCH_TIMER.to_owned(),
                expression,
                &w.calendar,
                w.jitter_seconds,
            ));
        }
    }
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&rows) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        Format::Human => print_human(&rows),
    }
    ExitCode::SUCCESS
}

fn print_human(rows: &[TimerSchedule<'_>]) {
    let mut host = "";
    for r in rows {
        if r.host != host {
            println!("host {}", r.host);
            host = r.host;
        }
        let what = match (r.job, r.destination) {
            (Some(job), _) if r.kind == "verify" => format!("restore drill of job {job}"),
            (Some(job), _) => format!("job {job}"),
            (None, Some(dest)) => format!("restic {} of destination {dest}", r.kind),
            (None, None) => r.kind.to_owned(),
        };
        let jitter = if r.jitter_seconds > 0 {
            format!(", jitter {}", seconds_words(r.jitter_seconds))
        } else {
            String::new()
        };
        println!(
            "  {what} ({}): {} ({}){jitter}",
            r.timer, r.normalized, r.timezone
        );
        if r.next.is_empty() {
            println!("    never elapses");
        }
        for w in &r.windows {
            println!("    {w}");
        }
    }
    if rows.iter().any(|r| r.jitter_seconds > 0) {
        println!("\nA window (03:15–03:45) is a timer's jitter: {FIXED_DELAY_WHY}.");
    }
}

/// `3600` → `1h`, `1800` → `30min`, `90` → `90s`.
fn seconds_words(s: u64) -> String {
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}min", s / 60)
    } else {
        format!("{s}s")
    }
}
