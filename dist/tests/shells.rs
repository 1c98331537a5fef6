//! The shipped completions in the real shells they are for: bash, `zsh -f` with its
//! completion system (compinit) and `fish --no-config`. Each completion loads without a word
//! on standard error and offers both binaries' subcommands and one subcommand's options. A
//! shell that is missing fails the test: scripts/packages.txt installs bash, zsh and fish.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bakgen_dist::completions;

/// A command line as typed so far, and candidates its completion must offer.
struct Case {
    line: &'static str,
    offers: &'static [&'static str],
}

const CASES: [Case; 4] = [
    case("bakgen ", &["check", "build", "apply"]),
    case("bakgen build --", &["--out", "--host"]),
    case("bakrun ", &["run", "status", "restore"]),
    case("bakrun verify --", &["--dry-run", "--seed"]),
];

const fn case(line: &'static str, offers: &'static [&'static str]) -> Case {
    Case { line, offers }
}

impl Case {
    fn binary(&self) -> &'static str {
        self.line.split(' ').next().unwrap_or(self.line)
    }
}

/// Both binaries' completions for the shell of `suffix`, written into a temporary folder
/// under the name `file_name(binary)` the shell looks for.
struct Written {
    dir: tempfile::TempDir,
    file_name: fn(&str) -> String,
}

impl Written {
    fn new(suffix: &str, file_name: fn(&str) -> String) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let files: Vec<_> = completions::all()
            .into_iter()
            .filter(|f| f.name.ends_with(&format!(".{suffix}")))
            .collect();
        assert_eq!(files.len(), 2, "one {suffix} completion per binary");
        for f in files {
            let binary = f.name.trim_end_matches(&format!(".{suffix}"));
            std::fs::write(dir.path().join(file_name(binary)), &f.text).expect("write");
        }
        Self { dir, file_name }
    }

    fn path(&self, binary: &str) -> PathBuf {
        self.dir.path().join((self.file_name)(binary))
    }
}

/// Runs `program` with `args` in the folder `dir`, with no user configuration in reach.
fn run(program: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir)
        .env("XDG_DATA_HOME", dir)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (scripts/packages.txt installs it): {e}"))
}

/// The output of a shell that must have succeeded with nothing on standard error.
fn quiet_stdout(shell: &str, line: &str, o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.trim().is_empty(),
        "{shell}, `{line}`: {}\nstandard error: {err}\nstandard output: {out}",
        o.status
    );
    out
}

fn assert_offers(shell: &str, case: &Case, offered: &[String]) {
    for want in case.offers {
        assert!(
            offered.iter().any(|o| o == want),
            "{shell}: `{}` offers {offered:?}, not {want}",
            case.line
        );
    }
}

#[test]
fn the_bash_completion_loads_and_completes_subcommands_and_options() {
    let written = Written::new("bash", |b| format!("{b}.bash"));
    for case in &CASES {
        let bin = case.binary();
        let words: Vec<&str> = case.line.split(' ').collect();
        let cur = words.len() - 1;
        // The completion function called as bash calls it: command, word, previous word.
        let script = format!(
            "source '{}' || exit 1; COMP_WORDS=({}); COMP_CWORD={cur}; COMP_LINE='{}'; \
             COMP_POINT=${{#COMP_LINE}}; _{bin} {bin} '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            written.path(bin).display(),
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            case.line,
            words[cur],
            words[cur - 1],
        );
        let o = run(
            "bash",
            &["--norc", "--noprofile", "-c", &script],
            written.dir.path(),
        );
        let out = quiet_stdout("bash", case.line, &o);
        let offered: Vec<String> = out.lines().map(str::to_owned).collect();
        assert_offers("bash", case, &offered);
    }
}

#[test]
fn the_fish_completion_loads_and_completes_subcommands_and_options() {
    let written = Written::new("fish", |b| format!("{b}.fish"));
    for case in &CASES {
        let path = written.path(case.binary());
        // fish's own completion engine on the line, as when TAB is pressed after it.
        let script = format!(
            "source '{}'; or exit 1; complete --do-complete '{}'",
            path.display(),
            case.line
        );
        let o = run("fish", &["--no-config", "-c", &script], written.dir.path());
        let out = quiet_stdout("fish", case.line, &o);
        // One candidate a line, its description after a tab.
        let offered: Vec<String> = out
            .lines()
            .map(|l| l.split('\t').next().unwrap_or(l).to_owned())
            .collect();
        assert_offers("fish", case, &offered);
    }
}

#[test]
fn the_zsh_completion_loads_and_completes_subcommands_and_options() {
    // On fpath as `_bakgen`, where the package installs it and compinit finds it.
    let written = Written::new("zsh", |b| format!("_{b}"));
    let fpath = written.dir.path().to_str().expect("a UTF-8 temp path");
    for bin in ["bakgen", "bakrun"] {
        // Sourced by hand, the file defines `_BIN` and registers it with compdef.
        let script = format!(
            "autoload -Uz compinit && compinit -u -D && source '{}' && (( $+functions[_{bin}] )) \
             && [[ $_comps[{bin}] == _{bin} ]]",
            written.path(bin).display()
        );
        let o = run("zsh", &["-f", "-c", &script], written.dir.path());
        quiet_stdout("zsh", &format!("source _{bin}"), &o);
    }
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zsh_list_choices.zsh");
    let driver = driver.to_str().expect("a UTF-8 path");
    for case in &CASES {
        // The driver bounds each of its waits; `timeout` bounds the whole, in case zsh hangs.
        let o = run(
            "timeout",
            &[
                "--kill-after=5",
                "120",
                "zsh",
                "-f",
                driver,
                fpath,
                case.line,
            ],
            written.dir.path(),
        );
        let out = quiet_stdout("zsh", case.line, &o);
        let listing = out
            .split_once("--- listing\n")
            .and_then(|(_, rest)| rest.split_once("--- end"))
            .map(|(listing, _)| listing)
            .unwrap_or_else(|| panic!("zsh, `{}`: no listing in {out}", case.line));
        // zsh reports an error in a completion function as `_FUNCTION:LINE: …`, one of the
        // shell as `zsh: …`, both on the terminal, that is within the listing.
        assert!(
            !listing
                .split_whitespace()
                .any(|w| w.starts_with("zsh:") || (w.starts_with('_') && w.contains(':'))),
            "zsh, `{}`: an error in the listing:\n{listing}",
            case.line
        );
        // The first line is the line as typed; each next one lists candidates (several
        // when they share a description), then ` -- ` and the description.
        let offered: Vec<String> = listing
            .lines()
            .skip(1)
            .flat_map(|l| l.split(" -- ").next().unwrap_or(l).split_whitespace())
            .map(str::to_owned)
            .collect();
        assert_offers("zsh", case, &offered);
    }
}
