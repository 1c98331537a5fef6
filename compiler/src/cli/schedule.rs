//! `bakgen schedule POLICY…`: when each job will run — the review view of a policy.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::calendar::parse_time;
use super::output::{load_and_check, print_diagnostics, Format};
use crate::schedule::local_timezone;

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
    /// Start from this time (RFC 3339); default now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,
    /// The hosts' time zone for expressions that name none (IANA name); default this
    /// machine's (TZ, then /etc/localtime).
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

#[derive(Serialize)]
struct JobSchedule<'a> {
    host: &'a str,
    job: &'a str,
    expression: &'a str,
    normalized: String,
    jitter_seconds: u64,
    #[serde(skip)]
    jitter: Option<String>,
    timezone: String,
    /// RFC 3339 in UTC, before jitter.
    next: Vec<String>,
}

pub fn run(args: ScheduleArgs) -> ExitCode {
    let local: Tz = match &args.timezone {
        None => local_timezone(),
        Some(name) => match name.parse() {
            Ok(tz) => tz,
            Err(_) => {
                eprintln!("error: unknown time zone `{name}`; use an IANA name such as Europe/Berlin or UTC");
                return ExitCode::from(2);
            }
        },
    };
    let checked = match load_and_check(&args.paths) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(plan) = checked.plan() else {
        print_diagnostics(&checked.diagnostics, &checked.sources);
        eprintln!(
            "failed: {} errors; fix them before asking when jobs run",
            checked.errors()
        );
        return ExitCode::from(1);
    };
    if let Some(h) = &args.host {
        if !plan.policy().hosts.iter().any(|x| &x.name.value == h) {
            eprintln!("error: the policy has no host `{h}`");
            return ExitCode::from(2);
        }
    }
    let from = args.from.unwrap_or_else(Utc::now);
    let rows: Vec<JobSchedule<'_>> = plan
        .jobs()
        .iter()
        .filter(|j| args.host.as_ref().is_none_or(|h| &j.host.value == h))
        .map(|j| {
            let schedule = &j.schedule;
            let spec = &j.calendar;
            let zone = spec.zone(local);
            let next = spec
                .elapses(&from, local)
                .take(args.count as usize)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .collect();
            JobSchedule {
                host: &j.host.value,
                job: &j.name.value,
                expression: &schedule.calendar.value,
                normalized: spec.normalized(),
                jitter_seconds: schedule
                    .jitter
                    .as_ref()
                    .map(|d| d.value.approx_seconds())
                    .unwrap_or(0),
                jitter: schedule.jitter.as_ref().map(|d| d.value.to_string()),
                timezone: zone.name().to_owned(),
                next,
            }
        })
        .collect();
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

fn print_human(rows: &[JobSchedule<'_>]) {
    let mut host = "";
    for r in rows {
        if r.host != host {
            println!("host {}", r.host);
            host = r.host;
        }
        let jitter = match &r.jitter {
            Some(j) => format!(", each run up to {j} later (jitter)"),
            None => String::new(),
        };
        println!("  job {}: {} ({}){jitter}", r.job, r.normalized, r.timezone);
        if r.next.is_empty() {
            println!("    never elapses");
        }
        for t in &r.next {
            println!("    {t}");
        }
    }
}
