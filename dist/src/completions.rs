//! Shell completions for both binaries, made by `clap_complete` from their clap
//! definitions, for bash, zsh and fish.

use clap::CommandFactory;
use clap_complete::{generate, Shell};

use crate::File;

/// The shells completions are made for, with the file-name suffix each gets under
/// `completions/` (`bakgen.bash` …).
pub const SHELLS: [(Shell, &str); 3] = [
    (Shell::Bash, "bash"),
    (Shell::Zsh, "zsh"),
    (Shell::Fish, "fish"),
];

/// `bakgen.bash`, `bakgen.zsh`, `bakgen.fish`, and the same for bakrun.
pub fn all() -> Vec<File> {
    let mut out = Vec::new();
    for (name, mut cmd) in [
        ("bakgen", bakgen::cli::command_line::Args::command()),
        ("bakrun", bakrun::cli::command_line::Args::command()),
    ] {
        for (shell, suffix) in SHELLS {
            let mut buf = Vec::new();
            generate(shell, &mut cmd, name, &mut buf);
            out.push(File::new(
                format!("{name}.{suffix}"),
                String::from_utf8_lossy(&buf).into_owned(),
            ));
        }
    }
    out
}

/// Where a shell looks for a completion file of `binary` in a Debian package, and the
/// name it must have there.
pub fn installed_path(binary: &str, suffix: &str) -> String {
    match suffix {
        "bash" => format!("usr/share/bash-completion/completions/{binary}"),
        "zsh" => format!("usr/share/zsh/vendor-completions/_{binary}"),
        _ => format!("usr/share/fish/vendor_completions.d/{binary}.fish"),
    }
}
