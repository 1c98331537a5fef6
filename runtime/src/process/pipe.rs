//! `producer | consumer` between two children: the producer's standard output is the
//! consumer's standard input, so the bytes (a database dump) never pass through bakrun.

use std::process::{ExitStatus, Stdio};

use super::output::{self, LineSink};
use super::spawn::{start, Stop};
use super::{Command, CommandError};

/// How both ends of a pipe ended, and what the consumer printed.
#[derive(Debug)]
pub struct PipeRan<O, E> {
    pub producer: ExitStatus,
    pub consumer: ExitStatus,
    pub consumer_stdout: O,
    pub consumer_stderr: E,
}

/// Runs `producer | consumer`. The consumer's standard output goes to `out`, its standard
/// error to `err`, the producer's to `producer_err`. A stop signal reaches both, each as
/// its [`Command::stop_signal`]; a consumer deaf to it is killed after the grace period,
/// and the producer outright once the consumer has ended (no one reads it any more).
pub fn pipe<O: LineSink, E: LineSink, P: LineSink>(
    producer: &Command,
    consumer: &Command,
    out: O,
    err: E,
    producer_err: P,
) -> Result<PipeRan<O, E>, CommandError> {
    let mut p_child = start(producer, Stdio::null(), Stdio::piped(), Stop::Forward)?;
    let Some(p_out) = p_child.stdout() else {
        let program = p_child.program().to_owned();
        p_child.abandon();
        return Err(CommandError::Spawn {
            program,
            source: std::io::Error::other("no standard output pipe"),
        });
    };
    let mut c_child = match start(consumer, Stdio::from(p_out), Stdio::piped(), Stop::Forward) {
        Ok(child) => child,
        Err(e) => {
            p_child.abandon();
            return Err(e);
        }
    };
    let p_err = output::lines(p_child.stderr(), producer_err);
    let c_err = output::lines(c_child.stderr(), err);
    let c_out = output::lines(c_child.stdout(), out);
    let c_status = c_child.finish();
    p_child.kill_if_stopped();
    let p_status = p_child.finish();
    let consumer_stdout = output::joined(c_out);
    let _ = output::joined(p_err);
    let consumer_stderr = output::joined(c_err);
    Ok(PipeRan {
        consumer: c_status?,
        producer: p_status?,
        consumer_stdout,
        consumer_stderr,
    })
}
