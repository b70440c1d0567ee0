//! `warden transparency report`: what Warden decided about accounts in a period and what came
//! of the appeals (`warden::transparency`), from the database, with no account id in it; and
//! `warden transparency export`: the period's statements of reasons for the EU DSA
//! Transparency Database (`warden::statements`), each checked before any is written.

use std::collections::HashMap;
use std::path::PathBuf;
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
    /// Statements of reasons for every restriction and suspension taken in the period (and
    /// blocked message, when `[statements] report` has `block`), as JSON lines: each a body for the database's batch endpoint (`{"statements": [...]}`, at most
    /// 100). Nothing is written if any statement breaks the database's rules.
    Export {
        /// Start of the period, included: a date (`2026-11-01`, midnight UTC) or RFC 3339.
        #[arg(long)]
        since: String,
        /// End of the period, excluded (same forms). Default: now.
        #[arg(long)]
        until: Option<String>,
        /// The policy file: its `[statements]` table.
        #[arg(long, default_value = "config/policy.toml")]
        policy: PathBuf,
        /// The rules file: each rule's policy tag.
        #[arg(long, default_value = "config/rules.toml")]
        rules: PathBuf,
    },
}

pub fn run(args: TransparencyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TransparencyCommand::Report {
            from,
            to,
            json,
            csv,
        } => report(&args.database, &from, &to, json, csv),
        TransparencyCommand::Export {
            since,
            until,
            policy,
            rules,
        } => export(&args.database, &since, until.as_deref(), &policy, &rules),
    }
}

fn export(
    database: &DatabaseArgs,
    since: &str,
    until: Option<&str>,
    policy: &std::path::Path,
    rules: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let from_ms = instant(since, "--since")?;
    let to_ms = match until {
        Some(until) => instant(until, "--until")?,
        None => warden::clock::now_ms(),
    };
    anyhow::ensure!(from_ms < to_ms, "--since ({since}) must be before --until");
    let policy_path = policy;
    let policy = warden::config::load_policy(policy)?.statements;
    anyhow::ensure!(
        !policy.tags.is_empty(),
        "{} has no [statements.tags]: statements of reasons need the clauses rules enforce",
        policy_path.display()
    );
    let rule_tags: HashMap<String, String> = warden::config::load_rules(rules)?
        .rules()
        .iter()
        .map(|rule| (rule.id.as_str().to_owned(), rule.policy_tag.clone()))
        .collect();
    let facts =
        database.with_store(async |store| Ok(store.statement_facts(from_ms, to_ms).await?))?;
    // A statement the database would refuse stops the export, named by what it is about.
    let checked = |statement: Result<serde_json::Value, String>, about: String| {
        let statement = statement.map_err(|reason| anyhow::anyhow!("{about}: {reason}"))?;
        let problems = warden::statements::problems(&statement);
        anyhow::ensure!(
            problems.is_empty(),
            "{about}: the statement would be refused: {}",
            problems.join("; ")
        );
        Ok(statement)
    };
    let mut statements = Vec::new();
    for fact in facts.iter().filter(|fact| policy.reports(fact.step)) {
        let statement = warden::statements::statement(fact, &policy, &rule_tags);
        statements.push(checked(statement, format!("case {}", fact.case_id))?);
    }
    if policy.reports_blocks() {
        let blocks =
            database.with_store(async |store| Ok(store.block_facts(from_ms, to_ms).await?))?;
        for fact in &blocks {
            let statement = warden::statements::block_statement(fact, &policy, &rule_tags);
            statements.push(checked(statement, format!("message {}", fact.message_id))?);
        }
    }
    for batch in warden::statements::batches(&statements) {
        println!("{batch}");
    }
    eprintln!(
        "{} statements of reasons in {} batches",
        statements.len(),
        statements.len().div_ceil(warden::statements::MAX_BATCH)
    );
    Ok(ExitCode::SUCCESS)
}

fn report(
    database: &DatabaseArgs,
    from: &str,
    to: &str,
    json: bool,
    csv: bool,
) -> anyhow::Result<ExitCode> {
    let (from_ms, to_ms) = (instant(from, "--from")?, instant(to, "--to")?);
    anyhow::ensure!(
        from_ms < to_ms,
        "--from ({from}) must be before --to ({to})"
    );
    let facts =
        database.with_store(async |store| Ok(store.transparency_facts(from_ms, to_ms).await?))?;
    let report = warden::transparency::report(&facts, from_ms, to_ms, from, to);
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
pub(super) fn instant(text: &str, flag: &str) -> anyhow::Result<i64> {
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
