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

mod brands;
mod file;
mod prefilter;

use std::collections::HashMap;
use std::fmt;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};
use sha2::{Digest, Sha256};

pub use brands::{BrandProblem, BrandRegistry, BrandsError, RegisteredBrand};
pub use file::{Evidence, Mode, Severity};
use file::{RuleEntry, RulesFile};
use prefilter::{Prefilter, prefilter_literals};

use crate::message::Category;
use crate::text::{BrandSkeletons, Extracted, Normalized, domain_skeleton, normalize};

/// Compiled size limit per regex: a rule that blows up into a huge automaton is a bug.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub category: Category,
    pub severity: Severity,
    pub weight: f64,
    pub mode: Mode,
    /// Shown to account holders: plain words, never the pattern.
    pub description: String,
    /// Line of the rules file the rule starts on.
    pub line: usize,
    requires: Vec<Evidence>,
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

/// Anchored tries of one rule's regex per message before one search settles the rest.
///
/// Each try can read far past its literal (`.{0,200}`, or a loop that reads to the end), so a
/// body repeating a rule's literal thousands of times would cost quadratic time if every
/// occurrence were tried. Every match starts at one of the literals, so a single unanchored
/// search from the next occurrence gives the same answer for all that follow, in linear time.
const ANCHORED_TRIES: u8 = 4;

/// Where a pattern rule's regex looks for a match.
#[derive(Debug, Clone, Copy)]
enum Search {
    /// Only a match that starts exactly here.
    AnchoredAt(usize),
    /// Any match that starts here or later.
    From(usize),
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

/// Per-worker scratch space for matching, and the result of the last match: which rules hit.
#[derive(Debug, Default, Clone)]
pub struct Matches {
    hits: BitSet,
    candidates: BitSet,
    /// Per rule, how many anchored tries at its literals have missed in this message.
    anchored_misses: Vec<u8>,
    /// Rules whose regex has been run over the rest of the message and missed.
    settled: BitSet,
    skeleton: String,
    /// The last message names a brand and links off it (computed only when a rule asks).
    off_brand: bool,
}

impl Matches {
    pub fn new() -> Self {
        Self::default()
    }

    /// Indices (into [`RuleSet::rules`]) of the rules that hit, in rules-file order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.hits.iter()
    }

    pub fn contains(&self, rule: usize) -> bool {
        self.hits.contains(rule)
    }

    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }
}

impl RuleSet {
    /// Compiles a rules file against the shipped brand registry (`config/brands.toml`, built
    /// in), checking every rule's examples. Does no IO: the caller reads the file.
    pub fn compile(source: &str) -> Result<Self, RulesError> {
        Self::compile_with_brands(source, BrandRegistry::shipped())
    }

    /// Compiles a rules file against a brand registry, checking every rule's examples.
    pub fn compile_with_brands(source: &str, brands: BrandRegistry) -> Result<Self, RulesError> {
        let parsed: RulesFile = toml::from_str(source).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            RulesError {
                problems: vec![RuleProblem {
                    rule_id: enclosing_rule_id(source, offset),
                    line: line_of(source, offset),
                    reason: e.message().trim().to_owned(),
                }],
            }
        })?;

        let mut problems = Vec::new();
        let mut rules = Vec::with_capacity(parsed.rule.len());
        let mut examples = Vec::with_capacity(parsed.rule.len());
        let mut seen = HashMap::new();
        for spanned in parsed.rule {
            let line = line_of(source, spanned.span().start);
            let entry = spanned.into_inner();
            let id = entry.id.clone();
            let problem = |reason: String| RuleProblem {
                rule_id: Some(id.clone()),
                line,
                reason,
            };
            if let Some(first) = seen.insert(entry.id.clone(), line) {
                problems.push(problem(format!(
                    "duplicate id (first defined on line {first})"
                )));
                continue;
            }
            match build_rule(entry, line) {
                Ok((rule, rule_examples)) => {
                    rules.push(rule);
                    examples.push(rule_examples);
                }
                Err(reasons) => problems.extend(reasons.into_iter().map(problem)),
            }
        }
        if rules.is_empty() && problems.is_empty() {
            problems.push(RuleProblem {
                rule_id: None,
                line: 1,
                reason: "the file defines no rules".to_owned(),
            });
        }
        if !problems.is_empty() {
            return Err(RulesError { problems });
        }

        let uses_brands = rules.iter().any(Rule::uses_brands);
        if uses_brands && brands.is_empty() {
            let first = rules
                .iter()
                .find(|r| r.uses_brands())
                .expect("some rule uses brands");
            return Err(RulesError {
                problems: vec![RuleProblem {
                    rule_id: Some(first.id.clone()),
                    line: first.line,
                    reason: "asks the brand registry, which has no brands (config/brands.toml)"
                        .to_owned(),
                }],
            });
        }
        // The registry also vouches for links the scorer then trusts, so it is part of the
        // version whether or not a rule asks it.
        let version = match brands.digest() {
            Some(digest) => version_of(&[source.as_bytes(), &digest[..]]),
            None => version_of(&[source.as_bytes()]),
        };
        let mut set = Self::index(rules, version)?;
        set.brands = brands;
        set.uses_brands = uses_brands;
        set.check_examples(&examples)?;
        Ok(set)
    }

    /// Builds the matching structures over validated rules.
    fn index(rules: Vec<Rule>, version: String) -> Result<Self, RulesError> {
        let mut table = LiteralTable::default();
        let mut unfiltered = Vec::new();
        let mut domain_rules: HashMap<String, Vec<u32>> = HashMap::new();
        let mut lookalike_rules = Vec::new();
        let mut ip_url_rules = Vec::new();
        let mut off_brand_rules = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let index = index as u32;
            match &rule.matcher {
                Matcher::Pattern { prefilter, .. } => match prefilter {
                    Prefilter::Prefix(literals) => {
                        for literal in literals {
                            table.add(literal, (index, LiteralRole::MatchStart));
                        }
                    }
                    Prefilter::Inner(literals) => {
                        for literal in literals {
                            table.add(literal, (index, LiteralRole::Contained));
                        }
                    }
                    Prefilter::None => unfiltered.push(index),
                },
                Matcher::Keywords(keywords) => {
                    for keyword in keywords {
                        table.add(keyword.as_bytes(), (index, LiteralRole::Keyword));
                    }
                }
                Matcher::Domains(domains) => {
                    for domain in domains {
                        domain_rules.entry(domain.clone()).or_default().push(index);
                    }
                }
                Matcher::Lookalike { .. } => lookalike_rules.push(index),
                Matcher::IpUrl => ip_url_rules.push(index),
                Matcher::OffBrandLink => off_brand_rules.push(index),
            }
        }
        let LiteralTable {
            literals,
            owners: literal_owners,
            ..
        } = table;
        let literals = if literals.is_empty() {
            None
        } else {
            let automaton = AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::DFA))
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(&literals)
                .map_err(|e| RulesError {
                    problems: vec![RuleProblem {
                        rule_id: None,
                        line: 1,
                        reason: format!("the keyword automaton could not be built: {e}"),
                    }],
                })?;
            Some(automaton)
        };
        Ok(RuleSet {
            rules,
            version,
            literals,
            literal_owners,
            unfiltered,
            domain_rules,
            lookalike_rules,
            ip_url_rules,
            off_brand_rules,
            brands: BrandRegistry::empty(),
            uses_brands: false,
        })
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

    /// Finds every rule that hits one message; the result is left in `matches`.
    /// Whether the message has links and the brand registry vouches for every one: each on a
    /// registered brand's own domain or a public body's (see `config/brands.toml`).
    pub fn vouches_for_every_link(&self, extracted: &Extracted) -> bool {
        self.brands.vouches_for_every_link(extracted)
    }

    pub fn find(&self, normalized: &Normalized, extracted: &Extracted, matches: &mut Matches) {
        matches.hits.reset(self.rules.len());
        matches.candidates.reset(self.rules.len());
        matches.settled.reset(self.rules.len());
        matches.anchored_misses.clear();
        matches.anchored_misses.resize(self.rules.len(), 0);
        matches.off_brand =
            self.uses_brands && self.brands.off_brand_link(normalized.matching(), extracted);
        let off_brand = matches.off_brand;
        let text = normalized.matching().as_bytes();

        if let Some(automaton) = &self.literals {
            for found in automaton.find_overlapping_iter(text) {
                for &(rule, role) in &self.literal_owners[found.pattern().as_usize()] {
                    let rule = rule as usize;
                    match role {
                        LiteralRole::Keyword => {
                            if is_whole_word(text, found.start(), found.end())
                                && self.requirements_met(rule, extracted, off_brand)
                            {
                                matches.hits.insert(rule);
                            }
                        }
                        LiteralRole::MatchStart => {
                            if matches.hits.contains(rule)
                                || matches.settled.contains(rule)
                                || !self.requirements_met(rule, extracted, off_brand)
                            {
                                continue;
                            }
                            let misses = &mut matches.anchored_misses[rule];
                            if *misses < ANCHORED_TRIES {
                                if self.pattern_matches(
                                    rule,
                                    text,
                                    Search::AnchoredAt(found.start()),
                                ) {
                                    matches.hits.insert(rule);
                                } else {
                                    *misses += 1;
                                }
                            } else if self.pattern_matches(rule, text, Search::From(found.start()))
                            {
                                matches.hits.insert(rule);
                            } else {
                                matches.settled.insert(rule);
                            }
                        }
                        LiteralRole::Contained => matches.candidates.insert(rule),
                    }
                }
            }
        }
        for rule in matches
            .candidates
            .iter()
            .chain(self.unfiltered.iter().map(|&r| r as usize))
        {
            if matches.hits.contains(rule) || !self.requirements_met(rule, extracted, off_brand) {
                continue;
            }
            if self.pattern_matches(rule, text, Search::From(0)) {
                matches.hits.insert(rule);
            }
        }
        if extracted.has_url() {
            self.find_in_urls(extracted, matches);
        }
        if off_brand {
            for &rule in &self.off_brand_rules {
                self.hit_if_required(rule as usize, extracted, matches);
            }
        }
    }

    /// Runs a pattern rule's regex over `text`, as `search` says.
    fn pattern_matches(&self, rule: usize, text: &[u8], search: Search) -> bool {
        let Matcher::Pattern { regex, .. } = &self.rules[rule].matcher else {
            return false;
        };
        // The range keeps the bytes before it visible, so `\b` still sees them.
        let input = match search {
            Search::AnchoredAt(start) => Input::new(text).range(start..).anchored(Anchored::Yes),
            Search::From(start) => Input::new(text).range(start..),
        };
        regex.is_match(input)
    }

    fn find_in_urls(&self, extracted: &Extracted, matches: &mut Matches) {
        for url in extracted.urls() {
            if url.is_ip {
                for &rule in &self.ip_url_rules {
                    self.hit_if_required(rule as usize, extracted, matches);
                }
                continue;
            }
            // The host and each parent domain: `x.bit.ly` is listed as `bit.ly`.
            let mut domain = url.host;
            loop {
                for &rule in self.domain_rules.get(domain).into_iter().flatten() {
                    self.hit_if_required(rule as usize, extracted, matches);
                }
                match domain.split_once('.') {
                    Some((_, parent)) if parent.contains('.') => domain = parent,
                    _ => break,
                }
            }
            if self.lookalike_rules.is_empty() {
                continue;
            }
            domain_skeleton(url.host, &mut matches.skeleton);
            for &rule in &self.lookalike_rules {
                let Matcher::Lookalike { brands, skeletons } = &self.rules[rule as usize].matcher
                else {
                    continue;
                };
                // Any domain the rule lists is real, whichever brand it belongs to: DHL's
                // `dhlparcel.co.uk` contains the `dhl` of `dhl.com` and is no lookalike.
                let official = url.registrable_domain.is_some_and(|d| {
                    brands
                        .iter()
                        .any(|brand| brand.official.iter().any(|o| o == d))
                });
                if !official && skeletons.imitated(&matches.skeleton).next().is_some() {
                    self.hit_if_required(rule as usize, extracted, matches);
                }
            }
        }
    }

    fn hit_if_required(&self, rule: usize, extracted: &Extracted, matches: &mut Matches) {
        if self.requirements_met(rule, extracted, matches.off_brand) {
            matches.hits.insert(rule);
        }
    }

    fn requirements_met(&self, rule: usize, extracted: &Extracted, off_brand: bool) -> bool {
        self.rules[rule]
            .requires
            .iter()
            .all(|evidence| match evidence {
                Evidence::Url => extracted.has_url(),
                Evidence::IpUrl => extracted.has_ip_url(),
                Evidence::Phone => extracted.has_phone(),
                Evidence::Email => extracted.has_email(),
                Evidence::OffBrandLink => off_brand,
            })
    }

    /// Runs every rule's examples through the whole path (normalize, extract, match).
    fn check_examples(&self, examples: &[RuleExamples]) -> Result<(), RulesError> {
        let mut normalized = Normalized::new();
        let mut extracted = Extracted::new();
        let mut matches = Matches::new();
        let mut problems = Vec::new();
        for (index, (rule, rule_examples)) in self.rules.iter().zip(examples).enumerate() {
            let cases = rule_examples
                .matching
                .iter()
                .map(|text| (text, true))
                .chain(rule_examples.no_match.iter().map(|text| (text, false)));
            for (text, should_match) in cases {
                normalized.set(text);
                extracted.set(normalized.folded());
                self.find(&normalized, &extracted, &mut matches);
                if matches.contains(index) != should_match {
                    let expected = if should_match { "match" } else { "no_match" };
                    problems.push(RuleProblem {
                        rule_id: Some(rule.id.clone()),
                        line: rule.line,
                        reason: format!("{expected} example fails: {text:?}"),
                    });
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(RulesError { problems })
        }
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
            || self.requires.contains(&Evidence::OffBrandLink)
    }
}

/// The distinct literals of a rule set, each with the rules that own it.
#[derive(Default)]
struct LiteralTable<'r> {
    literals: Vec<&'r [u8]>,
    owners: Vec<Vec<(u32, LiteralRole)>>,
    slots: HashMap<&'r [u8], usize>,
}

impl<'r> LiteralTable<'r> {
    fn add(&mut self, literal: &'r [u8], owner: (u32, LiteralRole)) {
        let slot = *self.slots.entry(literal).or_insert_with(|| {
            self.literals.push(literal);
            self.owners.push(Vec::new());
            self.literals.len() - 1
        });
        self.owners[slot].push(owner);
    }
}

struct RuleExamples {
    matching: Vec<String>,
    no_match: Vec<String>,
}

/// Validates one rule entry; on failure, every reason found.
fn build_rule(entry: RuleEntry, line: usize) -> Result<(Rule, RuleExamples), Vec<String>> {
    let mut reasons = Vec::new();
    let prefix = format!("{}.", entry.category);
    if !entry.id.starts_with(&prefix) {
        reasons.push(format!("id must start with its category, `{prefix}`"));
    }
    if !entry
        .id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
    {
        reasons.push("id may hold only a-z, 0-9, `_` and `.`".to_owned());
    }
    if !(entry.weight > 0.0 && entry.weight <= 1.0) {
        reasons.push(format!("weight {} is outside (0, 1]", entry.weight));
    }
    let description = entry.description.trim();
    if description.is_empty() {
        reasons.push("description is empty".to_owned());
    } else if ["\\", "(?", "[", "|", ".*", "{"]
        .iter()
        .any(|m| description.contains(m))
    {
        reasons.push(
            "description looks like a pattern: write it in plain words for account holders"
                .to_owned(),
        );
    }
    if entry.examples.matching.is_empty() || entry.examples.no_match.is_empty() {
        reasons.push("needs at least one `match` and one `no_match` example".to_owned());
    }

    let matcher_count = [
        entry.pattern.is_some(),
        entry.keywords.is_some(),
        entry.domains.is_some(),
        entry.lookalike_of.is_some(),
        entry.ip_url,
        entry.off_brand_link,
    ]
    .into_iter()
    .filter(|&set| set)
    .count();
    let matcher = if matcher_count != 1 {
        reasons.push(format!(
            "needs exactly one of `pattern`, `keywords`, `domains`, `lookalike_of`, `ip_url`, `off_brand_link` (found {matcher_count})"
        ));
        None
    } else if let Some(pattern) = &entry.pattern {
        compile_pattern(pattern).map_err(|e| reasons.push(e)).ok()
    } else if let Some(keywords) = &entry.keywords {
        compile_keywords(keywords).map_err(|e| reasons.push(e)).ok()
    } else if let Some(domains) = &entry.domains {
        compile_domains(domains).map_err(|e| reasons.push(e)).ok()
    } else if let Some(brands) = &entry.lookalike_of {
        compile_brands(brands).map_err(|e| reasons.push(e)).ok()
    } else if entry.ip_url {
        Some(Matcher::IpUrl)
    } else {
        Some(Matcher::OffBrandLink)
    };

    match matcher {
        Some(matcher) if reasons.is_empty() => Ok((
            Rule {
                id: entry.id,
                category: entry.category,
                severity: entry.severity,
                weight: entry.weight,
                mode: entry.mode,
                description: description.to_owned(),
                line,
                requires: entry.requires,
                matcher,
            },
            RuleExamples {
                matching: entry.examples.matching,
                no_match: entry.examples.no_match,
            },
        )),
        _ => Err(reasons),
    }
}

fn compile_pattern(pattern: &str) -> Result<Matcher, String> {
    // ASCII classes and word boundaries: the matching form is ASCII in all that rules look at,
    // and Unicode-aware `\b` would cost an order of magnitude in matching speed.
    let regex = meta::Builder::new()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .configure(
            meta::Config::new()
                .utf8_empty(false)
                .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
                .hybrid_cache_capacity(2 * REGEX_SIZE_LIMIT),
        )
        .build(pattern)
        .map_err(|e| match e.syntax_error() {
            Some(syntax) => format!("pattern does not compile: {syntax}"),
            None => format!("pattern does not compile: {e}"),
        })?;
    if regex.is_match(Input::new(b"")) {
        return Err("pattern matches the empty message".to_owned());
    }
    let prefilter = prefilter_literals(pattern);
    Ok(Matcher::Pattern { regex, prefilter })
}

fn compile_keywords(keywords: &[String]) -> Result<Matcher, String> {
    if keywords.is_empty() {
        return Err("`keywords` is empty".to_owned());
    }
    let normalized = keywords
        .iter()
        .map(|keyword| {
            let n = normalize(keyword);
            if n.is_empty() {
                Err(format!("keyword {keyword:?} is empty after normalization"))
            } else {
                Ok(n)
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Matcher::Keywords(normalized))
}

fn compile_domains(domains: &[String]) -> Result<Matcher, String> {
    if domains.is_empty() {
        return Err("`domains` is empty".to_owned());
    }
    let mut out = Vec::with_capacity(domains.len());
    for domain in domains {
        let lower = domain.trim().to_ascii_lowercase();
        let valid = lower.contains('.')
            && lower
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && !lower.split('.').any(str::is_empty);
        if !valid {
            return Err(format!("{domain:?} is not a domain name"));
        }
        out.push(lower);
    }
    Ok(Matcher::Domains(out))
}

fn compile_brands(domains: &[String]) -> Result<Matcher, String> {
    if domains.is_empty() {
        return Err("`lookalike_of` is empty".to_owned());
    }
    let mut brands: Vec<Brand> = Vec::new();
    for domain in domains {
        let lower = domain.trim().to_ascii_lowercase();
        let registrable = psl::domain_str(&lower)
            .filter(|d| *d == lower)
            .ok_or_else(|| format!("{domain:?} is not a registrable domain (like `paypal.com`)"))?;
        let name = registrable.split('.').next().unwrap_or_default();
        if name.len() < 3 {
            return Err(format!("brand name of {domain:?} is too short to compare"));
        }
        let mut skeleton = String::new();
        domain_skeleton(name, &mut skeleton);
        match brands.iter_mut().find(|b| b.skeleton == skeleton) {
            Some(brand) => brand.official.push(lower),
            None => brands.push(Brand {
                skeleton,
                official: vec![lower],
            }),
        }
    }
    let skeletons = BrandSkeletons::new(brands.iter().map(|brand| &brand.skeleton))
        .map_err(|e| format!("the brand automaton could not be built: {e}"))?;
    Ok(Matcher::Lookalike { brands, skeletons })
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
    source.as_bytes()[..offset.min(source.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The `id` of the `[[rule]]` table that contains `offset`, read from the raw text (used for
/// syntax errors, which come before any rule is parsed).
fn enclosing_rule_id(source: &str, offset: usize) -> Option<String> {
    let before = &source[..offset.min(source.len())];
    let table_start = before.rfind("[[rule]]")?;
    let after_header = &source[table_start + "[[rule]]".len()..];
    let table = after_header.split("[[rule]]").next().unwrap_or_default();
    table.lines().find_map(|line| {
        let value = line
            .trim()
            .strip_prefix("id")?
            .trim_start()
            .strip_prefix('=')?;
        Some(value.trim().trim_matches(['"', '\'']).to_owned())
    })
}

fn version_of(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// A fixed-size set of rule indices, cleared per message without allocating.
#[derive(Debug, Default, Clone)]
struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    fn reset(&mut self, len: usize) {
        self.words.clear();
        self.words.resize(len.div_ceil(64), 0);
    }

    fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let bit = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    w * 64 + bit
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::prefilter::rarity_len;
    use super::*;

    fn rule(id: &str, category: &str, matcher: &str, matching: &str, no_match: &str) -> String {
        format!(
            "[[rule]]\nid = \"{id}\"\ncategory = \"{category}\"\nseverity = \"high\"\nweight = 0.9\n\
             description = \"A test rule\"\n{matcher}\n\
             examples.match = [{matching:?}]\nexamples.no_match = [{no_match:?}]\n\n"
        )
    }

    fn hits(set: &RuleSet, text: &str) -> Vec<String> {
        let mut normalized = Normalized::new();
        let mut extracted = Extracted::new();
        let mut matches = Matches::new();
        normalized.set(text);
        extracted.set(normalized.folded());
        set.find(&normalized, &extracted, &mut matches);
        matches.iter().map(|i| set.rule(i).id.clone()).collect()
    }

    fn sample() -> RuleSet {
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
    fn every_matcher_kind_hits_and_misses_as_its_examples_say() {
        let set = sample();
        assert_eq!(hits(&set, "You have WON a free prize"), ["spam.prize"]);
        assert_eq!(
            hits(&set, "Card suspended. Verify at https://tinyurl.com/x1"),
            ["fraud.lure", "fraud.short"]
        );
        assert_eq!(
            hits(&set, "login at paypal.com.account-check.ru/x"),
            ["fraud.brand"]
        );
        assert!(
            hits(&set, "paypal.co.uk/help").is_empty(),
            "official domains are not lookalikes"
        );
        assert!(hits(&set, "pineapplepaypals.com/x").is_empty());
        assert!(
            hits(&set, "track at https://www.dhlparcel.co.uk/t").is_empty(),
            "a listed domain of another spelling"
        );
        assert_eq!(hits(&set, "pay at dhl-redelivery.top/x"), ["fraud.brand"]);
        assert_eq!(hits(&set, "£2000 cash"), ["spam.pounds"]);
        assert!(hits(&set, "see you at noon").is_empty());
    }

    #[test]
    fn keywords_match_whole_words_only() {
        let set = sample();
        assert!(hits(&set, "carefree prizes").is_empty());
        assert_eq!(hits(&set, "free prize."), ["spam.prize"]);
    }

    #[test]
    fn patterns_are_prefiltered_by_their_rarest_literals() {
        let set = sample();
        assert_eq!(set.unfiltered_rule_ids().count(), 0);
        let literals = |pattern: &str| match prefilter_literals(pattern) {
            Prefilter::Prefix(l) => ("prefix", l),
            Prefilter::Inner(l) => ("inner", l),
            Prefilter::None => ("none", vec![]),
        };
        // A distinctive start: the regex runs anchored where the literal is.
        assert_eq!(
            literals(r"\bdelivery fee"),
            ("prefix", vec![b"delivery".to_vec()])
        );
        // A common start: the rarer words inside are the prefilter instead.
        let (kind, found) = literals(r"\b(?:you|u) (?:\w+ )?(?:won|been selected)\b");
        assert_eq!(kind, "inner");
        assert_eq!(found, [b"won".to_vec(), b"been sel".to_vec()]);
        // Several words together are rare even when each is common.
        let (_, found) = literals(r"\b(?:you|u) have won");
        assert!(
            found.iter().all(|l| l.windows(4).any(|w| w == b"have")),
            "{found:?}"
        );
        assert_eq!(literals(r"\d{5,}").0, "none");
        assert_eq!(rarity_len(b" you "), 1);
        assert_eq!(rarity_len(b"prize"), 5);
    }

    #[test]
    fn a_match_after_many_anchored_misses_is_still_found() {
        let source = rule(
            "spam.reply",
            "spam",
            "pattern = '\\bwinner\\b.{0,12}\\breply\\b'",
            "winner, reply yes",
            "the winner was announced",
        );
        let set = RuleSet::compile(&source).unwrap_or_else(|e| panic!("{e}"));
        let misses = "winner of the week, ".repeat(usize::from(ANCHORED_TRIES) * 3);
        // Past the anchored tries, one search over the rest of the text decides.
        assert_eq!(
            hits(&set, &format!("{misses}winner: reply yes")),
            ["spam.reply"]
        );
        assert!(hits(&set, &format!("{misses}winner, we never ask you to reply")).is_empty());
        assert!(hits(&set, &misses).is_empty());
    }

    #[test]
    fn version_is_a_content_hash() {
        let a =
            RuleSet::compile(&rule("spam.a", "spam", "keywords = [\"x y\"]", "x y", "x")).unwrap();
        let b =
            RuleSet::compile(&rule("spam.a", "spam", "keywords = [\"x z\"]", "x z", "x")).unwrap();
        assert_eq!(a.version().len(), 12);
        assert_ne!(a.version(), b.version());
    }

    fn refused(source: &str) -> Vec<String> {
        RuleSet::compile(source)
            .expect_err("the file must be refused")
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn broken_files_are_refused_with_rule_line_and_reason() {
        let good = rule("spam.ok", "spam", "keywords = [\"ok\"]", "ok", "no");
        let bad_regex = rule("fraud.bad", "fraud", "pattern = '(unclosed'", "x", "y");
        let problems = refused(&format!("{good}{bad_regex}"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("line 11: rule `fraud.bad`: pattern does not compile"),
            "{problems:?}"
        );

        let problems = refused(&rule(
            "spam.x",
            "spam",
            "keywords = [\"win\"]",
            "lose",
            "win",
        ));
        assert_eq!(
            problems,
            [
                "line 1: rule `spam.x`: match example fails: \"lose\"",
                "line 1: rule `spam.x`: no_match example fails: \"win\""
            ]
        );

        let problems = refused(&format!("{good}{}", good.replace("keywords", "keywordz")));
        assert!(
            problems[0].contains("line 17")
                && problems[0].contains("rule `spam.ok`")
                && problems[0].contains("unknown field `keywordz`"),
            "{problems:?}"
        );

        let problems = refused(&format!("{good}{good}"));
        assert!(
            problems[0].contains("duplicate id (first defined on line 1)"),
            "{problems:?}"
        );

        for (matcher, reason) in [
            ("weight = 2.0\nkeywords = [\"a\"]", "weight"),
            ("keywords = [\"a\"]\npattern = 'a'", "exactly one of"),
            ("pattern = 'a*'", "matches the empty message"),
            (
                "lookalike_of = [\"login.paypal.com\"]",
                "not a registrable domain",
            ),
            ("domains = [\"not a domain\"]", "not a domain name"),
        ] {
            let source = rule("spam.y", "spam", matcher, "a", "b").replace("weight = 0.9\n", "");
            let source = if source.contains("weight") {
                source
            } else {
                source.replace("severity", "weight = 0.5\nseverity")
            };
            let problems = refused(&source);
            assert!(
                problems.iter().any(|p| p.contains(reason)),
                "{matcher}: {problems:?}"
            );
        }
        let problems = refused(&rule("fraud.z", "spam", "keywords = [\"a\"]", "a", "b"));
        assert!(
            problems[0].contains("must start with its category"),
            "{problems:?}"
        );
        let problems = refused(
            &rule("spam.d", "spam", "keywords = [\"a\"]", "a", "b")
                .replace("A test rule", "matches \\\\bfoo"),
        );
        assert!(problems[0].contains("plain words"), "{problems:?}");
        assert!(refused("[[rule]\n")[0].starts_with("line 1:"));
        assert_eq!(refused("")[0], "line 1: the file defines no rules");
    }

    #[test]
    fn off_brand_rules_ask_the_brand_registry() {
        let brands = BrandRegistry::compile(
            "[[brand]]\nname = \"Evri\"\nnames = [\"evri\"]\ndomains = [\"evri.com\"]\n",
        )
        .unwrap();
        let source = [
            rule(
                "fraud.offsite",
                "fraud",
                "off_brand_link = true",
                "Evri: see https://evri-fee.top/x",
                "Evri: track at https://www.evri.com/t",
            ),
            rule(
                "fraud.offsite_fee",
                "fraud",
                "pattern = '\\bfee\\b'\nrequires = [\"url\", \"off_brand_link\"]",
                "Evri: pay the fee at https://evri-fee.top/x",
                "Evri: no fee, https://www.evri.com/t",
            ),
        ]
        .concat();
        let set = RuleSet::compile_with_brands(&source, brands.clone()).unwrap();
        assert_eq!(
            hits(&set, "EVRI: pay the fee at bit.ly/x"),
            ["fraud.offsite", "fraud.offsite_fee"]
        );
        assert!(hits(&set, "pay the fee at bit.ly/x").is_empty());
        assert!(hits(&set, "Evri: pay the fee, call 0330 123 4567").is_empty());
        assert!(hits(&set, "Evri: pay the fee at https://evri.com/pay").is_empty());

        // The registry is part of the version: a changed brands file is a changed rule set.
        let other = BrandRegistry::compile(
            "[[brand]]\nname = \"Evri\"\nnames = [\"evri\", \"hermes\"]\ndomains = [\"evri.com\"]\n",
        )
        .unwrap();
        let changed = RuleSet::compile_with_brands(&source, other).unwrap();
        assert_ne!(set.version(), changed.version());

        let problems = RuleSet::compile_with_brands(&source, BrandRegistry::empty())
            .expect_err("no brands to ask")
            .problems;
        assert!(
            problems[0]
                .to_string()
                .contains("rule `fraud.offsite`: asks the brand registry"),
            "{problems:?}"
        );
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
