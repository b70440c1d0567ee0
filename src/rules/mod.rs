//! The rule engine: `config/rules.toml` compiled once into an immutable matcher.
//!
//! Rules read the matching form of a message (see `text::normalize`): lowercase, de-disguised,
//! leetspeak folded. One Aho-Corasick automaton holds every keyword of every keyword rule and, for
//! every regex rule, the literals any match must start (or end) with, pulled out of the regex by
//! `regex-syntax`. One pass of that automaton over a message says which keyword rules hit and
//! which regex rules could; only those regexes run, and a regex whose matches start with a
//! literal runs anchored where that literal was found, reading only as far as its match needs.
//! Most messages run no regex at all, which is what makes scoring cost about one automaton pass.
//!
//! A rules file is refused whole when anything in it is wrong (TOML, an unknown key, a regex that
//! does not compile, an example that does not behave), with the rule id, the line and the reason
//! of every problem; whoever loads rules keeps the old set live in that case.
//!
//! `compile` turns the file into a `RuleSet` (once per load, thorough: every problem reported);
//! `matching` runs a `RuleSet` over one message (per message, in reused scratch space). This
//! module holds what both share: the compiled rule, the set's tables and the refusal.

mod brands;
mod compile;
mod diff;
mod file;
mod matching;
mod prefilter;
mod union;
mod variants;

use std::collections::HashMap;
use std::fmt;

use aho_corasick::AhoCorasick;
use regex_automata::meta::Regex;

pub use brands::{BrandProblem, BrandRegistry, BrandsError, RegisteredBrand};
pub use diff::RulesDiff;
pub use file::{Mode, Requirement, Severity};
pub use matching::Matches;
use prefilter::Prefilter;
pub use union::RuleUnion;

use crate::message::{Category, RuleId};
use crate::text::BrandSkeletons;

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub id: RuleId,
    pub category: Category,
    pub severity: Severity,
    pub weight: f64,
    pub mode: Mode,
    /// Shown to account holders: plain words, never the pattern.
    pub description: String,
    /// The clause of the terms it enforces, as the policy file's `[statements.tags]` name it:
    /// `policy_tag` in the rules file, else the category (`spam`, `fraud`, `aup`).
    pub policy_tag: String,
    /// Line of the rules file the rule starts on.
    pub line: usize,
    requires: Vec<Requirement>,
    /// Cancels a hit when it matches the same message.
    unless: Option<Regex>,
    matcher: Matcher,
}

#[derive(Debug)]
enum Matcher {
    /// A regex over the matching form, and the literals that tell where it can match.
    Pattern { regex: Regex, prefilter: Prefilter },
    /// Whole-word phrases, normalized like messages.
    Keywords(Vec<String>),
    /// Domains whose URLs (or their subdomains') hit.
    Domains(Vec<String>),
    /// Brands whose names a URL's host imitates without being one of their domains; the
    /// automaton finds their skeletons, indexed like `brands`.
    Lookalike {
        brands: Vec<Brand>,
        skeletons: BrandSkeletons,
    },
    /// A URL whose host is an IP address.
    IpUrl,
    /// A brand of the registry is named and a link goes elsewhere.
    OffBrandLink,
}

/// A brand that lookalike domains imitate: the skeleton of its name and its real domains.
#[derive(Debug)]
struct Brand {
    skeleton: String,
    official: Vec<String>,
}

/// What an Aho-Corasick literal means for the rule that owns it.
#[derive(Debug, Clone, Copy)]
enum LiteralRole {
    /// A keyword: a whole-word occurrence is a hit.
    Keyword,
    /// The start of any match of the rule's regex: try the regex anchored here.
    MatchStart,
    /// Contained in any match of the rule's regex: the regex must run.
    Contained,
}

/// A compiled rules file. Immutable and shared by every scoring worker.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    version: String,
    literals: Option<AhoCorasick>,
    /// For each literal of the automaton, the rules it belongs to.
    literal_owners: Vec<Vec<(u32, LiteralRole)>>,
    /// Regex rules without usable literals: they run on every message.
    unfiltered: Vec<u32>,
    /// Domain (or parent domain) → the `domains` rules that list it.
    domain_rules: HashMap<String, Vec<u32>>,
    lookalike_rules: Vec<u32>,
    ip_url_rules: Vec<u32>,
    off_brand_rules: Vec<u32>,
    /// Rules with an `unless` pattern, checked once the hits are known.
    unless_rules: Vec<u32>,
    /// The brand registry, compiled once; `uses_brands` says whether any rule asks it.
    brands: BrandRegistry,
    uses_brands: bool,
}

/// One thing wrong with a rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// The rule it is in, when it is in one.
    pub rule_id: Option<String>,
    /// 1-based line in the rules file.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problem(f, "rule", self.rule_id.as_deref(), self.line, &self.reason)
    }
}

/// Writes one problem of a configuration file: "line L: KIND `NAME`: REASON", or "line L:
/// REASON" when it is in no entry. Shared by the rules and the brands files.
fn write_problem(
    f: &mut fmt::Formatter<'_>,
    kind: &str,
    name: Option<&str>,
    line: usize,
    reason: &str,
) -> fmt::Result {
    match name {
        Some(name) => write!(f, "line {line}: {kind} `{name}`: {reason}"),
        None => write!(f, "line {line}: {reason}"),
    }
}

/// Writes a refused file's headline, "WHAT file refused (N problems)", and each problem on an
/// indented line of its own.
fn write_refusal(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    problems: &[impl fmt::Display],
) -> fmt::Result {
    write!(f, "{what} file refused ({} problem", problems.len())?;
    f.write_str(if problems.len() == 1 { ")" } else { "s)" })?;
    for problem in problems {
        write!(f, "\n  {problem}")?;
    }
    Ok(())
}

/// Why a rules file was refused: every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RulesError {
    pub problems: Vec<RuleProblem>,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_refusal(f, "rules", &self.problems)
    }
}

impl RuleSet {
    /// Content hash of the rules file: the `rules_version` of every verdict.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, index: usize) -> &Rule {
        &self.rules[index]
    }

    /// Ids of regex rules with no usable prefilter literal: each runs on every message.
    pub fn unfiltered_rule_ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.unfiltered
            .iter()
            .map(|&i| self.rules[i as usize].id.as_str())
    }
}

impl Rule {
    /// Whether the rule's hits count towards scores and actions.
    pub fn enforced(&self) -> bool {
        self.mode == Mode::Enforce
    }

    /// Whether the rule asks the brand registry (as its matcher or a requirement).
    fn uses_brands(&self) -> bool {
        matches!(self.matcher, Matcher::OffBrandLink)
            || self.requires.contains(&Requirement::OffBrandLink)
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// Whether `text[start..end]` stands as whole words: no letter or digit joins it on a side where
/// the match itself begins or ends with one.
fn is_whole_word(text: &[u8], start: usize, end: usize) -> bool {
    let left_ok = start == 0 || !is_word_byte(text[start]) || !is_word_byte(text[start - 1]);
    let right_ok = end == text.len() || !is_word_byte(text[end - 1]) || !is_word_byte(text[end]);
    left_ok && right_ok
}

fn line_of(source: &str, offset: usize) -> usize {
    // Called once per rule over the file before it: memchr keeps that cheap in debug builds too.
    memchr::memchr_iter(b'\n', &source.as_bytes()[..offset.min(source.len())]).count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{Extracted, Normalized};

    pub(super) fn rule(
        id: &str,
        category: &str,
        matcher: &str,
        matching: &str,
        no_match: &str,
    ) -> String {
        format!(
            "[[rule]]\nid = \"{id}\"\ncategory = \"{category}\"\nseverity = \"high\"\nweight = 0.9\n\
             description = \"A test rule\"\n{matcher}\n\
             examples.match = [{matching:?}]\nexamples.no_match = [{no_match:?}]\n\n"
        )
    }

    pub(super) fn hits(set: &RuleSet, text: &str) -> Vec<String> {
        let mut normalized = Normalized::new();
        let mut extracted = Extracted::new();
        let mut matches = Matches::new();
        normalized.set(text);
        extracted.set(normalized.folded());
        set.find(&normalized, &extracted, &mut matches);
        matches.iter().map(|i| set.rule(i).id.to_string()).collect()
    }

    pub(super) fn sample() -> RuleSet {
        let source = [
            rule("spam.prize", "spam", "keywords = [\"Free Prize\", \"you have won\"]", "FR33 PR1ZE!", "a prize-winning free cake"),
            rule("fraud.lure", "fraud", "pattern = '\\b(?:account|card) (?:is |has been )?(?:locked|suspended)\\b'\nrequires = [\"url\"]",
                "Your account has been locked: bit.ly/x", "your account has been locked, call us"),
            rule("fraud.short", "fraud", "domains = [\"bit.ly\", \"tinyurl.com\"]", "see bit.ly/abc", "bitly is a company"),
            rule("fraud.brand", "fraud", "lookalike_of = [\"paypal.com\", \"paypal.co.uk\", \"dhl.com\", \"dhlparcel.co.uk\"]", "paypa1-secure.com/login", "www.paypal.com/login"),
            rule("fraud.ip", "fraud", "ip_url = true", "http://10.0.0.1/bank", "version 10.0.0.1"),
            rule("spam.pounds", "spam", "pattern = '£\\d{3,}'", "win £1000 now", "it was £5"),
        ]
        .concat();
        RuleSet::compile(&source).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn shadow_rules_are_marked_not_enforced() {
        let source = rule(
            "spam.s",
            "spam",
            "keywords = [\"s\"]\nmode = \"shadow\"",
            "s",
            "t",
        );
        let set = RuleSet::compile(&source).unwrap();
        assert!(!set.rule(0).enforced());
    }
}
