//! The man pages: one per binary and one per subcommand, made by `clap_mangen` from the
//! binaries' own clap definitions (so they list exactly the options the binaries take),
//! and `bakgen.policy(5)` from docs/policy.md.

use clap::CommandFactory;

use crate::markdown::{to_roff, PageHead};
use crate::roff::{literal, quoted};
use crate::File;

/// What every page says in its footer.
fn source() -> String {
    format!("bakgen {}", env!("CARGO_PKG_VERSION"))
}

/// `bakgen(1)`, `bakgen-<subcommand>(1)` …, `bakrun(1)`, `bakrun-<subcommand>(1)` …
pub fn command_pages() -> Result<Vec<File>, std::io::Error> {
    let mut pages = Vec::new();
    for cmd in [
        bakgen::cli::command_line::Args::command(),
        bakrun::cli::command_line::Args::command(),
    ] {
        pages.extend(pages_of(cmd)?);
    }
    Ok(pages)
}

/// The page of `cmd` and one per visible subcommand, each naming the others in SEE ALSO.
fn pages_of(cmd: clap::Command) -> Result<Vec<File>, std::io::Error> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let top = cmd.get_name().to_owned();
    let subs: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    let sub_names: Vec<String> = subs.iter().map(|s| page_name(&top, s)).collect();
    let mut see_also: Vec<String> = sub_names.iter().map(|n| reference(n, "1")).collect();
    if top == "bakgen" {
        see_also.push(reference("bakgen.policy", "5"));
        see_also.push(reference("bakrun", "1"));
    } else {
        see_also.push(reference("bakgen", "1"));
        see_also.push(reference("bakgen.policy", "5"));
    }
    let mut pages = vec![render(cmd.clone(), &top, &see_also)?];
    for (sub, name) in subs.into_iter().zip(&sub_names) {
        let also = vec![reference(&top, "1")];
        pages.push(render(sub, name, &also)?);
    }
    Ok(pages)
}

fn page_name(top: &str, sub: &clap::Command) -> String {
    format!("{top}-{}", sub.get_name())
}

/// `\fBbakgen\-build\fR(1)`
fn reference(name: &str, section: &str) -> String {
    format!("\\fB{}\\fR({section})", literal(name))
}

fn render(cmd: clap::Command, name: &str, see_also: &[String]) -> Result<File, std::io::Error> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(cmd.display_name(name.to_owned()))
        .title(name.to_uppercase())
        .source(source())
        .render(&mut roff)?;
    let mut text = String::from_utf8_lossy(&roff).into_owned();
    text.push_str(&format!(
        ".SH {}\n{}\n",
        quoted("SEE ALSO"),
        see_also.join(",\n")
    ));
    Ok(File::new(format!("{name}.1"), text))
}

/// `bakgen.policy(5)` from the policy reference, `docs/policy.md`.
pub fn policy_page(policy_md: &str) -> File {
    let head = PageHead {
        name: "bakgen.policy",
        section: "5",
        summary: "the bakgen backup policy language",
        source: &source(),
    };
    let mut text = to_roff(policy_md, &head);
    text.push_str(&format!(
        ".SH {}\n{},\n{}\n",
        quoted("SEE ALSO"),
        reference("bakgen", "1"),
        reference("bakrun", "1")
    ));
    File::new("bakgen.policy.5".to_owned(), text)
}
