//! An `sftp:` repository: its user, host and port read as restic reads them, and the ssh
//! command restic's sftp backend runs with bakrun's ssh options.

use crate::engine::EngineError;
use crate::spec::SftpSsh;

/// User, host and port of an `sftp:` repository, read as restic 0.14 reads them
/// (`sftp:user@host:/path`, `sftp:host:path`, `sftp://user@host:port//path`); `None` for
/// other repositories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SftpTarget {
    user: Option<String>,
    host: String,
    port: Option<u16>,
}

pub(super) fn sftp_target(repository: &str) -> Result<Option<SftpTarget>, EngineError> {
    let invalid = |why: &str| {
        EngineError::Invalid(format!(
            "sftp repository `{repository}` {why}; write sftp:user@host:/path or sftp://user@host:port//path"
        ))
    };
    let (user, host, port) = if let Some(rest) = repository.strip_prefix("sftp://") {
        let authority = rest.split('/').next().unwrap_or_default();
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_owned()), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
            let (h, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("has an unclosed `[`"))?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        let port = match port.filter(|p| !p.is_empty()) {
            Some(p) => Some(
                p.parse::<u16>()
                    .map_err(|_| invalid("has a port that is not a number from 1 to 65535"))?,
            ),
            None => None,
        };
        (user, host.to_owned(), port)
    } else if let Some(rest) = repository.strip_prefix("sftp:") {
        let (userhost, _path) = rest
            .split_once(':')
            .ok_or_else(|| invalid("names no path"))?;
        let (user, host) = match userhost.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_owned()), h),
            None => (None, userhost),
        };
        (user, host.to_owned(), None)
    } else {
        return Ok(None);
    };
    if host.is_empty() {
        return Err(invalid("names no host"));
    }
    // ssh would read `-oProxyCommand=…` as an option, not as a host or user.
    if host.starts_with('-')
        || user
            .as_deref()
            .is_some_and(|u| u.starts_with('-') || u.is_empty())
    {
        return Err(invalid(
            "has a host or user that starts with `-` or is empty",
        ));
    }
    Ok(Some(SftpTarget { user, host, port }))
}

/// The ssh command restic's sftp backend runs (`-o sftp.command=`), with bakrun's ssh
/// options: no password prompt, host keys always checked, the job's key and known_hosts.
/// Written for restic's own word splitting, which knows quotes but no escapes.
pub(super) fn sftp_command(
    target: &SftpTarget,
    ssh: Option<&SftpSsh>,
) -> Result<String, EngineError> {
    let port = match (target.port, ssh.and_then(|s| s.port)) {
        (Some(a), Some(b)) if a != b => {
            return Err(EngineError::Invalid(format!(
                "the sftp repository says port {a} but the destination's ssh says port {b}"
            )))
        }
        (a, b) => a.or(b),
    };
    let mut words = vec!["ssh".to_owned()];
    words.extend(crate::engine::ssh_options(
        port,
        ssh.and_then(|s| s.identity.as_deref()),
        ssh.and_then(|s| s.known_hosts.as_deref()),
    ));
    if let Some(user) = &target.user {
        words.push("-l".into());
        words.push(user.clone());
    }
    // `-s HOST sftp`: the sftp subsystem on HOST.
    words.extend(["-s".into(), target.host.clone(), "sftp".into()]);
    let quoted = words
        .iter()
        .map(|w| restic_quote(w))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(quoted.join(" "))
}

/// One word for restic's command-line splitting (`sftp.command`): bare when it has no
/// blank or quote, else in double quotes, else in single quotes. restic knows no escapes,
/// so an empty word, one with both kinds of quote or with a backslash is refused.
fn restic_quote(word: &str) -> Result<String, EngineError> {
    let refuse = || {
        EngineError::Invalid(format!(
            "`{word}` cannot be handed to restic's sftp backend: it is empty or holds a backslash or both kinds of quote"
        ))
    };
    if word.is_empty() || word.contains('\\') {
        return Err(refuse());
    }
    let special = |c: char| c.is_whitespace() || c == '"' || c == '\'';
    if !word.contains(special) {
        Ok(word.to_owned())
    } else if !word.contains('"') {
        Ok(format!("\"{word}\""))
    } else if !word.contains('\'') {
        Ok(format!("'{word}'"))
    } else {
        Err(refuse())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sftp_repositories_as_restic_does() {
        let t = |r: &str| sftp_target(r).unwrap();
        assert_eq!(t("/srv/restic"), None);
        assert_eq!(t("rest:http://h/x"), None);
        assert_eq!(
            t("sftp:backup@vault:/srv/restic"),
            Some(SftpTarget {
                user: Some("backup".into()),
                host: "vault".into(),
                port: None
            })
        );
        assert_eq!(
            t("sftp:vault:relative/path").map(|s| (s.user, s.host)),
            Some((None, "vault".into()))
        );
        assert_eq!(
            t("sftp://me@[::1]:2222//srv/r"),
            Some(SftpTarget {
                user: Some("me".into()),
                host: "::1".into(),
                port: Some(2222)
            })
        );
        assert_eq!(t("sftp://h/r").map(|s| s.port), Some(None));
        for bad in [
            "sftp:nohostpath",
            "sftp::/p",
            "sftp:-oProxyCommand=x:/p",
            "sftp://h:99999/p",
        ] {
            assert!(sftp_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn builds_the_sftp_command_for_restics_word_splitting() {
        let target = sftp_target("sftp:root@127.0.0.1:/srv/r").unwrap().unwrap();
        let ssh = SftpSsh {
            port: Some(2222),
            identity: Some("/keys/my key".into()),
            known_hosts: Some("/etc/it's known".into()),
        };
        assert_eq!(
            sftp_command(&target, Some(&ssh)).unwrap(),
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o \"UserKnownHostsFile=/etc/it's known\" \
             -o IdentitiesOnly=yes -i \"/keys/my key\" -p 2222 -l root -s 127.0.0.1 sftp"
        );
        assert_eq!(
            sftp_command(&target, None).unwrap(),
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -l root -s 127.0.0.1 sftp"
        );
        let with_port = sftp_target("sftp://h:22//r").unwrap().unwrap();
        assert!(sftp_command(&with_port, Some(&ssh)).is_err());
        assert_eq!(restic_quote("a\"b").unwrap(), "'a\"b'");
        assert!(restic_quote("a'\"b").is_err());
        assert!(restic_quote("a\\b").is_err());
        assert!(restic_quote("").is_err());
    }
}
