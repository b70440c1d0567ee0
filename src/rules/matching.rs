//! Matching one message against a compiled `RuleSet`: one Aho-Corasick pass says which keyword
//! rules hit and which regexes could; those regexes run (anchored where their literal was, while
//! that stays cheap); then the rules that read the message's URLs and the brand registry.
//!
//! This is the per-message path; its scratch space is the worker's `Matches`, reused from message
//! to message. It is kept apart from `compile`, which builds what it reads.

use regex_automata::{Anchored, Input};

use super::{LiteralRole, Matcher, Requirement, RuleSet, is_whole_word};
use crate::text::{Extracted, Normalized, domain_skeleton};

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

    /// Sets the hits to `hits` (indices into a set of `rules` rules), as a [`RuleSet::find`] of
    /// that set would have: how a rule union hands each side its hits.
    pub(super) fn set_hits(&mut self, rules: usize, hits: impl Iterator<Item = usize>) {
        self.hits.reset(rules);
        for rule in hits {
            self.hits.insert(rule);
        }
    }
}

impl RuleSet {
    /// Whether the brand registry vouches for every way the message gives to reach its sender:
    /// each link on a registered brand's own domain or a public body's, or, in a message
    /// without links, each phone number one a brand publishes (see `config/brands.toml`).
    pub fn vouches_for_every_contact(&self, extracted: &Extracted) -> bool {
        self.brands.vouches_for_every_contact(extracted)
    }

    /// Finds every rule that hits one message; the result is left in `matches`.
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
        for &rule in &self.unless_rules {
            let rule = rule as usize;
            let cancelled = matches.hits.contains(rule)
                && self.rules[rule]
                    .unless
                    .as_ref()
                    .is_some_and(|unless| unless.is_match(Input::new(text)));
            if cancelled {
                matches.hits.remove(rule);
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
                Requirement::Url => extracted.has_url(),
                Requirement::IpUrl => extracted.has_ip_url(),
                Requirement::Phone => extracted.has_phone(),
                Requirement::Email => extracted.has_email(),
                Requirement::OffBrandLink => off_brand,
                Requirement::UnvouchedLink => {
                    extracted.has_url() && !self.brands.vouches_for_every_link(extracted)
                }
                Requirement::UnvouchedContact => !self.brands.vouches_for_every_contact(extracted),
            })
    }
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

    fn remove(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
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
    use super::super::tests::{hits, rule, sample};
    use super::*;
    use crate::rules::BrandRegistry;

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
    fn a_list_names_its_phrases_and_unless_cancels_a_hit() {
        let source = format!(
            "[lists]\ngroups = [\"cats\", \"big dogs\"]\n\n{}",
            rule(
                "spam.pets",
                "spam",
                "pattern = '\\b{groups} are (?:so )?bad\\b'\nunless = '\\bsaying\\b.{0,40}\\b{groups}'",
                "Big dogs are SO bad",
                "saying cats are bad is unkind",
            )
        );
        let set = RuleSet::compile(&source).unwrap();
        assert_eq!(hits(&set, "cats are bad"), ["spam.pets"]);
        assert_eq!(hits(&set, "big dogs are bad"), ["spam.pets"]);
        assert!(
            hits(&set, "dogs are bad").is_empty(),
            "a phrase is matched whole"
        );
        assert!(hits(&set, "stop saying big dogs are bad").is_empty());
        assert_eq!(
            hits(&set, "cats are bad, I am saying"),
            ["spam.pets"],
            "`unless` cancels only when it matches"
        );
    }

    #[test]
    fn a_link_lure_needs_a_link_the_registry_does_not_vouch_for() {
        let brands = BrandRegistry::compile(
            "public_sector_suffixes = [\"gov.uk\"]\n\n\
             [[brand]]\nname = \"Monzo\"\nnames = [\"monzo\"]\ndomains = [\"monzo.com\"]\n",
        )
        .unwrap();
        let source = rule(
            "fraud.locked",
            "fraud",
            "pattern = '\\bcard (?:has been )?frozen\\b'\nrequires = [\"unvouched_link\"]",
            "Your card has been frozen, unfreeze at monzo-help.top/x",
            "Your card has been frozen, unfreeze at https://monzo.com/help",
        );
        let set = RuleSet::compile_with_brands(&source, brands).unwrap();
        let lure = ["fraud.locked"];
        assert_eq!(hits(&set, "card frozen: see bit.ly/x"), lure);
        // One vouched link does not vouch for the other.
        assert_eq!(
            hits(&set, "card frozen: https://monzo.com/help or bit.ly/x"),
            lure
        );
        assert!(hits(&set, "card frozen: see https://www.camden.gov.uk/help").is_empty());
        assert!(hits(&set, "card frozen, call 0330 123 4567").is_empty());
    }

    #[test]
    fn a_callback_lure_needs_a_way_to_reach_the_sender_that_is_no_brands_own() {
        let brands = BrandRegistry::compile(
            "[[brand]]\nname = \"Santander\"\nnames = [\"santander\"]\n\
             domains = [\"santander.co.uk\"]\nphones = [\"0800 9 123 123\"]\n",
        )
        .unwrap();
        let source = rule(
            "fraud.callback",
            "fraud",
            "pattern = '\\bif you didn.t do this\\b'\nrequires = [\"unvouched_contact\"]",
            "New payee added. If you didn't do this, call 0330 123 4567",
            "New payee added. If you didn't do this, call us on 0800 9 123 123",
        );
        let set = RuleSet::compile_with_brands(&source, brands).unwrap();
        let lure = ["fraud.callback"];
        // No way to reach anyone (a robocall's script), or a number that is no brand's.
        assert_eq!(hits(&set, "if you didn't do this press 1"), lure);
        assert_eq!(
            hits(
                &set,
                "if you didn't do this call +44 800 9 123 123 or 0330 123 4567"
            ),
            lure
        );
        assert_eq!(
            hits(
                &set,
                "if you didn't do this call 0800 9 123 123 or mail help@sant-help.top"
            ),
            lure
        );
        // The bank's own number, written with its country code, or its own site.
        assert!(hits(&set, "if you didn't do this call +44 800 9 123 123").is_empty());
        assert!(
            hits(
                &set,
                "if you didn't do this see https://www.santander.co.uk/help"
            )
            .is_empty()
        );
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
}
