//! Values that land in unit files and unit names must be ones systemd can carry there
//! (control characters are refused for every string by the policy reader): systemd strips
//! whitespace around a setting, refuses paths with `.`/`..` components, credential names it
//! cannot use as file and descriptor names, and unit or file names over 255 bytes.

use std::collections::BTreeSet;

use crate::diagnostic::{Diagnostic, Diagnostics};
use bakgen_spec::atomic::TEMPORARY_EXTRA;

use crate::emit::{name_fragment, path_unit_name, repository, service_name, verify_service_name};
use crate::policy::{Destination, DestinationKind, Policy, SecretSource, Spanned};
use crate::resolve::ResolvedJob;

/// Longest unit name systemd loads, and longest file name on Linux (bytes).
const NAME_MAX: usize = 255;
/// Longest path systemd accepts (PATH_MAX less the terminating NUL).
const PATH_MAX: usize = 4095;

pub fn check(policy: &Policy, jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    for host in &policy.hosts {
        name(&host.name, "host", diags);
        // The host's folder in `build --out` and in every snapshot destination.
        let len = host.name.value.len();
        let why = format!("it has {len} bytes and names a folder");
        too_long(&host.name, "host name", len, &why, diags);
        for job in &host.jobs {
            name(&job.name, "job", diags);
            // Its longest unit name, bakgen-notify@<job>.service, is shorter than its
            // longest file with the temporary name's extra: one rule covers both.
            job_files(host, job, jobs, diags);
        }
    }
    for d in &policy.destinations {
        destination(d, jobs, diags);
    }
    for s in &policy.secrets {
        name(&s.name, "secret", diags);
        credential_name(&s.name, diags);
        let len = s.name.value.len();
        let why = format!("it has {len} bytes, and systemd's credential names are file names");
        too_long(&s.name, "secret name", len, &why, diags);
        if let SecretSource::File(p) | SecretSource::Credential(p) = &s.source {
            unit_path(p, "secret path", diags);
        }
    }
    if let Some(bakrun) = policy.install.as_ref().and_then(|i| i.bakrun.as_ref()) {
        executable(bakrun, diags);
    }
    // A template's subvolume is checked once, however many jobs use it.
    let mut subvolumes = BTreeSet::new();
    for b in jobs
        .iter()
        .filter_map(|j| j.settings.btrfs_snapshot.as_ref())
    {
        if subvolumes.insert(b.subvolume.span.clone()) {
            unit_path(&b.subvolume, "btrfs-snapshot subvolume", diags);
        }
    }
}

fn destination(d: &Destination, jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    name(&d.name, "destination", diags);
    match &d.kind {
        DestinationKind::Restic(r) => {
            let unit = format!("bakgen-prune-{}.service", name_fragment(&d.name.value));
            let why = format!("its maintenance unit is {}", shown_unit(&unit));
            too_long(&d.name, "destination name", unit.len(), &why, diags);
            // A local repository as each job fills in `{host}` and `{job}`, which can only
            // make it longer once the form itself is right (names hold no `/`).
            if r.local_path().is_some() && unit_path(&r.url, "restic repository", diags) {
                let mut paths = BTreeSet::new();
                let users = jobs.iter().filter(|j| {
                    j.settings
                        .to
                        .as_ref()
                        .is_some_and(|t| t.value == d.name.value)
                });
                for job in users {
                    let path = repository(&r.url.value, &job.host.name.value, &job.name().value);
                    if paths.insert(path.clone()) {
                        let filled = Spanned::new(path, r.url.span.clone());
                        unit_path(&filled, "restic repository", diags);
                    }
                }
            }
        }
        DestinationKind::Snapshots(s) => {
            unit_path(&s.path, "destination path", diags);
            if let Some(device) = &s.device {
                unit_path(&device.what, "device", diags);
                mount_unit_name(&s.path, diags);
                for v in [&device.fstype, &device.options].into_iter().flatten() {
                    no_surrounding_space(v, "mount setting", diags);
                }
            }
            if let Some(view) = &s.read_only_view {
                unit_path(view, "read-only-view", diags);
                mount_unit_name(view, diags);
            }
        }
    }
}

/// A value with a control character: reported by the policy reader already.
fn reported(value: &Spanned<String>) -> bool {
    value.value.chars().any(char::is_control)
}

/// The first `max` characters of `text`, `…` when cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

fn shown_unit(unit: &str) -> String {
    format!("`{}` ({} bytes)", cut(unit, 60), unit.len())
}

/// systemd strips whitespace around every setting, so a name ending in a space would not
/// be the name the unit's description and the job spec agree on.
fn name(name: &Spanned<String>, what: &str, diags: &mut Diagnostics) {
    if reported(name) || name.value.trim() == name.value {
        return;
    }
    diags.push(
        Diagnostic::error(
            "bakgen::invalid-name",
            format!(
                "{what} name `{}` begins or ends with whitespace",
                name.value
            ),
            name.span.clone(),
        )
        .label("whitespace at an end")
        .help("remove the spaces around the name; systemd strips them from unit settings"),
    );
}

fn no_surrounding_space(value: &Spanned<String>, what: &str, diags: &mut Diagnostics) {
    if reported(value) || value.value.trim() == value.value {
        return;
    }
    diags.push(
        Diagnostic::error(
            "bakgen::invalid-value",
            format!("{what} `{}` begins or ends with whitespace", value.value),
            value.span.clone(),
        )
        .label("whitespace at an end")
        .help("remove the spaces; systemd strips them from unit settings"),
    );
}

/// `LoadCredential=` takes names that are both file names and descriptor names: printable
/// ASCII without `:` (systemd ignores the credential otherwise, and every run fails).
fn credential_name(name: &Spanned<String>, diags: &mut Diagnostics) {
    if reported(name) {
        return;
    }
    let Some(bad) = name
        .value
        .chars()
        .find(|c| !(' '..='~').contains(c) || *c == ':')
    else {
        return;
    };
    diags.push(
        Diagnostic::error(
            "bakgen::invalid-name",
            format!(
                "secret name `{}` holds `{bad}`, which a systemd credential name cannot",
                name.value
            ),
            name.span.clone(),
        )
        .label("not a credential name")
        .help("a secret is handed to the job as a systemd credential under its name: use printable ASCII without `:` (letters, digits, `-`, `_`, `.`)"),
    );
}

/// The job's longest file, its restore drill's unit when it has one (else its service), is
/// written through a temporary name [`TEMPORARY_EXTRA`] bytes longer.
fn job_files(
    host: &crate::policy::Host,
    job: &crate::policy::Job,
    jobs: &[ResolvedJob<'_>],
    diags: &mut Diagnostics,
) {
    let drill = jobs
        .iter()
        .find(|r| std::ptr::eq(r.host, host) && std::ptr::eq(r.job, job))
        .is_some_and(|r| r.settings.verify.is_some());
    let file = if drill {
        verify_service_name(&job.name.value)
    } else {
        service_name(&job.name.value)
    };
    let why = format!(
        "its unit file {} is written through a temporary name {TEMPORARY_EXTRA} bytes longer",
        shown_unit(&file)
    );
    too_long(
        &job.name,
        "job name",
        file.len() + TEMPORARY_EXTRA,
        &why,
        diags,
    );
}

fn too_long(value: &Spanned<String>, what: &str, len: usize, why: &str, diags: &mut Diagnostics) {
    if len <= NAME_MAX {
        return;
    }
    diags.push(
        Diagnostic::error(
            "bakgen::too-long",
            format!("{what} `{}` is too long: {why}", cut(&value.value, 40)),
            value.span.clone(),
        )
        .label(format!("over the limit of {NAME_MAX} bytes"))
        .help(format!("shorten it: unit and file names are at most {NAME_MAX} bytes, and in a unit name every character but letters, digits and `:_.-` takes 4 bytes or more")),
    );
}

/// The `.mount` and `.automount` units of a mounted path are named after it.
fn mount_unit_name(path: &Spanned<String>, diags: &mut Diagnostics) {
    let unit = format!("{}.automount", path_unit_name(&path.value));
    let why = format!("its automount unit is {}", shown_unit(&unit));
    too_long(path, "path", unit.len(), &why, diags);
}

/// The program of every `ExecStart=`: a path systemd takes, naming a file.
fn executable(path: &Spanned<String>, diags: &mut Diagnostics) {
    if unit_path(path, "bakrun path", diags) && path.value.ends_with('/') {
        diags.push(
            Diagnostic::error(
                "bakgen::invalid-path",
                format!("bakrun path `{}` names a folder", path.value),
                path.span.clone(),
            )
            .label("not a program")
            .help("name the binary itself, e.g. \"/usr/local/bin/bakrun\""),
        );
    }
}

/// A path in `RequiresMountsFor=`, `ReadWritePaths=`, `Where=`, `What=` or `LoadCredential=`:
/// systemd refuses `.` and `..` components and empty ones in some of them, paths over
/// 4095 bytes or with a component over 255, and strips trailing whitespace. True when
/// the path is fine.
pub(super) fn unit_path(path: &Spanned<String>, what: &str, diags: &mut Diagnostics) -> bool {
    let v = &path.value;
    // Relative paths and control characters are reported by the policy reader.
    let Some(rest) = v.strip_prefix('/') else {
        return false;
    };
    if reported(path) {
        return false;
    }
    let components: Vec<&str> = rest.strip_suffix('/').unwrap_or(rest).split('/').collect();
    let odd_component = !rest.is_empty()
        && components
            .iter()
            .any(|c| c.is_empty() || *c == "." || *c == "..");
    let problem = if v.trim_end() != v {
        Some("ends with whitespace, which systemd strips")
    } else if odd_component {
        Some("has an empty, `.` or `..` component, which systemd refuses")
    } else {
        None
    };
    if let Some(problem) = problem {
        diags.push(
            Diagnostic::error(
                "bakgen::invalid-path",
                format!("{what} `{v}` {problem}"),
                path.span.clone(),
            )
            .label("not a path systemd takes")
            .help("write the path plainly: one `/` between folders, no `.` or `..`, no space at the end"),
        );
        return false;
    }
    let long = components.iter().find(|c| c.len() > NAME_MAX);
    if v.len() <= PATH_MAX && long.is_none() {
        return true;
    }
    let why = match long {
        Some(c) => format!("its component `{}` has {} bytes", cut(c, 40), c.len()),
        None => format!("it has {} bytes", v.len()),
    };
    diags.push(
        Diagnostic::error(
            "bakgen::too-long",
            format!("{what} `{}` is too long: {why}", cut(v, 40)),
            path.span.clone(),
        )
        .label("too long for systemd")
        .help(format!(
            "a path is at most {PATH_MAX} bytes, each folder or file name at most {NAME_MAX}"
        )),
    );
    false
}
