//! The live side of a pulled job is on its remote host: what rsync says when it compares
//! the sample there with the snapshot's copies (`Rsync::compare_command`), file by file.
//! Size or time differing: changed since the run. Only the checksum differing: corruption.
//! No line (gone from the host): changed.

use std::collections::BTreeMap;

use super::compare::Verdict;

/// How rsync prints a name with `--8-bit-output`: control characters as `\#ooo`.
fn rsync_name(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.trim_start_matches('/').chars() {
        if (c as u32) < 0x20 || c == '\x7f' {
            out.push_str(&format!("\\#{:03o}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The `--files-from --from0` list of `files`: relative to `/`, NUL-separated.
pub fn files_from(files: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in files {
        out.extend_from_slice(f.trim_start_matches('/').as_bytes());
        out.push(0);
    }
    out
}

/// Each of `files` judged by rsync's itemized output (`%i %n` lines, one for every file
/// present on the host) and exit code. `Err` when rsync failed.
pub fn judge(
    files: &[String],
    stdout: &[String],
    stderr: &[String],
    code: Option<i32>,
) -> Result<Vec<(String, Verdict)>, String> {
    // 24: a file vanished while it was read, which is a change.
    if !matches!(code, Some(0 | 24)) {
        return Err(crate::engine::exit_reason::RSYNC.explain(code, stderr));
    }
    let by_name: BTreeMap<String, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (rsync_name(f), i))
        .collect();
    let mut verdicts: Vec<Verdict> = vec![Verdict::Changed; files.len()];
    for line in stdout {
        let Some((flags, name)) = line.split_once(' ') else {
            continue;
        };
        let flags = flags.as_bytes();
        let Some(&i) = by_name.get(name.trim_start()) else {
            continue;
        };
        let at = |k: usize, c: u8| flags.get(k) == Some(&c);
        verdicts[i] = match flags.get(1) {
            Some(b'f') if at(3, b's') || at(4, b't') => Verdict::Changed,
            Some(b'f') if at(2, b'+') => Verdict::Mismatch("missing from the backup".into()),
            Some(b'f') if at(2, b'c') => Verdict::Mismatch(
                "content differs from the unchanged live file (rsync's checksum)".into(),
            ),
            Some(b'f') => Verdict::Same,
            // A link or special file: equal when rsync sees no difference at all.
            _ if flags.len() == 2 => Verdict::Same,
            _ => Verdict::Changed,
        };
    }
    Ok(files.iter().cloned().zip(verdicts).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<String> {
        [
            "/srv/same",
            "/srv/changed",
            "/srv/corrupt",
            "/srv/gone",
            "/srv/odd\nname",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn rsync_s_items_tell_changes_from_corruption() {
        // As `rsync -ii` prints them: a line for every file on the host.
        let stdout: Vec<String> = [
            ".d..t...... srv/",
            ".f          srv/same",
            ">fcst...... srv/changed",
            ">fc........ srv/corrupt",
            ">fc........ srv/odd\\#012name",
        ]
        .map(String::from)
        .to_vec();
        let v = judge(&files(), &stdout, &[], Some(0)).unwrap();
        assert_eq!(v[0].1, Verdict::Same);
        assert_eq!(v[1].1, Verdict::Changed);
        assert!(matches!(v[2].1, Verdict::Mismatch(_)));
        assert_eq!(v[3].1, Verdict::Changed, "gone from the host");
        assert!(matches!(v[4].1, Verdict::Mismatch(_)));
    }

    #[test]
    fn a_failing_ssh_is_the_drill_s_failure() {
        let stderr = vec!["Host key verification failed.".to_owned()];
        assert!(judge(&files(), &[], &stderr, Some(255)).is_err());
    }

    #[test]
    fn the_list_is_relative_and_nul_separated() {
        assert_eq!(files_from(&["/a b".into(), "/c".into()]), b"a b\0c\0");
    }
}
