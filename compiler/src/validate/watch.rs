//! The `watch` nodes of `monitoring`: the watching host and each destination it reads are
//! defined, where it reads them is a place it can read, and a password-less file-times
//! read is used only where it can tell jobs apart.

use std::collections::BTreeMap;

use super::references::undefined;
use super::unit_values::unit_path;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::emit::repository;
use crate::policy::{
    relative_path, Destination, DestinationKind, Policy, Repository, ResticRepository, Spanned,
    Watch, WatchedDestination,
};
use crate::resolve::ResolvedJob;

pub fn check(policy: &Policy, jobs: &[ResolvedJob<'_>], diags: &mut Diagnostics) {
    let hosts: Vec<&str> = policy.hosts.iter().map(|h| h.name.value.as_str()).collect();
    let known: Vec<&str> = policy
        .destinations
        .iter()
        .map(|d| d.name.value.as_str())
        .collect();
    for watch in policy.monitoring.iter().flat_map(|m| &m.watches) {
        if !hosts.contains(&watch.host.value.as_str()) {
            diags.push(undefined("host", &watch.host, &hosts, "host \"NAME\""));
        }
        if let Some(job) = policy
            .hosts
            .iter()
            .filter(|h| h.name.value == watch.host.value)
            .flat_map(|h| &h.jobs)
            .find(|j| j.name.value == "watch")
        {
            diags.push(
                Diagnostic::error(
                    "bakgen::duplicate-name",
                    format!(
                        "job `watch` of host `{}` would share its units with the host's watch",
                        watch.host.value
                    ),
                    job.name.span.clone(),
                )
                .label("clashes with bakgen-watch.service")
                .with(watch.host.span.clone(), "the host watches here")
                .help("rename the job: bakgen-watch.service and .timer run the watch"),
            );
        }
        for w in &watch.destinations {
            match policy
                .destinations
                .iter()
                .find(|d| d.name.value == w.name.value)
            {
                None => diags.push(undefined(
                    "destination",
                    &w.name,
                    &known,
                    "destination \"NAME\" { path \"/srv/backups\" }",
                )),
                Some(d) => destination(watch, w, d, jobs, diags),
            }
        }
    }
}

/// The jobs that send to `d`, by host and job name.
fn writers<'a>(d: &Destination, jobs: &'a [ResolvedJob<'_>]) -> Vec<(&'a str, &'a str)> {
    jobs.iter()
        .filter(|j| {
            j.settings
                .to
                .as_ref()
                .is_some_and(|t| t.value == d.name.value)
        })
        .map(|j| (j.host.name.value.as_str(), j.name().value.as_str()))
        .collect()
}

fn destination(
    watch: &Watch,
    w: &WatchedDestination,
    d: &Destination,
    jobs: &[ResolvedJob<'_>],
    diags: &mut Diagnostics,
) {
    let writers = writers(d, jobs);
    if writers.is_empty() {
        diags.push(
            Diagnostic::warning(
                "bakgen::unused",
                format!(
                    "watch `{}` reads destination `{}`, where no job writes",
                    watch.host.value, w.name.value
                ),
                w.name.span.clone(),
            )
            .label("nothing to watch here")
            .help("remove the line, or send a job to the destination"),
        );
    }
    let file_times = w.file_times.as_ref().filter(|f| f.value);
    match &d.kind {
        DestinationKind::Snapshots(_) => {
            if let Some(at) = &w.at {
                if relative(at, diags) {
                    unit_path(at, "watched folder", diags);
                }
            }
            if let Some(f) = file_times {
                diags.push(file_times_error(
                    f,
                    format!(
                        "destination `{}` is a snapshot folder: file-times reads a restic repository",
                        w.name.value
                    ),
                    "remove file-times=#true: a snapshot folder is read without a password anyway",
                ));
            }
        }
        DestinationKind::Restic(r) => restic(w, r, file_times, &writers, diags),
    }
}

fn restic(
    w: &WatchedDestination,
    r: &ResticRepository,
    file_times: Option<&Spanned<bool>>,
    writers: &[(&str, &str)],
    diags: &mut Diagnostics,
) {
    let url = w.at.as_ref().unwrap_or(&r.url);
    let location = match &w.at {
        None => r.location.clone(),
        Some(at) => {
            let location = Repository::parse(&at.value);
            if location.is_none() {
                diags.push(
                    Diagnostic::error(
                        "bakgen::invalid-repository",
                        format!("`{}` is not a restic repository", at.value),
                        at.span.clone(),
                    )
                    .label("unknown repository form")
                    .help("use an absolute path, sftp:user@host:/path, rest:https://host/path or s3:https://host/bucket/prefix; {host} and {job} are replaced"),
                );
            }
            location
        }
    };
    let Some(location) = location else {
        return;
    };
    let mut by_repository: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (host, job) in writers {
        by_repository
            .entry(repository(&url.value, host, job))
            .or_default()
            .push(format!("{host}/{job}"));
    }
    if location.is_local() && w.at.is_some() {
        for path in by_repository.keys() {
            unit_path(
                &Spanned::new(path.clone(), url.span.clone()),
                "watched repository",
                diags,
            );
        }
    }
    let Some(f) = file_times else {
        return;
    };
    if !location.is_local() {
        diags.push(file_times_error(
            f,
            format!(
                "file-times reads a repository on a disk of the watching host, and `{}` is not a path",
                url.value
            ),
            "give the repository's path on the watching host with at=\"/srv/restic/{host}\", or remove file-times=#true to list it with its password",
        ));
        return;
    }
    if let Some((repo, shared)) = by_repository.iter().find(|(_, jobs)| jobs.len() > 1) {
        diags.push(
            file_times_error(
                f,
                format!(
                    "repository `{repo}` holds {} jobs ({}): the times of its snapshot files cannot tell them apart",
                    shared.len(),
                    shared.join(", ")
                ),
                "remove file-times=#true to list the repository with its password, or give each job a repository of its own with {job} in the path",
            )
            .with(url.span.clone(), "the jobs share this repository"),
        );
    }
}

/// Reported, as every path of a policy: a unit runs with `/` as its working directory.
fn relative(path: &Spanned<String>, diags: &mut Diagnostics) -> bool {
    match relative_path(path, "watched folder") {
        None => true,
        Some(d) => {
            diags.push(d);
            false
        }
    }
}

fn file_times_error(f: &Spanned<bool>, message: String, help: &str) -> Diagnostic {
    Diagnostic::error("bakgen::watch-file-times", message, f.span.clone())
        .label("file-times")
        .help(help)
}
