//! `warden run`: the stream processor.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use warden::config::{self, DEFAULT_SERVICE_PATH};
use warden::enforce::{AppealSettings, Enforcer};
use warden::ingest::{Processor, shutdown_on_signal};
use warden::privacy::Secret;
use warden::store::Store;

use super::ScoringFiles;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Service settings: Kafka, topics, batching [default: config/warden.toml, if present].
    #[arg(long, env = "WARDEN_CONFIG")]
    config: Option<PathBuf>,
    /// Bootstrap brokers (`host:port,...`), overriding the file.
    #[arg(long, env = "WARDEN_BROKERS")]
    brokers: Option<String>,
    /// Consumer group, overriding the file.
    #[arg(long, env = "WARDEN_GROUP")]
    group: Option<String>,
    /// Database for cases (`sqlite://FILE` or `postgres://…`), overriding the file.
    #[arg(long, env = "WARDEN_DATABASE_URL")]
    database_url: Option<String>,
    #[command(flatten)]
    scoring: ScoringFiles,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut service = match &args.config {
        Some(path) => config::load_service(path, true)?,
        None => config::load_service(DEFAULT_SERVICE_PATH.as_ref(), false)?,
    };
    if let Some(brokers) = args.brokers {
        service.kafka.brokers = brokers;
    }
    if let Some(group) = args.group {
        service.kafka.group = group;
    }
    if let Some(url) = args.database_url {
        service.database.url = url;
    }
    let appeal_secret = secret_from_env("WARDEN_APPEAL_SECRET", "signs appeal tokens")?;
    let recipient_key = secret_from_env("WARDEN_RECIPIENT_KEY", "keys recipients' hashes")?;
    service.validate().context("invalid settings")?;
    let scorer = args.scoring.load()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        if let Some(dir) = service
            .database
            .url
            .strip_prefix("sqlite://")
            .and_then(|path| std::path::Path::new(path).parent())
            .filter(|dir| !dir.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let store = Store::connect(&service.database.url)
            .await
            .context("cannot open the database")?;
        let appeal = AppealSettings {
            secret: appeal_secret,
            base_url: service.enforcement.appeal_base_url.clone(),
            days: service.enforcement.appeal_days,
        };
        let enforcer = Enforcer::start(store, scorer.policy().suspension().clone(), appeal)
            .await
            .context("cannot load the cases")?;
        let processor = Processor::new(service, scorer, recipient_key, Some(enforcer))?;
        processor.run(shutdown_on_signal()).await;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// A secret from the environment; refused when unset or short, never printed.
fn secret_from_env(name: &str, purpose: &str) -> anyhow::Result<Secret> {
    let value = std::env::var(name).unwrap_or_default();
    if value.len() < 16 {
        anyhow::bail!("{name} must be set to a secret of at least 16 characters (it {purpose})");
    }
    Ok(Secret::new(value))
}
