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

use super::bench::{
    BenchTopics, Outgoing, Warden, client, create_topics, open_reader, send, settings,
};
use warden::message::FeedbackKind;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Kind {
    Legitimate,
    Spammer,
    Phisher,
    AupViolator,
    Compromised,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
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

/// What a simulated message's text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Legitimate,
    Spam,
    Fraud,
    Aup,
}

impl Content {
    /// Chances, per message, that the pipeline reports it undelivered, filtered by the carrier,
    /// or answered with an opt-out. Assumed, not measured: carriers filter much spam and
    /// phishing and recipients opt out of spam; legitimate traffic mostly arrives, and a
    /// sender writing to new recipients (marketing) sees more opt-outs than one writing to its
    /// regular customers.
    fn feedback_chances(self, new_recipients: bool) -> [(FeedbackKind, f64); 3] {
        let (undelivered, filtered, opt_out) = match self {
            Content::Legitimate if new_recipients => (0.02, 0.002, 0.01),
            Content::Legitimate => (0.02, 0.002, 0.003),
            Content::Spam => (0.05, 0.15, 0.10),
            Content::Fraud => (0.08, 0.20, 0.03),
            Content::Aup => (0.03, 0.08, 0.08),
        };
        [
            (FeedbackKind::Undelivered, undelivered),
            (FeedbackKind::CarrierFiltered, filtered),
            (FeedbackKind::OptOut, opt_out),
        ]
    }
}

/// One simulated message.
pub(super) struct Simulated {
    account: usize,
    sent_at: i64,
    content: Content,
    to: u64,
    body: String,
    /// What the pipeline later reports about it, and when.
    feedback: Option<(FeedbackKind, i64)>,
}

impl Simulated {
    fn abusive(&self) -> bool {
        self.content != Content::Legitimate
    }
}

/// Texts of the corpus by what they are.
pub(super) struct Texts {
    legitimate: Vec<String>,
    spam: Vec<String>,
    fraud: Vec<String>,
    aup: Vec<String>,
}

impl Texts {
    fn pool(&self, content: Content) -> &[String] {
        match content {
            Content::Legitimate => &self.legitimate,
            Content::Spam => &self.spam,
            Content::Fraud => &self.fraud,
            Content::Aup => &self.aup,
        }
    }
}

pub(super) fn read_texts(path: &std::path::Path) -> anyhow::Result<Texts> {
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
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty() && !l.starts_with("label\t"))
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

/// One account's traffic as it is generated.
struct Sender<'a> {
    rng: &'a mut Rng,
    texts: &'a Texts,
    account: usize,
    at: i64,
    recipients_base: u64,
    messages: &'a mut Vec<Simulated>,
}

impl Sender<'_> {
    /// `count` messages from a few templates of `content`, `gap_s` apart (a uniform range).
    /// Fan-out sends each to a new recipient; otherwise the account writes to its handful of
    /// regular recipients.
    fn phase(&mut self, content: Content, count: u64, gap_s: (u64, u64), fan_out: bool) {
        let templates: Vec<String> = (0..self.rng.range(1, 2 + u64::from(!fan_out)))
            .map(|_| self.rng.pick(self.texts.pool(content)).clone())
            .collect();
        for _ in 0..count {
            self.at += self.rng.range(gap_s.0, gap_s.1) as i64;
            let to = if fan_out {
                self.recipients_base ^ self.rng.next()
            } else {
                self.recipients_base ^ self.rng.range(0, 5)
            };
            let body = self.rng.pick(&templates).clone();
            let mut feedback = None;
            let roll = self.rng.next() as f64 / u64::MAX as f64;
            let mut cumulative = 0.0;
            for (kind, chance) in content.feedback_chances(fan_out) {
                cumulative += chance;
                if roll < cumulative {
                    feedback = Some((kind, self.at + self.rng.range(5, 120) as i64));
                    break;
                }
            }
            self.messages.push(Simulated {
                account: self.account,
                sent_at: self.at,
                content,
                to,
                body,
                feedback,
            });
        }
    }
}

/// Generates every account's kind and messages.
///
/// Legitimate senders write 3 to 20 messages minutes apart, half of them to new recipients
/// (marketing, notifications) and half to regular ones. Abusers send campaigns in bursts,
/// seconds apart, each message to a new recipient: spammers 20 to 200 messages, phishers 10
/// to 100, AUP violators 10 to 60; compromised accounts send 3 to 10 legitimate messages, then
/// a spam or phishing campaign of 20 to 120.
pub(super) fn generate(accounts: usize, seed: u64, texts: &Texts) -> (Vec<Kind>, Vec<Simulated>) {
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
        let at = T0 + rng.range(0, 3_600) as i64;
        let recipients_base = rng.next();
        let mut sender = Sender {
            rng: &mut rng,
            texts,
            account,
            at,
            recipients_base,
            messages: &mut messages,
        };
        const MINUTES: (u64, u64) = (30, 900);
        const BURST: (u64, u64) = (1, 30);
        match kind {
            Kind::Legitimate => {
                let count = sender.rng.range(3, 20);
                let fan_out = sender.rng.range(0, 1) == 0;
                sender.phase(Content::Legitimate, count, MINUTES, fan_out);
            }
            Kind::Spammer => {
                let count = sender.rng.range(20, 200);
                sender.phase(Content::Spam, count, BURST, true);
            }
            Kind::Phisher => {
                let count = sender.rng.range(10, 100);
                sender.phase(Content::Fraud, count, BURST, true);
            }
            Kind::AupViolator => {
                let count = sender.rng.range(10, 60);
                sender.phase(Content::Aup, count, BURST, true);
            }
            Kind::Compromised => {
                let before = sender.rng.range(3, 10);
                sender.phase(Content::Legitimate, before, MINUTES, false);
                let content = match sender.rng.range(0, 1) {
                    0 => Content::Spam,
                    _ => Content::Fraud,
                };
                let after = sender.rng.range(20, 120);
                sender.phase(content, after, BURST, true);
            }
        }
    }
    // Messages in time order; each account's messages keep their order.
    messages.sort_by_key(|m| (m.sent_at, m.account));
    (kinds, messages)
}

fn account_id(account: usize) -> String {
    format!("ACsim{account:06}")
}

fn rfc3339(unix_s: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_s)
        .expect("simulated time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

fn message_id(run_id: i128, index: usize) -> String {
    format!("SMsim{run_id}-{index}")
}

/// The stream as the pipeline would send it: every message and every feedback record, in
/// simulated time order.
pub(super) fn stream<'a>(
    run_id: i128,
    topics: &'a BenchTopics,
    messages: &[Simulated],
) -> Vec<Outgoing<'a>> {
    let mut timed: Vec<(i64, Outgoing<'a>)> = Vec::with_capacity(messages.len() * 5 / 4);
    for (index, message) in messages.iter().enumerate() {
        let account_id = account_id(message.account);
        let json = serde_json::json!({
            "message_id": message_id(run_id, index),
            "account_id": account_id,
            "sent_at": rfc3339(message.sent_at),
            "channel": "sms",
            "to": format!("+1555{:07}", message.to % 10_000_000),
            "body": message.body,
        });
        timed.push((
            message.sent_at,
            Outgoing {
                topic: &topics.messages,
                key: account_id.clone(),
                payload: serde_json::to_vec(&json).expect("JSON"),
            },
        ));
        if let Some((kind, at)) = message.feedback {
            let json = serde_json::json!({
                "message_id": message_id(run_id, index),
                "account_id": account_id,
                "kind": match kind {
                    FeedbackKind::Undelivered => "undelivered",
                    FeedbackKind::CarrierFiltered => "carrier_filtered",
                    FeedbackKind::OptOut => "opt_out",
                },
                "at": rfc3339(at),
            });
            timed.push((
                at,
                Outgoing {
                    topic: &topics.feedback,
                    key: account_id,
                    payload: serde_json::to_vec(&json).expect("JSON"),
                },
            ));
        }
    }
    // A stable sort: a message and its account's later messages keep their order.
    timed.sort_by_key(|(at, _)| *at);
    timed.into_iter().map(|(_, outgoing)| outgoing).collect()
}

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
    let topics = BenchTopics::new(run_id);
    create_topics(&args.brokers, &topics, args.partitions)?;
    let records = stream(run_id, &topics, &messages);
    let producer: BaseProducer = client(&args.brokers)
        .set("linger.ms", "5")
        .set("acks", "all")
        .create()
        .context("cannot create the producer")?;
    let config_dir = tempfile::tempdir().context("cannot create a temp dir")?;
    let config = config_dir.path().join("warden.toml");
    std::fs::write(&config, settings(&args.brokers, run_id, &topics))?;
    let policy = policy_file(&args.policy, args.breaker_floor, config_dir.path())?;
    let extra: Vec<std::ffi::OsString> = vec!["--policy".into(), policy.into()];
    let mut warden = Warden::start_with(&config, &extra)?;

    // One warm-up message proves the group has formed, so the stream is then decided in the
    // order it is sent: feedback after the messages it is about, as in production.
    let verdicts = open_reader(&args.brokers, &topics.verdicts, args.partitions)?;
    let warm_up = Outgoing {
        topic: &topics.messages,
        key: "ACsimwarmup".into(),
        payload: serde_json::to_vec(&serde_json::json!({
            "message_id": format!("SMsim{run_id}-warmup"), "account_id": "ACsimwarmup",
            "sent_at": rfc3339(T0), "channel": "sms", "to": "+15550000000", "body": "hello",
        }))?,
    };
    send(&producer, &[warm_up], 0, &mut [None])?;
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

    // Every message's verdict: its action.
    let mut decided: HashMap<usize, String> = HashMap::new();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let sender = scope.spawn(|| {
            send(
                &producer,
                &records,
                args.rate,
                &mut vec![None; records.len()],
            )
        });
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
            decided.insert(index, action);
        }
        sender.join().expect("the sender does not panic")
    })?;
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
    /// Abusive accounts never suspended, for whoever tunes the policy.
    missed: Vec<Missed>,
}

/// An abusive account that was never suspended, and what Warden saw of it.
#[derive(Debug, Default, serde::Serialize)]
struct Missed {
    account_id: String,
    kind: &'static str,
    messages: usize,
    flagged: usize,
    blocked: usize,
    /// Opt-outs and carrier filtering reported.
    complaints: usize,
}

#[derive(Debug, Default, serde::Serialize)]
struct KindReport {
    accounts: usize,
    suspended: usize,
    /// Abusive messages delivered per account of this kind: median and p95.
    abusive_delivered_median: f64,
    abusive_delivered_p95: f64,
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
    decided: &HashMap<usize, String>,
    suspended_at: &HashMap<usize, i64>,
) -> Report {
    let abusive: HashSet<usize> = (0..kinds.len())
        .filter(|&a| kinds[a] != Kind::Legitimate)
        .collect();
    let legitimate = kinds.len() - abusive.len();
    let true_positive = suspended_at.keys().filter(|a| abusive.contains(a)).count();
    let false_positive = suspended_at.len() - true_positive;
    let mut delivered: HashMap<usize, f64> = abusive.iter().map(|&a| (a, 0.0)).collect();
    let mut first_abusive: HashMap<usize, i64> = HashMap::new();
    for (index, message) in messages.iter().enumerate() {
        if !message.abusive() {
            continue;
        }
        first_abusive
            .entry(message.account)
            .or_insert(message.sent_at);
        if decided.get(&index).is_some_and(|action| action != "block") {
            *delivered.entry(message.account).or_default() += 1.0;
        }
    }
    let mut by_kind: BTreeMap<&'static str, KindReport> = BTreeMap::new();
    let mut delivered_by_kind: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for (account, kind) in kinds.iter().enumerate() {
        let entry = by_kind.entry(kind.name()).or_default();
        entry.accounts += 1;
        entry.suspended += usize::from(suspended_at.contains_key(&account));
        if let Some(&count) = delivered.get(&account) {
            delivered_by_kind
                .entry(kind.name())
                .or_default()
                .push(count);
        }
    }
    for (kind, mut counts) in delivered_by_kind {
        counts.sort_by(f64::total_cmp);
        let entry = by_kind.get_mut(kind).expect("every kind is counted");
        entry.abusive_delivered_median = quantile(&counts, 0.5);
        entry.abusive_delivered_p95 = quantile(&counts, 0.95);
    }
    let mut missed: BTreeMap<usize, Missed> = abusive
        .iter()
        .filter(|a| !suspended_at.contains_key(a))
        .map(|&a| {
            let entry = Missed {
                account_id: account_id(a),
                kind: kinds[a].name(),
                ..Missed::default()
            };
            (a, entry)
        })
        .collect();
    for (index, message) in messages.iter().enumerate() {
        let Some(entry) = missed.get_mut(&message.account) else {
            continue;
        };
        entry.messages += 1;
        match decided.get(&index).map(String::as_str) {
            Some("flag") => entry.flagged += 1,
            Some("block") => entry.blocked += 1,
            _ => {}
        }
        entry.complaints += usize::from(matches!(
            message.feedback,
            Some((FeedbackKind::OptOut | FeedbackKind::CarrierFiltered, _))
        ));
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
        missed: missed.into_values().collect(),
    }
}

fn print_report(report: &Report, seed: u64, peak: &str) {
    println!(
        "simulation (seed {seed}): {} accounts, {} messages; warden peak memory {peak}",
        report.accounts, report.messages
    );
    for (kind, counts) in &report.by_kind {
        print!(
            "  {kind:<13} {:>6} accounts, {:>6} suspended",
            counts.accounts, counts.suspended
        );
        if *kind != Kind::Legitimate.name() {
            print!(
                "; abusive messages delivered: median {}, p95 {}",
                counts.abusive_delivered_median, counts.abusive_delivered_p95
            );
        }
        println!();
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
    if !report.missed.is_empty() {
        println!(
            "abusive accounts not suspended: {} (showing {})",
            report.missed.len(),
            report.missed.len().min(10)
        );
        for missed in report.missed.iter().take(10) {
            println!(
                "  {} {}: {} messages, {} flagged, {} blocked, {} complaints",
                missed.account_id,
                missed.kind,
                missed.messages,
                missed.flagged,
                missed.blocked,
                missed.complaints
            );
        }
    }
}
