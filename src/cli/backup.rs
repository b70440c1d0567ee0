//! `warden backup --to FILE`: a consistent copy of the SQLite store, taken while Warden runs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use warden::config::{self, DEFAULT_SERVICE_PATH};
use warden::store::Store;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the copy (must not exist).
    #[arg(long)]
    to: PathBuf,
    /// Service settings, for the database URL [default: config/warden.toml, if present].
    #[arg(long, env = "WARDEN_CONFIG")]
    config: Option<PathBuf>,
    /// Database (`sqlite://FILE`), overriding the file.
    #[arg(long, env = "WARDEN_DATABASE_URL")]
    database_url: Option<String>,
}

pub fn run(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let service = match &args.config {
        Some(path) => config::load_service(path, true)?,
        None => config::load_service(DEFAULT_SERVICE_PATH.as_ref(), false)?,
    };
    let url = args.database_url.unwrap_or(service.database.url);
    if args.to.exists() {
        anyhow::bail!("{} exists; pick a new file", args.to.display());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = Store::connect(&url)
            .await
            .context("cannot open the database")?;
        store
            .backup_to(&args.to)
            .await
            .with_context(|| format!("cannot back up to {}", args.to.display()))?;
        anyhow::Ok(())
    })?;
    println!("backed up to {}", args.to.display());
    Ok(ExitCode::SUCCESS)
}
