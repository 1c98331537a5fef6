//! Live progress of long work with the real rsync and restic: on a terminal, one line
//! rewritten in place and cleared at the end; under the journal, only a periodic
//! `progress:` line (every `BAKRUN_PROGRESS_INTERVAL` seconds here, 5 minutes by
//! default); anywhere else nothing changes.

mod common;
mod support;

use std::fs;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{assert_code, spec, write_spec, TempDir, BAKRUN};
use support::{restic_spec, secret_file, write_spec_named};

/// 24 MB of random data in 12 files: about 3 s at the limits the specs set.
fn source(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    let mut random = fs::File::open("/dev/urandom").unwrap();
    for i in 0..12 {
        let mut data = vec![0u8; 2_000_000];
        random.read_exact(&mut data).unwrap();
        fs::write(dir.join(format!("f{i}")), data).unwrap();
    }
}

/// Runs bakrun with its standard error on a new pseudo-terminal; returns what the
/// terminal showed and the exit code.
fn on_terminal(args: &[&str]) -> (String, Option<i32>) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills two descriptors we then own.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are fresh and ours alone.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = Command::new(BAKRUN)
        .args(args)
        .env_remove("JOURNAL_STREAM")
        .stdout(Stdio::null())
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut shown = Vec::new();
        // Ends with EIO once the child, the last holder of the terminal, is gone.
        let _ = fs::File::from(master).read_to_end(&mut shown);
        String::from_utf8_lossy(&shown).into_owned()
    });
    let status = child.wait().unwrap();
    (reader.join().unwrap(), status.code())
}

fn under_journal(args: &[&str]) -> Output {
    Command::new(BAKRUN)
        .args(args)
        .env("JOURNAL_STREAM", "8:1234")
        .env("BAKRUN_PROGRESS_INTERVAL", "1")
        .output()
        .unwrap()
}

/// The progress lines a terminal showed: each drawn after `\r\x1b[K`.
fn drawn(shown: &str, label: &str) -> Vec<String> {
    shown
        .split("\r\x1b[K")
        .filter(|l| l.starts_with(&format!("{label}: ")))
        .map(|l| l.split(['\r', '\n']).next().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn rsync_backup_and_restore_show_progress_on_a_terminal_and_periodically_in_the_journal() {
    let t = TempDir::new("progress-rsync");
    source(&t.join("src"));
    let mut s = spec(t.path(), &[&t.join("src")]);
    s["limits"] = serde_json::json!({"download-kib": 8000});
    let spec_path = write_spec(t.path(), &s);
    let spec_arg = spec_path.to_str().unwrap();

    let (shown, code) = on_terminal(&["run", spec_arg]);
    assert_eq!(code, Some(0), "{shown}");
    let lines = drawn(&shown, "rsync");
    assert!(lines.len() >= 3, "too few updates: {shown:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" transferred, ") && l.contains("MiB/s")),
        "{lines:?}"
    );
    // Cleared before the run's last line, which stands alone on its line.
    let last = shown.rsplit("\r\x1b[K").next().unwrap();
    assert!(
        last.starts_with("snapshot ") && last.contains("complete"),
        "{shown:?}"
    );

    let to = t.join("restored");
    let (shown, code) = on_terminal(&[
        "restore",
        spec_arg,
        &t.join("src").to_string_lossy(),
        "--to",
        &to.to_string_lossy(),
    ]);
    assert_eq!(code, Some(0), "{shown}");
    assert!(!drawn(&shown, "rsync").is_empty(), "{shown:?}");
    assert_eq!(fs::read_dir(to.join("src")).unwrap().count(), 12);

    // Under the journal: the run's own lines, and a `progress:` line each second here.
    fs::write(t.join("src/f0"), b"changed").unwrap();
    fs::remove_file(t.join("src/f1")).unwrap();
    source(&t.join("src/more"));
    let out = under_journal(&["run", spec_arg]);
    assert_code(&out, 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains('\r'), "{err:?}");
    let periodic: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("<6>progress: rsync: "))
        .collect();
    assert!(!periodic.is_empty(), "{err}");
    assert!(
        periodic.iter().all(|l| l.contains(" files, ")),
        "{periodic:?}"
    );

    // Neither a terminal nor the journal: exactly what was there before.
    let out = Command::new(BAKRUN)
        .args(["run", spec_arg, "-v"])
        .env_remove("JOURNAL_STREAM")
        .output()
        .unwrap();
    assert_code(&out, 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("progress:"), "{err}");
    assert!(!err.contains("--info=progress2"), "{err}");
    assert!(!err.contains('\r'), "{err:?}");
}

#[test]
fn restic_backup_shows_its_status_lines() {
    let t = TempDir::new("progress-restic");
    source(&t.join("src"));
    let password = secret_file(t.path(), "password", "progress-pw");
    let repo = t.join("repo").to_string_lossy().into_owned();
    let mut s = restic_spec(t.path(), "files", &repo, &password, &[&t.join("src")]);
    s["limits"] = serde_json::json!({"upload-kib": 8000});
    let spec_path = write_spec_named(t.path(), "files", &s);
    let spec_arg = spec_path.to_str().unwrap();
    assert_code(&common::bakrun(&["init", spec_arg]), 0);

    let (shown, code) = on_terminal(&["run", spec_arg]);
    assert_eq!(code, Some(0), "{shown}");
    let lines = drawn(&shown, "restic");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/12 files") && l.contains(" of 22.9 MiB")),
        "{lines:?}"
    );

    source(&t.join("src/more"));
    let out = under_journal(&[
        "run",
        spec_arg,
        "--log-file",
        &t.join("log").to_string_lossy(),
    ]);
    assert_code(&out, 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines()
            .any(|l| l.starts_with("<6>progress: restic: ") && l.contains(" files, ")),
        "{err}"
    );
    // The log file has what it had (restic's status lines at debug level) and the periodic line.
    let log = fs::read_to_string(t.join("log")).unwrap();
    assert!(log.contains("\"message_type\":\"status\""), "{log}");
    assert!(log.contains("info    progress: restic: "), "{log}");
}

#[test]
fn a_drill_shows_the_files_it_compares_on_a_terminal() {
    let t = TempDir::new("progress-verify");
    source(&t.join("src"));
    let spec_path = write_spec(t.path(), &spec(t.path(), &[&t.join("src")]));
    let spec_arg = spec_path.to_str().unwrap();
    assert_code(
        &Command::new(BAKRUN)
            .args(["run", spec_arg])
            .output()
            .unwrap(),
        0,
    );

    let (shown, code) = on_terminal(&["verify", spec_arg, "--sample", "12"]);
    assert_eq!(code, Some(0), "{shown}");
    let lines = drawn(&shown, "verify");
    assert!(lines.iter().any(|l| l.contains("/12 files, ")), "{shown:?}");
    // Cleared: what follows the last drawing is the drill's own last line.
    let last = shown.rsplit("\r\x1b[K").next().unwrap();
    assert!(!last.starts_with("verify: "), "{shown:?}");
}
