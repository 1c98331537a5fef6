//! The generated fleet policy both benchmarks use.

/// `hosts` hosts of `jobs` jobs each, alternating snapshot and restic destinations.
pub fn policy(hosts: usize, jobs: usize) -> String {
    let mut s = String::from(
        "defaults {\n    schedule \"daily\" jitter=\"30m\"\n    retention keep-daily=7 keep-weekly=4 keep-monthly=12\n}\n\
         secret \"repo\" file=\"/etc/bakgen/secrets/repo\"\n\
         destination \"usb\" { path \"/mnt/usb\"; }\n\
         destination \"offsite\" { restic \"sftp:backup@vault:/srv/{host}\"; password secret=\"repo\"; }\n\
         template \"base\" { exclude \"*.tmp\" \"/var/cache\"; nice 10; io-class \"idle\"; }\n",
    );
    for h in 0..hosts {
        s.push_str(&format!(
            "host \"host{h:04}\" address=\"host{h:04}.example.net\" {{\n"
        ));
        for j in 0..jobs {
            let to = if j % 2 == 0 { "usb" } else { "offsite" };
            s.push_str(&format!(
                "    job \"job{j}\" template=\"base\" {{\n        source \"/srv/data{j}\" \"/etc/app{j}\"\n        to \"{to}\"\n        schedule \"*-*-* {:02}:{:02}\" jitter=\"10m\"\n        timeout \"2h\"\n    }}\n",
                j % 24,
                (h * 7 + j) % 60
            ));
        }
        s.push_str("}\n");
    }
    s
}
