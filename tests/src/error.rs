//! The one error type of the harnesses: every failure carries what a person needs to see
//! why (the command's output, the container console, the VM's output).

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

#[derive(thiserror::Error)]
pub enum HarnessError {
    /// The harnesses mount, make loop devices and boot containers: only root can.
    #[error("the end-to-end harness needs root (euid is {euid}); run the tests as root")]
    NotRoot { euid: u32 },

    /// A program the harness needs is not installed; never a reason to skip a test.
    #[error("required tool `{tool}` is not installed ({hint})")]
    MissingTool { tool: String, hint: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid argument: {0}")]
    Invalid(String),

    #[error(
        "`{what}` timed out after {after:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    )]
    Timeout {
        what: String,
        after: Duration,
        stdout: String,
        stderr: String,
    },

    #[error("`{what}` failed ({status})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")]
    CommandFailed {
        what: String,
        status: ExitStatus,
        stdout: String,
        stderr: String,
    },

    /// The container did not reach `running`; `console` is the tail of its console.
    #[error("container {machine} failed to boot: {reason}\n--- console (tail) ---\n{console}")]
    Boot {
        machine: String,
        reason: String,
        console: String,
    },

    /// The container booted but `systemctl is-system-running` said `degraded`.
    #[error("container {machine} booted `degraded`; failed units:\n{failed}\n--- console (tail) ---\n{console}")]
    Degraded {
        machine: String,
        failed: String,
        console: String,
    },

    /// No bootable Debian kernel (with modules) was found under /boot.
    #[error("no usable kernel for the VM: {0} (install linux-image-amd64)")]
    NoKernel(String),

    /// The VM did not start, or died before the script finished.
    #[error(
        "VM failed: {reason} (kernel {kernel})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    )]
    Vm {
        reason: String,
        kernel: PathBuf,
        stdout: String,
        stderr: String,
    },
}

impl HarnessError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        HarnessError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Debug shows the Display text: tests `.expect()` these errors, and the multi-line output
/// (console, stderr) must stay readable in a failed test's report.
impl std::fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
