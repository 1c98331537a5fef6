//! A drill's `count`: the files of the run it read against the live files counted now, as
//! a run would read them (each engine counts: `Engine::count_live_files`). A sample is drawn from the run, so a file the run never
//! saved is never drawn; the count is what shows such files. The rule is the spec crate's
//! [`Count::too_few`].

use bakgen_spec::verify::Count;

use super::record::CountResult;
use crate::command::Exec;
use crate::log;

/// The verdict on a run of `run` files against `live` live files.
pub fn weigh(rule: Count, run: u64, live: u64, snapshot: &str) -> CountResult {
    let c = CountResult {
        run,
        live,
        tolerance_per_mille: rule.tolerance_per_mille,
        passed: !rule.too_few(run, live),
    };
    log::info(format!(
        "count: run {snapshot} holds {run} files, the live sources {live} (tolerance {})",
        per_mille_text(c.tolerance_per_mille)
    ));
    // The other way round is no failure of the backup, but worth a word: files removed
    // on the host since the run, in numbers (by hand, or by something that should not).
    if rule.too_few(live, run) {
        log::warn(format!(
            "the live sources hold {} fewer files than run {snapshot} ({live} against {run}): removed since the run? if not on purpose, they are in that run",
            run - live
        ));
    }
    c
}

/// `--dry-run`: what the count compares (the command that counts follows).
pub fn plan(exec: &Exec, rule: Count, run: u64) {
    if exec.dry_run {
        println!(
            "# count: the live files, as a run would read them, against the run's {run} (fails when more than {} fewer)",
            per_mille_text(rule.tolerance_per_mille)
        );
    }
}

/// The summary's words on a count.
pub fn summary(c: &CountResult) -> String {
    format!(", the run holds {} of {} live files", c.run, c.live)
}

/// Why a failed count fails the drill.
pub fn failure(c: &CountResult) -> String {
    format!(
        "the run holds {} files but the live sources {} ({} fewer, over the {} tolerance): the backup misses files (a mount not mounted when the run read it? a run cut short?)",
        c.run,
        c.live,
        c.live.saturating_sub(c.run),
        per_mille_text(c.tolerance_per_mille)
    )
}

/// A per-mille share as the policy writes it: `5%`, `0.5%`.
fn per_mille_text(p: u32) -> String {
    match p % 10 {
        0 => format!("{}%", p / 10),
        tenth => format!("{}.{tenth}%", p / 10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_read_as_written() {
        assert_eq!(per_mille_text(50), "5%");
        assert_eq!(per_mille_text(5), "0.5%");
        assert_eq!(per_mille_text(0), "0%");
        assert_eq!(per_mille_text(1000), "100%");
        assert_eq!(per_mille_text(25), "2.5%");
    }

    #[test]
    fn a_run_short_of_the_live_files_fails_and_the_words_say_by_how_many() {
        let rule = Count {
            tolerance_per_mille: 50,
        };
        let c = weigh(rule, 35, 43, "r1");
        assert!(!c.passed);
        assert!(
            failure(&c).contains("(8 fewer, over the 5% tolerance)"),
            "{}",
            failure(&c)
        );
        // Files removed on the host since the run never fail the count.
        assert!(weigh(rule, 43, 10, "r1").passed);
    }
}
