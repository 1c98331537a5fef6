//! One backed-up file against its live file, on this machine: a live file with the size
//! and modification time of the backed-up copy must hold the same bytes; one that differs
//! in either was changed (or removed) since the run, which is no error.

use std::fs::{File, Metadata};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Read in blocks of this size, both files side by side: memory stays flat whatever the
/// file's size.
const BLOCK: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Unchanged on the live side and byte for byte equal.
    Same,
    /// Changed or removed on the live side since the run.
    Changed,
    /// Unchanged on the live side, yet the copy differs or cannot be read: corruption.
    Mismatch(String),
    /// Neither a regular file nor a symbolic link (a device, a socket): not compared.
    Skipped,
}

fn same_version(a: &Metadata, b: &Metadata) -> bool {
    a.len() == b.len() && a.mtime() == b.mtime() && a.mtime_nsec() == b.mtime_nsec()
}

/// Compares the backed-up `copy` with the `live` file.
pub fn compare(copy: &Path, live: &Path) -> Verdict {
    let copy_meta = match std::fs::symlink_metadata(copy) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Verdict::Mismatch("missing from the restored files".into())
        }
        Err(e) => return Verdict::Mismatch(format!("cannot read the backed-up copy: {e}")),
    };
    let live_meta = match std::fs::symlink_metadata(live) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Verdict::Changed,
        Err(e) => return Verdict::Mismatch(format!("cannot read the live file: {e}")),
    };
    if copy_meta.file_type().is_symlink() {
        // A link's own time is not kept by every restore: its target is what it holds.
        let same = live_meta.file_type().is_symlink()
            && std::fs::read_link(copy).ok() == std::fs::read_link(live).ok();
        return if same {
            Verdict::Same
        } else {
            Verdict::Changed
        };
    }
    if !copy_meta.is_file() {
        return Verdict::Skipped;
    }
    if !live_meta.is_file() || !same_version(&copy_meta, &live_meta) {
        return Verdict::Changed;
    }
    match first_difference(copy, live) {
        Ok(None) => Verdict::Same,
        Ok(Some(offset)) => {
            // Written to while it was read: a change, not corruption.
            match std::fs::symlink_metadata(live) {
                Ok(now) if same_version(&now, &live_meta) && now.ctime() == live_meta.ctime() => {
                    Verdict::Mismatch(format!(
                        "content differs from the unchanged live file at byte {offset}"
                    ))
                }
                _ => Verdict::Changed,
            }
        }
        Err(e) => Verdict::Mismatch(e),
    }
}

/// The offset of the first byte where the two files differ (or where one ends), `None`
/// when they are equal.
fn first_difference(copy: &Path, live: &Path) -> Result<Option<u64>, String> {
    let open =
        |p: &Path, what: &str| File::open(p).map_err(|e| format!("cannot read the {what}: {e}"));
    let mut a = open(copy, "backed-up copy")?;
    let mut b = open(live, "live file")?;
    let mut buf_a = vec![0u8; BLOCK];
    let mut buf_b = vec![0u8; BLOCK];
    let mut offset = 0u64;
    loop {
        let na =
            fill(&mut a, &mut buf_a).map_err(|e| format!("cannot read the backed-up copy: {e}"))?;
        let nb = fill(&mut b, &mut buf_b).map_err(|e| format!("cannot read the live file: {e}"))?;
        let common = na.min(nb);
        if let Some(i) = buf_a[..common]
            .iter()
            .zip(&buf_b[..common])
            .position(|(x, y)| x != y)
        {
            return Ok(Some(offset + i as u64));
        }
        if na != nb {
            return Ok(Some(offset + common as u64));
        }
        if na == 0 {
            return Ok(None);
        }
        offset += na as u64;
    }
}

/// Reads until `buf` is full or the file ends.
fn fill(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn copy_times(from: &Path, to: &Path) {
        let m = fs::metadata(from).unwrap();
        let f = fs::File::options().write(true).open(to).unwrap();
        f.set_modified(m.modified().unwrap()).unwrap();
    }

    #[test]
    fn equal_files_pass_and_a_flipped_byte_is_found_where_it_is() {
        let d = tempfile::tempdir().unwrap();
        let (copy, live) = (d.path().join("copy"), d.path().join("live"));
        let data: Vec<u8> = (0..(BLOCK * 2 + 17)).map(|i| (i % 251) as u8).collect();
        fs::write(&live, &data).unwrap();
        fs::write(&copy, &data).unwrap();
        copy_times(&live, &copy);
        assert_eq!(compare(&copy, &live), Verdict::Same);
        let mut bad = data.clone();
        bad[BLOCK + 5] ^= 0xff;
        fs::write(&copy, &bad).unwrap();
        copy_times(&live, &copy);
        assert_eq!(
            compare(&copy, &live),
            Verdict::Mismatch(format!(
                "content differs from the unchanged live file at byte {}",
                BLOCK + 5
            ))
        );
    }

    #[test]
    fn a_live_file_changed_or_removed_is_a_change() {
        let d = tempfile::tempdir().unwrap();
        let (copy, live) = (d.path().join("copy"), d.path().join("live"));
        fs::write(&copy, "old").unwrap();
        fs::write(&live, "newer").unwrap();
        assert_eq!(compare(&copy, &live), Verdict::Changed);
        fs::remove_file(&live).unwrap();
        assert_eq!(compare(&copy, &live), Verdict::Changed);
        assert!(matches!(
            compare(&d.path().join("absent"), &copy),
            Verdict::Mismatch(_)
        ));
    }
}
