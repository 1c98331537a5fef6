//! Which files a drill checks: a seeded random sample of a run's source files, plus every
//! file under the critical paths. The same seed and the same run give the same sample, so a
//! failed drill can be repeated exactly (`bakrun verify JOB --seed S`).

/// SplitMix64: small, fast, and the same on every machine and version, which is all a
/// reproducible sample needs (no cryptography here).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound` > 0), without modulo bias (Lemire's method).
    fn below(&mut self, bound: u64) -> u64 {
        loop {
            let m = u128::from(self.next_u64()) * u128::from(bound);
            let low = m as u64;
            if low >= bound.wrapping_neg() % bound {
                return (m >> 64) as u64;
            }
        }
    }
}

/// A seed for a drill not given one: from the kernel's random source, else the clock and
/// the process id (the seed is logged either way, so any value reproduces).
pub fn fresh_seed() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most `buf.len()` bytes into the buffer we own.
    let got = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if got == 8 {
        return u64::from_le_bytes(buf);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ u64::from(std::process::id()).rotate_left(32)
}

/// Is `path` `root` or below it (as paths, not as strings: `/etc/ssh` is not below `/etc/s`)?
pub fn is_under(path: &str, root: &str) -> bool {
    let root = root.trim_end_matches('/');
    root.is_empty()
        || path == root
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// What a drill checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drawn {
    /// Sorted, each once.
    pub files: Vec<String>,
    /// How many of them came from the critical paths.
    pub critical: usize,
    /// How many files there were to draw from: the run's files under the sources.
    pub of: u64,
}

/// The files of `candidates` (sorted, each once) under `critical`, plus `size` others drawn
/// at random with `seed`: a partial Fisher–Yates shuffle, so each file is as likely as any
/// other and the draw costs `size` steps, not a shuffle of the whole run.
pub fn draw(candidates: &[String], critical: &[String], size: u64, seed: u64) -> Drawn {
    let (crit, rest): (Vec<&String>, Vec<&String>) = candidates
        .iter()
        .partition(|f| critical.iter().any(|c| is_under(f, c)));
    let mut pool = rest;
    let take = usize::try_from(size).unwrap_or(usize::MAX).min(pool.len());
    let mut rng = Rng::new(seed);
    for i in 0..take {
        let left = (pool.len() - i) as u64;
        let j = i + rng.below(left) as usize;
        pool.swap(i, j);
    }
    let mut files: Vec<String> = crit.iter().map(|s| (*s).clone()).collect();
    files.extend(pool[..take].iter().map(|s| (*s).clone()));
    files.sort();
    files.dedup();
    Drawn {
        critical: crit.len(),
        files,
        of: candidates.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(n: usize) -> Vec<String> {
        let mut v: Vec<String> = (0..n).map(|i| format!("/srv/f{i:05}")).collect();
        v.push("/etc/ssh/sshd_config".into());
        v.push("/etc/ssh/keys/host".into());
        v.push("/etc/sshx".into());
        v.sort();
        v
    }

    #[test]
    fn the_same_seed_draws_the_same_sample_and_another_seed_another() {
        let all = files(5_000);
        let a = draw(&all, &[], 50, 42);
        assert_eq!(a, draw(&all, &[], 50, 42));
        assert_eq!(a.files.len(), 50);
        assert_ne!(a, draw(&all, &[], 50, 43));
    }

    #[test]
    fn critical_files_are_always_in_and_do_not_count_against_the_sample() {
        let all = files(1_000);
        let d = draw(&all, &["/etc/ssh".into()], 10, 1);
        assert_eq!(d.critical, 2);
        assert_eq!(d.files.len(), 12);
        assert!(d.files.contains(&"/etc/ssh/keys/host".to_owned()));
        assert!(!d.files.contains(&"/etc/sshx".to_owned()) || d.files.len() == 12);
        let none = draw(&all, &["/etc/ssh/".into()], 0, 1);
        assert_eq!(
            none.files,
            vec!["/etc/ssh/keys/host", "/etc/ssh/sshd_config"]
        );
    }

    #[test]
    fn a_sample_larger_than_the_run_takes_the_run() {
        let all = files(5);
        assert_eq!(draw(&all, &[], 100, 9).files, all);
    }

    #[test]
    fn every_file_can_be_drawn() {
        let all = files(20);
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            seen.extend(draw(&all, &[], 1, seed).files);
        }
        assert_eq!(seen.len(), all.len());
    }

    #[test]
    fn paths_are_under_roots_as_paths() {
        assert!(is_under("/etc/ssh/x", "/etc/ssh"));
        assert!(is_under("/etc/ssh", "/etc/ssh/"));
        assert!(!is_under("/etc/sshx", "/etc/ssh"));
        assert!(is_under("/anything", "/"));
    }
}
