use std::process::ExitCode;

fn main() -> ExitCode {
    bakgen::cli::command_line::main()
}
