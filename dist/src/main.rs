use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use bakgen_dist::{completions, deb, man_pages, workspace, write_all, DistError};

/// Make what a bakgen install ships: man pages, shell completions, the Debian package.
#[derive(Parser)]
#[command(name = "dist", version)]
struct Args {
    /// Where to write (default: `dist/` in the target folder this binary was built in).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Man pages into OUT/man and shell completions into OUT/completions.
    Docs,
    /// The Debian package into OUT/ from the release binaries beside this one.
    Deb {
        /// Where `bakgen` and `bakrun` are (default: beside this binary).
        #[arg(long, value_name = "DIR")]
        bin_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dist: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> Result<(), DistError> {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(PathBuf::from))
        .ok_or_else(|| DistError::Other("cannot tell where this binary is".to_owned()))?;
    let out = match args.out {
        Some(o) => o,
        None => exe_dir.parent().unwrap_or(&exe_dir).join("dist"),
    };
    let root = workspace();
    match args.command {
        Command::Docs => {
            write_all(&out.join("man"), &man_pages(&root)?)?;
            write_all(&out.join("completions"), &completions::all())?;
            println!(
                "wrote {}/man and {}/completions",
                out.display(),
                out.display()
            );
        }
        Command::Deb { bin_dir } => {
            let deb = deb::build(&deb::Inputs {
                workspace: root,
                bin_dir: bin_dir.unwrap_or(exe_dir),
                out,
            })?;
            println!("{}", deb.display());
        }
    }
    Ok(())
}
