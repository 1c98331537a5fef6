use std::process::ExitCode;

fn main() -> ExitCode {
    bakrun::cli::command_line::main()
}
