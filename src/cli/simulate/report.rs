//! What automated suspension did in a simulation: precision, recall, abuse delivered first,
//! per kind of account.

use std::collections::{BTreeMap, HashMap, HashSet};

use warden::message::FeedbackKind;

use super::traffic::{Kind, Simulated, account_id};

#[derive(Debug, serde::Serialize)]
pub(super) struct Report {
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

pub(super) fn report(
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

pub(super) fn print_report(report: &Report, seed: u64, peak: &str) {
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
