//! Defaults and templates applied: each job's settings are the first value found along
//! job → its template → that template's template … → `defaults`. A setting is taken whole
//! (a job's `source` list replaces its template's, it does not add to it).

use std::collections::BTreeMap;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::{Host, Job, Policy, Settings, Spanned, Template};

/// A job with everything it inherits filled in. Spans still point where each value was
/// written (possibly in a template or in `defaults`).
#[derive(Debug, Clone)]
pub struct ResolvedJob<'p> {
    pub host: &'p Host,
    pub job: &'p Job,
    pub settings: Settings,
    /// Where each setting came from, in `Settings` order; `settings` does not depend on it.
    pub origins: Origins,
}

/// The level of a job's chain a setting was taken from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "from", content = "template")]
pub enum Origin {
    /// Written in the job itself.
    Job,
    /// Written in this template of the job's chain.
    Template(String),
    /// Written in `defaults`.
    Defaults,
    /// Written nowhere along the chain: bakgen's built-in default, if the setting has one.
    BuiltIn,
}

/// Each setting of `Settings` (by its field name, e.g. `limit_upload`) and its origin.
pub type Origins = Vec<(&'static str, Origin)>;

impl ResolvedJob<'_> {
    pub fn name(&self) -> &Spanned<String> {
        &self.job.name
    }
}

/// Resolves every job, reporting undefined templates and template cycles.
pub fn resolve(policy: &Policy) -> (Vec<ResolvedJob<'_>>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let templates: BTreeMap<&str, &Template> = policy
        .templates
        .iter()
        .rev() // the first definition wins; duplicates are reported elsewhere
        .map(|t| (t.name.value.as_str(), t))
        .collect();

    for t in &policy.templates {
        check_template_chain(t, &templates, &mut diags);
    }

    let mut jobs = Vec::new();
    for host in &policy.hosts {
        for job in &host.jobs {
            let mut chain: Vec<(&Settings, Origin)> = vec![(&job.settings, Origin::Job)];
            let mut next = job.settings.template.as_ref();
            if let Some(name) = next {
                if !templates.contains_key(name.value.as_str()) {
                    diags.push(undefined_template(name, &templates));
                }
            }
            let mut visited: Vec<&str> = Vec::new();
            while let Some(name) = next {
                let Some(t) = templates.get(name.value.as_str()) else {
                    break;
                };
                if visited.contains(&name.value.as_str()) {
                    break; // a cycle, reported once for the template itself
                }
                visited.push(&name.value);
                chain.push((&t.settings, Origin::Template(t.name.value.clone())));
                next = t.settings.template.as_ref();
            }
            if let Some(d) = &policy.defaults {
                chain.push((&d.value, Origin::Defaults));
            }
            let (settings, origins) = merge(&chain);
            jobs.push(ResolvedJob {
                host,
                job,
                settings,
                origins,
            });
        }
    }
    (jobs, diags)
}

fn check_template_chain(
    start: &Template,
    templates: &BTreeMap<&str, &Template>,
    diags: &mut Diagnostics,
) {
    let mut path: Vec<&Template> = vec![start];
    let mut current = start;
    while let Some(parent) = &current.settings.template {
        let Some(t) = templates.get(parent.value.as_str()) else {
            if std::ptr::eq(current, start) {
                diags.push(undefined_template(parent, templates));
            }
            return;
        };
        if let Some(pos) = path.iter().position(|p| std::ptr::eq(*p, *t)) {
            // Report the cycle only from its alphabetically first member, so once.
            let cycle = &path[pos..];
            let first = cycle
                .iter()
                .min_by_key(|c| c.name.value.as_str())
                .map(|c| c.name.value.as_str());
            if pos == 0 && first == Some(start.name.value.as_str()) {
                let names: Vec<&str> = cycle.iter().map(|c| c.name.value.as_str()).collect();
                let mut d = Diagnostic::error(
                    "bakgen::template-cycle",
                    format!(
                        "templates use each other in a cycle: {} → {}",
                        names.join(" → "),
                        names[0]
                    ),
                    parent.span.clone(),
                )
                .label("closes the cycle")
                .help("a template may use another template, but the chain must end");
                for c in &cycle[..cycle.len() - 1] {
                    if let Some(t) = &c.settings.template {
                        d = d.with(
                            t.span.clone(),
                            format!("`{}` uses `{}`", c.name.value, t.value),
                        );
                    }
                }
                diags.push(d);
            }
            return;
        }
        path.push(t);
        current = t;
    }
}

fn undefined_template(name: &Spanned<String>, templates: &BTreeMap<&str, &Template>) -> Diagnostic {
    let d = Diagnostic::error(
        "bakgen::undefined-template",
        format!("no template is named `{}`", name.value),
        name.span.clone(),
    )
    .label("undefined template");
    match crate::suggest::did_you_mean(&name.value, templates.keys().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None if templates.is_empty() => {
            d.help(format!("define it: template \"{}\" {{ … }}", name.value))
        }
        None => d.help(format!(
            "defined templates: {}",
            templates.keys().copied().collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Takes each setting from the first level of `chain` that has it, noting which level.
fn merge(chain: &[(&Settings, Origin)]) -> (Settings, Origins) {
    let mut origins = Origins::new();
    macro_rules! first {
        ($field:ident) => {{
            let found = chain
                .iter()
                .find_map(|(s, origin)| s.$field.clone().map(|v| (v, origin)));
            origins.push((
                stringify!($field),
                found
                    .as_ref()
                    .map_or(Origin::BuiltIn, |(_, o)| (*o).clone()),
            ));
            found.map(|(v, _)| v)
        }};
    }
    let settings = Settings {
        template: chain.first().and_then(|(s, _)| s.template.clone()),
        from: first!(from),
        sources: first!(sources),
        excludes: first!(excludes),
        to: first!(to),
        schedule: first!(schedule),
        retention: first!(retention),
        lvm_snapshot: first!(lvm_snapshot),
        btrfs_snapshot: first!(btrfs_snapshot),
        dumps: first!(dumps),
        nice: first!(nice),
        io_class: first!(io_class),
        timeout: first!(timeout),
        limit_upload: first!(limit_upload),
        limit_download: first!(limit_download),
        on_failure: first!(on_failure),
        ping: first!(ping),
        metrics_dir: first!(metrics_dir),
        verify: first!(verify),
    };
    (settings, origins)
}

#[cfg(test)]
mod origin_tests {
    use super::{resolve, Origin};
    use crate::policy::parse_policy;
    use crate::source::{SourceFile, SourceSet};

    #[test]
    fn each_setting_notes_the_level_it_came_from_without_changing_it() {
        let mut set = SourceSet::default();
        set.add(SourceFile::new(
            "p.kdl",
            r#"
defaults { nice 10; schedule "daily"; }
template "base" { to "usb"; nice 5; }
template "web" template="base" { source "/srv"; }
host "h" { job "j" template="web" { source "/etc"; } }
"#,
        ));
        let (policy, diags) = parse_policy(&set);
        assert!(diags.is_empty(), "{diags:?}");
        let (jobs, diags) = resolve(&policy);
        assert!(diags.is_empty(), "{diags:?}");
        let job = &jobs[0];
        let origin = |field: &str| {
            job.origins
                .iter()
                .find(|(f, _)| *f == field)
                .map(|(_, o)| o.clone())
                .unwrap_or_else(|| panic!("no origin for {field}"))
        };
        assert_eq!(origin("sources"), Origin::Job);
        assert_eq!(origin("to"), Origin::Template("base".to_owned()));
        assert_eq!(origin("nice"), Origin::Template("base".to_owned()));
        assert_eq!(origin("schedule"), Origin::Defaults);
        assert_eq!(origin("timeout"), Origin::BuiltIn);
        // The values are the nearest level's, as before.
        let sources: Vec<&str> = job
            .settings
            .sources
            .iter()
            .flatten()
            .map(|s| s.value.as_str())
            .collect();
        assert_eq!(sources, ["/etc"]);
        assert_eq!(job.settings.nice.as_ref().map(|n| n.value), Some(5));
    }
}
