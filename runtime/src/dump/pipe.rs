//! `producer | consumer` between two child processes: the dump's standard output is
//! restic's standard input, so the dump's bytes never pass through bakrun.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::command::{Command, CommandError, Exec, Finished};
use crate::{log, signals};

/// How both ends of a pipe ended.
#[derive(Debug)]
pub struct PipeFinished {
    pub producer: Finished,
    pub consumer: Finished,
    /// The consumer's last lines of standard error (restic's reasons), as well as logged.
    pub consumer_stderr: String,
    /// The signal that killed the consumer, if one did.
    pub consumer_signal: Option<i32>,
}

impl PipeFinished {
    pub fn success(&self) -> bool {
        self.producer.success() && self.consumer.success()
    }
}

pub(crate) use crate::command::process;

/// Logs a child's standard error as warnings prefixed with `name`, in a thread of its own
/// so that waiting for the child never depends on it; the thread returns the last
/// [`STDERR_KEPT`] lines (restic's `Fatal:` explains its failure).
pub(crate) fn log_stderr(
    stream: Option<std::process::ChildStderr>,
    name: String,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut last = std::collections::VecDeque::new();
        if let Some(s) = stream {
            for line in BufReader::new(s).split(b'\n').map_while(Result::ok) {
                let line = String::from_utf8_lossy(&line).into_owned();
                log::warn(format!("{name}: {line}"));
                if last.len() == STDERR_KEPT {
                    last.pop_front();
                }
                last.push_back(line);
            }
        }
        Vec::from(last).join("\n")
    })
}

/// Runs `producer | consumer`. The consumer's standard output is collected (restic's
/// `--json` summary); both standard errors are logged as warnings, prefixed with the
/// program. A stop signal reaches both, each as its [`Command::stop_signal`]; a consumer
/// that ignores it is killed after a grace period, and the producer outright once the
/// consumer has ended.
pub fn run(
    exec: &Exec,
    producer: &Command,
    consumer: &Command,
) -> Result<PipeFinished, CommandError> {
    if exec.dry_run {
        println!("{} | {}", producer.display(), consumer.display());
        let ok = Finished {
            code: Some(0),
            interrupted: false,
            stdout: Vec::new(),
        };
        return Ok(PipeFinished {
            producer: ok.clone(),
            consumer: ok,
            consumer_stderr: String::new(),
            consumer_signal: None,
        });
    }
    log::debug(format!(
        "running: {} | {}",
        producer.display(),
        consumer.display()
    ));
    let p_name = producer.program.to_string_lossy().into_owned();
    let c_name = consumer.program.to_string_lossy().into_owned();
    let mut p = process(producer);
    p.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut p_child = p.spawn().map_err(|source| CommandError::Spawn {
        program: p_name.clone(),
        source,
    })?;
    let Some(p_out) = p_child.stdout.take() else {
        let _ = p_child.kill();
        let _ = p_child.wait();
        return Err(CommandError::Spawn {
            program: p_name,
            source: std::io::Error::other("no standard output pipe"),
        });
    };
    let mut c = process(consumer);
    c.stdin(Stdio::from(p_out))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut c_child = match c.spawn() {
        Ok(child) => child,
        Err(source) => {
            let _ = p_child.kill();
            let _ = p_child.wait();
            return Err(CommandError::Spawn {
                program: c_name,
                source,
            });
        }
    };
    let p_tracked = signals::track(p_child.id(), producer.stop_signal);
    let c_tracked = signals::track(c_child.id(), consumer.stop_signal);
    let p_err = log_stderr(p_child.stderr.take(), p_name.clone());
    let c_err = log_stderr(c_child.stderr.take(), c_name.clone());
    let out_thread = crate::command::stdout_lines(c_child.stdout.take());
    let c_status = crate::command::wait_stoppable(&mut c_child, &c_name);
    drop(c_tracked);
    if signals::stop_requested() {
        let _ = p_child.kill();
    }
    let p_status = p_child.wait();
    drop(p_tracked);
    let lines = out_thread.join().unwrap_or_default();
    let _ = p_err.join();
    let consumer_stderr = c_err.join().unwrap_or_default();
    let c_status = c_status.map_err(|source| CommandError::Wait {
        program: c_name,
        source,
    })?;
    let p_status = p_status.map_err(|source| CommandError::Wait {
        program: p_name,
        source,
    })?;
    let c_signal = std::os::unix::process::ExitStatusExt::signal(&c_status);
    let interrupted = signals::stop_requested();
    Ok(PipeFinished {
        producer: Finished {
            code: p_status.code(),
            interrupted,
            stdout: Vec::new(),
        },
        consumer: Finished {
            code: c_status.code(),
            interrupted,
            stdout: lines,
        },
        consumer_stderr,
        consumer_signal: c_signal,
    })
}

/// How many of the consumer's last standard-error lines [`PipeFinished`] keeps.
const STDERR_KEPT: usize = 40;
