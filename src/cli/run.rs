//! `warden run`: the stream processor.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use warden::config::{self, DEFAULT_SERVICE_PATH};
use warden::ingest::{Processor, shutdown_on_signal};

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
    service.validate().context("invalid settings")?;
    let scorer = args.scoring.load()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let processor = Processor::new(service, scorer)?;
        processor.run(shutdown_on_signal()).await;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
