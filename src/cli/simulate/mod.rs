//! `warden simulate`: seeded, labelled traffic from many accounts through a real broker and a
//! real `warden run`, and the account-level report of what automated suspension did.
//!
//! Accounts have a kind, the ground truth: legitimate senders (one-time codes, delivery
//! notices, reminders, consented marketing: the hand-labelled legitimate texts of the corpus),
//! spammers, phishers, AUP violators (the corpus's abusive texts, sent in bursts to many
//! recipients), and compromised accounts that send legitimate traffic and then turn abusive.
//! Message times are simulated (`sent_at`), spread over a few hours, and the whole stream is
//! produced in time order before Warden starts, so a run is deterministic for a seed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::Message;
use rdkafka::producer::BaseProducer;
use time::OffsetDateTime;

use warden::harness::{Outgoing, Topics, WardenRun, client, reader_from_beginning, send};

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Broker to run against (`host:port`).
    #[arg(long, env = "WARDEN_BROKERS", default_value = "127.0.0.1:9092")]
    brokers: String,
    /// Accounts to simulate.
    #[arg(long, default_value_t = 10_000)]
    accounts: usize,
    /// Seed of the generator: the same seed gives the same traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Labelled texts (`label<TAB>expected action<TAB>text`, the corpus format).
    #[arg(long, default_value = "tests/data/corpus.tsv")]
    corpus: PathBuf,
    /// Partitions of the input topic.
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Longest wait for all verdicts, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout_s: u64,
    /// Policy file for the `warden run` under test.
    #[arg(long, default_value = "config/policy.toml")]
    policy: PathBuf,
    /// Model file for the `warden run` under test: a candidate seen sender by sender before
    /// it ships (a template it flags repeats, and moves an account, not only a message).
    #[arg(long, default_value = "models/warden.json")]
    model: PathBuf,
    /// Rules file for the `warden run` under test.
    #[arg(long, default_value = "config/rules.toml")]
    rules: PathBuf,
    /// Replaces the circuit breaker's `min_suspensions` in the policy. The shipped floor is
    /// sized for production, where a tenth of all accounts turning abusive within the hour
    /// is the surge the breaker exists to stop; raise it to measure detection alone.
    #[arg(long)]
    breaker_floor: Option<u32>,
    /// Records (messages and feedback) sent per second, in simulated time order.
    #[arg(long, default_value_t = 20_000)]
    rate: u32,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// An account's ground truth.
mod report;
mod traffic;

use report::{Decided, Steps, print_report, report};
use traffic::{T0, rfc3339};
pub(super) use traffic::{generate, read_texts, stream};

/// The policy under test: `policy` as given, with the breaker's floor replaced if asked.
fn policy_file(
    policy: &std::path::Path,
    breaker_floor: Option<u32>,
    dir: &std::path::Path,
) -> anyhow::Result<PathBuf> {
    let Some(floor) = breaker_floor else {
        return Ok(policy.to_owned());
    };
    let text = std::fs::read_to_string(policy)
        .with_context(|| format!("cannot read {}", policy.display()))?;
    let mut value: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not TOML", policy.display()))?;
    let breaker = value
        .entry("suspension")
        .or_insert_with(|| toml::Table::new().into())
        .as_table_mut()
        .context("`suspension` is not a table")?
        .entry("circuit_breaker")
        .or_insert_with(|| toml::Table::new().into())
        .as_table_mut()
        .context("`suspension.circuit_breaker` is not a table")?;
    breaker.insert("min_suspensions".into(), i64::from(floor).into());
    let path = dir.join("policy.toml");
    std::fs::write(&path, toml::to_string(&value)?)?;
    Ok(path)
}

pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let texts = read_texts(&args.corpus)?;
    let (kinds, messages) = generate(args.accounts, args.seed, &texts);
    let run_id = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let topics = Topics::prefixed(&format!("simulate-{run_id}"));
    topics.create(&args.brokers, args.partitions)?;
    let records = stream(run_id, &topics, &messages);
    let producer: BaseProducer = client(&args.brokers)
        .set("linger.ms", "5")
        .set("acks", "all")
        .create()
        .context("cannot create the producer")?;
    let config_dir = tempfile::tempdir().context("cannot create a temp dir")?;
    let config = config_dir.path().join("warden.toml");
    // No review API: nobody reviews, nothing scrapes.
    let settings = topics.settings(&args.brokers, &format!("simulate-{run_id}"));
    std::fs::write(&config, format!("{settings}\n[api]\nlisten = \"\"\n"))?;
    let policy = policy_file(&args.policy, args.breaker_floor, config_dir.path())?;
    let extra: Vec<std::ffi::OsString> = vec![
        "--policy".into(),
        policy.into(),
        "--model".into(),
        args.model.clone().into(),
        "--rules".into(),
        args.rules.clone().into(),
    ];
    let mut warden = WardenRun::throwaway(&std::env::current_exe()?, &config, &extra)?;

    // One warm-up message proves the group has formed, so the stream is then decided in the
    // order it is sent: feedback after the messages it is about, as in production.
    let verdicts = reader_from_beginning(&args.brokers, &topics.verdicts)?;
    let warm_up = Outgoing {
        topic: &topics.messages,
        key: "ACsimwarmup".into(),
        payload: serde_json::to_vec(&serde_json::json!({
            "message_id": format!("SMsim{run_id}-warmup"), "account_id": "ACsimwarmup",
            "sent_at": rfc3339(T0), "channel": "sms", "to": "+15550000000", "body": "hello",
        }))?,
    };
    send(&producer, &[warm_up], 0)?;
    let start = Instant::now();
    let deadline = Duration::from_secs(args.timeout_s);
    loop {
        if start.elapsed() > deadline {
            bail!(
                "warden did not decide a first message within {} s",
                args.timeout_s
            );
        }
        warden.check_alive()?;
        if let Some(result) = verdicts.poll(Duration::from_millis(100)) {
            result.context("cannot read verdicts")?;
            break;
        }
    }
    eprintln!(
        "simulate: {} accounts, {} messages and feedback records; sending at {}/s",
        args.accounts,
        records.len(),
        args.rate
    );

    // Every message's verdict, in the order verdicts arrived.
    let mut decided: HashMap<usize, Decided> = HashMap::new();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let sender = scope.spawn(|| send(&producer, &records, args.rate).map(drop));
        while decided.len() < messages.len() {
            if start.elapsed() > deadline {
                bail!(
                    "only {} of {} verdicts within {} s",
                    decided.len(),
                    messages.len(),
                    args.timeout_s
                );
            }
            warden.check_alive()?;
            let Some(result) = verdicts.poll(Duration::from_millis(100)) else {
                continue;
            };
            let message = result.context("cannot read verdicts")?;
            let verdict: serde_json::Value =
                serde_json::from_slice(message.payload().unwrap_or_default())?;
            let Some(index) = verdict["message_id"]
                .as_str()
                .and_then(|id| id.rsplit('-').next())
                .and_then(|i| i.parse::<usize>().ok())
            else {
                continue; // the warm-up
            };
            let action = verdict["action"].as_str().unwrap_or_default().to_owned();
            let decision = Decided {
                action,
                recipient_opted_out: verdict["recipient_opted_out"] == true,
                order: decided.len(),
            };
            decided.insert(index, decision);
        }
        Ok(sender.join().expect("the sender does not panic")?)
    })?;
    // Account actions and notices are acknowledged with the verdicts of their batch, so all
    // are in by now.
    let mut steps = Steps::default();
    for (topic, what) in [
        (&topics.account_actions, "account actions"),
        (&topics.notices, "notices"),
    ] {
        let reader = reader_from_beginning(&args.brokers, topic)?;
        let quiet = Instant::now();
        while quiet.elapsed() < Duration::from_secs(3) {
            let Some(result) = reader.poll(Duration::from_millis(100)) else {
                continue;
            };
            let message = result.with_context(|| format!("cannot read {what}"))?;
            let record: serde_json::Value =
                serde_json::from_slice(message.payload().unwrap_or_default())?;
            steps.take(&record)?;
        }
    }
    let peak = warden.stop_with_peak_memory()?;
    let report = report(&kinds, &messages, &decided, &steps);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report, args.seed, &peak);
    }
    Ok(ExitCode::SUCCESS)
}
