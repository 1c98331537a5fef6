//! The HTTP POSTs bakrun makes (a failure notification, a ping), all through curl started
//! by the one process module ([`crate::process`]): one place that says how curl is called,
//! how long it may take and how its failure is reported.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::process::{self, Command};

/// Where curl finds the URL.
#[derive(Debug, Clone, Copy)]
pub enum Url<'a> {
    /// On the command line: a URL that is no secret.
    Arg(&'a str),
    /// In a curl config file (`url = "…"`), a [`crate::private_file::PrivateFile`]: a URL
    /// that is a credential stays out of the process list.
    Config(&'a Path),
}

/// What is POSTed.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    Text(&'a str),
    File(&'a Path),
}

/// How long one POST may take.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// curl's `--max-time` for each attempt (connecting included).
    pub max_time_seconds: u32,
    /// Attempts after the first on a timeout or a transient HTTP error (curl `--retry`),
    /// one second apart.
    pub retries: u32,
}

impl Bounds {
    /// The most the POST can last: every attempt at its `--max-time`, a second between
    /// them.
    pub fn worst_case(self) -> Duration {
        Duration::from_secs(u64::from(
            self.max_time_seconds * (self.retries + 1) + self.retries,
        ))
    }
}

/// The curl command that POSTs `body` with `headers` (`Name: value`) to `url`.
pub fn post(url: Url<'_>, body: Body<'_>, headers: &[String], bounds: Bounds) -> Command {
    let mut c = Command::new("curl")
        .args([
            "--fail",
            "--silent",
            "--show-error",
            "--output",
            "/dev/null",
        ])
        .arg("--max-time")
        .arg(bounds.max_time_seconds.to_string());
    if bounds.retries > 0 {
        c = c
            .arg("--retry")
            .arg(bounds.retries.to_string())
            .args(["--retry-delay", "1"]);
    }
    for h in headers {
        c = c.arg("--header").arg(h);
    }
    let data: OsString = match body {
        Body::Text(t) => t.into(),
        Body::File(p) => {
            let mut d = OsString::from("@");
            d.push(p);
            d
        }
    };
    c = c.arg("--data-binary").arg(data);
    match url {
        Url::Arg(u) => c.arg("--").arg(u),
        Url::Config(p) => c.arg("--config").arg(p),
    }
}

/// Why a POST did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot run curl: {0}")]
    Spawn(std::io::Error),
    #[error("{0}")]
    Failed(String),
    #[error("no answer within {} s: curl stopped", .0.as_secs())]
    TooLong(Duration),
}

/// Runs `cmd` (a [`post`]) and waits for it at most `deadline`, after which curl is killed:
/// whatever the server does, the caller goes on by then. What curl says on failure is
/// returned, each occurrence of `hide` replaced by `shown` (a secret URL by its host).
pub fn send(cmd: &Command, deadline: Duration, hide: &str, shown: &str) -> Result<(), SendError> {
    let mut p = process::process(cmd);
    p.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = p.spawn().map_err(SendError::Spawn)?;
    let stderr = process::output::bytes(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if started.elapsed() >= deadline => {
                // Not reaped yet: the pid is still curl's.
                let _ = child.kill();
                let _ = child.wait();
                break Err(SendError::TooLong(deadline));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break Err(SendError::Spawn(e)),
        }
    };
    let said = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    let said = if hide.is_empty() {
        said
    } else {
        said.replace(hide, shown)
    };
    let status = status?;
    if status.success() {
        Ok(())
    } else {
        let said = said.trim();
        Err(SendError::Failed(if said.is_empty() {
            format!("curl {status}")
        } else {
            said.lines().collect::<Vec<_>>().join("; ")
        }))
    }
}

/// The host of `url` (no user, port or path): what a log may say of a URL that is a
/// credential.
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return host_port.split_inclusive(']').next().unwrap_or(host_port);
    }
    host_port.split(':').next().unwrap_or(host_port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_a_url_leaves_out_everything_else() {
        assert_eq!(host_of("https://hc.example.net/ping/abc"), "hc.example.net");
        assert_eq!(host_of("http://u:pw@10.0.0.1:8080/x?y#z"), "10.0.0.1");
        assert_eq!(host_of("http://[::1]:9/t"), "[::1]");
        assert_eq!(host_of("https://ntfy.sh"), "ntfy.sh");
    }

    #[test]
    fn the_worst_case_counts_every_attempt_and_pause() {
        let b = Bounds {
            max_time_seconds: 2,
            retries: 2,
        };
        assert_eq!(b.worst_case(), Duration::from_secs(8));
    }
}
