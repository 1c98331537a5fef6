//! The tags bakrun puts on every restic snapshot it makes, and reads back: `bakgen`,
//! `host=<host>`, `job=<job>`, `run=<run name>` (see [`crate::run_name`]),
//! `parts=<snapshots in the run>` and, on a dump's snapshot, `dump=<file name>`.
//! bakrun's restore script reads the same tags with awk.

/// The tag that marks a snapshot as bakgen's.
pub const BAKGEN: &str = "bakgen";
/// The run a snapshot belongs to: the run's name.
pub const RUN: &str = "run";
/// How many snapshots the run makes; a run with fewer was cut short.
pub const PARTS: &str = "parts";
/// The file name of the dump a snapshot holds.
pub const DUMP: &str = "dump";

/// restic's `--tag` filter for every snapshot of `job` (a comma list: all of them).
pub fn job_filter(job: &str) -> String {
    format!("{BAKGEN},job={job}")
}

/// The tags of every snapshot of a run, in the order restic is given them.
pub fn run(host: &str, job: &str, run: &str, parts: usize) -> Vec<String> {
    vec![
        BAKGEN.to_owned(),
        format!("host={host}"),
        format!("job={job}"),
        format!("{RUN}={run}"),
        format!("{PARTS}={parts}"),
    ]
}

/// The extra tag of a dump's snapshot.
pub fn dump(file_name: &str) -> String {
    format!("{DUMP}={file_name}")
}

/// The value of the `key=` tag among `tags`.
pub fn value<'a>(tags: &'a [String], key: &str) -> Option<&'a str> {
    tags.iter()
        .find_map(|t| t.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_read_back_what_they_wrote() {
        let mut tags = run("web1", "etc", "20260401T023000+0200", 3);
        tags.push(dump("app.sql"));
        assert_eq!(
            tags,
            [
                "bakgen",
                "host=web1",
                "job=etc",
                "run=20260401T023000+0200",
                "parts=3",
                "dump=app.sql"
            ]
        );
        assert_eq!(value(&tags, RUN), Some("20260401T023000+0200"));
        assert_eq!(value(&tags, PARTS), Some("3"));
        assert_eq!(value(&tags, DUMP), Some("app.sql"));
        // A key is matched whole: `run` is not `runner=`.
        assert_eq!(value(&["runner=x".to_owned()], RUN), None);
        assert_eq!(value(&tags, "bakgen"), None);
        assert_eq!(job_filter("etc"), "bakgen,job=etc");
    }
}
