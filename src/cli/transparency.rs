//! `warden transparency report`: what Warden decided about accounts in a period and what came
//! of the appeals (`warden::transparency`), from the database, with no account id in it.

use std::process::ExitCode;

use anyhow::Context;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::DatabaseArgs;

#[derive(Debug, clap::Args)]
pub struct TransparencyArgs {
    #[command(subcommand)]
    command: TransparencyCommand,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, clap::Subcommand)]
enum TransparencyCommand {
    /// Suspensions by category and automation, cases sent to review, appeals received and
    /// decided (upheld, overturned), median and p90 time to decision, overturn rate per rule.
    Report {
        /// Start of the period, included: a date (`2026-11-01`, midnight UTC) or RFC 3339.
        #[arg(long)]
        from: String,
        /// End of the period, excluded (same forms).
        #[arg(long)]
        to: String,
        /// One JSON object.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// `section,key,value` lines.
        #[arg(long)]
        csv: bool,
    },
}

pub fn run(args: TransparencyArgs) -> anyhow::Result<ExitCode> {
    let TransparencyCommand::Report {
        from,
        to,
        json,
        csv,
    } = args.command;
    let (from_ms, to_ms) = (instant(&from, "--from")?, instant(&to, "--to")?);
    anyhow::ensure!(
        from_ms < to_ms,
        "--from ({from}) must be before --to ({to})"
    );
    let facts = args
        .database
        .with_store(async |store| Ok(store.transparency_facts(from_ms, to_ms).await?))?;
    let report = warden::transparency::report(&facts, from_ms, to_ms, &from, &to);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if csv {
        print!("{}", report.to_csv());
    } else {
        print!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A date (midnight UTC) or an RFC 3339 instant, as Unix ms.
fn instant(text: &str, flag: &str) -> anyhow::Result<i64> {
    let at = match OffsetDateTime::parse(text, &Rfc3339) {
        Ok(at) => at,
        Err(_) => Date::parse(
            text,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map(|date| date.midnight().assume_utc())
        .with_context(|| format!("{flag} {text:?} is neither a date (2026-11-01) nor RFC 3339"))?,
    };
    Ok(warden::clock::unix_ms(at))
}
