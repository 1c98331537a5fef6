//! The local time zone, found the way the C library finds it.

use std::str::FromStr;

use chrono_tz::Tz;

/// The zone that expressions without one of their own are evaluated in: the `TZ`
/// environment variable if set (an IANA name, optionally behind a leading `:` as POSIX
/// allows), else the zone `/etc/localtime` links to, else UTC.
pub fn local_timezone() -> Tz {
    if let Some(tz) = std::env::var_os("TZ") {
        let tz = tz.to_string_lossy();
        let name = tz.strip_prefix(':').unwrap_or(&tz);
        if name.is_empty() {
            // An empty TZ means UTC to glibc.
            return Tz::UTC;
        }
        return zone_from_name(name).unwrap_or(Tz::UTC);
    }
    system_timezone().unwrap_or(Tz::UTC)
}

/// The zone `/etc/localtime` links to, if it is a link to a known zone.
pub(crate) fn system_timezone() -> Option<Tz> {
    let target = std::fs::read_link("/etc/localtime").ok()?;
    let target = target.to_string_lossy().into_owned();
    // The link may be relative ("../usr/share/zoneinfo/…") or absolute.
    let (_, name) = target.split_once("zoneinfo/")?;
    zone_from_name(name)
}

/// An IANA zone name, also when written as a path into the zoneinfo folder.
fn zone_from_name(name: &str) -> Option<Tz> {
    let name = name
        .strip_prefix("/usr/share/zoneinfo/")
        .or_else(|| name.strip_prefix("/usr/lib/zoneinfo/"))
        .unwrap_or(name);
    Tz::from_str(name).ok()
}
