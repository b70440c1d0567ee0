//! `warden simulate`: seeded, labelled traffic from many accounts through a real broker and a
//! real `warden run`, and the account-level report of what automated suspension did.
//!
//! Accounts have a kind, the ground truth: legitimate senders (one-time codes, delivery
//! notices, reminders, consented marketing: the hand-labelled legitimate texts of the corpus),
//! spammers, phishers, AUP violators (the corpus's abusive texts, sent in bursts to many
//! recipients), and compromised accounts that send legitimate traffic and then turn abusive.
//! Message times are simulated (`sent_at`), spread over a few hours, and the whole stream is
//! produced in time order before Warden starts, so a run is deterministic for a seed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::Message;
use rdkafka::producer::BaseProducer;
use time::OffsetDateTime;

use super::bench::{BenchTopics, Warden, client, create_topics, open_reader, send, settings};

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
    /// Policy file for the `warden run` under test (default: its own default).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// An account's ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Legitimate,
    Spammer,
    Phisher,
    AupViolator,
    Compromised,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Legitimate => "legitimate",
            Kind::Spammer => "spammer",
            Kind::Phisher => "phisher",
            Kind::AupViolator => "aup_violator",
            Kind::Compromised => "compromised",
        }
    }
}

/// SplitMix64: a tiny, fully specified generator, so that a seed means the same traffic on
/// every machine and every version (a general-purpose RNG crate promises neither).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high`.
    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next() as usize % items.len()]
    }
}

/// One simulated message.
struct Simulated {
    account: usize,
    sent_at: i64,
    abusive: bool,
    to: u64,
    body: String,
}

/// Texts of the corpus by what they are.
struct Texts {
    legitimate: Vec<String>,
    spam: Vec<String>,
    fraud: Vec<String>,
    aup: Vec<String>,
}

fn read_texts(path: &std::path::Path) -> anyhow::Result<Texts> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut texts = Texts {
        legitimate: Vec::new(),
        spam: Vec::new(),
        fraud: Vec::new(),
        aup: Vec::new(),
    };
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut fields = line.splitn(3, '\t');
        let (Some(label), Some(_action), Some(body)) =
            (fields.next(), fields.next(), fields.next())
        else {
            bail!("{}: not label<TAB>action<TAB>text: {line}", path.display());
        };
        let list = match label {
            "ham" => &mut texts.legitimate,
            "spam" => &mut texts.spam,
            "fraud" => &mut texts.fraud,
            "aup" => &mut texts.aup,
            other => bail!("{}: unknown label `{other}`", path.display()),
        };
        list.push(body.to_owned());
    }
    if [&texts.legitimate, &texts.spam, &texts.fraud, &texts.aup]
        .iter()
        .any(|l| l.is_empty())
    {
        bail!("{}: every label needs texts", path.display());
    }
    Ok(texts)
}

/// Start of simulated time.
const T0: i64 = 1_795_996_800; // 2026-11-30T00:00:00Z

/// Generates every account's kind and messages.
fn generate(accounts: usize, seed: u64, texts: &Texts) -> (Vec<Kind>, Vec<Simulated>) {
    let mut rng = Rng(seed);
    let mut kinds = Vec::with_capacity(accounts);
    let mut messages = Vec::new();
    for account in 0..accounts {
        let kind = match rng.range(0, 99) {
            0..=87 => Kind::Legitimate,
            88..=91 => Kind::Spammer,
            92..=95 => Kind::Phisher,
            96..=97 => Kind::AupViolator,
            _ => Kind::Compromised,
        };
        kinds.push(kind);
        let start = T0 + rng.range(0, 3_600) as i64;
        let recipients_base = rng.next();
        let mut at = start;
        let mut push = |rng: &mut Rng, at: i64, abusive: bool, body: &str, fan_out: bool| {
            let to = if fan_out {
                recipients_base ^ rng.next()
            } else {
                recipients_base ^ rng.range(0, 5)
            };
            messages.push(Simulated {
                account,
                sent_at: at,
                abusive,
                to,
                body: body.to_owned(),
            });
        };
        // A legitimate sender repeats its few templates to its own recipients, minutes apart.
        let legitimate_phase =
            |rng: &mut Rng,
             at: &mut i64,
             count: u64,
             push: &mut dyn FnMut(&mut Rng, i64, bool, &str, bool)| {
                let templates: Vec<String> = (0..rng.range(1, 3))
                    .map(|_| rng.pick(&texts.legitimate).clone())
                    .collect();
                let fan_out = rng.range(0, 1) == 0;
                for _ in 0..count {
                    *at += rng.range(30, 900) as i64;
                    let body = rng.pick(&templates).clone();
                    push(rng, *at, false, &body, fan_out);
                }
            };
        let abusive_phase =
            |rng: &mut Rng,
             at: &mut i64,
             count: u64,
             pool: &[String],
             push: &mut dyn FnMut(&mut Rng, i64, bool, &str, bool)| {
                let templates: Vec<String> = (0..rng.range(1, 2))
                    .map(|_| rng.pick(pool).clone())
                    .collect();
                for _ in 0..count {
                    *at += rng.range(1, 30) as i64;
                    let body = rng.pick(&templates).clone();
                    push(rng, *at, true, &body, true);
                }
            };
        match kind {
            Kind::Legitimate => {
                let count = rng.range(3, 20);
                legitimate_phase(&mut rng, &mut at, count, &mut push);
            }
            Kind::Spammer => {
                let count = rng.range(5, 20);
                abusive_phase(&mut rng, &mut at, count, &texts.spam, &mut push);
            }
            Kind::Phisher => {
                let count = rng.range(5, 20);
                abusive_phase(&mut rng, &mut at, count, &texts.fraud, &mut push);
            }
            Kind::AupViolator => {
                let count = rng.range(5, 20);
                abusive_phase(&mut rng, &mut at, count, &texts.aup, &mut push);
            }
            Kind::Compromised => {
                let before = rng.range(3, 10);
                legitimate_phase(&mut rng, &mut at, before, &mut push);
                let pool = match rng.range(0, 1) {
                    0 => &texts.spam,
                    _ => &texts.fraud,
                };
                let after = rng.range(5, 15);
                abusive_phase(&mut rng, &mut at, after, pool, &mut push);
            }
        }
    }
    // One stream in time order; each account's messages keep their order.
    messages.sort_by_key(|m| (m.sent_at, m.account));
    (kinds, messages)
}

fn record(run_id: i128, index: usize, message: &Simulated) -> (String, Vec<u8>) {
    let account_id = format!("ACsim{:06}", message.account);
    let sent_at = OffsetDateTime::from_unix_timestamp(message.sent_at).expect("simulated time");
    let json = serde_json::json!({
        "message_id": format!("SMsim{run_id}-{index}"),
        "account_id": account_id,
        "sent_at": sent_at.format(&time::format_description::well_known::Rfc3339).expect("formats"),
        "channel": "sms",
        "to": format!("+1555{:07}", message.to % 10_000_000),
        "body": message.body,
    });
    (account_id, serde_json::to_vec(&json).expect("JSON"))
}

pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let texts = read_texts(&args.corpus)?;
    let (kinds, messages) = generate(args.accounts, args.seed, &texts);
    let run_id = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let topics = BenchTopics::new(run_id);
    create_topics(&args.brokers, &topics, args.partitions)?;
    let records: Vec<(String, Vec<u8>)> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| record(run_id, i, m))
        .collect();
    let producer: BaseProducer = client(&args.brokers)
        .set("linger.ms", "5")
        .set("acks", "all")
        .create()
        .context("cannot create the producer")?;
    send(
        &producer,
        &topics.messages,
        &records,
        0,
        &mut vec![None; records.len()],
    )?;
    eprintln!(
        "simulate: {} accounts, {} messages produced; running warden",
        args.accounts,
        records.len()
    );
    let config_dir = tempfile::tempdir().context("cannot create a temp dir")?;
    let config = config_dir.path().join("warden.toml");
    std::fs::write(&config, settings(&args.brokers, run_id, &topics))?;
    let extra: Vec<std::ffi::OsString> = match &args.policy {
        Some(policy) => vec!["--policy".into(), policy.into()],
        None => Vec::new(),
    };
    let mut warden = Warden::start_with(&config, &extra)?;

    // Every message's verdict: (action, account suspended).
    let verdicts = open_reader(&args.brokers, &topics.verdicts, args.partitions)?;
    let mut decided: HashMap<usize, (String, bool)> = HashMap::new();
    let start = Instant::now();
    while decided.len() < records.len() {
        if start.elapsed() > Duration::from_secs(args.timeout_s) {
            bail!(
                "only {} of {} verdicts within {} s",
                decided.len(),
                records.len(),
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
        let index = verdict["message_id"]
            .as_str()
            .and_then(|id| id.rsplit('-').next())
            .and_then(|i| i.parse::<usize>().ok())
            .context("unexpected verdict")?;
        let action = verdict["action"].as_str().unwrap_or_default().to_owned();
        decided.insert(index, (action, verdict["account_suspended"] == true));
    }
    // Suspensions are acknowledged with the verdicts of their batch, so all are in by now.
    let actions = open_reader(&args.brokers, &topics.account_actions, args.partitions)?;
    let mut suspended_at: HashMap<usize, i64> = HashMap::new();
    let quiet = Instant::now();
    while quiet.elapsed() < Duration::from_secs(3) {
        let Some(result) = actions.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = result.context("cannot read account actions")?;
        let action: serde_json::Value =
            serde_json::from_slice(message.payload().unwrap_or_default())?;
        let account = action["account_id"]
            .as_str()
            .and_then(|a| a.strip_prefix("ACsim"))
            .and_then(|n| n.parse::<usize>().ok())
            .context("unexpected account action")?;
        let at = action["at"]
            .as_str()
            .and_then(|t| {
                OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
            .map_or(0, |t| t.unix_timestamp());
        suspended_at.entry(account).or_insert(at);
    }
    let peak = warden.stop()?;
    let report = report(&kinds, &messages, &decided, &suspended_at);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report, args.seed, &peak);
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, serde::Serialize)]
struct Report {
    accounts: usize,
    messages: usize,
    by_kind: BTreeMap<&'static str, KindReport>,
    suspension_precision: f64,
    suspension_recall: f64,
    false_suspensions_per_10k_legitimate: f64,
    /// Abusive messages delivered (not blocked) per abusive account: median and p95.
    abusive_delivered_median: f64,
    abusive_delivered_p95: f64,
    /// Simulated seconds from an account's first abusive message to its suspension.
    seconds_to_suspension_median: f64,
}

#[derive(Debug, Default, serde::Serialize)]
struct KindReport {
    accounts: usize,
    suspended: usize,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn report(
    kinds: &[Kind],
    messages: &[Simulated],
    decided: &HashMap<usize, (String, bool)>,
    suspended_at: &HashMap<usize, i64>,
) -> Report {
    let mut by_kind: BTreeMap<&'static str, KindReport> = BTreeMap::new();
    for (account, kind) in kinds.iter().enumerate() {
        let entry = by_kind.entry(kind.name()).or_default();
        entry.accounts += 1;
        entry.suspended += usize::from(suspended_at.contains_key(&account));
    }
    let abusive: HashSet<usize> = (0..kinds.len())
        .filter(|&a| kinds[a] != Kind::Legitimate)
        .collect();
    let legitimate = kinds.len() - abusive.len();
    let true_positive = suspended_at.keys().filter(|a| abusive.contains(a)).count();
    let false_positive = suspended_at.len() - true_positive;
    let mut delivered: HashMap<usize, f64> = abusive.iter().map(|&a| (a, 0.0)).collect();
    let mut first_abusive: HashMap<usize, i64> = HashMap::new();
    for (index, message) in messages.iter().enumerate() {
        if !message.abusive {
            continue;
        }
        first_abusive
            .entry(message.account)
            .or_insert(message.sent_at);
        if decided
            .get(&index)
            .is_some_and(|(action, _)| action != "block")
        {
            *delivered.entry(message.account).or_default() += 1.0;
        }
    }
    let mut delivered: Vec<f64> = delivered.into_values().collect();
    delivered.sort_by(f64::total_cmp);
    let mut to_suspension: Vec<f64> = suspended_at
        .iter()
        .filter_map(|(account, at)| first_abusive.get(account).map(|first| (at - first) as f64))
        .collect();
    to_suspension.sort_by(f64::total_cmp);
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Report {
        accounts: kinds.len(),
        messages: messages.len(),
        by_kind,
        suspension_precision: ratio(true_positive, suspended_at.len()),
        suspension_recall: ratio(true_positive, abusive.len()),
        false_suspensions_per_10k_legitimate: ratio(false_positive * 10_000, legitimate),
        abusive_delivered_median: quantile(&delivered, 0.5),
        abusive_delivered_p95: quantile(&delivered, 0.95),
        seconds_to_suspension_median: quantile(&to_suspension, 0.5),
    }
}

fn print_report(report: &Report, seed: u64, peak: &str) {
    println!(
        "simulation (seed {seed}): {} accounts, {} messages; warden peak memory {peak}",
        report.accounts, report.messages
    );
    for (kind, counts) in &report.by_kind {
        println!(
            "  {kind:<13} {:>6} accounts, {:>6} suspended",
            counts.accounts, counts.suspended
        );
    }
    println!(
        "suspensions: precision {:.4}, recall {:.4}, false suspensions per 10,000 legitimate accounts {:.1}",
        report.suspension_precision,
        report.suspension_recall,
        report.false_suspensions_per_10k_legitimate
    );
    println!(
        "abusive messages delivered per abusive account: median {}, p95 {}; simulated time to suspension: median {} s",
        report.abusive_delivered_median,
        report.abusive_delivered_p95,
        report.seconds_to_suspension_median
    );
}
