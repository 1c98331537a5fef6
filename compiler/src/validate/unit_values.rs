//! Values that land in unit files and unit names must be ones systemd can carry there
//! (control characters are refused for every string by the policy reader): systemd strips
//! whitespace around a setting, refuses paths with `.`/`..` components, credential names it
//! cannot use as file and descriptor names, and unit or file names over 255 bytes.

use std::collections::BTreeSet;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::emit::{name_fragment, path_unit_name, service_name};
use crate::policy::{DestinationKind, Policy, SecretSource, Spanned};
use crate::resolve::ResolvedJob;

/// Longest unit name systemd loads, and longest file name on Linux (bytes).
const NAME_MAX: usize = 255;
/// Longest path systemd accepts (PATH_MAX less the terminating NUL).
const PATH_MAX: usize = 4095;

pub fn check(policy: &Policy, jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    let mut seen = BTreeSet::new();
    for host in &policy.hosts {
        name(&host.name, "host", diags);
        // The host's folder in `build --out` and in every snapshot destination.
        too_long(
            &host.name,
            "host name",
            host.name.value.len(),
            diags,
            &format!("it has {} bytes and names a folder", host.name.value.len()),
        );
        for job in &host.jobs {
            name(&job.name, "job", diags);
            // A failing job starts bakgen-notify@<its service>.service, the longest of its units.
            let unit = format!("bakgen-notify@{}.service", service_name(&job.name.value));
            too_long(
                &job.name,
                "job name",
                unit.len(),
                diags,
                &format!("its failure notification unit is {}", ellipsis(&unit)),
            );
        }
    }
    for d in &policy.destinations {
        name(&d.name, "destination", diags);
        match &d.kind {
            DestinationKind::Restic(r) => {
                let unit = format!("bakgen-prune-{}.service", name_fragment(&d.name.value));
                too_long(
                    &d.name,
                    "destination name",
                    unit.len(),
                    diags,
                    &format!("its maintenance unit is {}", ellipsis(&unit)),
                );
                if r.url.value.starts_with('/') {
                    // Checked as each host and job fill in `{host}` and `{job}`.
                    for job in jobs.iter().filter(|j| {
                        j.settings
                            .to
                            .as_ref()
                            .is_some_and(|t| t.value == d.name.value)
                    }) {
                        let path = r
                            .url
                            .value
                            .replace("{host}", &job.host.name.value)
                            .replace("{job}", &job.name().value);
                        if seen.insert((r.url.span.clone(), path.clone())) {
                            unit_path(
                                &Spanned::new(path, r.url.span.clone()),
                                "restic repository",
                                diags,
                            );
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
    for s in &policy.secrets {
        name(&s.name, "secret", diags);
        credential_name(&s.name, diags);
        too_long(
            &s.name,
            "secret name",
            s.name.value.len(),
            diags,
            &format!(
                "it has {} bytes, and systemd's credential names are file names",
                s.name.value.len()
            ),
        );
        if let SecretSource::File(p) | SecretSource::Credential(p) = &s.source {
            unit_path(p, "secret path", diags);
        }
    }
    for job in jobs {
        if let Some(b) = &job.settings.btrfs_snapshot {
            if seen.insert((b.subvolume.span.clone(), String::new())) {
                unit_path(&b.subvolume, "btrfs-snapshot subvolume", diags);
            }
        }
    }
}

/// A value with a control character: reported by the policy reader already.
fn reported(value: &Spanned<String>) -> bool {
    value.value.chars().any(char::is_control)
}

fn ellipsis(unit: &str) -> String {
    match unit.char_indices().nth(60) {
        Some((i, _)) => format!("`{}…` ({} bytes)", &unit[..i], unit.len()),
        None => format!("`{unit}` ({} bytes)", unit.len()),
    }
}

/// systemd strips whitespace around every setting, so a name ending in a space would not
/// be the name the unit's description and the job spec agree on.
fn name(name: &Spanned<String>, what: &str, diags: &mut Diagnostics) {
    if reported(name) {
        return;
    }
    if name.value.trim() != name.value {
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
}

fn no_surrounding_space(value: &Spanned<String>, what: &str, diags: &mut Diagnostics) {
    if reported(value) {
        return;
    }
    if value.value.trim() != value.value {
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
            format!("secret name `{}` holds `{bad}`, which a systemd credential name cannot", name.value),
            name.span.clone(),
        )
        .label("not a credential name")
        .help("a secret is handed to the job as a systemd credential under its name: use printable ASCII without `:` (letters, digits, `-`, `_`, `.`)"),
    );
}

fn too_long(value: &Spanned<String>, what: &str, len: usize, diags: &mut Diagnostics, why: &str) {
    if len <= NAME_MAX {
        return;
    }
    diags.push(
        Diagnostic::error(
            "bakgen::too-long",
            format!("{what} `{}` is too long: {why}", ellipsis_value(&value.value)),
            value.span.clone(),
        )
        .label(format!("over the limit of {NAME_MAX} bytes"))
        .help(format!("shorten it: unit and file names are at most {NAME_MAX} bytes, and in a unit name every character but letters, digits and `:_.-` takes 4 bytes or more")),
    );
}

fn ellipsis_value(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// The `.mount` and `.automount` units of a mounted path are named after it.
fn mount_unit_name(path: &Spanned<String>, diags: &mut Diagnostics) {
    let unit = format!("{}.automount", path_unit_name(&path.value));
    too_long(
        path,
        "path",
        unit.len(),
        diags,
        &format!("its automount unit is {}", ellipsis(&unit)),
    );
}

/// A path in `RequiresMountsFor=`, `ReadWritePaths=`, `Where=`, `What=` or `LoadCredential=`:
/// systemd refuses `.` and `..` components and empty ones in some of them, paths over
/// 4095 bytes or with a component over 255, and strips trailing whitespace.
fn unit_path(path: &Spanned<String>, what: &str, diags: &mut Diagnostics) {
    if reported(path) {
        return;
    }
    let v = &path.value;
    // Only absolute paths get here usefully; relative ones are reported by the reader.
    let Some(rest) = v.strip_prefix('/') else {
        return;
    };
    let components: Vec<&str> = rest.strip_suffix('/').unwrap_or(rest).split('/').collect();
    let problem = if v.trim_end() != v {
        Some("ends with whitespace, which systemd strips".to_owned())
    } else if !rest.is_empty()
        && components
            .iter()
            .any(|c| c.is_empty() || *c == "." || *c == "..")
    {
        Some("has an empty, `.` or `..` component, which systemd refuses".to_owned())
    } else {
        None
    };
    if let Some(problem) = problem {
        diags.push(
            Diagnostic::error("bakgen::invalid-path", format!("{what} `{v}` {problem}"), path.span.clone())
                .label("not a path systemd takes")
                .help("write the path plainly: one `/` between folders, no `.` or `..`, no space at the end"),
        );
        return;
    }
    let long = components.iter().find(|c| c.len() > NAME_MAX);
    if v.len() > PATH_MAX || long.is_some() {
        let why = match long {
            Some(c) => format!(
                "its component `{}` has {} bytes",
                ellipsis_value(c),
                c.len()
            ),
            None => format!("it has {} bytes", v.len()),
        };
        diags.push(
            Diagnostic::error(
                "bakgen::too-long",
                format!("{what} `{}` is too long: {why}", ellipsis_value(v)),
                path.span.clone(),
            )
            .label("too long for systemd")
            .help(format!(
                "a path is at most {PATH_MAX} bytes, each folder or file name at most {NAME_MAX}"
            )),
        );
    }
}
