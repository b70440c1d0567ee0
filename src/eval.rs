//! Evaluation: how Warden's decisions on labelled messages compare with their labels.
//!
//! A message counts as caught (predicted abuse) when its action is at least `flag`. Each
//! category is judged on its own, against everything else: a message is predicted to be in a
//! category when that category's score reaches its flag threshold (a message can be in several).
//! The overall figures treat any abuse against ham. The 4×4 confusion matrix shows labels against
//! the single most likely flagged category, to see which categories are mistaken for which.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::dataset::Label;
use crate::message::{Action, Category, Scores};
use crate::policy::MessagePolicy;

/// One labelled message and what Warden decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    pub label: Label,
    pub action: Action,
    pub scores: Scores,
    /// Per category (spam, fraud, aup): the score reached the category's flag threshold.
    pub flagged: [bool; 3],
    /// The flagged category with the highest score, or ham.
    pub predicted: Label,
}

impl Outcome {
    pub fn new(label: Label, action: Action, scores: Scores, policy: &MessagePolicy) -> Self {
        let flagged = Category::ALL.map(|c| scores.get(c) >= policy.thresholds(c).flag_at);
        let predicted = Category::ALL
            .into_iter()
            .filter(|c| flagged[c.index()])
            .max_by(|&a, &b| scores.get(a).total_cmp(&scores.get(b)))
            .map_or(Label::Ham, category_label);
        Outcome {
            label,
            action,
            scores,
            flagged,
            predicted,
        }
    }
}

fn category_label(category: Category) -> Label {
    match category {
        Category::Spam => Label::Spam,
        Category::Fraud => Label::Fraud,
        Category::Aup => Label::Aup,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub rows: usize,
    pub overall: Overall,
    pub categories: BTreeMap<String, ClassMetrics>,
    /// `confusion[label][predicted]`, both in the order ham, spam, fraud, aup.
    pub confusion: [[usize; 4]; 4],
}

/// Any abuse against ham.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Overall {
    pub accuracy: f64,
    pub mcc: f64,
    /// Share of abusive messages flagged or blocked.
    pub abuse_caught: f64,
    /// Share of ham flagged or blocked.
    pub ham_flagged: f64,
    /// Share of ham blocked.
    pub ham_blocked: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// The mean of this category's F1 and the F1 of "not this category": the hate benchmarks'
    /// macro-F1 (TweetEval's leaderboard figure).
    pub macro_f1: f64,
    pub support: usize,
    /// The best F1 any flag threshold would give on these rows, and that threshold: how much a
    /// different policy threshold could gain (or how far the current one is from the best).
    pub best_f1: f64,
    pub best_f1_threshold: f64,
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

fn label_index(label: Label) -> usize {
    Label::ALL.iter().position(|&l| l == label).expect("listed")
}

pub fn report(outcomes: &[Outcome]) -> Report {
    let mut confusion = [[0usize; 4]; 4];
    let (mut tp, mut fp, mut tn, mut fneg) = (0usize, 0usize, 0usize, 0usize);
    let mut ham_blocked = 0;
    for outcome in outcomes {
        confusion[label_index(outcome.label)][label_index(outcome.predicted)] += 1;
        let abusive = outcome.label != Label::Ham;
        let caught = outcome.action >= Action::Flag;
        match (abusive, caught) {
            (true, true) => tp += 1,
            (true, false) => fneg += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
        }
        if !abusive && outcome.action == Action::Block {
            ham_blocked += 1;
        }
    }
    let (tpf, fpf, tnf, fnf) = (tp as f64, fp as f64, tn as f64, fneg as f64);
    let denominator = ((tpf + fpf) * (tpf + fnf) * (tnf + fpf) * (tnf + fnf)).sqrt();
    let mcc = if denominator == 0.0 {
        0.0
    } else {
        (tpf * tnf - fpf * fnf) / denominator
    };
    let ham = tn + fp;
    let overall = Overall {
        accuracy: ratio(tp + tn, outcomes.len()),
        mcc,
        abuse_caught: ratio(tp, tp + fneg),
        ham_flagged: ratio(fp, ham),
        ham_blocked: ratio(ham_blocked, ham),
    };
    let categories = Category::ALL
        .into_iter()
        .map(|category| {
            let label = category_label(category);
            let (mut true_positive, mut predicted, mut support) = (0, 0, 0);
            for outcome in outcomes {
                let is = outcome.label == label;
                let flagged = outcome.flagged[category.index()];
                support += usize::from(is);
                predicted += usize::from(flagged);
                true_positive += usize::from(is && flagged);
            }
            let precision = ratio(true_positive, predicted);
            let recall = ratio(true_positive, support);
            let f1 = f1(precision, recall);
            // The other class: neither labelled nor flagged as this category.
            let true_negative = outcomes.len() + true_positive - predicted - support;
            let rest_f1 = self::f1(
                ratio(true_negative, outcomes.len() - predicted),
                ratio(true_negative, outcomes.len() - support),
            );
            let macro_f1 = (f1 + rest_f1) / 2.0;
            let (best_f1, best_f1_threshold) = best_f1(outcomes, category);
            (
                category.as_str().to_owned(),
                ClassMetrics {
                    precision,
                    recall,
                    f1,
                    macro_f1,
                    support,
                    best_f1,
                    best_f1_threshold,
                },
            )
        })
        .collect();
    Report {
        rows: outcomes.len(),
        overall,
        categories,
        confusion,
    }
}

/// The highest F1 over all thresholds of one category's score, and the threshold giving it.
fn best_f1(outcomes: &[Outcome], category: Category) -> (f64, f64) {
    let mut best = (0.0, 1.0);
    for (threshold, recall, precision) in threshold_sweep(outcomes, category) {
        let f1 = f1(precision, recall);
        if f1 > best.0 {
            best = (f1, threshold);
        }
    }
    best
}

/// Precision and recall of one category's score as its threshold sweeps from high to low:
/// `(recall, precision)` points, one per distinct score.
pub fn precision_recall_curve(outcomes: &[Outcome], category: Category) -> Vec<(f64, f64)> {
    threshold_sweep(outcomes, category)
        .into_iter()
        .map(|(_, recall, precision)| (recall, precision))
        .collect()
}

/// `(threshold, recall, precision)` for each distinct score, from the highest down.
fn threshold_sweep(outcomes: &[Outcome], category: Category) -> Vec<(f64, f64, f64)> {
    let label = category_label(category);
    let positives = outcomes.iter().filter(|o| o.label == label).count();
    let mut scored: Vec<(f64, bool)> = outcomes
        .iter()
        .map(|o| (o.scores.get(category), o.label == label))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut points = Vec::new();
    let (mut tp, mut seen) = (0usize, 0usize);
    for (i, &(score, positive)) in scored.iter().enumerate() {
        seen += 1;
        tp += usize::from(positive);
        let last_of_score = scored.get(i + 1).is_none_or(|next| next.0 != score);
        if last_of_score && positives > 0 {
            points.push((score, ratio(tp, positives), ratio(tp, seen)));
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "[message.spam]\nflag_at = 0.5\nblock_at = 0.9\n[message.fraud]\nflag_at = 0.5\nblock_at = 0.9\n[message.aup]\nflag_at = 0.5\nblock_at = 0.9\n";

    fn outcome(label: Label, spam: f64, fraud: f64) -> Outcome {
        let policy = crate::policy::PolicyFile::from_toml(POLICY)
            .unwrap()
            .message;
        let scores = Scores {
            spam,
            fraud,
            aup: 0.0,
        };
        Outcome::new(
            label,
            policy.message_action(&scores, &scores),
            scores,
            &policy,
        )
    }

    #[test]
    fn metrics_match_a_hand_computed_confusion_matrix() {
        // 6 ham (1 flagged as spam, 1 blocked as fraud), 3 spam (2 caught, one of them also
        // flagged as fraud; 1 missed), 1 fraud (flagged as both, spam higher).
        let outcomes = vec![
            outcome(Label::Ham, 0.0, 0.0),
            outcome(Label::Ham, 0.1, 0.0),
            outcome(Label::Ham, 0.0, 0.2),
            outcome(Label::Ham, 0.3, 0.3),
            outcome(Label::Ham, 0.6, 0.0),
            outcome(Label::Ham, 0.0, 0.95),
            outcome(Label::Spam, 0.7, 0.0),
            outcome(Label::Spam, 0.95, 0.6),
            outcome(Label::Spam, 0.2, 0.0),
            outcome(Label::Fraud, 0.8, 0.6),
        ];
        let report = report(&outcomes);
        assert_eq!(report.rows, 10);
        // Labels against the most likely flagged category.
        assert_eq!(
            report.confusion,
            [[4, 1, 1, 0], [1, 2, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
        );
        // Abuse vs ham: TP 3, FN 1, FP 2, TN 4.
        let o = report.overall;
        assert!((o.accuracy - 0.7).abs() < 1e-12);
        let mcc = (3.0 * 4.0 - 2.0 * 1.0) / ((5.0f64) * 4.0 * 6.0 * 5.0).sqrt();
        assert!((o.mcc - mcc).abs() < 1e-12, "{} vs {mcc}", o.mcc);
        assert!((o.abuse_caught - 0.75).abs() < 1e-12);
        assert!((o.ham_flagged - 2.0 / 6.0).abs() < 1e-12);
        assert!((o.ham_blocked - 1.0 / 6.0).abs() < 1e-12);
        // Spam against the rest: flagged spam are 1 ham, 2 spam, 1 fraud: TP 2, FP 2, FN 1.
        let spam = report.categories["spam"];
        assert_eq!(spam.support, 3);
        assert!((spam.precision - 0.5).abs() < 1e-12);
        assert!((spam.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((spam.f1 - 4.0 / 7.0).abs() < 1e-12);
        // Not spam: 7 rows, 6 not flagged as spam, 5 of those rightly: P 5/6, R 5/7, F1 10/13.
        assert!((spam.macro_f1 - (4.0 / 7.0 + 10.0 / 13.0) / 2.0).abs() < 1e-12);
        // Fraud against the rest: flagged fraud are 1 ham, 1 spam, 1 fraud: TP 1, FP 2, FN 0.
        let fraud = report.categories["fraud"];
        assert_eq!(fraud.support, 1);
        assert!((fraud.precision - 1.0 / 3.0).abs() < 1e-12);
        assert!((fraud.recall - 1.0).abs() < 1e-12);
        assert!((fraud.f1 - 0.5).abs() < 1e-12);
        // Fraud scores, highest first: 0.95 ham, 0.6 spam and 0.6 fraud (tied), then below.
        // At 0.6: TP 1, FP 2 → F1 0.5; lower thresholds only add false positives.
        assert_eq!((fraud.best_f1, fraud.best_f1_threshold), (0.5, 0.6));
    }

    #[test]
    fn precision_recall_curve_walks_down_the_scores() {
        let outcomes = vec![
            outcome(Label::Spam, 0.9, 0.0),
            outcome(Label::Ham, 0.8, 0.0),
            outcome(Label::Spam, 0.7, 0.0),
            outcome(Label::Ham, 0.1, 0.0),
        ];
        let curve = precision_recall_curve(&outcomes, Category::Spam);
        assert_eq!(
            curve,
            vec![(0.5, 1.0), (0.5, 0.5), (1.0, 2.0 / 3.0), (1.0, 0.5)]
        );
    }
}
