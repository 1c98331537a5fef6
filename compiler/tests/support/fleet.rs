//! A generated fleet policy, for the benchmarks (`benches/fleet.rs`, `check.rs`,
//! `build.rs`) and the fleet build tests: every host runs a mix of jobs — plain files to
//! a USB disk and to three kinds of restic repository, PostgreSQL and MySQL dumps, LVM and
//! btrfs snapshot steps, a pull, pings —, each host with calendar expressions of its own,
//! so no bundle is a copy of another with only the names changed.

/// Schedules the jobs cycle through; the minute (and for some the hour) comes from the
/// host, so a fleet of a few hundred hosts has several hundred distinct expressions.
fn calendar(h: usize, j: usize) -> String {
    let minute = (h * 7 + j * 11) % 60;
    let hour = (h / 60 + j * 5) % 24;
    match (h + j) % 6 {
        0 => format!("*-*-* {hour:02}:{minute:02}"),
        1 => format!("Mon..Fri *-*-* {hour:02}:{minute:02}"),
        2 => format!("*-*-* 0/{}:{minute:02}", 2 + (h + j) % 5),
        3 => format!("*:{minute:02}"),
        4 => format!("Sat,Sun *-*-* {hour:02}:{minute:02}:{:02}", (h + j) % 60),
        _ => format!("*-*-01,15 {hour:02}:{minute:02}"),
    }
}

/// `hosts` hosts of `jobs` jobs each (at most 10 kinds; more repeat the kinds).
pub fn policy(hosts: usize, jobs: usize) -> String {
    let mut s = String::from(
        r#"defaults {
    schedule "daily" jitter="30m"
    retention keep-daily=7 keep-weekly=4 keep-monthly=12
    nice 10
    io-class "idle"
    timeout "6h"
    on-failure "/usr/local/bin/notify-ops" "--channel=backups"
}
secret "repo" file="/etc/bakgen/secrets/repo"
secret "s3-key-id" file="/etc/bakgen/secrets/s3-key-id"
secret "s3-secret-key" credential="/etc/credstore.encrypted/s3-secret-key"
secret "mysql" file="/etc/bakgen/secrets/mysql"
secret "ping" file="/etc/bakgen/secrets/ping"
destination "usb" {
    path "/mnt/usb"
    device "/dev/disk/by-label/usb" fstype="ext4" options="noatime" idle-timeout="10m"
    read-only-view "/var/backups"
}
destination "nas" { path "/srv/nas-backup"; }
destination "offsite" {
    restic "sftp:backup@vault.example.net:/srv/restic/{host}"
    password secret="repo"
    prune-schedule "Sun *-*-* 04:00" jitter="30m"
    check-schedule "monthly" read-data="5%"
}
destination "s3" {
    restic "s3:https://s3.example.com/fleet/{host}/{job}"
    password secret="repo"
    env "AWS_ACCESS_KEY_ID" secret="s3-key-id"
    env "AWS_SECRET_ACCESS_KEY" secret="s3-secret-key"
    limit-upload "8MiB"
}
destination "rest" {
    restic "rest:https://restic.example.org/{host}"
    password secret="repo"
}
template "files" { exclude "*.tmp" "/var/cache"; retention keep-daily=14 keep-weekly=8; }
template "db" { timeout "2h"; nice 5; }
"#,
    );
    for h in 0..hosts {
        s.push_str(&format!(
            "host \"host{h:05}\" address=\"host{h:05}.example.net\" {{\n"
        ));
        for j in 0..jobs {
            let when = calendar(h, j);
            let body = match j % 10 {
                0 => "template=\"files\" {\n        source \"/etc\" \"/home\"\n        to \"usb\"".to_owned(),
                1 => format!("template=\"files\" {{\n        source \"/srv/app{h}\" \"/var/lib/app\"\n        to \"offsite\"\n        limit-upload \"2MiB\""),
                2 => "template=\"db\" {\n        postgres \"billing\" \"inventory\" user=\"postgres\"\n        to \"s3\"".to_owned(),
                3 => "template=\"db\" {\n        mysql \"shop\" user=\"backup\" password-secret=\"mysql\" host=\"127.0.0.1\" port=3306\n        to \"s3\"".to_owned(),
                4 => "{\n        lvm-snapshot \"vg0/root\" size=\"20%ORIGIN\"\n        source \"/\"\n        exclude \"/mnt\" \"/proc\" \"/sys\" \"/dev\" \"/run\" \"/tmp\" \"/srv\" \"/var/backups\"\n        to \"nas\"".to_owned(),
                5 => "{\n        btrfs-snapshot \"/home\"\n        source \"/home\"\n        exclude \"/home/*/.cache\"\n        to \"rest\"".to_owned(),
                6 => format!("template=\"files\" {{\n        source \"/var/log/app{j}\"\n        to \"usb\"\n        ping secret=\"ping\""),
                7 => "{\n        source \"/opt\"\n        to \"rest\"\n        ping \"https://ntfy.example.net/fleet\" kind=\"ntfy\"\n        retention keep-hourly=24 keep-daily=7".to_owned(),
                8 => format!("{{\n        from \"host{:05}\" user=\"root\" identity=\"/root/.ssh/id_backup\"\n        source \"/etc\" \"/srv\"\n        to \"nas\"", (h + 1) % hosts.max(1)),
                _ => "template=\"files\" {\n        source \"/root\" \"/usr/local\"\n        to \"offsite\"\n        nice 19".to_owned(),
            };
            let jitter = 5 + (h + j) % 40;
            s.push_str(&format!(
                "    job \"job{j}\" {body}\n        schedule \"{when}\" jitter=\"{jitter}m\"\n    }}\n"
            ));
        }
        s.push_str("}\n");
    }
    s
}
