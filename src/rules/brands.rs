//! The brand registry (`config/brands.toml`): the brands phishers imitate, each with the names a
//! message calls it by and the domains it really sends links to.
//!
//! It answers one question per message, for the rules that ask it (`off_brand_link = true`, or
//! `requires = ["off_brand_link"]`): does the message name a brand and link somewhere that is
//! none of the named brands' domains? "Royal Mail: pay the fee at rm-fee.top" does; "Amazon:
//! your order is with Royal Mail, track at royalmail.com" does not.
//!
//! Compiled once, like the rules: every brand name of every brand in one Aho-Corasick automaton
//! over the matching form, and a table from domain to the brands that own it. A message runs the
//! automaton only when it has a link; one without a link costs nothing here. Refused whole, with
//! the line and the reason of every problem, like a rules file.

use std::collections::{HashMap, HashSet};
use std::fmt;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::{is_whole_word, line_of};
use crate::text::{Extracted, normalize};

/// The registry shipped in `config/brands.toml`, built in for callers that give none (and for
/// a rules file loaded from a directory without a brands file).
const SHIPPED: &str = include_str!("../../config/brands.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BrandsFile {
    #[serde(default)]
    brand: Vec<Spanned<BrandEntry>>,
    /// Brand domains where anyone can publish a page, a form or a payment request: a link there
    /// is on the brand's domain without the brand speaking.
    user_content_domains: Option<Spanned<Vec<String>>>,
    /// Hosts under a user-content domain where only the brand publishes (its account, security
    /// and help pages, `myaccount.google.com`): a link there vouches again.
    brand_only_hosts: Option<Spanned<Vec<String>>>,
    /// Suffixes only public bodies can register under (`gov.uk`, `gov`): a link under one is a
    /// public body's, whether or not it is listed as a brand.
    public_sector_suffixes: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BrandEntry {
    /// How reviewers and errors call the brand; unique in the file.
    name: String,
    /// What messages call it: phrases matched as whole words in the matching form.
    names: Vec<String>,
    /// Domains it sends links to; a URL on one of them or a subdomain is the brand's own.
    domains: Vec<String>,
    /// Phone numbers it publishes for its customers to call (its own contact pages): a message
    /// without links whose every number is one of these gives the brand's own number.
    #[serde(default)]
    phones: Vec<String>,
    /// SMS short codes it publicly sends from. Recorded, not yet used in scoring.
    #[serde(default)]
    short_codes: Vec<String>,
    /// Alphanumeric sender ids it publicly sends from. Recorded, not yet used in scoring.
    #[serde(default)]
    sender_ids: Vec<String>,
}

/// One brand of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredBrand {
    pub name: String,
    /// The matched names, normalized like messages.
    pub names: Vec<String>,
    pub domains: Vec<String>,
    pub phones: Vec<String>,
    pub short_codes: Vec<String>,
    pub sender_ids: Vec<String>,
    /// Line of the brands file the brand starts on.
    pub line: usize,
}

/// A compiled brand registry. Immutable; owned by the `RuleSet` that uses it.
#[derive(Debug, Clone)]
pub struct BrandRegistry {
    brands: Vec<RegisteredBrand>,
    /// Every matched name of every brand (no two brands share one); `None` when there are no
    /// brands.
    names: Option<AhoCorasick>,
    /// Domain → the brands that list it.
    domains: HashMap<String, Vec<u32>>,
    /// The brands' published phone numbers, by [`phone_key`].
    phones: HashSet<u64>,
    /// Brand domains that host what anyone publishes: never vouch for a link.
    user_content: HashSet<String>,
    /// Hosts under those domains where only the brand publishes: they vouch again.
    brand_only: HashSet<String>,
    /// Suffixes only public bodies register under: vouch for every link under them.
    public_sector: HashSet<String>,
    /// SHA-256 of the source, folded into the version of a rule set that uses the registry.
    digest: Option<[u8; 32]>,
}

/// One thing wrong with a brands file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandProblem {
    /// The brand it is in, when it is in one.
    pub brand: Option<String>,
    /// 1-based line in the brands file.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for BrandProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        super::write_problem(f, "brand", self.brand.as_deref(), self.line, &self.reason)
    }
}

/// Why a brands file was refused: every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct BrandsError {
    pub problems: Vec<BrandProblem>,
}

impl fmt::Display for BrandsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        super::write_refusal(f, "brands", &self.problems)
    }
}

impl BrandRegistry {
    /// A registry with no brands: rules that use it are refused.
    pub fn empty() -> Self {
        Self {
            brands: Vec::new(),
            names: None,
            domains: HashMap::new(),
            phones: HashSet::new(),
            user_content: HashSet::new(),
            brand_only: HashSet::new(),
            public_sector: HashSet::new(),
            digest: None,
        }
    }

    /// The registry shipped in `config/brands.toml`, compiled into the binary.
    pub fn shipped() -> Self {
        Self::compile(SHIPPED).unwrap_or_else(|e| panic!("the shipped config/brands.toml: {e}"))
    }

    /// Compiles a brands file. Does no IO: the caller reads the file.
    pub fn compile(source: &str) -> Result<Self, BrandsError> {
        let parsed: BrandsFile = toml::from_str(source).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            BrandsError {
                problems: vec![BrandProblem {
                    brand: None,
                    line: line_of(source, offset),
                    reason: e.message().trim().to_owned(),
                }],
            }
        })?;
        let mut problems = Vec::new();
        let mut brands: Vec<RegisteredBrand> = Vec::with_capacity(parsed.brand.len());
        // Matched name → (brand index, line), to refuse a name given to two brands.
        let mut name_slots: HashMap<String, usize> = HashMap::new();
        let mut seen_brands: HashMap<String, usize> = HashMap::new();
        for spanned in parsed.brand {
            // A table's span can start in the blank lines before it: count from its first text.
            let start = spanned.span().start;
            let skipped = source[start.min(source.len())..]
                .bytes()
                .take_while(u8::is_ascii_whitespace)
                .count();
            let line = line_of(source, start + skipped);
            let entry = spanned.into_inner();
            let label = entry.name.trim().to_owned();
            let mut reasons = Vec::new();
            if label.is_empty() {
                reasons.push("`name` is empty".to_owned());
            } else if let Some(first) = seen_brands.insert(label.to_lowercase(), line) {
                reasons.push(format!("duplicate brand (first defined on line {first})"));
            }
            let names = check_names(&entry.names, &mut reasons);
            let domains = check_domains(&entry.domains, &mut reasons);
            for phone in &entry.phones {
                let valid = phone
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b" +-().".contains(&b))
                    && phone_key(phone).is_some();
                if !valid {
                    reasons.push(format!(
                        "phone {phone:?} is not 7 to 15 digits (with spaces, +, -, ( or ))"
                    ));
                }
            }
            for code in &entry.short_codes {
                if !(3..=8).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
                    reasons.push(format!("short code {code:?} is not 3 to 8 digits"));
                }
            }
            for id in &entry.sender_ids {
                let valid = (1..=11).contains(&id.len())
                    && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
                    && id.bytes().any(|b| b.is_ascii_alphabetic());
                if !valid {
                    reasons.push(format!(
                        "sender id {id:?} is not 1 to 11 letters, digits or spaces with a letter"
                    ));
                }
            }
            for name in &names {
                if let Some(&other) = name_slots.get(name) {
                    let other: &RegisteredBrand = &brands[other];
                    reasons.push(format!(
                        "name {name:?} also names brand `{}` (line {})",
                        other.name, other.line
                    ));
                }
            }
            if reasons.is_empty() {
                for name in &names {
                    name_slots.insert(name.clone(), brands.len());
                }
                brands.push(RegisteredBrand {
                    name: label,
                    names,
                    domains,
                    phones: entry.phones,
                    short_codes: entry.short_codes,
                    sender_ids: entry.sender_ids,
                    line,
                });
            } else {
                let brand = (!label.is_empty()).then_some(label);
                problems.extend(reasons.into_iter().map(|reason| BrandProblem {
                    brand: brand.clone(),
                    line,
                    reason,
                }));
            }
        }
        let mut domain_list = |list: Option<Spanned<Vec<String>>>, key: &str, suffixes: bool| {
            let Some(list) = list else {
                return Vec::new();
            };
            let line = line_of(source, list.span().start);
            let mut reasons = Vec::new();
            let domains = check_domain_list(list.into_inner(), suffixes, &mut reasons);
            problems.extend(reasons.into_iter().map(|reason| BrandProblem {
                brand: None,
                line,
                reason: format!("`{key}`: {reason}"),
            }));
            domains
        };
        let user_content = domain_list(parsed.user_content_domains, "user_content_domains", false);
        let brand_only_line = parsed
            .brand_only_hosts
            .as_ref()
            .map(|list| line_of(source, list.span().start));
        let brand_only = domain_list(parsed.brand_only_hosts, "brand_only_hosts", false);
        let public_sector = domain_list(
            parsed.public_sector_suffixes,
            "public_sector_suffixes",
            true,
        );
        // A brand-only host outside every user-content domain would vouch anyway (or never, if
        // no brand lists its domain): listing it there is a mistake to name.
        for host in &brand_only {
            if !parents(host)
                .skip(1)
                .any(|d| user_content.iter().any(|u| u == d))
            {
                problems.push(BrandProblem {
                    brand: None,
                    line: brand_only_line.unwrap_or(1),
                    reason: format!(
                        "`brand_only_hosts`: {host:?} is under none of the user_content_domains"
                    ),
                });
            }
        }
        if !problems.is_empty() {
            return Err(BrandsError { problems });
        }
        let mut registry = Self::index(brands, Sha256::digest(source.as_bytes()).into())?;
        registry.user_content = user_content.into_iter().collect();
        registry.brand_only = brand_only.into_iter().collect();
        registry.public_sector = public_sector.into_iter().collect();
        Ok(registry)
    }

    fn index(brands: Vec<RegisteredBrand>, digest: [u8; 32]) -> Result<Self, BrandsError> {
        let patterns: Vec<&str> = brands
            .iter()
            .flat_map(|brand| brand.names.iter().map(String::as_str))
            .collect();
        let mut domains: HashMap<String, Vec<u32>> = HashMap::new();
        let phones = brands
            .iter()
            .flat_map(|brand| &brand.phones)
            .filter_map(|phone| phone_key(phone))
            .collect();
        for (index, brand) in brands.iter().enumerate() {
            let index = index as u32;
            for domain in &brand.domains {
                domains.entry(domain.clone()).or_default().push(index);
            }
        }
        let names = if patterns.is_empty() {
            None
        } else {
            let automaton = AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::DFA))
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .map_err(|e| BrandsError {
                    problems: vec![BrandProblem {
                        brand: None,
                        line: 1,
                        reason: format!("the brand name automaton could not be built: {e}"),
                    }],
                })?;
            Some(automaton)
        };
        Ok(Self {
            brands,
            names,
            domains,
            phones,
            user_content: HashSet::new(),
            brand_only: HashSet::new(),
            public_sector: HashSet::new(),
            digest: Some(digest),
        })
    }

    pub fn brands(&self) -> &[RegisteredBrand] {
        &self.brands
    }

    pub fn is_empty(&self) -> bool {
        self.brands.is_empty()
    }

    /// Whether `matching` (a message's matching form) names a brand and `extracted` holds a link
    /// to a domain that is no brand's: not the named brand's own, and not another registered
    /// brand's either (a shop's notice that links its carrier is not a lure). Links are checked
    /// first, so a message whose links are all on brand domains runs no automaton.
    pub(super) fn off_brand_link(&self, matching: &str, extracted: &Extracted) -> bool {
        let Some(automaton) = &self.names else {
            return false;
        };
        if !extracted.urls().any(|url| !self.is_brand_domain(url.host)) {
            return false;
        }
        let text = matching.as_bytes();
        automaton
            .find_overlapping_iter(text)
            .any(|found| is_whole_word(text, found.start(), found.end()))
    }

    /// Whether `extracted` holds a link and every link is one the registry vouches for: on a
    /// registered brand's own domain (and not one of its domains that host anyone's pages,
    /// unless on a host there that only the brand publishes on), or under a suffix only public
    /// bodies register under. In the gateway set's 15,000 real smishing texts not one link is of
    /// that kind: a phisher cannot put his page on the domain of the brand he imitates.
    pub(super) fn vouches_for_every_link(&self, extracted: &Extracted) -> bool {
        extracted.has_url()
            && extracted.urls().all(|url| {
                (!parents(url.host).any(|d| self.user_content.contains(d))
                    || parents(url.host).any(|d| self.brand_only.contains(d)))
                    && (self.is_brand_domain(url.host)
                        || parents(url.host).any(|d| self.public_sector.contains(d)))
            })
    }

    /// Whether the message's ways to reach its sender are all ones the registry vouches for:
    /// with links, every link ([`BrandRegistry::vouches_for_every_link`]); without, no email
    /// address and at least one phone number, every one published by a registered brand. A
    /// callback scammer cannot answer the bank's own number.
    pub(super) fn vouches_for_every_contact(&self, extracted: &Extracted) -> bool {
        if extracted.has_url() {
            return self.vouches_for_every_link(extracted);
        }
        extracted.has_phone()
            && !extracted.has_email()
            && extracted
                .phones()
                .all(|phone| phone_key(phone).is_some_and(|key| self.phones.contains(&key)))
    }

    /// Whether `host` or a parent domain of it is listed by some brand.
    fn is_brand_domain(&self, host: &str) -> bool {
        parents(host).any(|d| self.domains.contains_key(d))
    }

    /// SHA-256 of the file it was compiled from; `None` for [`BrandRegistry::empty`].
    pub(super) fn digest(&self) -> Option<&[u8; 32]> {
        self.digest.as_ref()
    }
}

fn check_names(names: &[String], reasons: &mut Vec<String>) -> Vec<String> {
    if names.is_empty() {
        reasons.push("`names` is empty".to_owned());
    }
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let n = normalize(name);
        if n.len() < 2 {
            reasons.push(format!(
                "name {name:?} is shorter than 2 characters after normalization"
            ));
        } else if !n.as_bytes()[0].is_ascii_alphanumeric() {
            reasons.push(format!("name {name:?} must start with a letter or digit"));
        } else if out.contains(&n) {
            reasons.push(format!("name {name:?} is listed twice"));
        } else {
            out.push(n);
        }
    }
    out
}

fn check_domains(domains: &[String], reasons: &mut Vec<String>) -> Vec<String> {
    if domains.is_empty() {
        reasons.push("`domains` is empty".to_owned());
    }
    let mut out: Vec<String> = Vec::with_capacity(domains.len());
    for domain in domains {
        let lower = domain.trim().to_ascii_lowercase();
        if !is_domain_name(&lower, false) {
            reasons.push(format!("{domain:?} is not a domain name"));
        } else if psl::domain_str(&lower).is_none() {
            reasons.push(format!(
                "{domain:?} is a public suffix, not a domain a brand owns"
            ));
        } else if out.contains(&lower) {
            reasons.push(format!("domain {domain:?} is listed twice"));
        } else {
            out.push(lower);
        }
    }
    out
}

/// `host` and each parent domain of it down to the last label: `a.b.gov.uk`, `b.gov.uk`,
/// `gov.uk`, `uk`.
/// A phone number's last nine digits (all of them if it has fewer) as a key: the part that
/// stays the same with or without a country code or trunk prefix (`+44 800 9 123 123` and
/// `0800 9 123 123`); `None` for fewer than 7 digits or more than 15.
fn phone_key(phone: &str) -> Option<u64> {
    let digits = phone.bytes().filter(u8::is_ascii_digit);
    let count = digits.clone().count();
    (7..=15).contains(&count).then(|| {
        digits
            .skip(count.saturating_sub(9))
            // From 1, so that leading zeros count: `009123123` is not `9123123`.
            .fold(1, |key, digit| key * 10 + u64::from(digit - b'0'))
    })
}

fn parents(host: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(host), |domain| {
        domain.split_once('.').map(|(_, parent)| parent)
    })
}

/// A list of domains (or, with `suffixes`, of public suffixes too), lowercased and checked.
fn check_domain_list(list: Vec<String>, suffixes: bool, reasons: &mut Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for domain in list {
        let lower = domain.trim().to_ascii_lowercase();
        if !is_domain_name(&lower, suffixes) {
            reasons.push(format!("{domain:?} is not a domain name"));
        } else if out.contains(&lower) {
            reasons.push(format!("{domain:?} is listed twice"));
        } else {
            out.push(lower);
        }
    }
    out
}

/// Lowercase labels of letters, digits and hyphens, joined by dots: at least two labels, or
/// one where `single_label` allows (a top-level suffix such as `gov`).
fn is_domain_name(lower: &str, single_label: bool) -> bool {
    (single_label || lower.contains('.'))
        && lower
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !lower.split('.').any(str::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Normalized;

    const SAMPLE: &str = r#"
[[brand]]
name = "Royal Mail"
names = ["Royal Mail", "royalmail"]
domains = ["royalmail.com", "royalmail.co.uk"]
sender_ids = ["RoyalMail"]

[[brand]]
name = "Amazon"
names = ["amazon"]
domains = ["amazon.co.uk", "amazon.com", "amzn.to"]
short_codes = ["262966"]

[[brand]]
name = "HMRC"
names = ["hmrc"]
domains = ["www.gov.uk", "hmrc.gov.uk"]
"#;

    fn off_brand(registry: &BrandRegistry, text: &str) -> bool {
        let mut normalized = Normalized::new();
        let mut extracted = Extracted::new();
        normalized.set(text);
        extracted.set(normalized.folded());
        registry.off_brand_link(normalized.matching(), &extracted)
    }

    fn refused(source: &str) -> Vec<String> {
        BrandRegistry::compile(source)
            .expect_err("the file must be refused")
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_brands_file_loads_with_its_names_domains_and_senders() {
        let registry = BrandRegistry::compile(SAMPLE).unwrap_or_else(|e| panic!("{e}"));
        let brands = registry.brands();
        assert_eq!(brands.len(), 3);
        assert_eq!(brands[0].name, "Royal Mail");
        assert_eq!(brands[0].names, ["royal mail", "royalmail"]);
        assert_eq!(brands[0].line, 2);
        assert_eq!(brands[0].sender_ids, ["RoyalMail"]);
        assert_eq!(brands[1].short_codes, ["262966"]);
        assert!(BrandRegistry::compile("").unwrap().is_empty());
    }

    #[test]
    fn the_shipped_brands_file_loads() {
        let registry = BrandRegistry::shipped();
        assert!(registry.brands().len() >= 50, "{}", registry.brands().len());
        assert!(registry.digest().is_some());
    }

    #[test]
    fn a_named_brand_with_a_link_elsewhere_is_off_brand() {
        let registry = BrandRegistry::compile(SAMPLE).unwrap();
        assert!(off_brand(
            &registry,
            "Royal Mail: pay the £1.99 fee at https://rm-redelivery.top/pay"
        ));
        assert!(off_brand(&registry, "ROYAL MAIL: fee due, bit.ly/3xYz"));
        assert!(off_brand(
            &registry,
            "HMRC: claim your refund at hmrc-refund.com/claim"
        ));
        // One link of two on a foreign domain is enough.
        assert!(off_brand(
            &registry,
            "Amazon: see https://www.amazon.co.uk/orders or pay at amzn-billing.top/x"
        ));
    }

    #[test]
    fn links_to_a_named_brands_own_domains_are_not_off_brand() {
        let registry = BrandRegistry::compile(SAMPLE).unwrap();
        for text in [
            "Royal Mail: your parcel arrives today, track at https://www.royalmail.com/track",
            "Amazon: your order shipped with Royal Mail, track at https://www.royalmail.com/t/1",
            // Another registered brand's domain is not a lure either.
            "Amazon: your order is on its way, track at https://www.royalmail.com/t/1",
            "Amazon: your order shipped, https://amzn.to/3abc",
            "HMRC: your tax return is due. Sign in at https://www.gov.uk/log-in",
            "HMRC: see https://www.tax.hmrc.gov.uk/x",
            // No brand named, or no link: nothing to say.
            "pay the fee at https://rm-redelivery.top/pay",
            "Royal Mail: we missed you, a card was left",
            // Names on word boundaries only.
            "the amazonian rainforest, https://www.bbc.co.uk/news",
        ] {
            assert!(!off_brand(&registry, text), "{text}");
        }
    }

    #[test]
    fn broken_brands_files_are_refused_with_line_and_reason() {
        assert!(refused("[[brand]\n")[0].starts_with("line 1:"));
        let problems = refused(&format!(
            "{SAMPLE}\n[[brand]]\nname = \"Evri\"\nnames = [\"evri\"]\ndomains = [\"evri.com\"]\nurl = \"x\"\n"
        ));
        assert!(
            problems[0].contains("line 23") && problems[0].contains("unknown field `url`"),
            "{problems:?}"
        );
        let bad = r#"[[brand]]
name = "Evri"
names = ["evri", "e"]
domains = ["evri.com", "co.uk", "not a domain"]
phones = ["0330 808 5456", "call 0330", "12345"]
short_codes = ["12"]
sender_ids = ["A sender id far too long"]

[[brand]]
name = "evri"
names = ["evri"]
domains = []
"#;
        assert_eq!(
            refused(bad),
            [
                "line 1: brand `Evri`: name \"e\" is shorter than 2 characters after normalization",
                "line 1: brand `Evri`: \"co.uk\" is a public suffix, not a domain a brand owns",
                "line 1: brand `Evri`: \"not a domain\" is not a domain name",
                "line 1: brand `Evri`: phone \"call 0330\" is not 7 to 15 digits (with spaces, +, -, ( or ))",
                "line 1: brand `Evri`: phone \"12345\" is not 7 to 15 digits (with spaces, +, -, ( or ))",
                "line 1: brand `Evri`: short code \"12\" is not 3 to 8 digits",
                "line 1: brand `Evri`: sender id \"A sender id far too long\" is not 1 to 11 letters, digits or spaces with a letter",
                "line 9: brand `evri`: duplicate brand (first defined on line 1)",
                "line 9: brand `evri`: `domains` is empty",
            ]
        );
        let problems = refused(&format!(
            "{SAMPLE}\n[[brand]]\nname = \"Amazon Prime\"\nnames = [\"Amazon\"]\ndomains = [\"primevideo.com\"]\n"
        ));
        assert_eq!(
            problems,
            ["line 19: brand `Amazon Prime`: name \"amazon\" also names brand `Amazon` (line 8)"]
        );
    }

    #[test]
    fn the_registry_vouches_only_for_links_a_phisher_cannot_host() {
        let source = format!(
            "user_content_domains = [\"google.com\"]\nbrand_only_hosts = [\"myaccount.google.com\"]\n\
             public_sector_suffixes = [\"gov.uk\", \"gov\"]\n{SAMPLE}\n[[brand]]\nname = \"Google\"\nnames = [\"gmail\"]\ndomains = [\"google.com\"]\n"
        );
        let registry = BrandRegistry::compile(&source).unwrap_or_else(|e| panic!("{e}"));
        let vouched = |text: &str| {
            let mut normalized = Normalized::new();
            let mut extracted = Extracted::new();
            normalized.set(text);
            extracted.set(normalized.folded());
            registry.vouches_for_every_link(&extracted)
        };
        for text in [
            "Royal Mail: your parcel arrives today, track at https://www.royalmail.com/track",
            "Amazon: order shipped, https://www.amazon.co.uk/o and https://www.royalmail.com/t/1",
            // A public body's suffix vouches without a brand entry.
            "Your library account is blocked. See https://www.camden.gov.uk/libraries",
            "IRS: your refund was issued, see https://www.irs.gov/refunds",
            // The brand's own account pages on a domain that otherwise hosts anyone's.
            "New sign-in on a Pixel. Not you? Review it at https://myaccount.google.com/notifications",
        ] {
            assert!(vouched(text), "{text}");
        }
        for text in [
            "Royal Mail: we missed you, a card was left",
            "Royal Mail: track at https://www.royalmail.com/t or pay at rm-fee.top/pay",
            // The brand's domain, but anyone's page on it.
            "Your account is locked: https://sites.google.com/view/secure-login",
            "Your account is locked: https://myaccount.google.com.verify-login.top/x",
            "pay the council tax at https://camden-gov.uk.pay.top/x",
        ] {
            assert!(!vouched(text), "{text}");
        }
    }

    #[test]
    fn broken_domain_lists_are_refused_with_line_and_reason() {
        let problems = refused(&format!(
            "user_content_domains = [\"google.com\", \"not a domain\"]\n\
             public_sector_suffixes = [\"gov\", \"gov\"]\n\
             brand_only_hosts = [\"help.royalmail.com\", \"google.com\"]\n{SAMPLE}"
        ));
        assert_eq!(
            problems,
            [
                "line 1: `user_content_domains`: \"not a domain\" is not a domain name",
                "line 2: `public_sector_suffixes`: \"gov\" is listed twice",
                "line 3: `brand_only_hosts`: \"help.royalmail.com\" is under none of the user_content_domains",
                "line 3: `brand_only_hosts`: \"google.com\" is under none of the user_content_domains",
            ]
        );
    }
}
