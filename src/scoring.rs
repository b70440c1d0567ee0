//! Scoring: one message through normalization, extraction, the rules and the model, to
//! per-category scores and an action under the policy.
//!
//! Rule hits combine per category as independent pieces of evidence (noisy-OR): the rules'
//! score is `1 - Π(1 - weight)` over the enforced rules that hit, so one strong rule can decide
//! alone and weak ones must agree. The model's probability joins the same way, weighted by the
//! policy: `1 - (1 - rules)(1 - model)^model_weight`. Unless the policy says otherwise, only the
//! rules' own score can block; the model can flag. Shadow rules are reported but never scored.
//!
//! `Scorer` is immutable and shared; `Scratch` holds one worker's reused buffers, so scoring a
//! message allocates nothing until a `Verdict` is built from it.

use time::OffsetDateTime;

use crate::message::{Action, Category, MessageEvent, RuleId, Scores, Verdict};
use crate::model::{FeatureScratch, Model, ModelScores};
use crate::policy::MessagePolicy;
use crate::rules::{Matches, RuleSet};
use crate::text::{Extracted, Normalized};

/// Everything needed to score a message.
#[derive(Debug)]
pub struct Scorer {
    rules: RuleSet,
    model: Option<Model>,
    policy: MessagePolicy,
    sources: Sources,
}

/// Which scorers contribute: both in production, one alone to measure what each adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sources {
    #[default]
    RulesAndModel,
    RulesOnly,
    ModelOnly,
}

/// One worker's reusable buffers, and the details of the last message it scored.
#[derive(Debug, Default)]
pub struct Scratch {
    pub normalized: Normalized,
    pub extracted: Extracted,
    pub matches: Matches,
    pub features: FeatureScratch,
    /// The hits of a rule union that several scorers share (a backtest's sides), before each
    /// scorer's own are read from them.
    pub union_matches: Matches,
}

impl Scratch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Normalizes `body` and extracts its URLs and numbers: the work every scorer of the
    /// message shares, whatever its rules and model.
    pub fn prepare(&mut self, body: &str) {
        self.normalized.set(body);
        self.extracted.set(self.normalized.folded());
    }
}

/// The outcome of scoring one message body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    pub scores: Scores,
    pub action: Action,
    /// The enforced rules' own scores (the block decision's evidence unless the model may
    /// block).
    pub rules: Scores,
    /// The model's own probabilities, when a model scored.
    pub model: Option<Scores>,
}

impl Scorer {
    /// A scorer from rules, an optional model and a policy. Without a model, scores are the
    /// rules' alone and verdicts say `"model_version": null`.
    pub fn new(rules: RuleSet, model: Option<Model>, policy: MessagePolicy) -> Self {
        Scorer {
            rules,
            model,
            policy,
            sources: Sources::default(),
        }
    }

    /// The same scorer restricted to some sources (for ablation in `warden eval`).
    pub fn with_sources(mut self, sources: Sources) -> Self {
        self.sources = sources;
        self
    }

    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn policy(&self) -> &MessagePolicy {
        &self.policy
    }

    /// Scores one message body. The rules that hit are left in `scratch.matches`.
    pub fn assess(&self, body: &str, scratch: &mut Scratch) -> Assessment {
        scratch.prepare(body);
        let model = self.predict(body, scratch);
        self.assess_prepared(model, scratch)
    }

    /// The model's probabilities for `body`, which `scratch` holds prepared; `None` without a
    /// model, or when the rules score alone.
    pub fn predict(&self, body: &str, scratch: &mut Scratch) -> Option<ModelScores> {
        let model = self.model.as_ref()?;
        (self.sources != Sources::RulesOnly).then(|| {
            model.predict(
                body,
                &scratch.normalized,
                &scratch.extracted,
                &mut scratch.features,
            )
        })
    }

    /// Whether `other` predicts what this scorer does for every message (the same model, used
    /// the same way): then one prediction serves both.
    pub fn predicts_as(&self, other: &Scorer) -> bool {
        self.model_in_use() == other.model_in_use()
    }

    /// The version of the model that scores, if one does.
    fn model_in_use(&self) -> Option<&str> {
        self.model
            .as_ref()
            .filter(|_| self.sources != Sources::RulesOnly)
            .map(Model::version)
    }

    /// Scores the message `scratch` holds prepared, given the model's probabilities for it
    /// (from [`Scorer::predict`], of this scorer or of one that [`Scorer::predicts_as`] it).
    /// The rules that hit are left in `scratch.matches`.
    pub fn assess_prepared(&self, model: Option<ModelScores>, scratch: &mut Scratch) -> Assessment {
        self.rules.find(
            &scratch.normalized,
            &scratch.extracted,
            &mut scratch.matches,
        );
        self.assess_matched(model, scratch)
    }

    /// [`Scorer::assess_prepared`] for a message whose hits of this scorer's rules are already
    /// in `scratch.matches` (a rule union's, read for this scorer).
    pub fn assess_matched(&self, model: Option<ModelScores>, scratch: &Scratch) -> Assessment {
        // Probability that no source finds each category, then its complement.
        let mut rules_miss = [1.0f64; 3];
        if self.sources != Sources::ModelOnly {
            for index in scratch.matches.iter() {
                let rule = self.rules.rule(index);
                if rule.enforced() {
                    rules_miss[rule.category.index()] *= 1.0 - rule.weight;
                }
            }
        }
        let mut miss = rules_miss;
        if let Some(p) = model {
            let fusion = self.policy.fusion();
            let fraud_weight = match fusion.vouched_links_fraud_weight {
                Some(w) if self.rules.vouches_for_every_contact(&scratch.extracted) => w,
                _ => fusion.model_weight,
            };
            miss[0] *= power(1.0 - p.spam, fusion.model_weight);
            miss[1] *= power(1.0 - p.fraud, fraud_weight);
            miss[2] *= power(1.0 - p.aup, fusion.model_weight);
        }
        let scores = Scores::from_array(miss.map(|m| 1.0 - m));
        // Measuring the model alone, its scores stand in for the rules' in the block decision.
        let rules_scores = if self.sources == Sources::ModelOnly {
            scores
        } else {
            Scores::from_array(rules_miss.map(|m| 1.0 - m))
        };
        Assessment {
            scores,
            action: self.policy.message_action(&scores, &rules_scores),
            rules: rules_scores,
            model: model.map(|p| Scores::from_array([p.spam, p.fraud, p.aup])),
        }
    }

    /// For each shadow rule that hit the message `assessment` is of (its hits still in
    /// `scratch`), the action it would have raised the message to had it been enforced; a
    /// shadow rule that would have changed nothing is left out. What a shadow rule would do,
    /// before anyone promotes it.
    pub fn shadow_changes(
        &self,
        assessment: &Assessment,
        scratch: &Scratch,
    ) -> Vec<(RuleId, Action)> {
        if self.sources == Sources::ModelOnly {
            return Vec::new();
        }
        let with = |scores: &Scores, category: Category, weight: f64| {
            let mut values = Category::ALL.map(|c| scores.get(c));
            values[category.index()] = 1.0 - (1.0 - values[category.index()]) * (1.0 - weight);
            Scores::from_array(values)
        };
        scratch
            .matches
            .iter()
            .map(|index| self.rules.rule(index))
            .filter(|rule| !rule.enforced())
            .filter_map(|rule| {
                let scores = with(&assessment.scores, rule.category, rule.weight);
                let rules = with(&assessment.rules, rule.category, rule.weight);
                let action = self.policy.message_action(&scores, &rules);
                (action > assessment.action).then(|| (rule.id.clone(), action))
            })
            .collect()
    }

    /// Scores one message and builds its verdict.
    pub fn verdict(
        &self,
        event: &MessageEvent,
        scratch: &mut Scratch,
        decided_at: OffsetDateTime,
    ) -> Verdict {
        self.verdict_with_assessment(event, scratch, decided_at).0
    }

    /// Scores one message: its verdict, and the assessment behind it. The rules that hit and
    /// what was extracted stay in `scratch` until its next use.
    pub fn verdict_with_assessment(
        &self,
        event: &MessageEvent,
        scratch: &mut Scratch,
        decided_at: OffsetDateTime,
    ) -> (Verdict, Assessment) {
        let assessment = self.assess(&event.body, scratch);
        (
            self.verdict_of(event, &assessment, scratch, decided_at),
            assessment,
        )
    }

    /// [`Scorer::verdict_with_assessment`] for a message `scratch` holds prepared, given the
    /// model's probabilities for it (see [`Scorer::assess_prepared`]).
    pub fn verdict_prepared(
        &self,
        event: &MessageEvent,
        model: Option<ModelScores>,
        scratch: &mut Scratch,
        decided_at: OffsetDateTime,
    ) -> (Verdict, Assessment) {
        let assessment = self.assess_prepared(model, scratch);
        (
            self.verdict_of(event, &assessment, scratch, decided_at),
            assessment,
        )
    }

    /// [`Scorer::verdict_prepared`] for a message whose hits of this scorer's rules are already
    /// in `scratch.matches` (see [`Scorer::assess_matched`]).
    pub fn verdict_matched(
        &self,
        event: &MessageEvent,
        model: Option<ModelScores>,
        scratch: &Scratch,
        decided_at: OffsetDateTime,
    ) -> (Verdict, Assessment) {
        let assessment = self.assess_matched(model, scratch);
        (
            self.verdict_of(event, &assessment, scratch, decided_at),
            assessment,
        )
    }

    /// The verdict on a message from its assessment and the rules that hit it (in `scratch`).
    fn verdict_of(
        &self,
        event: &MessageEvent,
        assessment: &Assessment,
        scratch: &Scratch,
        decided_at: OffsetDateTime,
    ) -> Verdict {
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
        let marketing_without_opt_out = self
            .policy
            .marketing_without_opt_out(&assessment.scores, scratch.normalized.folded());
        Verdict {
            message_id: event.message_id.clone(),
            account_id: event.account_id.clone(),
            action: assessment.action,
            scores: assessment.scores.rounded(),
            rule_hits,
            shadow_rule_hits,
            model_version: self.model_in_use().map(str::to_owned),
            rules_version: self.rules.version().to_owned(),
            decided_at,
            account_suspended: false,
            recipient_opted_out: false,
            marketing_without_opt_out,
        }
    }
}

/// `x` to the power `weight`: a whole weight (the shipped 2) needs multiplications only, not
/// `powf`'s log and exp.
fn power(x: f64, weight: f64) -> f64 {
    if weight.fract() == 0.0 && (0.0..=8.0).contains(&weight) {
        x.powi(weight as i32)
    } else {
        x.powf(weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyFile;
    use crate::rules::RuleSet;

    fn rule(id: &str, weight: f64, mode: &str, keyword: &str) -> String {
        let category = id.split('.').next().unwrap();
        format!(
            "[[rule]]\nid = \"{id}\"\ncategory = \"{category}\"\nseverity = \"medium\"\n\
             weight = {weight}\nmode = \"{mode}\"\ndescription = \"A test rule\"\n\
             keywords = [\"{keyword}\"]\nexamples.match = [\"{keyword}\"]\n\
             examples.no_match = [\"hello\"]\n\n"
        )
    }

    #[test]
    fn a_shadow_rule_reports_the_action_it_would_have_raised_a_message_to() {
        let rules = rule("spam.watches", 0.6, "enforce", "cheap watches")
            + &rule("spam.watches_strict", 0.9, "shadow", "cheap watches")
            + &rule("fraud.weak", 0.2, "shadow", "watches");
        let policy = PolicyFile::from_toml(include_str!("../config/policy.toml"))
            .unwrap()
            .message;
        let scorer = Scorer::new(RuleSet::compile(&rules).unwrap(), None, policy)
            .with_sources(Sources::RulesOnly);
        let mut scratch = Scratch::new();
        let assessment = scorer.assess("cheap watches for sale", &mut scratch);
        assert_eq!(assessment.action, Action::Flag);
        // The strict rule would block what the enforced one flags; the weak one alone would
        // change nothing. Neither touched the action taken.
        assert_eq!(
            scorer.shadow_changes(&assessment, &scratch),
            [(RuleId::new("spam.watches_strict"), Action::Block)]
        );
        let plain = scorer.assess("hello there", &mut scratch);
        assert!(scorer.shadow_changes(&plain, &scratch).is_empty());
    }
}
