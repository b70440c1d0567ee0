//! The `warden` command line. Thin: parsing arguments and wiring; the work is in the library.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging();
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", cli::describe(&error));
            std::process::ExitCode::FAILURE
        }
    }
}
