//! `warden labels export`: reviewers' labels as a `label<TAB>text` file for `warden train
//! --reviewed`. Overturned cases label their evidence `ham`; texts are the redacted excerpts
//! (the store keeps nothing else).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use warden::config::{self, DEFAULT_SERVICE_PATH};
use warden::store::Store;

#[derive(Debug, clap::Args)]
pub struct LabelsArgs {
    #[command(subcommand)]
    command: LabelsCommand,
    /// Service settings, for the database URL [default: config/warden.toml, if present].
    #[arg(long, env = "WARDEN_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Database (`sqlite://FILE` or `postgres://…`), overriding the file.
    #[arg(long, env = "WARDEN_DATABASE_URL", global = true)]
    database_url: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum LabelsCommand {
    /// Print every label as `label<TAB>text`, oldest first.
    Export,
}

pub fn run(args: LabelsArgs) -> anyhow::Result<ExitCode> {
    let service = match &args.config {
        Some(path) => config::load_service(path, true)?,
        None => config::load_service(DEFAULT_SERVICE_PATH.as_ref(), false)?,
    };
    let url = args.database_url.unwrap_or(service.database.url);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let LabelsCommand::Export = args.command;
    let labels = runtime.block_on(async {
        let store = Store::connect(&url)
            .await
            .context("cannot open the database")?;
        anyhow::Ok(store.labels().await?)
    })?;
    println!("# Warden reviewers' labels (overturned cases' evidence, redacted): label<TAB>text");
    for (label, text) in labels {
        let text = text.replace(['\t', '\n', '\r'], " ");
        println!("{label}\t{text}");
    }
    Ok(ExitCode::SUCCESS)
}
