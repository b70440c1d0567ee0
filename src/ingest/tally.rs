//! What a delivered batch adds to the operators' metrics: messages consumed and scored by
//! action, decision latency, dead letters by code, rule hits, the model's score distribution.

use super::decide::Decision;
use super::replay::Recorded;
use crate::clock;
use crate::message::{Action, RuleId};
use crate::metrics::METRICS;

/// What a batch adds to the metrics once it is delivered.
pub(super) struct BatchTally {
    /// Each verdict's action and `sent_at` (Unix ms).
    verdicts: Vec<(&'static str, i64)>,
    rule_hits: Vec<RuleId>,
    shadow_rule_hits: Vec<RuleId>,
    /// Shadow rules with the action each would have raised a message to.
    shadow_changes: Vec<(RuleId, Action)>,
    model_scores: Vec<crate::message::Scores>,
    dead_letters: Vec<&'static str>,
    feedback: u64,
    redelivered: u64,
}

impl BatchTally {
    /// Verdicts recorded before this batch was delivered (redeliveries) were scored by
    /// then: they count as consumed only.
    pub(super) fn of(decisions: &[Decision], recorded: &Recorded) -> Self {
        let mut tally = Self {
            verdicts: Vec::new(),
            rule_hits: Vec::new(),
            shadow_rule_hits: Vec::new(),
            shadow_changes: Vec::new(),
            model_scores: Vec::new(),
            dead_letters: Vec::new(),
            feedback: 0,
            redelivered: 0,
        };
        for (index, decision) in decisions.iter().enumerate() {
            match decision {
                Decision::Verdict { .. } if recorded.get(index).is_some_and(Option::is_some) => {
                    tally.redelivered += 1
                }
                Decision::Verdict { verdict, facts } => {
                    tally
                        .verdicts
                        .push((verdict.action.as_str(), facts.sent_at_ms));
                    tally.rule_hits.extend(verdict.rule_hits.iter().cloned());
                    tally
                        .shadow_rule_hits
                        .extend(verdict.shadow_rule_hits.iter().cloned());
                    tally
                        .shadow_changes
                        .extend(facts.shadow_changes.iter().cloned());
                    tally.model_scores.extend(facts.model);
                }
                Decision::Feedback { .. } => tally.feedback += 1,
                Decision::DeadLetter { code, .. } => tally.dead_letters.push(code),
            }
        }
        tally
    }

    pub(super) fn record(&self) {
        let metrics = &*METRICS;
        let now_ms = clock::now_ms();
        metrics
            .messages_consumed
            .inc_by((self.verdicts.len() + self.dead_letters.len()) as u64 + self.redelivered);
        metrics.feedback_consumed.inc_by(self.feedback);
        for (action, sent_at_ms) in &self.verdicts {
            metrics.messages_scored.with_label_values(&[action]).inc();
            let latency_ms = (now_ms - sent_at_ms).max(0);
            metrics
                .decision_latency
                .observe(latency_ms as f64 / 1_000.0);
        }
        for code in &self.dead_letters {
            metrics.dead_letters.with_label_values(&[code]).inc();
        }
        // Rule ids start with their category (the rules loader refuses any other).
        for rule in &self.rule_hits {
            let category = rule.as_str().split('.').next().unwrap_or_default();
            metrics
                .rule_hits
                .with_label_values(&[rule.as_str(), category])
                .inc();
        }
        for rule in &self.shadow_rule_hits {
            metrics
                .shadow_rule_hits
                .with_label_values(&[rule.as_str()])
                .inc();
        }
        for (rule, to) in &self.shadow_changes {
            metrics
                .shadow_would_change
                .with_label_values(&[rule.as_str(), to.as_str()])
                .inc();
        }
        for scores in &self.model_scores {
            for (category, score) in [
                ("spam", scores.spam),
                ("fraud", scores.fraud),
                ("aup", scores.aup),
            ] {
                metrics
                    .model_score
                    .with_label_values(&[category])
                    .observe(score);
            }
        }
    }
}
