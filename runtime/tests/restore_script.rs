//! `bakrun restore-script HOST` against real restic, PostgreSQL and MariaDB: the script,
//! run with a clean environment into an empty target root, reproduces the backed-up trees
//! (compared by rsync, checksums, owners, modes, ACLs, xattrs, hard links) and the
//! databases in fresh servers (rows compared); it asks for each repository's password
//! and writes none to a file; a wrong password fails it loudly.

mod common;
mod support;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::json;

use common::{assert_code, awkward_tree, bakrun, differences, TempDir};
use support::*;

const OTHER_PASSWORD: &str = "second repository's pass";

/// Runs the script with only PATH (and `env`) set, `stdin` typed in.
fn run_script(script: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = Command::new("sh")
        .arg(script)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn run_job(spec: &Path) {
    let out = bakrun(&["run", spec.to_str().unwrap()]);
    assert_code(&out, 0);
}

#[test]
#[ignore = "tier: system — needs root, PostgreSQL and MariaDB servers and an sshd; run by scripts/test"]
fn the_restore_script_rebuilds_files_and_databases_in_an_empty_root() {
    common::require_root();
    let t = TempDir::new("restore-script");
    let root = t.path();

    // The machine to lose: files, a PostgreSQL and a MariaDB database.
    let pg = timed("postgres start", Postgres::start);
    pg.psql("postgres", "CREATE DATABASE app");
    pg.psql(
        "app",
        "CREATE TABLE invoices (id int primary key, who text); INSERT INTO invoices SELECT g, 'customer ' || g FROM generate_series(1, 500) g",
    );
    let maria = timed("mariadb start", Mariadb::start);
    maria.sql("CREATE DATABASE shop; CREATE TABLE shop.items (id int primary key, name text) ENGINE=InnoDB; INSERT INTO shop.items VALUES (1, 'widget'), (2, 'gadget');");
    let src = root.join("src");
    awkward_tree(&src);
    let etc = root.join("etc-src");
    fs::create_dir_all(etc.join("nested")).unwrap();
    fs::write(etc.join("nested/hosts"), "127.0.0.1 localhost\n").unwrap();

    // Three jobs of host h1: files + both databases into one repository, another folder
    // into a second repository with its own password, and an rsync job.
    let jobs = root.join("jobs");
    fs::create_dir_all(&jobs).unwrap();
    let pw = secret_file(root, "password", PASSWORD);
    let pw2 = secret_file(root, "password2", OTHER_PASSWORD);
    let mypw = secret_file(root, "mysql-password", MYSQL_ROOT_PASSWORD);
    let repo = root.join("repo").to_string_lossy().into_owned();
    let repo2 = root.join("repo2").to_string_lossy().into_owned();
    let mut main = restic_spec(root, "files-db", &repo, &pw, &[&src]);
    main["steps"] = json!([
        {"step": "postgres", "databases": ["app"], "host": "127.0.0.1", "port": pg.port,
         "user": "postgres"},
        {"step": "mysql", "databases": ["shop"], "host": "127.0.0.1", "port": maria.port,
         "user": "backup", "password": {"from": "file", "path": mypw.to_string_lossy()}},
    ]);
    let main_path = write_spec_named(&jobs, "files-db", &main);
    let other = restic_spec(root, "etc", &repo2, &pw2, &[&etc]);
    let other_path = write_spec_named(&jobs, "etc", &other);
    let mut rsync = common::spec(root, &[&etc]);
    rsync["job"] = json!("local");
    write_spec_named(&jobs, "local", &rsync);
    // A fourth over sftp, through the job's own ssh settings.
    let sshd = common::Sshd::start();
    let repo3 = root.join("sftp repo");
    let mut remote = restic_spec(
        root,
        "remote",
        &format!("sftp:root@127.0.0.1:{}", repo3.display()),
        &pw,
        &[&etc],
    );
    remote["destination"]["ssh"] = json!({
        "port": sshd.port,
        "identity": sshd.client_key.to_string_lossy(),
        "known-hosts": sshd.known_hosts.to_string_lossy(),
    });
    let remote_path = write_spec_named(&jobs, "remote", &remote);
    // A job of another host is left out.
    let mut foreign = restic_spec(root, "web", &repo, &pw, &[&etc]);
    foreign["host"] = json!("h2");
    write_spec_named(&jobs, "web", &foreign);

    for spec in [&main_path, &other_path, &remote_path] {
        assert_code(&bakrun(&["init", spec.to_str().unwrap()]), 0);
    }
    run_job(&main_path);
    // The newest run is the one restored: change a file and a row, run again.
    fs::write(src.join("plain.txt"), "plain, second version\n").unwrap();
    pg.psql("app", "UPDATE invoices SET who = 'changed' WHERE id = 7");
    timed("backup files + 2 dumps", || run_job(&main_path));
    run_job(&other_path);
    run_job(&remote_path);

    let out = bakrun(&["restore-script", "h1", "--jobs-dir", jobs.to_str().unwrap()]);
    assert_code(&out, 0);
    let script_text = String::from_utf8(out.stdout).unwrap();
    for secret in [PASSWORD, OTHER_PASSWORD, MYSQL_ROOT_PASSWORD] {
        assert!(!script_text.contains(secret), "the script holds a secret");
    }
    assert!(script_text.contains("begin_job etc") && script_text.contains("begin_job files-db"));
    assert!(!script_text.contains("job web"), "h2's job is not h1's");
    let script = root.join("restore-h1.sh");
    fs::write(&script, &script_text).unwrap();

    // Fresh servers on the "new machine".
    let pg_new = timed("fresh postgres", Postgres::start);
    let maria_new = timed("fresh mariadb", Mariadb::start);
    let psql = format!("{PG_BIN}/psql -h 127.0.0.1 -U postgres -p {}", pg_new.port);
    let mysql = format!(
        "mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -u backup -P {}",
        maria_new.port
    );
    let target = root.join("new-root");
    let tmp = root.join("tmp");
    fs::create_dir_all(&tmp).unwrap();
    // Passwords typed in, in the order of the jobs (etc, files-db, remote).
    let typed = format!("{OTHER_PASSWORD}\n{PASSWORD}\n{PASSWORD}\n");
    // A restic in front of the real one looks in TMPDIR for a typed password each time
    // the script runs restic: a script killed at that moment would leave any it finds.
    let spy = root.join("spy");
    fs::create_dir_all(&spy).unwrap();
    let found = root.join("passwords found in TMPDIR");
    let calls = root.join("restic calls");
    fs::write(
        spy.join("restic"),
        format!(
            "#!/bin/sh\necho >> '{}'\ngrep -rlF -e '{PASSWORD}' -e \"{OTHER_PASSWORD}\" '{}' >> '{}'\nexec /usr/bin/restic \"$@\"\n",
            calls.display(),
            tmp.display(),
            found.display()
        ),
    )
    .unwrap();
    fs::set_permissions(spy.join("restic"), fs::Permissions::from_mode(0o755)).unwrap();
    let spy_path = format!("{}:/usr/bin:/bin", spy.display());
    let out = timed("restore script --databases", || {
        run_script(
            &script,
            &["--databases", target.to_str().unwrap()],
            &[
                ("PSQL", &psql),
                ("MYSQL", &mysql),
                ("MYSQL_PWD", MYSQL_ROOT_PASSWORD),
                ("TMPDIR", tmp.to_str().unwrap()),
                ("PATH", &spy_path),
            ],
            &typed,
        )
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_code(&out, 0);
    assert!(stderr.contains("Password of restic repository"), "{stderr}");

    // Files: the same trees under the target root, awkward ones included.
    let restored = target.join(src.strip_prefix("/").unwrap());
    assert_eq!(differences(&src, &restored), "", "restored tree differs");
    let restored_etc = target.join(etc.strip_prefix("/").unwrap());
    assert_eq!(differences(&etc, &restored_etc), "");
    assert!(
        stderr.contains("job remote: restoring snapshot"),
        "the sftp job is restored too: {stderr}"
    );
    // Databases: the rows of the newest run, in the fresh servers.
    let rows = |p: &Postgres| {
        p.psql(
            "app",
            "SELECT count(*), sum(id), string_agg(who, ',' ORDER BY id) FROM invoices",
        )
    };
    assert_eq!(rows(&pg_new), rows(&pg));
    assert!(rows(&pg_new).contains("changed"));
    assert_eq!(
        maria_new.sql("SELECT id, name FROM shop.items ORDER BY id"),
        maria.sql("SELECT id, name FROM shop.items ORDER BY id")
    );
    // The dumps stay as files; the rsync job is explained, not guessed.
    let dumps = target.join("var/lib/bakgen/restored-dumps/files-db");
    assert!(fs::read_to_string(dumps.join("app.sql"))
        .unwrap()
        .contains("CREATE DATABASE app"));
    assert!(dumps.join("shop.sql").is_file());
    assert!(
        stdout.contains("job local: from the backup disk") && stdout.contains("rsync -aHAXS"),
        "{stdout}"
    );
    // The typed passwords were in no file, even while restic ran.
    assert_eq!(common::entries(&tmp), Vec::<String>::new());
    assert!(fs::read_to_string(&calls).unwrap().lines().count() >= 4);
    assert_eq!(fs::read_to_string(&found).unwrap(), "");

    // Without --databases: the dumps are saved and the exact commands printed.
    let target2 = root.join("second-root");
    let out = run_script(
        &script,
        &[target2.to_str().unwrap()],
        &[("RESTIC_PASSWORD_FILE", pw.to_str().unwrap())],
        "",
    );
    // The shared password file does not open the second repository: that job fails,
    // the other is restored, and the script says which failed.
    assert_code(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("FAILED for job(s): etc\n"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("psql -X -v ON_ERROR_STOP=1 -d postgres -f") && stdout.contains("mysql < "),
        "{stdout}"
    );
    assert!(target2
        .join("var/lib/bakgen/restored-dumps/files-db/app.sql")
        .is_file());

    // --list restores nothing.
    let out = run_script(&script, &["--list"], &[], &typed);
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("job=files-db"));

    // A wrong password: exit 1, named, nothing claimed done.
    let target3 = root.join("third-root");
    let out = run_script(&script, &[target3.to_str().unwrap()], &[], "wrong\nwrong\n");
    assert_code(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("FAILED for job(s): etc files-db remote"),
        "{stderr}"
    );
    assert!(!stderr.contains("== done"));
}

#[test]
fn unknown_host_and_missing_folder_are_refused_clearly() {
    let t = TempDir::new("restore-script-bad");
    let root = t.path();
    let pw = secret_file(root, "password", PASSWORD);
    let jobs = root.join("jobs");
    fs::create_dir_all(&jobs).unwrap();
    let spec = restic_spec(root, "files", "/nonexistent/repo", &pw, &[root]);
    write_spec_named(&jobs, "files", &spec);

    let out = bakrun(&[
        "restore-script",
        "nope",
        "--jobs-dir",
        jobs.to_str().unwrap(),
    ]);
    assert_code(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no job of host `nope`") && err.contains("h1"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let out = bakrun(&[
        "restore-script",
        "h1",
        "--jobs-dir",
        root.join("missing").to_str().unwrap(),
    ]);
    assert_code(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--jobs-dir"));

    fs::write(jobs.join("broken.json"), "{").unwrap();
    let out = bakrun(&["restore-script", "h1", "--jobs-dir", jobs.to_str().unwrap()]);
    assert_code(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.json"));
    assert!(out.stdout.is_empty());
}
