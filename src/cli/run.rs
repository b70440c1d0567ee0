//! `warden run`: the stream processor, with the review API beside it; `warden serve`: the
//! review API alone.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{Notify, watch};

use warden::api::auth::ReviewerDirectory;
use warden::api::{self, AppState};
use warden::config::{self, DEFAULT_SERVICE_PATH, ServiceConfig};
use warden::enforce::{AppealSettings, Enforcer};
use warden::ingest::{Processor, ScoringUpdate, event_producer, shutdown_on_signal};
use warden::privacy::Secret;
use warden::store::{Retention, Store};

use super::ScoringFiles;

/// Settings both commands share.
#[derive(Debug, clap::Args)]
pub struct ServiceArgs {
    /// Service settings: Kafka, topics, batching, API [default: config/warden.toml, if present].
    #[arg(long, env = "WARDEN_CONFIG")]
    config: Option<PathBuf>,
    /// Bootstrap brokers (`host:port,...`), overriding the file.
    #[arg(long, env = "WARDEN_BROKERS")]
    brokers: Option<String>,
    /// Database for cases (`sqlite://FILE` or `postgres://…`), overriding the file.
    #[arg(long, env = "WARDEN_DATABASE_URL")]
    database_url: Option<String>,
    /// Where the review API listens (`host:port`; "" for none in `warden run`), overriding
    /// the file.
    #[arg(long, env = "WARDEN_API_LISTEN")]
    listen: Option<String>,
}

impl ServiceArgs {
    fn load(&self) -> anyhow::Result<ServiceConfig> {
        let mut service = match &self.config {
            Some(path) => config::load_service(path, true)?,
            None => config::load_service(DEFAULT_SERVICE_PATH.as_ref(), false)?,
        };
        if let Some(brokers) = &self.brokers {
            service.kafka.brokers = brokers.clone();
        }
        if let Some(url) = &self.database_url {
            service.database.url = url.clone();
        }
        if let Some(listen) = &self.listen {
            service.api.listen = listen.clone();
        }
        Ok(service)
    }
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// Consumer group, overriding the file.
    #[arg(long, env = "WARDEN_GROUP")]
    group: Option<String>,
    #[command(flatten)]
    scoring: ScoringFiles,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    service: ServiceArgs,
}

/// The clause each policy tag's notices link, from the policy file's `[statements.tags]`.
fn read_clause_urls(
    policy: &std::path::Path,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    Ok(warden::config::load_policy(policy)?
        .statements
        .tags
        .into_iter()
        .map(|(tag, clause)| (tag, clause.url))
        .collect())
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut service = args.service.load()?;
    if let Some(group) = args.group {
        service.kafka.group = group;
    }
    let appeal_secret = secret_from_env("WARDEN_APPEAL_SECRET", "signs appeal tokens")?;
    let recipient_key = secret_from_env("WARDEN_RECIPIENT_KEY", "keys recipients' hashes")?;
    service.validate().context("invalid settings")?;
    let (scorer, account_policy) = args.scoring.load_with_account_policy()?;
    let clause_urls = read_clause_urls(&args.scoring.policy)?;
    // An admin's reload (through the API) hands the processor a new scorer and account policy
    // between batches.
    let (scorer_updates, updates) = watch::channel(None);
    let started = api::Loaded {
        rules_version: scorer.rules().version().to_owned(),
        set: args.scoring.read_set()?,
    };
    let files = args.scoring;
    let reload: api::Reload = Arc::new(move |earlier: Option<&api::RulesSet>| {
        if let Some(set) = earlier {
            files.restore(set).map_err(|error| format!("{error:#}"))?;
        }
        let (scorer, account_policy) = files
            .load_with_account_policy()
            .map_err(|error| format!("{error:#}"))?;
        let clause_urls = read_clause_urls(&files.policy).map_err(|error| format!("{error:#}"))?;
        let set = files.read_set().map_err(|error| format!("{error:#}"))?;
        let rules_version = scorer.rules().version().to_owned();
        scorer_updates.send_replace(Some(ScoringUpdate {
            scorer: Arc::new(scorer),
            account_policy,
            clause_urls,
        }));
        Ok(api::Loaded { rules_version, set })
    });
    runtime()?.block_on(async {
        let store = open_store(&service).await?;
        api::record_rules_load(&store, &started, warden::case::Actor::Automated, "start")
            .await
            .context("cannot record the rules version")?;
        let appeal = AppealSettings {
            clause_urls,
            ..appeal_settings(&service, appeal_secret)
        };
        let shutdown = shutdown_on_signal();
        // One outbox for every case event, automated or human, and one deliverer per process.
        // It stops after the stream processor, so that the last cases' events leave too.
        let outbox = Arc::new(Notify::new());
        let (stop_outbox, outbox_stopped) = watch::channel(false);
        let deliverer = tokio::spawn(api::outbox::deliver(
            store.clone(),
            event_producer(&service)?,
            service.topics.clone(),
            Arc::clone(&outbox),
            outbox_stopped,
        ));
        let api = match service.api.listen.is_empty() {
            true => None,
            false => {
                let (store, appeal, stop) = (store.clone(), appeal.clone(), shutdown.clone());
                let wake = Arc::clone(&outbox);
                Some(start_api(&service, store, appeal, stop, Some(reload), wake).await?)
            }
        };
        tokio::spawn(purge_on_schedule(
            store.clone(),
            service.retention.clone(),
            shutdown.clone(),
        ));
        let enforcer = Enforcer::start(store.clone(), account_policy, appeal, outbox)
            .await
            .context("cannot load the cases")?;
        let processor = Processor::new(service, scorer, recipient_key, enforcer, store)?
            .with_scorer_updates(updates);
        let stopped = processor.run(shutdown).await;
        stop_outbox.send_replace(true);
        deliverer.await.context("the outbox deliverer failed")?;
        stopped?;
        if let Some(api) = api {
            api.await?.context("the review API failed")?;
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let service = args.service.load()?;
    if service.api.listen.is_empty() {
        anyhow::bail!("`warden serve` needs an address: set [api] listen or --listen");
    }
    let appeal_secret = secret_from_env("WARDEN_APPEAL_SECRET", "signs appeal tokens")?;
    service.validate().context("invalid settings")?;
    runtime()?.block_on(async {
        let store = open_store(&service).await?;
        let appeal = appeal_settings(&service, appeal_secret);
        let wake = Arc::new(Notify::new());
        let shutdown = shutdown_on_signal();
        let deliverer = tokio::spawn(api::outbox::deliver(
            store.clone(),
            event_producer(&service)?,
            service.topics.clone(),
            Arc::clone(&wake),
            shutdown.clone(),
        ));
        let api = start_api(&service, store, appeal, shutdown, None, wake).await?;
        api.await?.context("the review API failed")?;
        deliverer.await.context("the outbox deliverer failed")?;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn open_store(service: &ServiceConfig) -> anyhow::Result<Store> {
    if let Some(dir) = service
        .database
        .url
        .strip_prefix("sqlite://")
        .and_then(|path| std::path::Path::new(path).parent())
        .filter(|dir| !dir.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Store::connect(&service.database.url)
        .await
        .context("cannot open the database")
}

fn appeal_settings(service: &ServiceConfig, secret: Secret) -> AppealSettings {
    AppealSettings {
        secret,
        base_url: service.enforcement.appeal_base_url.clone(),
        days: service.enforcement.appeal_days,
        policy_url: service.enforcement.policy_url.clone(),
        redress: service.enforcement.redress.clone(),
        // The enforcer words it from its ladder: only the stream warns.
        warning_next_step: String::new(),
        // Only the stream opens cases from rule hits: `warden run` reads them from its policy.
        clause_urls: Default::default(),
    }
}

/// Binds the review API's address (a failure stops the start) and serves it in the background.
async fn start_api(
    service: &ServiceConfig,
    store: Store,
    appeal: AppealSettings,
    shutdown: watch::Receiver<bool>,
    reload: Option<api::Reload>,
    outbox: Arc<Notify>,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let reviewers = ReviewerDirectory::open(service.api.reviewers_file.clone().into())
        .context("cannot read the reviewers file")?;
    let producer = event_producer(service)?;
    let mut state =
        AppState::new(store, appeal, reviewers, service.api.clone(), producer).with_outbox(outbox);
    if let Some(reload) = reload {
        state = state.with_reload(reload);
    }
    let listener = tokio::net::TcpListener::bind(&service.api.listen)
        .await
        .with_context(|| format!("cannot listen on {}", service.api.listen))?;
    tracing::info!(address = %listener.local_addr()?, "review API listening");
    Ok(tokio::spawn(api::serve(listener, state, shutdown)))
}

/// Applies the retention settings at start and every `purge_every_minutes` until shutdown.
async fn purge_on_schedule(
    store: Store,
    retention: Retention,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = std::time::Duration::from_secs(retention.purge_every_minutes * 60);
    loop {
        let now = warden::clock::now_ms();
        match store.purge(&retention, now).await {
            Ok(purged) => tracing::info!(?purged, "retention applied"),
            Err(error) => tracing::warn!(%error, "retention purge failed; next try on schedule"),
        }
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    service: ServiceArgs,
}

/// `warden purge`: applies the retention settings once, now.
pub fn purge(args: PurgeArgs) -> anyhow::Result<ExitCode> {
    let service = args.service.load()?;
    service.validate().context("invalid settings")?;
    runtime()?.block_on(async {
        let store = open_store(&service).await?;
        let now = warden::clock::now_ms();
        let purged = store.purge(&service.retention, now).await?;
        println!("{}", serde_json::to_string(&purged)?);
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
