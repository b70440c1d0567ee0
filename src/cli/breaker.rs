//! `warden breaker`: the circuit breaker's state, and an admin's reset.
//!
//! The breaker lives in the database (`breaker_events`), so this works on every instance at
//! once: running instances read it at each checkpoint (every 5 s).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use time::OffsetDateTime;

use warden::config::{self, DEFAULT_SERVICE_PATH};
use warden::store::{BreakerEvent, Store};

#[derive(Debug, clap::Args)]
pub struct BreakerArgs {
    #[command(subcommand)]
    command: BreakerCommand,
    /// Service settings, for the database URL [default: config/warden.toml, if present].
    #[arg(long, env = "WARDEN_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Database (`sqlite://FILE` or `postgres://…`), overriding the file.
    #[arg(long, env = "WARDEN_DATABASE_URL", global = true)]
    database_url: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum BreakerCommand {
    /// Print whether the breaker is tripped, since when and by whom.
    Status,
    /// Reset a tripped breaker: automated suspensions resume on every instance.
    Reset {
        /// Who resets it (recorded as `admin:<name>`).
        #[arg(long)]
        by: String,
        /// Why (recorded with the event).
        #[arg(long)]
        reason: String,
    },
}

pub fn run(args: BreakerArgs) -> anyhow::Result<ExitCode> {
    let service = match &args.config {
        Some(path) => config::load_service(path, true)?,
        None => config::load_service(DEFAULT_SERVICE_PATH.as_ref(), false)?,
    };
    let url = args.database_url.unwrap_or(service.database.url);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = Store::connect(&url)
            .await
            .context("cannot open the database")?;
        let latest = store.breaker_state().await?;
        match args.command {
            BreakerCommand::Status => {
                match latest {
                    Some(event) if event.tripped => println!(
                        "tripped since {} ({}): new cases go to human review",
                        format_ms(event.at),
                        event.detail
                    ),
                    Some(event) => println!(
                        "closed: reset at {} by {} ({})",
                        format_ms(event.at),
                        event.actor,
                        event.detail
                    ),
                    None => println!("closed: never tripped"),
                }
                Ok(ExitCode::SUCCESS)
            }
            BreakerCommand::Reset { by, reason } => {
                if !latest.is_some_and(|event| event.tripped) {
                    eprintln!("the breaker is not tripped; nothing to reset");
                    return Ok(ExitCode::from(2));
                }
                let now = OffsetDateTime::now_utc();
                store
                    .record_breaker(&BreakerEvent {
                        at: (now.unix_timestamp_nanos() / 1_000_000) as i64,
                        tripped: false,
                        actor: format!("admin:{by}"),
                        detail: reason,
                    })
                    .await?;
                println!("reset: running instances resume automated suspensions within 5 s");
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

fn format_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}
