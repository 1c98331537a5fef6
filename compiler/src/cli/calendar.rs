//! `bakgen calendar EXPR`: a systemd calendar expression's normalized form and next
//! elapses, computed by bakgen itself (the output follows `systemd-analyze calendar`).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use miette::{GraphicalReportHandler, GraphicalTheme, NamedSource, Report};
use serde::Serialize;

use super::output::Format;
use crate::schedule::{format_in_zone, local_timezone, CalendarSpec};

#[derive(clap::Args, Debug)]
pub struct CalendarArgs {
    /// A systemd calendar expression, e.g. "Mon..Fri *-*-* 02:30" or "daily".
    pub expression: String,

    /// Compute elapses after this time (RFC 3339, e.g. 2026-03-28T12:00:00Z); default now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,

    /// How many elapses to compute.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub count: u32,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub(crate) fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 time ({e}), e.g. 2026-03-28T12:00:00Z"))
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    expression: &'a str,
    normalized: String,
    /// RFC 3339 in UTC, whole seconds.
    next: Vec<String>,
}

pub fn run(args: CalendarArgs) -> ExitCode {
    let local = local_timezone();
    let spec = match CalendarSpec::parse_in(&args.expression, local) {
        Ok(spec) => spec,
        Err(err) => {
            eprint!("{}", render_error(&args.expression, err));
            return ExitCode::from(1);
        }
    };
    let from = args.from.unwrap_or_else(Utc::now);
    let mut series = spec.elapses(&from, local);
    let elapses: Vec<DateTime<Utc>> = series.by_ref().take(args.count as usize).collect();
    if series.gave_up() {
        // systemd-analyze fails here; its timers would stop at this point too.
        eprintln!(
            "warning: systemd gives up computing further elapses of `{}` after {} \
             (its infinite-loop guard trips)",
            spec.normalized(),
            elapses
                .last()
                .map_or_else(|| "the start".to_string(), |t| t.to_rfc3339())
        );
    }

    let text = match args.format {
        Format::Json => {
            let out = JsonOutput {
                expression: &args.expression,
                normalized: spec.normalized(),
                next: elapses
                    .iter()
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                    .collect(),
            };
            match serde_json::to_string_pretty(&out) {
                Ok(json) => json + "\n",
                Err(e) => {
                    eprintln!("bakgen calendar: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        Format::Human => human(
            &args.expression,
            &spec,
            spec.zone(local),
            &elapses,
            args.count,
        ),
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// The layout of `systemd-analyze calendar`, minus the "From now" lines (they depend on
/// the clock), plus each elapse in UTC when the expression's zone is another.
fn human(
    original: &str,
    spec: &CalendarSpec,
    zone: Tz,
    elapses: &[DateTime<Utc>],
    count: u32,
) -> String {
    // Like systemd-analyze, a series that ends early just stops.
    let mut out = String::new();
    let normalized = spec.normalized();
    if original != normalized {
        out += &format!("  Original form: {original}\n");
    }
    out += &format!("Normalized form: {normalized}\n");
    if count == 0 {
        return out;
    }
    if elapses.is_empty() {
        out += "    Next elapse: never\n";
        return out;
    }
    for (i, t) in elapses.iter().enumerate() {
        let label = if i == 0 {
            "    Next elapse".to_string()
        } else {
            format!("{:>15}", format!("Iter. #{}", i + 1))
        };
        out += &format!("{label}: {}\n", format_in_zone(t, zone));
        if zone != Tz::UTC {
            out += &format!(
                "       (in UTC): {}\n",
                t.format("%a %Y-%m-%d %H:%M:%S UTC")
            );
        }
    }
    out
}

/// The diagnostic as text: plain when stderr is not a terminal (or NO_COLOR is set).
pub fn render_error(expression: &str, err: crate::schedule::CalendarError) -> String {
    let plain = !std::io::stderr().is_terminal() || std::env::var_os("NO_COLOR").is_some();
    let theme = if plain {
        GraphicalTheme::none()
    } else {
        GraphicalTheme::unicode()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(80)
        .with_links(false);
    let report =
        Report::new(err).with_source_code(NamedSource::new("expression", expression.to_string()));
    let mut out = String::new();
    if handler.render_report(&mut out, report.as_ref()).is_err() {
        out = format!("Error: {report}\n");
    }
    out
}
