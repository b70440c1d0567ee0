//! What a backtest found: the two sides' counts and the differences between them, as JSON, as
//! lines for a terminal and (in `html`) as a page.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use warden::message::Action;
use warden::suspension::Step;

use super::{BacktestArgs, SAMPLES, ShadowReport, Side, Tally, html};

#[derive(Debug, Serialize)]
pub(super) struct Report {
    pub(super) messages: u64,
    /// Delivery feedback records taken into the accounts' signals.
    pub(super) feedback: u64,
    pub(super) undecodable: u64,
    pub(super) seconds: f64,
    /// Messages a second, both sides decided.
    pub(super) messages_per_second: f64,
    pub(super) current: SideReport,
    pub(super) candidate: SideReport,
    /// Messages whose action changes, by `from -> to`, with a few redacted excerpts.
    pub(super) changed: BTreeMap<String, Change>,
    /// Rules whose hits differ: current, candidate.
    pub(super) rule_hits: BTreeMap<String, (u64, u64)>,
    /// Shadow rules of the candidate: what each would have done enforced.
    pub(super) candidate_shadow_rules: BTreeMap<String, ShadowReport>,
    /// Accounts whose highest step differs, by `from -> to` (`none` for no step).
    pub(super) accounts: BTreeMap<String, AccountChange>,
    /// With --labels: each side on the messages reviewers labelled (current, candidate).
    pub(super) labels: Option<[LabelScores; 2]>,
}

#[derive(Debug, Serialize)]
pub(super) struct SideReport {
    pub(super) actions: BTreeMap<&'static str, u64>,
    pub(super) warned: usize,
    pub(super) restricted: usize,
    pub(super) suspended: usize,
    pub(super) sent_to_review: usize,
    /// The circuit breaker tripped: automated suspensions rose far above their baseline.
    pub(super) breaker_tripped: bool,
}

#[derive(Debug, Default, Serialize)]
pub(super) struct Change {
    pub(super) messages: u64,
    pub(super) excerpts: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub(super) struct AccountChange {
    pub(super) accounts: usize,
    pub(super) sample: Vec<String>,
}

impl SideReport {
    async fn of(side: &Side) -> anyhow::Result<Self> {
        let count = |step| side.steps.values().filter(|s| **s == step).count();
        Ok(Self {
            actions: side.actions.clone(),
            warned: count(Step::Warn),
            restricted: count(Step::Restrict),
            suspended: count(Step::Suspend),
            sent_to_review: side.sent_to_review,
            breaker_tripped: side
                .store
                .breaker_state()
                .await?
                .is_some_and(|event| event.tripped),
        })
    }
}

/// Labelled messages by label (abuse or ham) and by whether a side flagged or blocked them.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub(super) struct Confusion {
    pub(super) abuse_caught: u64,
    pub(super) abuse_missed: u64,
    pub(super) ham_flagged: u64,
    pub(super) ham_allowed: u64,
}

impl Confusion {
    pub(super) fn add(&mut self, abuse: bool, action: Action) {
        match (abuse, action >= Action::Flag) {
            (true, true) => self.abuse_caught += 1,
            (true, false) => self.abuse_missed += 1,
            (false, true) => self.ham_flagged += 1,
            (false, false) => self.ham_allowed += 1,
        }
    }
}

/// A side's precision and recall on the labelled messages (none when undefined).
#[derive(Debug, Serialize)]
pub(super) struct LabelScores {
    #[serde(flatten)]
    pub(super) counts: Confusion,
    pub(super) precision: Option<f64>,
    pub(super) recall: Option<f64>,
}

impl From<Confusion> for LabelScores {
    fn from(counts: Confusion) -> Self {
        let ratio = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
        Self {
            precision: ratio(
                counts.abuse_caught,
                counts.abuse_caught + counts.ham_flagged,
            ),
            recall: ratio(
                counts.abuse_caught,
                counts.abuse_caught + counts.abuse_missed,
            ),
            counts,
        }
    }
}

pub(super) async fn report(
    args: &BacktestArgs,
    current: &Side,
    candidate: &Side,
    tally: Tally,
    started: Instant,
) -> anyhow::Result<ExitCode> {
    let seconds = started.elapsed().as_secs_f64();
    let mut rule_hits = BTreeMap::new();
    for rule in current.rule_hits.keys().chain(candidate.rule_hits.keys()) {
        let counts = (
            current.rule_hits.get(rule).copied().unwrap_or(0),
            candidate.rule_hits.get(rule).copied().unwrap_or(0),
        );
        if counts.0 != counts.1 {
            rule_hits.insert(rule.clone(), counts);
        }
    }
    let mut accounts: BTreeMap<String, AccountChange> = BTreeMap::new();
    let mut names: Vec<&String> = current.steps.keys().chain(candidate.steps.keys()).collect();
    names.sort();
    names.dedup();
    for account in names {
        let (from, to) = (current.steps.get(account), candidate.steps.get(account));
        if from != to {
            let word = |step: Option<&Step>| step.map_or("none", |s| s.as_str());
            let change = accounts
                .entry(format!("{} -> {}", word(from), word(to)))
                .or_default();
            change.accounts += 1;
            if change.sample.len() < SAMPLES {
                change.sample.push(account.clone());
            }
        }
    }
    let report = Report {
        messages: tally.messages,
        feedback: tally.feedback,
        undecodable: tally.undecodable,
        seconds,
        messages_per_second: tally.messages as f64 / seconds.max(f64::EPSILON),
        current: SideReport::of(current).await?,
        candidate: SideReport::of(candidate).await?,
        changed: tally.changed,
        rule_hits,
        candidate_shadow_rules: candidate.shadow.clone(),
        accounts,
        labels: args
            .labels
            .is_some()
            .then(|| tally.labelled.map(LabelScores::from)),
    };
    if let Some(path) = &args.html {
        std::fs::write(path, html::render(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &Report) {
    println!(
        "backtest: {} messages and {} feedback records ({} undecodable) in {:.1} s, {:.0} messages/s through both sides",
        report.messages,
        report.feedback,
        report.undecodable,
        report.seconds,
        report.messages_per_second
    );
    for (name, side) in [
        ("current", &report.current),
        ("candidate", &report.candidate),
    ] {
        let actions: Vec<String> = side
            .actions
            .iter()
            .map(|(action, n)| format!("{action} {n}"))
            .collect();
        println!(
            "{name:<9} {}; accounts warned {}, restricted {}, suspended {}, sent to review {}; circuit breaker {}",
            actions.join(", "),
            side.warned,
            side.restricted,
            side.suspended,
            side.sent_to_review,
            if side.breaker_tripped {
                "TRIPPED"
            } else {
                "held"
            }
        );
    }
    if report.changed.is_empty() {
        println!("no message's action changes");
    }
    for (change, detail) in &report.changed {
        println!("{change}: {} messages", detail.messages);
        for excerpt in &detail.excerpts {
            println!("    {excerpt}");
        }
    }
    if !report.rule_hits.is_empty() {
        println!("rule hits, current -> candidate:");
    }
    for (rule, (before, after)) in &report.rule_hits {
        println!("  {rule:<40} {before} -> {after}");
    }
    for (rule, shadow) in &report.candidate_shadow_rules {
        let raised: Vec<String> = shadow
            .would_raise_to
            .iter()
            .map(|(to, n)| format!("{n} to {to}"))
            .collect();
        println!(
            "shadow rule {rule}: {} hits; enforced, it would raise {}",
            shadow.hits,
            if raised.is_empty() {
                "none".to_owned()
            } else {
                raised.join(", ")
            }
        );
    }
    for (change, detail) in &report.accounts {
        println!(
            "accounts {change}: {} (e.g. {})",
            detail.accounts,
            detail.sample.join(", ")
        );
    }
    if let Some(labels) = &report.labels {
        let percent =
            |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{:.1} %", v * 100.0));
        for (name, side) in [("current", &labels[0]), ("candidate", &labels[1])] {
            let c = side.counts;
            println!(
                "labelled, {name}: precision {}, recall {} (abuse caught {}, missed {}; ham flagged {}, allowed {})",
                percent(side.precision),
                percent(side.recall),
                c.abuse_caught,
                c.abuse_missed,
                c.ham_flagged,
                c.ham_allowed
            );
        }
    }
}
