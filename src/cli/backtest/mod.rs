//! `warden backtest`: the current rules and policy and a candidate, side by side over recorded
//! traffic (a file, or the topics between two times: `source`), through the whole path
//! `warden run` takes (decoding, scoring, signals and delivery feedback, the account policy with
//! its ladder and circuit breaker, cases in a throwaway store), and what the candidate would
//! change. Nothing is produced, no offset is committed and the configured store is never opened.

mod html;
mod report;
mod source;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use tokio::sync::Notify;

use super::ModelArgs;
use warden::config::{self, DEFAULT_POLICY_PATH, DEFAULT_RULES_PATH, Topics};
use warden::enforce::{AppealSettings, Enforcer};
use warden::ingest::decide::{Decision, Input, decide_batch_for};
use warden::message::Action;
use warden::privacy::{RecipientHasher, Secret, excerpt};
use warden::rules::RuleUnion;
use warden::scoring::Scorer;
use warden::store::{CaseStatus, NewCase, Store};
use warden::suspension::{Step, SuspensionPolicy};

use report::{Change, Confusion, report};
use source::{FileRecords, Records, TopicRecords};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["input", "brokers"])))]
pub struct BacktestArgs {
    /// Recorded messages: JSON lines of `messages` records (DESIGN.md), in time order.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Or the broker whose `messages` and `message-feedback` topics to read, between `--from`
    /// and `--to` (by assigned partitions: no group is joined, no offset committed).
    #[arg(long, requires_all = ["from", "to"])]
    brokers: Option<String>,
    /// With --brokers: the first record's time (RFC 3339, or a date for its midnight UTC).
    #[arg(long, requires = "brokers")]
    from: Option<String>,
    /// With --brokers: records before this time (RFC 3339, or a date).
    #[arg(long, requires = "brokers")]
    to: Option<String>,
    /// With --brokers: the messages topic.
    #[arg(long, default_value = "messages")]
    messages_topic: String,
    /// With --brokers: the delivery feedback topic ("" for none).
    #[arg(long, default_value = "message-feedback")]
    feedback_topic: String,
    /// The current rules file.
    #[arg(long, default_value = DEFAULT_RULES_PATH)]
    current_rules: PathBuf,
    /// The current policy file.
    #[arg(long, default_value = DEFAULT_POLICY_PATH)]
    current_policy: PathBuf,
    /// The candidate's rules file (default: the current one).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// The candidate's policy file (default: the current one).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The model the current side scores with (and the candidate, without
    /// --candidate-model).
    #[command(flatten)]
    model: ModelArgs,
    /// The candidate's model file (default: the current side's).
    #[arg(long, conflicts_with = "rules_only")]
    candidate_model: Option<PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Also write the report as one HTML page, with charts, to this file.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Reviewers' labels (`warden labels export > FILE`, or any `label<TAB>redacted text`
    /// file): each side's precision and recall on the messages whose redacted excerpt they
    /// label.
    #[arg(long)]
    labels: Option<PathBuf>,
}

/// Messages decided per round: each side decides the round on every core, then enforces it.
const ROUND: usize = 20_000;

/// Excerpts kept per change of action.
const SAMPLES: usize = 3;

/// One side: its enforcer over a throwaway store, and what it did.
struct Side {
    enforcer: Enforcer,
    store: Store,
    /// Holds the throwaway store's file until the side is done.
    _dir: tempfile::TempDir,
    actions: BTreeMap<&'static str, u64>,
    rule_hits: BTreeMap<String, u64>,
    /// Per shadow rule: its hits, and the actions it would have raised messages to.
    shadow: BTreeMap<String, ShadowReport>,
    /// Each account's highest step.
    steps: HashMap<String, Step>,
    /// Cases opened for a person instead (allowlisted accounts, the breaker tripped).
    sent_to_review: usize,
}

/// What became of one record on one side.
enum Outcome {
    /// A message's final action, and its body (redacted only where the report shows it).
    Message(Action, String),
    Feedback,
    /// Not a record that can be decided (it would be dead-lettered).
    Undecodable,
}

#[derive(Debug, Default, Clone, Serialize)]
struct ShadowReport {
    hits: u64,
    would_raise_to: BTreeMap<&'static str, u64>,
}

impl Side {
    async fn start(account_policy: SuspensionPolicy) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("cannot create a temp dir")?;
        let url = format!("sqlite://{}", dir.path().join("backtest.db").display());
        let store = Store::connect(&url).await?;
        let appeal = AppealSettings {
            secret: Secret::new("backtest"),
            base_url: "https://backtest.invalid/appeal".into(),
            days: config::MIN_APPEAL_DAYS,
            policy_url: "https://backtest.invalid/policy".into(),
            redress: String::new(),
            warning_next_step: String::new(),
            clause_urls: BTreeMap::new(),
        };
        let enforcer = Enforcer::start(
            store.clone(),
            account_policy,
            appeal,
            Arc::new(Notify::new()),
        )
        .await?;
        Ok(Self {
            enforcer,
            store,
            _dir: dir,
            actions: BTreeMap::new(),
            rule_hits: BTreeMap::new(),
            shadow: BTreeMap::new(),
            steps: HashMap::new(),
            sent_to_review: 0,
        })
    }

    /// Enforces one round's decisions in order, as the stream would; returns what became of
    /// each record (a message's final action and its body).
    async fn enforce(&mut self, decisions: Vec<Decision>) -> anyhow::Result<Vec<Outcome>> {
        let mut outcomes = Vec::with_capacity(decisions.len());
        for decision in decisions {
            let (mut verdict, facts) = match decision {
                Decision::Verdict { verdict, facts } => (verdict, facts),
                Decision::Feedback {
                    account_id,
                    message_id,
                    kind,
                    at,
                    recipient,
                } => {
                    let case = self
                        .enforcer
                        .take_feedback(&account_id, &message_id, kind, at, recipient)
                        .await?;
                    if let Some(case) = case {
                        self.enforcer.open(&case).await?;
                        self.step(&case);
                    }
                    outcomes.push(Outcome::Feedback);
                    continue;
                }
                Decision::DeadLetter { .. } => {
                    outcomes.push(Outcome::Undecodable);
                    continue;
                }
            };
            if let Some(case) = self.enforcer.assess(&mut verdict, &facts) {
                self.enforcer.open(&case).await?;
                self.step(&case);
            }
            *self.actions.entry(verdict.action.as_str()).or_default() += 1;
            for rule in &verdict.rule_hits {
                *self.rule_hits.entry(rule.to_string()).or_default() += 1;
            }
            for rule in &verdict.shadow_rule_hits {
                self.shadow.entry(rule.to_string()).or_default().hits += 1;
            }
            for (rule, to) in &facts.shadow_changes {
                let shadow = self.shadow.entry(rule.to_string()).or_default();
                *shadow.would_raise_to.entry(to.as_str()).or_default() += 1;
            }
            outcomes.push(Outcome::Message(verdict.action, facts.body));
        }
        Ok(outcomes)
    }

    fn step(&mut self, case: &NewCase) {
        let step = match (case.status, case.ends_at) {
            (CaseStatus::Warned, _) => Step::Warn,
            (CaseStatus::Suspended, Some(_)) => Step::Restrict,
            (CaseStatus::Suspended, None) => Step::Suspend,
            (CaseStatus::InReview, _) => {
                self.sent_to_review += 1;
                return;
            }
            _ => return,
        };
        let highest = self
            .steps
            .entry(case.account_id.to_string())
            .or_insert(step);
        *highest = (*highest).max(step);
    }
}

pub fn run(args: BacktestArgs) -> anyhow::Result<ExitCode> {
    let model = args.model.path();
    let (current_scorer, current_policy) =
        config::load_scoring(&args.current_rules, &args.current_policy, model)?;
    let (candidate_scorer, candidate_policy) = config::load_scoring(
        args.rules.as_deref().unwrap_or(&args.current_rules),
        args.policy.as_deref().unwrap_or(&args.current_policy),
        args.candidate_model.as_deref().or(model),
    )?;
    // Both sides' rules matched once per message, each side reading its own hits from them.
    let sources = [
        args.current_rules.as_path(),
        args.rules.as_deref().unwrap_or(&args.current_rules),
    ]
    .map(std::fs::read_to_string);
    let union = match &sources {
        [Ok(current), Ok(candidate)] => RuleUnion::new(
            &[current, candidate],
            &[current_scorer.rules(), candidate_scorer.rules()],
        ),
        _ => None,
    };
    let labels = args
        .labels
        .as_deref()
        .map(read_labels)
        .transpose()?
        .unwrap_or_default();
    let records = open_source(&args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut current = runtime.block_on(Side::start(current_policy))?;
    let mut candidate = runtime.block_on(Side::start(candidate_policy))?;
    let scorers = [&current_scorer, &candidate_scorer];
    // The next round is decided on the scoring threads while this one is enforced.
    let (rounds, decided) = std::sync::mpsc::sync_channel(1);
    let started = Instant::now();
    let progress = if args.json {
        indicatif::ProgressBar::hidden()
    } else {
        progress_line()
    };
    let tally = std::thread::scope(|scope| {
        let union = union.as_ref();
        scope.spawn(move || decide_rounds(records, scorers, union, rounds));
        runtime.block_on(enforce_rounds(
            &decided,
            &mut current,
            &mut candidate,
            &labels,
            &progress,
        ))
    })?;
    progress.finish_and_clear();
    runtime.block_on(report(&args, &current, &candidate, tally, started))
}

/// The recorded traffic the arguments name.
fn open_source(args: &BacktestArgs) -> anyhow::Result<Box<dyn Records>> {
    if let Some(path) = &args.input {
        return Ok(Box::new(FileRecords::open(path)?));
    }
    let (Some(brokers), Some(from), Some(to)) = (&args.brokers, &args.from, &args.to) else {
        anyhow::bail!("give --input FILE, or --brokers with --from and --to");
    };
    let from_ms = super::transparency::instant(from, "--from")?;
    let to_ms = super::transparency::instant(to, "--to")?;
    anyhow::ensure!(from_ms < to_ms, "--from must come before --to");
    let mut topics = vec![(Input::Messages, args.messages_topic.as_str())];
    if !args.feedback_topic.is_empty() {
        topics.push((Input::Feedback, args.feedback_topic.as_str()));
    }
    Ok(Box::new(TopicRecords::open(
        brokers, &topics, from_ms, to_ms,
    )?))
}

/// A spinner with the count and the rate, on stderr when it is a terminal.
fn progress_line() -> indicatif::ProgressBar {
    let line = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} backtest: {human_pos} records, {per_sec} ({elapsed})",
    ) {
        line.set_style(style);
    }
    line
}

/// Both sides' decisions for one round of messages, or why the input could not be read.
type Round = anyhow::Result<[Vec<Decision>; 2]>;

/// Reads the traffic in rounds and decides each round for both sides, on every core; stops
/// at the end of the traffic, at a record that cannot be read, or when the enforcing side hangs
/// up.
fn decide_rounds(
    mut records: Box<dyn Records>,
    scorers: [&Scorer; 2],
    union: Option<&RuleUnion>,
    rounds: SyncSender<Round>,
) {
    let pool = match rayon::ThreadPoolBuilder::new()
        .start_handler(|_| yield_to_enforcement())
        .build()
    {
        Ok(pool) => pool,
        Err(error) => {
            let _ = rounds.send(Err(anyhow::anyhow!(
                "cannot start the scoring threads: {error}"
            )));
            return;
        }
    };
    let recipients = RecipientHasher::new(&Secret::new("backtest"));
    let topics = Topics::default();
    loop {
        let round = match records.next_round(ROUND) {
            Ok(round) if round.is_empty() => return,
            Ok(round) => round,
            Err(error) => {
                let _ = rounds.send(Err(error));
                return;
            }
        };
        let decided = decide_batch_for(&pool, scorers, union, &recipients, &topics, &round);
        let decisions = decided
            .into_iter()
            .map(|[current, candidate]| (current, candidate));
        if rounds.send(Ok(decisions.unzip().into())).is_err() {
            return;
        }
    }
}

/// Lowers the calling scoring thread's priority (niceness 10; on Linux it is per thread). The
/// enforcing thread waits on its stores' round trips, and on two cores busy scoring threads kept
/// it from being woken promptly: on a million recorded messages that open 7,637 cases a side,
/// 100,000 to 113,000 messages a second without this, 125,000 with it; unchanged where few cases
/// open.
fn yield_to_enforcement() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority reads three integers and touches no memory of this process.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// What the rounds added up to, beyond each side's own counts.
#[derive(Default)]
struct Tally {
    messages: u64,
    feedback: u64,
    undecodable: u64,
    changed: BTreeMap<String, Change>,
    /// Per side (current, candidate), on labelled messages.
    labelled: [Confusion; 2],
}

/// Reviewers' labels by redacted text: `true` for abuse (spam, fraud, aup), `false` for ham.
type Labels = HashMap<String, bool>;

fn read_labels(path: &std::path::Path) -> anyhow::Result<Labels> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut labels = Labels::new();
    for (number, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (label, excerpt) = line.split_once('\t').with_context(|| {
            format!("{}:{}: expected label<TAB>text", path.display(), number + 1)
        })?;
        let abuse = match label {
            "ham" => false,
            "spam" | "fraud" | "aup" => true,
            other => anyhow::bail!(
                "{}:{}: unknown label {other:?} (ham, spam, fraud or aup)",
                path.display(),
                number + 1
            ),
        };
        labels.insert(excerpt.to_owned(), abuse);
    }
    Ok(labels)
}

/// Enforces each decided round on both sides, in order, and compares their actions.
async fn enforce_rounds(
    decided: &Receiver<Round>,
    current: &mut Side,
    candidate: &mut Side,
    labels: &Labels,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    while let Ok(round) = decided.recv() {
        let [before, after] = round?;
        progress.inc(before.len() as u64);
        // Each side waits on its own store's commits: the two overlap.
        let (before, after) = tokio::join!(current.enforce(before), candidate.enforce(after));
        for (before, after) in before?.into_iter().zip(after?) {
            // A record decodes the same on both sides: only the decisions differ.
            let (from, to, body) = match (before, after) {
                (Outcome::Message(from, _), Outcome::Message(to, body)) => (from, to, body),
                (Outcome::Feedback, _) => {
                    tally.feedback += 1;
                    continue;
                }
                _ => {
                    tally.undecodable += 1;
                    continue;
                }
            };
            tally.messages += 1;
            // Redacting is per-message work: done only for labels and the samples shown.
            if !labels.is_empty()
                && let Some(&abuse) = labels.get(&excerpt(&body))
            {
                tally.labelled[0].add(abuse, from);
                tally.labelled[1].add(abuse, to);
            }
            if from != to {
                let change = tally
                    .changed
                    .entry(format!("{} -> {}", from.as_str(), to.as_str()))
                    .or_default();
                change.messages += 1;
                if change.excerpts.len() < SAMPLES {
                    change.excerpts.push(excerpt(&body));
                }
            }
        }
    }
    Ok(tally)
}
