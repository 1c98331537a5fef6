//! What a dump file says of itself, read in one pass before it is loaded:
//! - whether it is whole: pg_dump, pg_dumpall and mysqldump each end with a comment line
//!   of their own, after which only blank lines, comments and psql's `\unrestrict` follow.
//!   A dump cut at a statement boundary loads without an error; this still tells it;
//! - the databases an all-database dump holds (pg_dumpall's `-- Database "x" dump`,
//!   mysqldump's ``-- Current Database: `x` ``);
//! - the roles a one-database PostgreSQL dump names as owners and grantees: they are not
//!   in it (pg_dumpall holds them), so the drill creates them on the fresh server first,
//!   as anyone restoring such a dump onto a new server does.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::dump::DumpKind;

/// The superuser `initdb` makes on a drill's PostgreSQL server: a name no dump's
/// `CREATE ROLE` should clash with (pg_dumpall recreates `postgres`).
pub(super) const DRILL_SUPERUSER: &str = "bakgen_drill";

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Scanned {
    pub complete: bool,
    /// Named by an all-database dump, in its order.
    pub databases: Vec<String>,
    /// Roles as the dump writes them (`app`, `"Odd Role"`), for a one-database PostgreSQL dump.
    pub roles: BTreeSet<String>,
}

pub(super) fn dumper(kind: &DumpKind) -> &'static str {
    match kind {
        DumpKind::Postgres => "pg_dump",
        DumpKind::PostgresAll => "pg_dumpall",
        DumpKind::Mysql => "mysqldump",
    }
}

/// The comment the dumper writes last (mysqldump adds ` on <date>`).
pub(super) fn completion_line(kind: &DumpKind) -> &'static str {
    match kind {
        DumpKind::Postgres => "-- PostgreSQL database dump complete",
        DumpKind::PostgresAll => "-- PostgreSQL database cluster dump complete",
        DumpKind::Mysql => "-- Dump completed",
    }
}

pub(super) fn scan(file: &Path, kind: &DumpKind) -> std::io::Result<Scanned> {
    let mut reader = BufReader::with_capacity(1 << 20, std::fs::File::open(file)?);
    let mut out = Scanned::default();
    let marker = completion_line(kind);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let raw = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let Ok(line) = std::str::from_utf8(raw) else {
            out.complete = false;
            continue;
        };
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with(marker) {
            out.complete = true;
        } else if !(line.is_empty() || line.starts_with("--") || line.starts_with("\\unrestrict "))
        {
            out.complete = false;
        }
        match kind {
            DumpKind::PostgresAll => {
                if let Some(name) = line
                    .strip_prefix("-- Database \"")
                    .and_then(|r| r.strip_suffix("\" dump"))
                {
                    out.databases.push(name.to_owned());
                }
            }
            DumpKind::Mysql => {
                if let Some(name) = line
                    .strip_prefix("-- Current Database: `")
                    .and_then(|r| r.strip_suffix('`'))
                {
                    out.databases.push(name.replace("``", "`"));
                }
            }
            DumpKind::Postgres => roles_named(line, &mut out.roles),
        }
    }
    Ok(out)
}

/// The roles a pg_dump line names as an owner or grantee.
fn roles_named(line: &str, roles: &mut BTreeSet<String>) {
    let mut after = |keyword: &str| {
        if let Some(i) = line.rfind(keyword) {
            role_list(&line[i + keyword.len()..], roles);
        }
    };
    if line.starts_with("ALTER ") && line.contains(" OWNER TO ") {
        after(" OWNER TO ");
    }
    if line.starts_with("ALTER DEFAULT PRIVILEGES FOR ROLE ") {
        after(" FOR ROLE ");
    }
    if line.starts_with("GRANT ") || line.starts_with("ALTER DEFAULT PRIVILEGES ") {
        after(" TO ");
    }
    if line.starts_with("REVOKE ") || line.starts_with("ALTER DEFAULT PRIVILEGES ") {
        after(" FROM ");
    }
}

/// `a, "B c", PUBLIC …`: each name as written, skipping the keywords that are not roles
/// and PostgreSQL's own `pg_*` roles. Stops at the first thing that is not a name.
fn role_list(text: &str, roles: &mut BTreeSet<String>) {
    let mut rest = text.trim_start();
    while let Some((name, after)) = identifier(rest) {
        let bare = name.to_ascii_lowercase();
        let builtin = ["public", "current_user", "session_user", "current_role"]
            .contains(&bare.as_str())
            || bare.starts_with("pg_")
            || name == DRILL_SUPERUSER;
        if !builtin {
            roles.insert(name.to_owned());
        }
        rest = after.trim_start();
        match rest.strip_prefix(',') {
            Some(r) => rest = r.trim_start(),
            None => break,
        }
    }
}

/// A SQL identifier at the start of `s` as pg_dump writes one (bare, or in double quotes
/// with `""` inside), and what follows it.
fn identifier(s: &str) -> Option<(&str, &str)> {
    if let Some(body) = s.strip_prefix('"') {
        let mut i = 0;
        let bytes = body.as_bytes();
        while i < bytes.len() {
            if bytes[i] == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                // Both ends are ASCII quotes: char boundaries.
                return Some((&s[..i + 2], &s[i + 2..]));
            }
            i += 1;
        }
        return None;
    }
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(s.len());
    let name = &s[..end];
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok.then(|| (name, &s[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanned(kind: DumpKind, text: &str) -> Scanned {
        let t = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(t.path(), text).unwrap();
        scan(t.path(), &kind).unwrap()
    }

    #[test]
    fn a_dump_is_whole_only_when_its_completion_line_comes_last() {
        let whole = "\\restrict abc\nCREATE TABLE t ();\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n\n";
        assert!(scanned(DumpKind::Postgres, whole).complete);
        let cut = "CREATE TABLE t ();\nCOPY t FROM stdin;\n1\n";
        assert!(!scanned(DumpKind::Postgres, cut).complete);
        // An inner database's marker is not the cluster's.
        let inner = "-- PostgreSQL database dump complete\n\\connect other\nCREATE TABLE u ();\n";
        assert!(!scanned(DumpKind::PostgresAll, inner).complete);
        let my = "INSERT INTO t VALUES (1);\n-- Dump completed on 2026-12-01 10:00:00\n";
        assert!(scanned(DumpKind::Mysql, my).complete);
        assert!(!scanned(DumpKind::Mysql, "INSERT INTO t VALUES (1);\n").complete);
    }

    #[test]
    fn all_database_dumps_name_their_databases() {
        let pg = "-- Database \"template1\" dump\n-- Database \"we\"ird db\" dump\n";
        assert_eq!(
            scanned(DumpKind::PostgresAll, pg).databases,
            ["template1", "we\"ird db"]
        );
        let my = "-- Current Database: `shop`\n-- Current Database: `a``b`\n";
        assert_eq!(scanned(DumpKind::Mysql, my).databases, ["shop", "a`b"]);
    }

    #[test]
    fn owners_and_grantees_are_the_roles_to_create() {
        let dump = "ALTER DATABASE shop OWNER TO shopowner;\n\
            ALTER TABLE public.\"x OWNER TO y\" OWNER TO app;\n\
            GRANT SELECT ON TABLE public.orders TO PUBLIC;\n\
            GRANT SELECT ON TABLE public.orders TO rep, \"Odd \"\"Role\";\n\
            GRANT ALL ON SCHEMA public TO pg_database_owner WITH GRANT OPTION;\n\
            REVOKE ALL ON TABLE public.orders FROM revoked;\n\
            ALTER DEFAULT PRIVILEGES FOR ROLE definer IN SCHEMA public GRANT SELECT ON TABLES TO reader;\n\
            ALTER TABLE public.t OWNER TO bakgen_drill;\n\
            1\tGRANT in data\n";
        let roles: Vec<String> = scanned(DumpKind::Postgres, dump)
            .roles
            .into_iter()
            .collect();
        assert_eq!(
            roles,
            [
                "\"Odd \"\"Role\"",
                "app",
                "definer",
                "reader",
                "rep",
                "revoked",
                "shopowner"
            ]
        );
    }
}
