//! The `konbini` binary: parse the command line, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = konbini_pos::cli::Cli::parse();
    match konbini_pos::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // The error and its causes on one line, each said once: our errors already
            // name their cause in their own message.
            let mut message = e.to_string();
            for cause in e.chain().skip(1) {
                let cause = cause.to_string();
                if !message.contains(&cause) {
                    message.push_str(": ");
                    message.push_str(&cause);
                }
            }
            eprintln!("konbini: {message}");
            ExitCode::FAILURE
        }
    }
}
