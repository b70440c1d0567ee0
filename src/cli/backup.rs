//! `warden backup --to FILE`: a consistent copy of the SQLite store, taken while Warden runs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::DatabaseArgs;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the copy (must not exist).
    #[arg(long)]
    to: PathBuf,
    #[command(flatten)]
    database: DatabaseArgs,
}

pub fn run(args: BackupArgs) -> anyhow::Result<ExitCode> {
    if args.to.exists() {
        anyhow::bail!("{} exists; pick a new file", args.to.display());
    }
    args.database.with_store(async |store| {
        store
            .backup_to(&args.to)
            .await
            .with_context(|| format!("cannot back up to {}", args.to.display()))
    })?;
    println!("backed up to {}", args.to.display());
    Ok(ExitCode::SUCCESS)
}
