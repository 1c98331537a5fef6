//! `bakrun restore-script HOST`: a self-contained POSIX shell script that rebuilds a host
//! from the newest complete run of each of its jobs, on a fresh machine where only restic
//! (and, for the databases, `psql`/`mysql`) is installed.
//!
//! The script never holds a password: it asks for each repository's once (or takes
//! `RESTIC_PASSWORD_FILE`/`RESTIC_PASSWORD`/`RESTIC_PASSWORD_COMMAND` from the environment)
//! and keeps the answer in a shell variable, handed to restic alone as `RESTIC_PASSWORD`:
//! no file holds it, so a script killed with SIGKILL leaves none behind. Other
//! credentials (S3 keys) are named, and must be exported by whoever runs it.
//!
//! A run of a job is the group of restic snapshots sharing a `run=` tag (see
//! [`crate::engine::restic`]); a run cut short has fewer members than its `parts=` tag says
//! and is never restored. The script reads `restic snapshots --json` with awk only through
//! the `"tags":[` and `"short_id":"` keys, which appear once per snapshot in every restic
//! release and cannot be forged by a backed-up path (a path's quotes are escaped).

use std::ffi::OsStr;
use std::fmt::Write as _;

use crate::command::shell_quote;
use crate::dump::{self, DumpError, DumpKind};
use crate::engine::restic::{tags, Restic};
use crate::engine::EngineError;
use crate::secret;
use crate::spec::{Destination, JobSpec};

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("job {job}: {source}")]
    Dump { job: String, source: DumpError },
    #[error("job {job}: {source}")]
    Engine { job: String, source: EngineError },
}

/// Where the dumps of job `JOB` are written under the target root.
pub const DUMPS_UNDER_TARGET: &str = "var/lib/bakgen/restored-dumps";

fn q(s: &str) -> String {
    shell_quote(OsStr::new(s))
}

/// A string as restic (Go's encoding/json) writes it in JSON, quotes included: Go also
/// escapes `<`, `>`, `&`, U+2028 and U+2029.
fn go_json(s: &str) -> String {
    serde_json::Value::String(s.to_owned())
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// The script for `host` from its job specs (any order; the script is sorted by job).
pub fn generate(host: &str, specs: &[JobSpec]) -> Result<String, ScriptError> {
    let mut jobs: Vec<&JobSpec> = specs.iter().filter(|s| s.host == host).collect();
    jobs.sort_by(|a, b| a.job.cmp(&b.job));
    let mut repositories: Vec<&str> = Vec::new();
    let mut body = String::new();
    for spec in &jobs {
        match &spec.destination {
            Destination::Restic {
                repository,
                environment,
                ..
            } => {
                let index = match repositories.iter().position(|r| r == repository) {
                    Some(i) => i,
                    None => {
                        repositories.push(repository);
                        repositories.len() - 1
                    }
                };
                let _ = writeln!(body, "\n# Job {} (restic).", spec.job);
                let _ = writeln!(body, "begin_job {}", q(&spec.job));
                for e in environment {
                    let _ = writeln!(
                        body,
                        ": \"${{{v}:?set {v} (the job reads it from {from})}}\"\nexport {v}",
                        v = e.variable,
                        from = secret::describe(&e.secret).replace(['"', '`', '$', '\\'], ""),
                    );
                }
                let restic = Restic::new(spec).map_err(|source| ScriptError::Engine {
                    job: spec.job.clone(),
                    source,
                })?;
                let sftp = restic.sftp_command().map(q).unwrap_or_default();
                let _ = writeln!(body, "use_repository {index} {} {sftp}", q(repository));
                let _ = writeln!(body, "if pick_run {}; then\n  restore_files", q(&spec.job));
                let dumps = dump::catalogue(spec).map_err(|source| ScriptError::Dump {
                    job: spec.job.clone(),
                    source,
                })?;
                for d in dumps {
                    let kind = match d.kind {
                        DumpKind::Postgres => "postgres",
                        DumpKind::PostgresAll => "postgres-all",
                        DumpKind::Mysql => "mysql",
                    };
                    let _ = writeln!(
                        body,
                        "  restore_dump {kind} {} {}",
                        q(&d.file_name),
                        q(&go_json(&tags::dump(&d.file_name))),
                    );
                }
                body.push_str("fi\n");
            }
            Destination::Snapshots { path, .. } => {
                let folder = format!("{path}/{}/{}/latest", spec.host, spec.job);
                let _ = writeln!(body, "\n# Job {} (rsync snapshots).", spec.job);
                let _ = writeln!(body, "rsync_job {} {}", q(&spec.job), q(&folder));
            }
        }
    }

    let mut s = String::new();
    s.push_str(&header(host, jobs.len()));
    s.push_str(LIBRARY);
    if jobs.is_empty() {
        s.push_str("\necho \"restore: host $HOST has no jobs\" >&2\nexit 1\n");
        return Ok(s);
    }
    s.push_str(&body);
    s.push_str(FOOTER);
    Ok(s)
}

fn header(host: &str, jobs: usize) -> String {
    format!(
        r#"#!/bin/sh
# Disaster recovery of host {host_comment} ({jobs} job(s)), generated by bakrun {version}.
#
#   sh restore.sh TARGET              restore the newest complete run of every job under
#                                     TARGET (use / on the rebuilt machine itself); database
#                                     dumps are written to TARGET/{dumps}/JOB/
#                                     and the commands that load them are printed
#   sh restore.sh --databases TARGET  the same, and load each dump into the database server
#                                     reached by $PSQL (default psql) and $MYSQL (default
#                                     mysql): run as a user allowed to create databases
#   sh restore.sh --list              list every job's snapshots, restore nothing
#
# Needs restic; psql and mysql only for --databases. Passwords are asked for once per
# repository; RESTIC_PASSWORD_FILE, RESTIC_PASSWORD or RESTIC_PASSWORD_COMMAND in the
# environment is used for every repository instead. This script holds no secret.
# An sftp: repository is reached with the ssh command the job used (its port, key and
# known_hosts file); BAKGEN_SFTP_COMMAND replaces it when those live elsewhere here.
set -eu
HOST={host}
DUMPS={dumps}
"#,
        host_comment = host.replace(['\n', '\r'], " "),
        version = env!("CARGO_PKG_VERSION"),
        dumps = DUMPS_UNDER_TARGET,
        host = q(host),
    )
}

/// The fixed part: options, password handling, run selection, restore functions.
const LIBRARY: &str = r#"
usage() { awk 'NR > 2 && /^set -eu/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0"; }
LIST=0
DATABASES=0
while [ $# -gt 0 ]; do
  case $1 in
    --list) LIST=1 ;;
    --databases) DATABASES=1 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) echo "restore: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
TARGET=
if [ "$LIST" = 0 ]; then
  if [ $# -ne 1 ] || [ -z "$1" ]; then usage >&2; exit 2; fi
  TARGET=$1
  mkdir -p "$TARGET"
fi
command -v restic >/dev/null 2>&1 || { echo "restore: install restic first" >&2; exit 1; }
PSQL=${PSQL:-psql}
MYSQL=${MYSQL:-mysql}
umask 077
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
trap 'stty echo 2>/dev/null || :; exit 130' INT TERM
GIVEN_PASSWORD=${RESTIC_PASSWORD_FILE:-}${RESTIC_PASSWORD:-}${RESTIC_PASSWORD_COMMAND:-}
TYPED=
FAILED=
JOB=
SFTP_COMMAND=

begin_job() {
  JOB=$1
  echo "== job $JOB" >&2
}

# restic, through the job's ssh for an sftp: repository (BAKGEN_SFTP_COMMAND overrides it:
# the key and known_hosts the job used may live elsewhere on this machine).
# A typed password reaches restic alone, in its environment: never a file a killed script
# would leave behind.
restic_() {
  if [ -n "$SFTP_COMMAND" ]; then set -- -o "sftp.command=$SFTP_COMMAND" "$@"; fi
  if [ -n "$GIVEN_PASSWORD" ]; then restic "$@"; else RESTIC_PASSWORD=$TYPED restic "$@"; fi
}

# use_repository N URL [SFTP_COMMAND]: restic works on repository N; its password is asked
# for once.
use_repository() {
  RESTIC_REPOSITORY=$2
  export RESTIC_REPOSITORY
  SFTP_COMMAND=
  if [ -n "${3:-}" ]; then SFTP_COMMAND=${BAKGEN_SFTP_COMMAND:-$3}; fi
  [ -z "$GIVEN_PASSWORD" ] || return 0
  # N is a number: PASSWORD_N is a plain variable name.
  eval "asked=\${ASKED_$1:-}"
  if [ -z "$asked" ]; then
    printf 'Password of restic repository %s: ' "$2" >&2
    if [ -t 0 ]; then stty -echo; fi
    password=
    IFS= read -r password || :
    if [ -t 0 ]; then stty echo; fi
    echo >&2
    eval "PASSWORD_$1=\$password; ASKED_$1=1"
    password=
  fi
  eval "TYPED=\$PASSWORD_$1"
}

# pick_run JOB: the snapshots of the job's newest complete run, one "ID<TAB>TAGS" line
# each, into $WORK/run. Fails (after saying why) when there is none.
pick_run() {
  if [ "$LIST" = 1 ]; then
    restic_ snapshots --no-lock --host "$HOST" --tag "bakgen,job=$1" || FAILED="$FAILED $1"
    return 1
  fi
  if ! restic_ snapshots --no-lock --json --host "$HOST" --tag "bakgen,job=$1" > "$WORK/snapshots"; then
    echo "restore: cannot list the snapshots of job $1" >&2
    FAILED="$FAILED $1"
    return 1
  fi
  awk '
    {
      gsub(/"tags":\[/, "\n&"); gsub(/"short_id":"/, "\n&")
      n = split($0, part, "\n")
      for (i = 1; i <= n; i++) {
        p = part[i]
        if (substr(p, 1, 8) == "\"tags\":[") { tags = p; continue }
        if (substr(p, 1, 12) != "\"short_id\":\"") continue
        id = substr(p, 13); sub(/".*/, "", id)
        run = ""; parts = 1
        if (match(tags, /"run=[^"]*"/)) run = substr(tags, RSTART + 5, RLENGTH - 6)
        if (match(tags, /"parts=[0-9]+"/)) parts = substr(tags, RSTART + 7, RLENGTH - 8) + 0
        t = tags; gsub(/\t/, " ", t)
        if (run != "") { count[run]++; want[run] = parts; ids[run] = ids[run] id "\t" t "\n" }
        tags = ""
      }
    }
    END {
      best = ""
      for (r in count) if (count[r] >= want[r] && r > best) best = r
      if (best != "") printf "%s", ids[best]
    }' "$WORK/snapshots" > "$WORK/run"
  if [ ! -s "$WORK/run" ]; then
    echo "restore: job $1 has no complete run in $RESTIC_REPOSITORY" >&2
    FAILED="$FAILED $1"
    return 1
  fi
}

restore_files() {
  while IFS='	' read -r id tags; do
    case $tags in
      *'"dump='*) ;;
      *)
        echo "== job $JOB: restoring snapshot $id under $TARGET" >&2
        restic_ restore --no-lock "$id" --target "$TARGET" || FAILED="$FAILED $JOB"
        ;;
    esac
  done < "$WORK/run"
}

# restore_dump KIND FILE TAG: save the dump FILE of the picked run; load or explain it.
restore_dump() {
  id=$(grep -F -e "$3" "$WORK/run" | cut -f1 | head -n 1)
  if [ -z "$id" ]; then
    echo "restore: job $JOB: the newest run has no dump $2" >&2
    FAILED="$FAILED $JOB"
    return 0
  fi
  dir=$TARGET/$DUMPS/$JOB
  mkdir -p "$dir"
  file=$dir/$2
  echo "== job $JOB: dump $2 (snapshot $id) into $file" >&2
  if ! restic_ dump --no-lock "$id" "/$HOST/$JOB/$2" > "$file"; then
    echo "restore: cannot read dump $2 of job $JOB" >&2
    FAILED="$FAILED $JOB"
    return 0
  fi
  if [ "$DATABASES" = 1 ]; then
    echo "== job $JOB: loading $2" >&2
    case $1 in
      postgres) $PSQL -X -q -v ON_ERROR_STOP=1 -d postgres -f "$file" || FAILED="$FAILED $JOB" ;;
      # pg_dumpall recreates roles that exist already (postgres): not a reason to stop.
      postgres-all) $PSQL -X -q -d postgres -f "$file" || FAILED="$FAILED $JOB" ;;
      mysql) $MYSQL < "$file" || FAILED="$FAILED $JOB" ;;
    esac
  else
    case $1 in
      postgres) echo "job $JOB: load $2 with:  psql -X -v ON_ERROR_STOP=1 -d postgres -f '$file'" ;;
      postgres-all) echo "job $JOB: load $2 with:  psql -X -d postgres -f '$file'" ;;
      mysql) echo "job $JOB: load $2 with:  mysql < '$file'" ;;
    esac
  fi
}

# rsync_job JOB FOLDER: rsync snapshots are plain folders; say how to copy the newest.
rsync_job() {
  echo "== job $1 keeps rsync snapshots, not in a restic repository" >&2
  [ "$LIST" = 0 ] || { ls "$2/.." 2>/dev/null || :; return 0; }
  echo "job $1: from the backup disk, with its snapshots at $2:"
  echo "  rsync -aHAXS --numeric-ids --exclude=/dumps '$2/' '$TARGET/'"
  echo "  database dumps of that job are in '$2/dumps/'"
}
"#;

const FOOTER: &str = r#"
if [ -n "$FAILED" ]; then
  echo "restore: FAILED for job(s):$FAILED" >&2
  exit 1
fi
[ "$LIST" = 1 ] || echo "== done: files are under $TARGET with their original paths" >&2
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_matched_as_restic_writes_them() {
        assert_eq!(go_json("dump=app.sql"), "\"dump=app.sql\"");
        assert_eq!(
            go_json("dump=a<b>&\"c"),
            "\"dump=a\\u003cb\\u003e\\u0026\\\"c\""
        );
    }
}
