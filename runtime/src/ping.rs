//! Push pings (docs/operations.md, "Pings"): a run tells a monitoring service that it
//! started and how it ended. A ping is bounded ([`BOUNDS`], killed at [`DEADLINE`]); one
//! that fails or hangs is logged as a warning and changes nothing else in the run.
//! Logs name the URL's host only: a ping URL is a credential.

use std::time::Duration;

use crate::http::{self, Body, Bounds, Url};
use crate::private_file::PrivateFile;
use crate::spec::{JobSpec, Ping, PingKind, PingUrl};
use crate::{log, secret};

/// Each attempt 2 s, at most 2 retries a second apart: 8 s at worst.
pub const BOUNDS: Bounds = Bounds {
    max_time_seconds: 2,
    retries: 2,
};

/// curl is killed if it has not ended by then, whatever it is doing: the documented most a
/// ping costs a run.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// How a run ended, as a ping tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Success,
    /// Failed or interrupted, with the exit code.
    Failure(u8),
    /// Nothing to report (the destination was absent, exit 11): no ping at all.
    Skip,
}

/// The ping of one run, its URL read once.
pub struct Pinger {
    kind: PingKind,
    url: String,
    host: String,
    job: String,
    job_host: String,
}

impl Pinger {
    /// The spec's ping, or `None` when it has none or its URL cannot be read (a warning:
    /// a ping never fails a backup).
    pub fn for_spec(spec: &JobSpec) -> Option<Self> {
        let Ping { kind, url } = spec.ping.as_ref()?;
        let url = match url {
            PingUrl::Plain(u) => u.clone(),
            PingUrl::Secret(r) => match secret::read(r) {
                Ok(s) => s.expose().to_owned(),
                Err(e) => {
                    log::warn(format!("no ping for this run: its URL: {e}"));
                    return None;
                }
            },
        };
        if !bakgen_spec::job::validate::is_http_url(&url) {
            log::warn("no ping for this run: its URL is not an http:// or https:// URL");
            return None;
        }
        Some(Self {
            kind: *kind,
            host: http::host_of(&url).to_owned(),
            url,
            job: spec.job.clone(),
            job_host: spec.host.clone(),
        })
    }

    /// At the start of the run, once the destination is there: only healthchecks has a
    /// start signal.
    pub fn start(&self) {
        if self.kind == PingKind::Healthchecks {
            self.send("start", &format!("{}/start", self.base()), "", &[]);
        }
    }

    /// At the end of the run; `tail` is the last lines of its log.
    pub fn finish(&self, ending: Ending, tail: &[String]) {
        let (what, ok) = match ending {
            Ending::Skip => return,
            Ending::Success => ("success", true),
            Ending::Failure(_) => ("failure", false),
        };
        let summary = match ending {
            Ending::Failure(code) => format!(
                "bakgen job {} on host {} failed (exit {code})",
                self.job, self.job_host
            ),
            _ => format!(
                "bakgen job {} on host {} succeeded",
                self.job, self.job_host
            ),
        };
        let mut text = summary.clone();
        if !ok {
            for line in tail {
                text.push('\n');
                text.push_str(line);
            }
        }
        text.push('\n');
        match self.kind {
            PingKind::Healthchecks => {
                let url = if ok {
                    self.base().to_owned()
                } else {
                    format!("{}/fail", self.base())
                };
                self.send(what, &url, &text, &[]);
            }
            PingKind::Ntfy => {
                let headers = [
                    format!("Title: {summary}"),
                    format!("Priority: {}", if ok { "default" } else { "high" }),
                    format!("Tags: {}", if ok { "white_check_mark" } else { "warning" }),
                ];
                self.send(what, &self.url, &text, &headers);
            }
            PingKind::Webhook => {
                let exit_code = match ending {
                    Ending::Failure(code) => code,
                    _ => 0,
                };
                let doc = serde_json::json!({
                    "host": self.job_host,
                    "job": self.job,
                    "result": if ok { "success" } else { "failed" },
                    "exit-code": exit_code,
                    "log": if ok { &[][..] } else { tail },
                });
                let headers = ["Content-Type: application/json".to_owned()];
                self.send(what, &self.url, &format!("{doc}\n"), &headers);
            }
        }
    }

    /// A healthchecks URL without a trailing `/`, so that `/start` and `/fail` append.
    fn base(&self) -> &str {
        self.url.trim_end_matches('/')
    }

    fn send(&self, what: &str, url: &str, body: &str, headers: &[String]) {
        let kind = match self.kind {
            PingKind::Healthchecks => "healthchecks",
            PingKind::Ntfy => "ntfy",
            PingKind::Webhook => "webhook",
        };
        // The URL reaches curl in a memory file, never on its command line.
        let config = format!("url = \"{}\"\n", config_quoted(url));
        let file = match PrivateFile::new("ping", &config) {
            Ok(f) => f,
            Err(e) => {
                log::warn(format!(
                    "{kind} ping ({what}) to {} not sent: {e}",
                    self.host
                ));
                return;
            }
        };
        let path = file.path();
        let cmd = http::post(Url::Config(&path), Body::Text(body), headers, BOUNDS);
        match http::send(&cmd, DEADLINE, self.base(), &self.host) {
            Ok(()) => log::info(format!("{kind} ping ({what}) to {}: sent", self.host)),
            Err(e) => log::warn(format!("{kind} ping ({what}) to {} failed: {e}", self.host)),
        }
    }
}

/// A value inside double quotes in a curl config file: `\` and `"` escaped.
fn config_quoted(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}
