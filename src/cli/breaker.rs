//! `warden breaker`: the circuit breaker's state, and an admin's reset.
//!
//! The breaker lives in the database (`breaker_events`), so this works on every instance at
//! once: running instances read it at each checkpoint (every 5 s).

use std::process::ExitCode;

use time::OffsetDateTime;

use super::DatabaseArgs;
use warden::store::{Actor, BreakerEvent};

#[derive(Debug, clap::Args)]
pub struct BreakerArgs {
    #[command(subcommand)]
    command: BreakerCommand,
    #[command(flatten)]
    database: DatabaseArgs,
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
    args.database.with_store(async |store| {
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
                        at: warden::clock::unix_ms(now),
                        tripped: false,
                        actor: Actor::Admin(by),
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
