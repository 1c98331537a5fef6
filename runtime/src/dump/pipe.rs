//! `producer | consumer` for a dump (see [`crate::process::pipe`]): the dump's standard
//! output is restic's standard input, so the dump's bytes never pass through bakrun; in a
//! dry run the pipe is printed instead.

use crate::command::{Command, CommandError, Exec, Finished};
use crate::log;
use crate::process::output::{Stderr, Stdout};

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

pub(crate) use crate::process::process;

/// How many of the consumer's last standard-error lines [`PipeFinished`] keeps.
const STDERR_KEPT: usize = 40;

/// Runs `producer | consumer`. The consumer's standard output is collected (restic's
/// `--json` summary); both standard errors are logged as warnings, prefixed with the
/// program. A stop signal reaches both, each as its [`Command::stop_signal`].
pub fn run(
    exec: &Exec,
    producer: &Command,
    consumer: &Command,
) -> Result<PipeFinished, CommandError> {
    if exec.dry_run {
        println!("{} | {}", producer.display(), consumer.display());
        return Ok(PipeFinished {
            producer: Finished::printed(),
            consumer: Finished::printed(),
            consumer_stderr: String::new(),
            consumer_signal: None,
        });
    }
    log::debug(format!(
        "running: {} | {}",
        producer.display(),
        consumer.display()
    ));
    let named = |c: &Command| Some(c.program.to_string_lossy().into_owned());
    let ran = crate::process::pipe::pipe(
        producer,
        consumer,
        Stdout::of(consumer),
        Stderr::new(named(consumer), STDERR_KEPT),
        Stderr::new(named(producer), 0),
    )?;
    Ok(PipeFinished {
        producer: Finished::of(&ran.producer, Vec::new()),
        consumer: Finished::of(&ran.consumer, ran.consumer_stdout.0),
        consumer_stderr: ran.consumer_stderr.into_lines().join("\n"),
        consumer_signal: std::os::unix::process::ExitStatusExt::signal(&ran.consumer),
    })
}
