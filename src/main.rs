//! The `konbini` binary: parse the command line, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = konbini_pos::cli::Cli::parse();
    match konbini_pos::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("konbini: {e:#}");
            ExitCode::FAILURE
        }
    }
}
