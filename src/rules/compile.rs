//! Compiling a rules file into a `RuleSet`: the TOML read, each entry validated into a `Rule`,
//! the matching structures built over the valid rules, and every rule's examples run through the
//! finished set before anyone gets it.
//!
//! It runs once per load, so it is thorough rather than fast: it goes on after a problem to
//! report every one, with its rule and line. It is kept apart from `matching`, which runs per
//! message; both work on the `RuleSet` that `mod` defines.

use std::collections::{BTreeMap, HashMap};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex_automata::Input;
use regex_automata::meta;
use regex_automata::util::syntax;
use sha2::{Digest, Sha256};

use super::file::{RuleEntry, RulesFile};
use super::prefilter::{Prefilter, prefilter_literals};
use super::variants::with_spelling_variants;
use super::{
    Brand, BrandRegistry, LiteralRole, Matcher, Matches, Rule, RuleProblem, RuleSet, RulesError,
    line_of,
};
use crate::message::RuleId;
use crate::text::{BrandSkeletons, Extracted, Normalized, domain_skeleton, normalize};

/// Compiled size limit per regex: a rule that blows up into a huge automaton is a bug.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

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

        let mut problems = list_problems(&parsed.lists, source);
        let lists = with_spelling_variants(&parsed.lists, &parsed.spelling_variants)
            .unwrap_or_else(|reasons| {
                let line = table_line(source, "[spelling_variants]");
                problems.extend(reasons.into_iter().map(|reason| RuleProblem {
                    rule_id: None,
                    line,
                    reason,
                }));
                parsed.lists.clone()
            });
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
            match build_rule(entry, line, &lists) {
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
                    rule_id: Some(first.id.to_string()),
                    line: first.line,
                    reason: "asks the brand registry, which has no brands (config/brands.toml)"
                        .to_owned(),
                }],
            });
        }
        // The registry also vouches for links the scorer then trusts, so it is part of the
        // version whether or not a rule asks it.
        let version = source_version(source, &brands);
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
        let mut unless_rules = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let index = index as u32;
            if rule.unless.is_some() {
                unless_rules.push(index);
            }
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
            unless_rules,
            brands: BrandRegistry::empty(),
            uses_brands: false,
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
                        rule_id: Some(rule.id.to_string()),
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

/// What is wrong with the `[lists]` table: names a pattern could not spell, empty lists, and
/// phrases that are not in the matching form (lowercase, single spaces), which would never match.
fn list_problems(lists: &BTreeMap<String, Vec<String>>, source: &str) -> Vec<RuleProblem> {
    let line = table_line(source, "[lists]");
    let mut problems = Vec::new();
    for (name, phrases) in lists {
        let mut problem = |reason: String| {
            problems.push(RuleProblem {
                rule_id: None,
                line,
                reason: format!("list `{name}`: {reason}"),
            })
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            problem("a list's name may hold only a-z and `_`".to_owned());
        }
        if phrases.is_empty() {
            problem("the list is empty".to_owned());
        }
        for phrase in phrases {
            let matching_form = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
            if phrase.is_empty() || *phrase != matching_form || phrase.to_lowercase() != *phrase {
                problem(format!(
                    "{phrase:?} is not in the matching form (lowercase, single spaces)"
                ));
            }
        }
    }
    problems
}

/// The line of a table's header (`[lists]`), or 1 when the file has none.
fn table_line(source: &str, header: &str) -> usize {
    source
        .lines()
        .position(|l| l.trim() == header)
        .map_or(1, |i| i + 1)
}

/// Replaces each `{name}` of a pattern by its list from `[lists]`, as a group of alternatives
/// matched literally. A repetition such as `{0,80}` starts with a digit, and `\{` is a literal
/// brace: both are left alone.
pub(super) fn expand_lists(
    pattern: &str,
    lists: &BTreeMap<String, Vec<String>>,
) -> Result<String, String> {
    let mut expanded = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let (before, after) = (&rest[..open], &rest[open + 1..]);
        expanded.push_str(before);
        let name_len = after
            .bytes()
            .take_while(|&b| b.is_ascii_lowercase() || b == b'_')
            .count();
        let escaped = before.ends_with('\\');
        if escaped || name_len == 0 || after.as_bytes().get(name_len) != Some(&b'}') {
            expanded.push('{');
            rest = after;
            continue;
        }
        let name = &after[..name_len];
        let phrases = lists.get(name).ok_or_else(|| {
            format!("pattern names the list `{{{name}}}`, which `[lists]` does not define")
        })?;
        expanded.push_str("(?:");
        for (i, phrase) in phrases.iter().enumerate() {
            if i > 0 {
                expanded.push('|');
            }
            expanded.push_str(&regex_syntax::escape(phrase));
        }
        expanded.push(')');
        rest = &after[name_len + 1..];
    }
    expanded.push_str(rest);
    Ok(expanded)
}

/// Validates one rule entry; on failure, every reason found.
fn build_rule(
    entry: RuleEntry,
    line: usize,
    lists: &BTreeMap<String, Vec<String>>,
) -> Result<(Rule, RuleExamples), Vec<String>> {
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
        expand_lists(pattern, lists)
            .and_then(|pattern| compile_pattern(&pattern))
            .map_err(|e| reasons.push(e))
            .ok()
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

    let unless = match &entry.unless {
        Some(_) if entry.pattern.is_none() => {
            reasons.push("`unless` goes with a `pattern` rule only".to_owned());
            None
        }
        Some(unless) => expand_lists(unless, lists)
            .and_then(|unless| compile_regex(&unless))
            .map_err(|e| reasons.push(format!("unless: {e}")))
            .ok(),
        None => None,
    };

    match matcher {
        Some(matcher) if reasons.is_empty() => Ok((
            Rule {
                id: RuleId::new(&entry.id),
                category: entry.category,
                severity: entry.severity,
                weight: entry.weight,
                mode: entry.mode,
                description: description.to_owned(),
                policy_tag: entry
                    .policy_tag
                    .unwrap_or_else(|| entry.category.as_str().to_owned()),
                line,
                requires: entry.requires,
                unless,
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
    let regex = compile_regex(pattern)?;
    let prefilter = prefilter_literals(pattern);
    Ok(Matcher::Pattern { regex, prefilter })
}

fn compile_regex(pattern: &str) -> Result<meta::Regex, String> {
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
    Ok(regex)
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

/// The version a rules file's source compiles to against `brands`.
pub(super) fn source_version(source: &str, brands: &BrandRegistry) -> String {
    match brands.digest() {
        Some(digest) => version_of(&[source.as_bytes(), &digest[..]]),
        None => version_of(&[source.as_bytes()]),
    }
}

fn version_of(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::prefilter::rarity_len;
    use super::super::tests::{rule, sample};
    use super::*;

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
        // A list of hundreds (a hate list with its spelling variants) beats a common word.
        let words: Vec<String> = (0..300)
            .map(|i| format!("{}{}word", (b'a' + i as u8 % 26) as char, i))
            .collect();
        let (kind, found) = literals(&format!(r"\b(?:{}) are\b", words.join("|")));
        assert_eq!(kind, "prefix");
        assert!(
            found.len() > 64 && found.iter().all(|l| l.len() >= 5),
            "{found:?}"
        );
        assert_eq!(rarity_len(b" you "), 1);
        assert_eq!(rarity_len(b"prize"), 5);
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
    fn lists_are_checked_and_must_exist_where_a_pattern_names_them() {
        let pets = rule(
            "spam.pets",
            "spam",
            "pattern = '\\b{pets} x{1,2}'",
            "cats xx",
            "cats",
        );
        assert!(RuleSet::compile(&format!("[lists]\npets = [\"cats\"]\n\n{pets}")).is_ok());
        assert_eq!(
            refused(&pets),
            [
                "line 1: rule `spam.pets`: pattern names the list `{pets}`, which `[lists]` does not define"
            ]
        );
        let problems = refused(&format!(
            "\n[lists]\npets = [\"Cats\", \"big  dogs\"]\nnone = []\n\n{pets}"
        ));
        assert_eq!(
            problems,
            [
                "line 2: list `none`: the list is empty",
                "line 2: list `pets`: \"Cats\" is not in the matching form (lowercase, single spaces)",
                "line 2: list `pets`: \"big  dogs\" is not in the matching form (lowercase, single spaces)",
            ]
        );
        let stray_unless = rule(
            "spam.k",
            "spam",
            "keywords = [\"k\"]\nunless = 'x'",
            "k",
            "x",
        );
        assert!(refused(&stray_unless)[0].ends_with("`unless` goes with a `pattern` rule only"));
    }

    #[test]
    fn a_listed_phrase_slipped_by_one_letter_matches_and_bad_variant_settings_are_refused() {
        let pets = rule(
            "spam.pets",
            "spam",
            "pattern = '\\b{pets} x'",
            "parrtos x",
            "parrot x",
        );
        let lists = "[lists]\npets = [\"parrots\"]\n";
        assert!(
            RuleSet::compile(&format!("{lists}\n{pets}")).is_err(),
            "no slips without the table"
        );
        let with = |table: &str| format!("{lists}\n[spelling_variants]\n{table}\n{pets}");
        assert!(RuleSet::compile(&with("lists = [\"pets\"]\n")).is_ok());
        assert_eq!(
            refused(&with("lists = [\"pets\", \"dogs\"]\nnot = [\"parrot\"]\n")),
            [
                "line 4: [spelling_variants] names the list `dogs`, which `[lists]` does not define",
                "line 4: [spelling_variants] `not` holds \"parrot\", which no listed phrase slips into",
            ]
        );
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
}
