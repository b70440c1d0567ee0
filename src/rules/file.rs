//! The rules file format (`config/rules.toml`) as serde reads it, before validation.
//!
//! Kept apart from the compiled `RuleSet` so the file can change shape without touching the
//! matcher. Unknown keys are refused: a misspelt `requries` must not silently drop a condition.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::variants::SpellingVariants;
use crate::message::Category;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RulesFile {
    /// Phrase lists that patterns name as `{name}` (the protected groups, say), so that rules
    /// sharing a vocabulary keep one copy of it.
    #[serde(default)]
    pub lists: BTreeMap<String, Vec<String>>,
    /// Lists whose phrases also match misspelt by one slip (see `variants`).
    #[serde(default)]
    pub spelling_variants: SpellingVariants,
    #[serde(default)]
    pub rule: Vec<Spanned<RuleEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleEntry {
    pub id: String,
    pub category: Category,
    pub severity: Severity,
    /// Contribution of one hit to its category's score, in (0, 1].
    pub weight: f64,
    #[serde(default)]
    pub mode: Mode,
    /// Plain words shown to account holders; never a pattern.
    pub description: String,
    /// The clause of the terms the rule enforces (`[statements.tags]` in the policy file), for
    /// statements of reasons; the rule's category by default.
    pub policy_tag: Option<String>,
    pub pattern: Option<String>,
    /// A pattern that cancels the rule's hit when it matches too: the counter-speech that
    /// quotes what a hate rule looks for ("saying X are Y is wrong").
    pub unless: Option<String>,
    pub keywords: Option<Vec<String>>,
    pub domains: Option<Vec<String>>,
    pub lookalike_of: Option<Vec<String>>,
    #[serde(default)]
    pub ip_url: bool,
    /// Names a brand of the brand registry and links to a domain that is not one of its own.
    #[serde(default)]
    pub off_brand_link: bool,
    /// Extra conditions, all of which must hold for the rule to hit.
    #[serde(default)]
    pub requires: Vec<Requirement>,
    pub examples: Examples,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Examples {
    #[serde(rename = "match")]
    pub matching: Vec<String>,
    pub no_match: Vec<String>,
}

/// How serious a hit is. High-severity fraud hits are what can suspend an account on their own
/// (with the model's confirmation); low ones only add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

/// Whether a rule acts (`enforce`) or is only recorded for tuning (`shadow`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Enforce,
    Shadow,
}

/// Something extraction found in a message, which a rule can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    Url,
    IpUrl,
    Phone,
    Email,
    /// A brand of the brand registry is named and a link goes to none of its domains.
    OffBrandLink,
    /// A link the brand registry does not vouch for: the message has links, and not every one
    /// is on a registered brand's own domain or a public body's.
    UnvouchedLink,
    /// Not every way the message gives to reach its sender is one the registry vouches for:
    /// it has no link and no phone number (a robocall's "press 1"), or one that is no brand's
    /// own. A callback lure then still hits, while the bank's own alert giving its own number
    /// does not.
    UnvouchedContact,
}
