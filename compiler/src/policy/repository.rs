//! A restic repository's location, parsed once from what the policy wrote, so that later
//! stages ask "is it local?" or "is it sftp?" of a value instead of testing prefixes.

/// Where a restic repository lives. `{host}` and `{job}` placeholders stay in the parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repository {
    /// An absolute path on the machine that runs the job (a local or mounted disk).
    Local { path: String },
    /// `sftp:user@host:/path`, or `sftp://user@host[:port]//path`.
    Sftp { server: String, path: String },
    /// `rest:http(s)://…`: a restic REST server.
    Rest { url: String },
    /// `s3:endpoint/bucket/prefix`.
    S3 { location: String },
    /// Another backend restic knows (`b2:`, `azure:`, `gs:`, `rclone:`), passed through.
    Other {
        backend: &'static str,
        location: String,
    },
}

const SFTP: &str = "sftp:";

/// Backends bakgen passes to restic without looking inside.
const OTHER_BACKENDS: [&str; 4] = ["b2", "azure", "gs", "rclone"];

impl Repository {
    /// The location `text` names, or `None` when it is no form restic knows.
    pub fn parse(text: &str) -> Option<Repository> {
        if text.starts_with('/') {
            return Some(Repository::Local {
                path: text.to_owned(),
            });
        }
        if let Some(rest) = text.strip_prefix(SFTP) {
            if let Some(after) = rest.strip_prefix("//") {
                let (server, path) = after.split_once('/').unwrap_or((after, ""));
                return Some(Repository::Sftp {
                    server: server.to_owned(),
                    path: path.to_owned(),
                });
            }
            let (server, path) = rest.split_once(':')?;
            return Some(Repository::Sftp {
                server: server.to_owned(),
                path: path.to_owned(),
            });
        }
        if let Some(url) = text.strip_prefix("rest:") {
            if url.starts_with("http://") || url.starts_with("https://") {
                return Some(Repository::Rest {
                    url: url.to_owned(),
                });
            }
            return None;
        }
        if let Some(location) = text.strip_prefix("s3:") {
            return Some(Repository::S3 {
                location: location.to_owned(),
            });
        }
        let (backend, location) = text.split_once(':')?;
        let backend = OTHER_BACKENDS.into_iter().find(|b| *b == backend)?;
        Some(Repository::Other {
            backend,
            location: location.to_owned(),
        })
    }

    /// On a disk of the machine that runs the job: needs the mount, no network.
    pub fn is_local(&self) -> bool {
        matches!(self, Repository::Local { .. })
    }

    /// Written with the sftp backend, whether or not the rest of it parses.
    pub fn names_sftp(text: &str) -> bool {
        text.starts_with(SFTP)
    }

    pub fn is_sftp(&self) -> bool {
        matches!(self, Repository::Sftp { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::Repository::{self, *};

    #[test]
    fn each_form_parses_into_its_parts() {
        let cases: [(&str, Option<Repository>); 10] = [
            (
                "/srv/restic/{host}",
                Some(Local {
                    path: "/srv/restic/{host}".into(),
                }),
            ),
            (
                "sftp:backup@nas:/repo",
                Some(Sftp {
                    server: "backup@nas".into(),
                    path: "/repo".into(),
                }),
            ),
            (
                "sftp://backup@nas:2222//repo",
                Some(Sftp {
                    server: "backup@nas:2222".into(),
                    path: "/repo".into(),
                }),
            ),
            ("sftp:nas", None),
            (
                "rest:https://h/r",
                Some(Rest {
                    url: "https://h/r".into(),
                }),
            ),
            ("rest:ftp://h/r", None),
            (
                "s3:https://h/bucket",
                Some(S3 {
                    location: "https://h/bucket".into(),
                }),
            ),
            (
                "b2:bucket:path",
                Some(Other {
                    backend: "b2",
                    location: "bucket:path".into(),
                }),
            ),
            ("swift:c:/p", None),
            ("relative/path", None),
        ];
        for (text, want) in cases {
            assert_eq!(Repository::parse(text), want, "{text}");
        }
        assert!(Repository::parse("/r").is_some_and(|r| r.is_local() && !r.is_sftp()));
    }
}
