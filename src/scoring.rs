//! Scoring: one message through normalization, extraction and the rules, to per-category scores
//! and an action under the policy.
//!
//! Rule hits combine per category as independent pieces of evidence (noisy-OR): the score is
//! `1 - Π(1 - weight)` over the enforced rules that hit, so one strong rule can decide alone and
//! weak ones must agree. Shadow rules are reported but never scored.
//!
//! `Scorer` is immutable and shared; `Scratch` holds one worker's reused buffers, so scoring a
//! message allocates nothing until a `Verdict` is built from it.

use time::OffsetDateTime;

use crate::message::{Action, MessageEvent, Scores, Verdict};
use crate::policy::Policy;
use crate::rules::{Matches, RuleSet};
use crate::text::{Extracted, Normalized};

/// Everything needed to score a message.
#[derive(Debug)]
pub struct Scorer {
    rules: RuleSet,
    policy: Policy,
}

/// One worker's reusable buffers, and the details of the last message it scored.
#[derive(Debug, Default)]
pub struct Scratch {
    pub normalized: Normalized,
    pub extracted: Extracted,
    pub matches: Matches,
}

impl Scratch {
    pub fn new() -> Self {
        Self::default()
    }
}

/// The outcome of scoring one message body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    pub scores: Scores,
    pub action: Action,
}

impl Scorer {
    pub fn new(rules: RuleSet, policy: Policy) -> Self {
        Scorer { rules, policy }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Scores one message body. The rules that hit are left in `scratch.matches`.
    pub fn assess(&self, body: &str, scratch: &mut Scratch) -> Assessment {
        scratch.normalized.set(body);
        scratch.extracted.set(scratch.normalized.folded());
        self.rules.find(
            &scratch.normalized,
            &scratch.extracted,
            &mut scratch.matches,
        );
        let mut miss = [1.0f64; 3];
        for index in scratch.matches.iter() {
            let rule = self.rules.rule(index);
            if rule.enforced() {
                miss[rule.category.index()] *= 1.0 - rule.weight;
            }
        }
        let scores = Scores::from_array(miss.map(|m| 1.0 - m));
        Assessment {
            scores,
            action: self.policy.message_action(&scores),
        }
    }

    /// Scores one message and builds its verdict.
    pub fn verdict(
        &self,
        event: &MessageEvent,
        scratch: &mut Scratch,
        decided_at: OffsetDateTime,
    ) -> Verdict {
        let assessment = self.assess(&event.body, scratch);
        let (mut rule_hits, mut shadow_rule_hits) = (Vec::new(), Vec::new());
        for index in scratch.matches.iter() {
            let rule = self.rules.rule(index);
            let list = if rule.enforced() {
                &mut rule_hits
            } else {
                &mut shadow_rule_hits
            };
            list.push(rule.id.clone());
        }
        Verdict {
            message_id: event.message_id.clone(),
            account_id: event.account_id.clone(),
            action: assessment.action,
            scores: assessment.scores.rounded(),
            rule_hits,
            shadow_rule_hits,
            model_version: None,
            rules_version: self.rules.version().to_owned(),
            decided_at,
        }
    }
}
