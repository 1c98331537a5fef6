//! Progress as text: the live line on a terminal and the periodic line in the journal.
//! Pure: the caller gives the figures, the time elapsed and the terminal's width.

use std::time::Duration;

use super::Progress;

/// `1536` → `1.5 KiB`: binary units, one decimal (none for bytes).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `H:MM:SS`, as rsync and restic print times.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The figures of a task: files, bytes, percentage, average rate and time elapsed, each
/// only when known.
pub fn figures(p: Option<&Progress>, elapsed: Duration) -> String {
    let mut parts = Vec::new();
    if let Some(p) = p {
        match (p.files_done, p.files_total) {
            (Some(done), Some(total)) => parts.push(format!("{done}/{total} files")),
            (Some(done), None) => parts.push(format!("{done} files")),
            _ => {}
        }
        if let Some(n) = p.files_transferred {
            parts.push(format!("{n} transferred"));
        }
        let mut size = bytes(p.bytes_done);
        if let Some(total) = p.bytes_total {
            size.push_str(&format!(" of {}", bytes(total)));
        }
        if let Some(percent) = p.percent {
            size.push_str(&format!(" ({}%)", percent.clamp(0.0, 100.0).floor()));
        }
        parts.push(size);
        let secs = elapsed.as_secs_f64();
        if secs >= 1.0 {
            parts.push(format!("{}/s", bytes((p.bytes_done as f64 / secs) as u64)));
        }
    }
    parts.push(duration(elapsed));
    parts.join(", ")
}

/// The live line on a terminal: `label: figures`, cut to fit `width` columns (one left
/// free, so the cursor never wraps to a new line).
pub fn terminal(label: &str, p: Option<&Progress>, elapsed: Duration, width: usize) -> String {
    let line = format!("{label}: {}", figures(p, elapsed));
    line.chars().take(width.saturating_sub(1).max(1)).collect()
}

/// The line a long task logs every few minutes when no terminal shows it live.
pub fn periodic(label: &str, p: Option<&Progress>, elapsed: Duration) -> String {
    format!("progress: {label}: {}", figures(p, elapsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_as_people_write_them() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(139_500_000), "133.0 MiB");
        assert_eq!(bytes(5 << 40), "5.0 TiB");
        assert_eq!(duration(Duration::from_secs(7)), "0:00:07");
        assert_eq!(duration(Duration::from_secs(3 * 3600 + 61)), "3:01:01");
    }

    #[test]
    fn a_task_with_nothing_known_yet_shows_its_time() {
        let e = Duration::from_secs(12);
        assert_eq!(terminal("restic", None, e, 80), "restic: 0:00:12");
        assert_eq!(periodic("restic", None, e), "progress: restic: 0:00:12");
    }

    #[test]
    fn the_terminal_line_never_wraps() {
        let p = Progress {
            files_done: Some(11),
            files_total: Some(33),
            bytes_done: 54_432_512,
            ..Progress::default()
        };
        let line = terminal("rsync", Some(&p), Duration::from_secs(3), 20);
        assert_eq!(line, "rsync: 11/33 files,");
        assert_eq!(line.chars().count(), 19);
    }
}
