//! The `warden` command line. Thin: parsing arguments and wiring; the work is in the library.

mod cli;

use clap::Parser;

/// jemalloc serves every allocation, Rust's and the C libraries': Cargo.toml says why.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.default_log_level());
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", cli::describe(&error));
            std::process::ExitCode::FAILURE
        }
    }
}
