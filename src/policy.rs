//! Policy: turns per-category scores into an action on the message. `config/policy.toml` also
//! holds the account policy (`[suspension]`); reading the file gives both, and each goes to the
//! code that applies it: the message policy to the scorer, the account policy to the enforcer.
//!
//! Read from `config/policy.toml`. Thresholds are per category because the cost of an error is:
//! blocking a fraud message protects a recipient from losing money, blocking an ordinary message
//! that merely mentions a pub loses a customer's text.

use serde::Deserialize;

use crate::message::{Action, Category, Scores};
use crate::statements::StatementPolicy;
use crate::suspension::SuspensionPolicy;

/// Why a policy file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy file: {0}")]
    Parse(String),
    #[error("policy file: [fusion]: {0}")]
    Fusion(&'static str),
    #[error("policy file: [suspension]: {0}")]
    Suspension(&'static str),
    #[error("policy file: [statements]: {0}")]
    Statements(String),
    #[error("policy file: [message.{category}]: {problem}")]
    Threshold {
        category: Category,
        problem: &'static str,
    },
}

/// Score thresholds for one category's message actions.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Score at or above which a message is flagged for attention (delivered, counted). In [0, 1].
    pub flag_at: f64,
    /// Score at or above which a message is blocked. In [0, 1], at least `flag_at`.
    pub block_at: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageThresholds {
    spam: Thresholds,
    fraud: Thresholds,
    aup: Thresholds,
    #[serde(default)]
    marketing: Marketing,
}

/// What consented marketing must carry (`[message.marketing]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Marketing {
    /// Words or phrases, any of which, standing as words in a message's folded text, tell its
    /// recipient how to opt out.
    opt_out_phrases: Vec<String>,
}

impl Default for Marketing {
    fn default() -> Self {
        Marketing {
            opt_out_phrases: [
                "stop",
                "unsubscribe",
                "opt out",
                "opt-out",
                "optout",
                "unsub",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyToml {
    message: MessageThresholds,
    #[serde(default)]
    fusion: Fusion,
    #[serde(default)]
    suspension: SuspensionPolicy,
    #[serde(default)]
    statements: StatementPolicy,
}

/// How rules and the model combine (see `config/policy.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fusion {
    /// Exponent on the model's miss probability `(1 - p)`: how much the model's evidence counts
    /// relative to the rules'. Positive; default 1.
    pub model_weight: f64,
    /// Whether the model's evidence can make a message blocked. When false (the default), a
    /// message is blocked only when the rules' own score reaches `block_at`: every block then has
    /// a rule, with a description the sender can be told, behind it; the model can flag.
    #[serde(default)]
    pub model_can_block: bool,
    /// The model's weight on fraud for a message whose every link the brand registry vouches for
    /// (a registered brand's own domain, or a public body's): a phisher cannot host his page
    /// there, and the model, which learned that links to brands mean fraud, is most often wrong
    /// there. A message without links counts too when every phone number it gives is one a
    /// registered brand publishes. 0 lets only the rules find fraud in such a message. Default:
    /// `model_weight`.
    #[serde(default)]
    pub vouched_links_fraud_weight: Option<f64>,
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion {
            model_weight: 1.0,
            model_can_block: false,
            vouched_links_fraud_weight: None,
        }
    }
}

/// A validated policy file: its two policies, for the two places that apply them.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyFile {
    /// What a message's scores call for (`[message.*]`, `[fusion]`): the scorer's.
    pub message: MessagePolicy,
    /// When sustained evidence suspends an account (`[suspension]`): the enforcer's.
    pub account: SuspensionPolicy,
    /// How decisions are filed as statements of reasons (`[statements]`):
    /// `warden transparency export`'s.
    pub statements: StatementPolicy,
}

impl PolicyFile {
    /// Parses and validates a policy file. Does no IO: the caller reads the file.
    pub fn from_toml(source: &str) -> Result<Self, PolicyError> {
        let file: PolicyToml =
            toml::from_str(source).map_err(|e| PolicyError::Parse(e.to_string()))?;
        file.suspension
            .validate()
            .map_err(PolicyError::Suspension)?;
        file.statements
            .validate()
            .map_err(PolicyError::Statements)?;
        let message = MessagePolicy {
            thresholds: [file.message.spam, file.message.fraud, file.message.aup],
            fusion: file.fusion,
            opt_out_phrases: file
                .message
                .marketing
                .opt_out_phrases
                .iter()
                .map(|phrase| phrase.trim().to_lowercase())
                .filter(|phrase| !phrase.is_empty())
                .collect(),
        };
        message.validate()?;
        Ok(PolicyFile {
            message,
            account: file.suspension,
            statements: file.statements,
        })
    }
}

/// The validated message policy: per-category thresholds and how rules and model combine.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagePolicy {
    thresholds: [Thresholds; 3],
    fusion: Fusion,
    /// Lowercase: see [`MessagePolicy::gives_opt_out`].
    opt_out_phrases: Vec<String>,
}

impl MessagePolicy {
    fn validate(&self) -> Result<(), PolicyError> {
        let policy = self;
        if !(policy.fusion.model_weight > 0.0 && policy.fusion.model_weight.is_finite()) {
            return Err(PolicyError::Fusion(
                "model_weight must be a positive number",
            ));
        }
        if let Some(weight) = policy.fusion.vouched_links_fraud_weight
            && !(weight >= 0.0 && weight.is_finite())
        {
            return Err(PolicyError::Fusion(
                "vouched_links_fraud_weight must be a number, 0 or more",
            ));
        }
        for category in Category::ALL {
            let t = policy.thresholds(category);
            let problem = if !(0.0..=1.0).contains(&t.flag_at) || !(0.0..=1.0).contains(&t.block_at)
            {
                Some("thresholds must be within [0, 1]")
            } else if t.block_at < t.flag_at {
                Some("block_at must not be below flag_at")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(PolicyError::Threshold { category, problem });
            }
        }
        Ok(())
    }

    pub fn fusion(&self) -> Fusion {
        self.fusion
    }

    pub fn thresholds(&self, category: Category) -> Thresholds {
        self.thresholds[category.index()]
    }

    /// Whether a message flagged as spam at `scores` gives its recipient no way to opt out:
    /// bulk promotion must (`[message.marketing]`). `folded` is the normalized, lowercase text.
    pub fn marketing_without_opt_out(&self, scores: &Scores, folded: &str) -> bool {
        scores.spam >= self.thresholds(Category::Spam).flag_at
            && !self
                .opt_out_phrases
                .iter()
                .any(|phrase| contains_word(folded, phrase))
    }

    /// The strictest action any category's score calls for. `scores` are the fused scores;
    /// `rules_scores` the rules' alone, which must reach `block_at` themselves unless the policy
    /// lets the model block (see [`Fusion::model_can_block`]).
    pub fn message_action(&self, scores: &Scores, rules_scores: &Scores) -> Action {
        Category::ALL
            .into_iter()
            .map(|category| {
                let score = scores.get(category);
                let t = self.thresholds(category);
                let blocking_evidence = if self.fusion.model_can_block {
                    score
                } else {
                    rules_scores.get(category)
                };
                if score >= t.block_at && blocking_evidence >= t.block_at {
                    Action::Block
                } else if score >= t.flag_at {
                    Action::Flag
                } else {
                    Action::Allow
                }
            })
            .max()
            .unwrap_or(Action::Allow)
    }
}

/// Whether `phrase` stands in `text` as words: not inside a longer word ("stop" in "stopped").
fn contains_word(text: &str, phrase: &str) -> bool {
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    text.match_indices(phrase).any(|(at, _)| {
        !is_word(text[..at].chars().next_back())
            && !is_word(text[at + phrase.len()..].chars().next())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "[message.spam]\nflag_at = 0.5\nblock_at = 0.9\n\
                          [message.fraud]\nflag_at = 0.4\nblock_at = 0.8\n\
                          [message.aup]\nflag_at = 0.5\nblock_at = 0.95\n";

    #[test]
    fn spam_without_an_opt_out_phrase_standing_as_words_is_marketing_without_opt_out() {
        let policy = PolicyFile::from_toml(POLICY).unwrap().message;
        let spam = Scores {
            spam: 0.7,
            fraud: 0.0,
            aup: 0.0,
        };
        let without = policy.marketing_without_opt_out(&spam, "50% off all sofas this weekend");
        assert!(without);
        for text in [
            "50% off all sofas. reply stop to opt out",
            "50% off. unsubscribe: example.com/u",
            "50% off (opt-out at example.com)",
        ] {
            assert!(!policy.marketing_without_opt_out(&spam, text), "{text}");
        }
        // Inside another word is no instruction; below the spam flag, no marketing at all.
        assert!(policy.marketing_without_opt_out(&spam, "nonstop deals, unstoppable prices"));
        let ham = Scores { spam: 0.1, ..spam };
        assert!(!policy.marketing_without_opt_out(&ham, "see you at 8"));
        // The phrases are the policy's to set.
        let custom = format!("{POLICY}[message.marketing]\nopt_out_phrases = [\"Text END\"]\n");
        let policy = PolicyFile::from_toml(&custom).unwrap().message;
        assert!(!policy.marketing_without_opt_out(&spam, "50% off. text end to leave"));
        assert!(policy.marketing_without_opt_out(&spam, "50% off. reply stop to opt out"));
    }

    #[test]
    fn strictest_category_decides() {
        let policy = PolicyFile::from_toml(POLICY).unwrap().message;
        let action = |spam, fraud, aup| {
            let scores = Scores { spam, fraud, aup };
            policy.message_action(&scores, &scores)
        };
        assert_eq!(action(0.0, 0.0, 0.0), Action::Allow);
        assert_eq!(action(0.5, 0.0, 0.0), Action::Flag);
        assert_eq!(action(0.89, 0.8, 0.0), Action::Block);
        assert_eq!(action(0.0, 0.0, 0.94), Action::Flag);
    }

    #[test]
    fn only_rules_block_unless_the_policy_lets_the_model() {
        let fused = Scores {
            spam: 0.0,
            fraud: 0.95,
            aup: 0.0,
        };
        let rules = Scores {
            spam: 0.0,
            fraud: 0.4,
            aup: 0.0,
        };
        let strict = PolicyFile::from_toml(POLICY).unwrap().message;
        assert_eq!(strict.message_action(&fused, &rules), Action::Flag);
        let rules_block = Scores {
            fraud: 0.85,
            ..rules
        };
        assert_eq!(strict.message_action(&fused, &rules_block), Action::Block);
        let lenient = PolicyFile::from_toml(&format!(
            "{POLICY}[fusion]\nmodel_weight = 1\nmodel_can_block = true\n"
        ))
        .unwrap()
        .message;
        assert_eq!(lenient.message_action(&fused, &rules), Action::Block);
    }

    #[test]
    fn bad_thresholds_are_refused() {
        let inverted = POLICY.replace("block_at = 0.8", "block_at = 0.3");
        assert_eq!(
            PolicyFile::from_toml(&inverted).unwrap_err(),
            PolicyError::Threshold {
                category: Category::Fraud,
                problem: "block_at must not be below flag_at"
            }
        );
        assert!(PolicyFile::from_toml(&POLICY.replace("0.95", "1.5")).is_err());
        let zero_weight = format!("{POLICY}[fusion]\nmodel_weight = 0\n");
        assert!(matches!(
            PolicyFile::from_toml(&zero_weight),
            Err(PolicyError::Fusion(_))
        ));
        assert_eq!(
            PolicyFile::from_toml(POLICY)
                .unwrap()
                .message
                .fusion()
                .model_weight,
            1.0
        );
        let negative =
            format!("{POLICY}[fusion]\nmodel_weight = 1\nvouched_links_fraud_weight = -1\n");
        assert!(matches!(
            PolicyFile::from_toml(&negative),
            Err(PolicyError::Fusion(_))
        ));
        let one_message = format!("{POLICY}[suspension]\nblocked_messages = 1\n");
        assert!(matches!(
            PolicyFile::from_toml(&one_message),
            Err(PolicyError::Suspension(_))
        ));
        let unknown = format!("{POLICY}[message.extra]\nflag_at = 1\n");
        assert!(matches!(
            PolicyFile::from_toml(&unknown),
            Err(PolicyError::Parse(_))
        ));
    }
}
