//! A SIGTERM while the dump drill loads a dump: this test process installs bakrun's own
//! stop-signal handling (`bakrun::signals::install`, as `bakrun verify` does) and sends
//! itself SIGTERM once the drill's psql is loading into its throwaway server. The drill
//! must end with `DrillError::Interrupted`, promptly, its server stopped and its folder
//! gone, and the host's server untouched. Alone in its file: the stop flag, once set,
//! stays set for the whole process.

mod common;
mod drill_harness;
mod support;

use std::time::{Duration, Instant};

use bakrun::drill::DrillError;
use serde_json::json;

use common::TempDir;
use drill_harness::*;
use support::{secret_file, write_spec_named, Postgres};

#[test]
#[ignore = "tier: system — needs root and a PostgreSQL 15 server; run by scripts/test"]
fn sigterm_during_the_load_stops_the_server_and_removes_its_folder() {
    common::require_root();
    let t = TempDir::new("drill-sigterm");
    let root = t.path();
    let pg = Postgres::start();
    pg.psql("postgres", "CREATE DATABASE big");
    // Enough rows that loading them takes a while.
    pg.psql(
        "big",
        "CREATE TABLE rows (id bigint, note text); \
         INSERT INTO rows SELECT i, md5(i::text) || md5((i + 1)::text) FROM generate_series(1, 600000) i",
    );
    let fingerprint = || {
        pg.psql(
            "big",
            "SELECT pg_postmaster_start_time(), (SELECT count(*) FROM rows)",
        )
    };
    let before = fingerprint();
    let pgpw = secret_file(root, "pg-password", "unused:trust");
    let mut spec = common::spec(root, &[]);
    spec["job"] = json!("big");
    spec["steps"] = json!([{
        "step": "postgres", "databases": ["big"], "host": "127.0.0.1", "port": pg.port,
        "user": "postgres", "password": {"from": "file", "path": pgpw.to_string_lossy()}
    }]);
    let path = write_spec_named(root, "big", &spec);
    backup(&path);
    let job = read_spec(&path);

    bakrun::signals::install();
    let (s, scratch) = scratch();
    let watched = scratch.clone();
    let signaller = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let procs = processes_under(&watched);
            let loading = procs.iter().any(|(_, what)| what.starts_with("psql"));
            let serving = procs.iter().any(|(_, what)| what.starts_with("postgres"));
            if loading && serving {
                // SAFETY: kill(2) of this very process.
                unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
                return Some(Instant::now());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let (result, seen) = drill(&job, &scratch);
    let ended = Instant::now();
    let sent = signaller
        .join()
        .unwrap()
        .expect("the drill's psql and postgres were never seen running together");
    assert!(matches!(result, Err(DrillError::Interrupted)), "{result:?}");
    assert!(
        ended.duration_since(sent) < Duration::from_secs(15),
        "the drill took {:?} to stop",
        ended.duration_since(sent)
    );
    assert!(seen.servers.contains("postgres"), "{seen:?}");
    assert!(seen.tcp_listeners.is_empty(), "{seen:?}");
    assert_left_nothing(&seen, &scratch);
    assert_eq!(fingerprint(), before, "the host's server changed");
    drop(s);
}
