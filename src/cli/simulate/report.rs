//! What the account policy did in a simulation: who was warned, restricted or suspended, per
//! kind of account; precision and recall of taking sending away; abuse delivered first; and
//! messages delivered to recipients who had opted out.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Context;
use time::OffsetDateTime;
use warden::message::FeedbackKind;

use super::traffic::{Kind, Simulated, account_id};

/// One message's verdict as the simulation read it.
#[derive(Debug)]
pub(super) struct Decided {
    pub(super) action: String,
    /// Blocked because its recipient had opted out of the account.
    pub(super) recipient_opted_out: bool,
    /// Its place in the order verdicts arrived (an account's verdicts arrive in the order its
    /// messages were decided).
    pub(super) order: usize,
}

impl Decided {
    fn delivered(&self) -> bool {
        self.action != "block"
    }
}

/// The steps Warden took on the simulated accounts, read from `account-actions` and `notices`.
#[derive(Debug, Default)]
pub(super) struct Steps {
    warned: HashSet<usize>,
    restricted: HashSet<usize>,
    suspended: HashSet<usize>,
    /// When sending was first taken away (restricted or suspended), in simulated seconds.
    stopped_at: HashMap<usize, i64>,
}

impl Steps {
    /// Takes one `account-actions` or `notices` record into account.
    pub(super) fn take(&mut self, record: &serde_json::Value) -> anyhow::Result<()> {
        let account = record["account_id"]
            .as_str()
            .and_then(|a| a.strip_prefix("ACsim"))
            .and_then(|n| n.parse::<usize>().ok())
            .context("a record about an unexpected account")?;
        let at = record["at"]
            .as_str()
            .and_then(|t| {
                OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
            .map_or(0, |t| t.unix_timestamp());
        match (record["action"].as_str(), record["kind"].as_str()) {
            (Some("restrict"), _) => {
                self.restricted.insert(account);
                self.stopped_at.entry(account).or_insert(at);
            }
            (Some("suspend"), _) => {
                self.suspended.insert(account);
                self.stopped_at.entry(account).or_insert(at);
            }
            (_, Some("warning")) => {
                self.warned.insert(account);
            }
            _ => {}
        }
        Ok(())
    }

    fn acted_on(&self, account: usize) -> bool {
        self.warned.contains(&account) || self.stopped_at.contains_key(&account)
    }
}

#[derive(Debug, serde::Serialize)]
pub(super) struct Report {
    accounts: usize,
    messages: usize,
    by_kind: BTreeMap<&'static str, KindReport>,
    /// Of the accounts whose sending was taken away (restricted or suspended), the abusive.
    stop_precision: f64,
    /// Of the abusive accounts, those whose sending was taken away.
    stop_recall: f64,
    /// Of the abusive accounts, those warned, restricted or suspended.
    abusive_acted_on: f64,
    legitimate_suspended: usize,
    legitimate_restricted: usize,
    /// Of the legitimate accounts, those warned.
    legitimate_warned: f64,
    /// Messages delivered to a recipient after Warden had consumed that recipient's opt-out
    /// from the account (proven by an earlier message to them blocked for it).
    opted_out_deliveries: usize,
    /// Messages delivered to a recipient sent after their opt-out in simulated time, the
    /// opt-out not yet consumed: the stream compresses hours into seconds, so an opt-out and a
    /// later message on the other topic often reach Warden in either order.
    opted_out_deliveries_before_consumed: usize,
    /// Abusive messages delivered (not blocked) per abusive account: median and p95.
    abusive_delivered_median: f64,
    abusive_delivered_p95: f64,
    /// Simulated seconds from an account's first abusive message to its restriction or
    /// suspension.
    seconds_to_stop_median: f64,
    /// Abusive accounts whose sending was never taken away, for whoever tunes the policy.
    missed: Vec<Missed>,
}

/// An abusive account whose sending was never taken away, and what Warden saw of it.
#[derive(Debug, Default, serde::Serialize)]
struct Missed {
    account_id: String,
    kind: &'static str,
    warned: bool,
    messages: usize,
    flagged: usize,
    blocked: usize,
    /// Opt-outs and carrier filtering reported.
    complaints: usize,
}

#[derive(Debug, Default, serde::Serialize)]
struct KindReport {
    accounts: usize,
    warned: usize,
    restricted: usize,
    suspended: usize,
    /// Warned, restricted or suspended.
    acted_on: usize,
    /// Restricted or suspended.
    stopped: usize,
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

/// Messages delivered to a recipient who had opted out of the account: after the opt-out was
/// consumed, and before (sent after it in simulated time, decided before Warden read it).
fn opted_out_deliveries(
    messages: &[Simulated],
    decided: &HashMap<usize, Decided>,
) -> (usize, usize) {
    let mut opted_out_at: HashMap<(usize, u64), i64> = HashMap::new();
    for message in messages {
        if let Some((FeedbackKind::OptOut, at)) = message.feedback {
            let earliest = opted_out_at
                .entry((message.account, message.to))
                .or_insert(at);
            *earliest = (*earliest).min(at);
        }
    }
    // The first verdict that shows the opt-out honoured, per account and recipient.
    let mut consumed_by: HashMap<(usize, u64), usize> = HashMap::new();
    for (index, message) in messages.iter().enumerate() {
        if let Some(verdict) = decided.get(&index).filter(|v| v.recipient_opted_out) {
            let first = consumed_by
                .entry((message.account, message.to))
                .or_insert(verdict.order);
            *first = (*first).min(verdict.order);
        }
    }
    let (mut after, mut before) = (0, 0);
    for (index, message) in messages.iter().enumerate() {
        let pair = (message.account, message.to);
        let Some(verdict) = decided.get(&index).filter(|v| v.delivered()) else {
            continue;
        };
        if consumed_by
            .get(&pair)
            .is_some_and(|&order| verdict.order > order)
        {
            after += 1;
        } else if opted_out_at
            .get(&pair)
            .is_some_and(|&at| message.sent_at > at)
        {
            before += 1;
        }
    }
    (after, before)
}

pub(super) fn report(
    kinds: &[Kind],
    messages: &[Simulated],
    decided: &HashMap<usize, Decided>,
    steps: &Steps,
) -> Report {
    let abusive: HashSet<usize> = (0..kinds.len())
        .filter(|&a| kinds[a] != Kind::Legitimate)
        .collect();
    let legitimate = kinds.len() - abusive.len();
    let stopped = &steps.stopped_at;
    let true_positive = stopped.keys().filter(|a| abusive.contains(a)).count();
    let mut delivered: HashMap<usize, f64> = abusive.iter().map(|&a| (a, 0.0)).collect();
    let mut first_abusive: HashMap<usize, i64> = HashMap::new();
    for (index, message) in messages.iter().enumerate() {
        if !message.abusive() {
            continue;
        }
        first_abusive
            .entry(message.account)
            .or_insert(message.sent_at);
        if decided.get(&index).is_some_and(Decided::delivered) {
            *delivered.entry(message.account).or_default() += 1.0;
        }
    }
    let mut by_kind: BTreeMap<&'static str, KindReport> = BTreeMap::new();
    let mut delivered_by_kind: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for (account, kind) in kinds.iter().enumerate() {
        let entry = by_kind.entry(kind.name()).or_default();
        entry.accounts += 1;
        entry.warned += usize::from(steps.warned.contains(&account));
        entry.restricted += usize::from(steps.restricted.contains(&account));
        entry.suspended += usize::from(steps.suspended.contains(&account));
        entry.acted_on += usize::from(steps.acted_on(account));
        entry.stopped += usize::from(stopped.contains_key(&account));
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
        .filter(|a| !stopped.contains_key(a))
        .map(|&a| {
            let entry = Missed {
                account_id: account_id(a),
                kind: kinds[a].name(),
                warned: steps.warned.contains(&a),
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
        match decided.get(&index).map(|v| v.action.as_str()) {
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
    let mut to_stop: Vec<f64> = stopped
        .iter()
        .filter_map(|(account, at)| first_abusive.get(account).map(|first| (at - first) as f64))
        .collect();
    to_stop.sort_by(f64::total_cmp);
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let legitimate_of = |set: &HashSet<usize>| set.iter().filter(|a| !abusive.contains(a)).count();
    let (after_opt_out, before_consumed) = opted_out_deliveries(messages, decided);
    Report {
        accounts: kinds.len(),
        messages: messages.len(),
        by_kind,
        stop_precision: ratio(true_positive, stopped.len()),
        stop_recall: ratio(true_positive, abusive.len()),
        abusive_acted_on: ratio(
            abusive.iter().filter(|&&a| steps.acted_on(a)).count(),
            abusive.len(),
        ),
        legitimate_suspended: legitimate_of(&steps.suspended),
        legitimate_restricted: legitimate_of(&steps.restricted),
        legitimate_warned: ratio(legitimate_of(&steps.warned), legitimate),
        opted_out_deliveries: after_opt_out,
        opted_out_deliveries_before_consumed: before_consumed,
        abusive_delivered_median: quantile(&delivered, 0.5),
        abusive_delivered_p95: quantile(&delivered, 0.95),
        seconds_to_stop_median: quantile(&to_stop, 0.5),
        missed: missed.into_values().collect(),
    }
}

pub(super) fn print_report(report: &Report, seed: u64, peak: &str) {
    println!(
        "simulation (seed {seed}): {} accounts, {} messages; warden peak memory {peak}",
        report.accounts, report.messages
    );
    for (kind, counts) in &report.by_kind {
        print!(
            "  {kind:<13} {:>6} accounts: {:>6} warned, {:>5} restricted, {:>5} suspended; acted on {:>6}, sending stopped {:>6}",
            counts.accounts,
            counts.warned,
            counts.restricted,
            counts.suspended,
            counts.acted_on,
            counts.stopped
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
        "abusive accounts acted on {:.4}; sending stopped: precision {:.4}, recall {:.4}",
        report.abusive_acted_on, report.stop_precision, report.stop_recall
    );
    println!(
        "legitimate accounts: {} suspended, {} restricted, {:.4} warned",
        report.legitimate_suspended, report.legitimate_restricted, report.legitimate_warned
    );
    println!(
        "messages delivered to a recipient who opted out: {} after Warden read the opt-out, {} sent after it but decided before",
        report.opted_out_deliveries, report.opted_out_deliveries_before_consumed
    );
    println!(
        "abusive messages delivered per abusive account: median {}, p95 {}; simulated time to restriction or suspension: median {} s",
        report.abusive_delivered_median,
        report.abusive_delivered_p95,
        report.seconds_to_stop_median
    );
    if !report.missed.is_empty() {
        println!(
            "abusive accounts whose sending was never stopped: {} (showing {})",
            report.missed.len(),
            report.missed.len().min(10)
        );
        for missed in report.missed.iter().take(10) {
            println!(
                "  {} {}: {} messages, {} flagged, {} blocked, {} complaints{}",
                missed.account_id,
                missed.kind,
                missed.messages,
                missed.flagged,
                missed.blocked,
                missed.complaints,
                if missed.warned { "; warned" } else { "" }
            );
        }
    }
}
