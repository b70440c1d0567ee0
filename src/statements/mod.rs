//! Statements of reasons in the EU DSA Transparency Database's schema (API v2, in force since
//! July 2025): one per restriction or suspension of an account, and, when the configuration
//! asks, one per message blocked for its content, built from the store's facts
//! and the policy file's `[statements]` table, and checked against the database's published
//! rules (required fields, allowed values, lengths, date formats) before anything is written.
//! Pure: `warden transparency export` reads the facts and writes the batches.
//!
//! The rules are those of the database's API documentation
//! (<https://transparency.dsa.ec.europa.eu/page/api-documentation>); where it renders a list from
//! its code, the list is that code's.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::Digest;
use time::OffsetDateTime;

mod rules;

pub use rules::problems;
use rules::{CATEGORIES, COUNTRIES, KEYWORDS};

use crate::case::{Actor, CaseId};
use crate::store::StoredReason;
use crate::suspension::Step;

/// The `[statements]` table of the policy file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatementPolicy {
    /// What is reported: `restrict`, `suspend` (both by default) and `block` (messages blocked
    /// for their content; read from the recorded verdicts, so kept only for
    /// `[retention] processed_days`: export at least that often). A warning takes nothing
    /// away and is no restriction in the DSA's sense.
    pub report: Vec<String>,
    /// The member states where the decisions apply (`territorial_scope`), as the database's
    /// country codes. Empty: left out.
    pub territorial_scope: Vec<String>,
    /// The tag of a case no rule hit is behind (a suspension by hand).
    pub default_tag: String,
    /// Each clause of the terms that rules enforce (a rule's `policy_tag`), as the database
    /// files it.
    pub tags: BTreeMap<String, PolicyTag>,
}

impl Default for StatementPolicy {
    fn default() -> Self {
        Self {
            report: vec!["restrict".into(), "suspend".into()],
            territorial_scope: Vec::new(),
            default_tag: "aup".into(),
            tags: BTreeMap::new(),
        }
    }
}

/// One clause of the terms (`[statements.tags.<tag>]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyTag {
    /// The clause, in words (`incompatible_content_ground`).
    pub clause: String,
    /// Where the clause is published (`decision_ground_reference_url`).
    pub url: String,
    /// `STATEMENT_CATEGORY_…`.
    pub category: String,
    /// `KEYWORD_…` (`category_specification`).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// What `KEYWORD_OTHER` stands for (`category_specification_other`).
    #[serde(default)]
    pub keyword_other: Option<String>,
    /// The content is illegal as well as against the terms (`incompatible_content_illegal`).
    #[serde(default)]
    pub illegal: bool,
    /// The law the content breaks, when decisions under this clause are filed as illegal
    /// content (`DECISION_GROUND_ILLEGAL_CONTENT`, `illegal_content_legal_ground`) rather than
    /// as content against the terms.
    #[serde(default)]
    pub legal_ground: Option<String>,
}

impl StatementPolicy {
    /// Checks every value against the database's lists, so that a statement is never refused
    /// for its configuration.
    pub fn validate(&self) -> Result<(), String> {
        for what in &self.report {
            if what != "block" && Step::parse(what).is_none_or(|step| step == Step::Warn) {
                return Err(format!(
                    "report: `{what}` is not `restrict`, `suspend` or `block`"
                ));
            }
        }
        for country in &self.territorial_scope {
            if !COUNTRIES.contains(&country.as_str()) {
                return Err(format!(
                    "territorial_scope: `{country}` is not an EEA country code"
                ));
            }
        }
        // A policy file without tags files no statements (the export says so); one with tags
        // must name a default among them.
        if !self.tags.is_empty() && !self.tags.contains_key(&self.default_tag) {
            return Err(format!(
                "default_tag: `{}` is not in [statements.tags]",
                self.default_tag
            ));
        }
        for (name, tag) in &self.tags {
            let problem = if !CATEGORIES.contains(&tag.category.as_str()) {
                Some(format!("category `{}` is not the database's", tag.category))
            } else if let Some(keyword) = tag
                .keywords
                .iter()
                .find(|k| !KEYWORDS.contains(&k.as_str()))
            {
                Some(format!("keyword `{keyword}` is not the database's"))
            } else if tag.clause.is_empty() || tag.clause.chars().count() > 500 {
                Some("clause must be 1 to 500 characters".into())
            } else if !tag.url.starts_with("https://") || tag.url.chars().count() > 500 {
                Some("url must be an https URL of at most 500 characters".into())
            } else if tag
                .keyword_other
                .as_ref()
                .is_some_and(|o| o.chars().count() > 500)
            {
                Some("keyword_other must be at most 500 characters".into())
            } else if tag
                .legal_ground
                .as_ref()
                .is_some_and(|g| g.is_empty() || g.chars().count() > 500)
            {
                Some("legal_ground must be 1 to 500 characters".into())
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(format!("tags.{name}: {problem}"));
            }
        }
        Ok(())
    }

    /// Whether statements are made for this step.
    pub fn reports(&self, step: Step) -> bool {
        self.report.iter().any(|s| s == step.as_str())
    }

    /// Whether statements are made for blocked messages.
    pub fn reports_blocks(&self) -> bool {
        self.report.iter().any(|s| s == "block")
    }
}

/// What a statement says about one restriction or suspension, read from the store. Holds no
/// account id.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementFact {
    pub case_id: CaseId,
    pub step: Step,
    /// Who took the step.
    pub actor: Actor,
    /// A reviewer upheld the case since (on appeal, or from review).
    pub upheld: bool,
    /// When the step was taken (Unix ms).
    pub applied_at: i64,
    /// When the content was sent: the earliest evidence, else the case's opening (Unix ms).
    pub content_at: i64,
    /// When a restriction ends (Unix ms).
    pub ends_at: Option<i64>,
    pub reasons: Vec<StoredReason>,
    /// The enforcing rules behind the evidence, each once.
    pub rule_hits: Vec<String>,
    /// Messages in the evidence.
    pub evidence_messages: usize,
}

/// The statement of reasons for `fact`. `rule_tags` maps rule ids to their policy tags; a
/// rule no longer in the rules file is skipped.
pub fn statement(
    fact: &StatementFact,
    policy: &StatementPolicy,
    rule_tags: &HashMap<String, String>,
) -> Result<Value, String> {
    let by_hand = matches!(fact.actor, Actor::Admin(_));
    // Reasons the policy gave are fixed words; an admin's are free text, which may name
    // people, so a statement says only that a person decided.
    let explanation = if by_hand {
        "A person at the provider found that the account's messages broke this clause.".to_owned()
    } else {
        fact.reasons
            .iter()
            .map(|r| r.description.as_str())
            .collect::<Vec<_>>()
            .join(". ")
            + "."
    };
    let mut facts = format!(
        "{} The account was {}",
        explanation,
        match fact.step {
            Step::Restrict => "restricted from sending for a time",
            _ => "suspended",
        }
    );
    if fact.evidence_messages > 0 {
        facts += &format!(
            " on the evidence of {} message{} matched by the rules {}.",
            fact.evidence_messages,
            if fact.evidence_messages == 1 { "" } else { "s" },
            fact.rule_hits.join(", ")
        );
    } else {
        facts += ".";
    }
    let automated_decision = match (&fact.actor, fact.upheld) {
        (Actor::Admin(_), _) => "AUTOMATED_DECISION_NOT_AUTOMATED",
        (Actor::Reviewer(_) | Actor::Holder, _) | (_, true) => "AUTOMATED_DECISION_PARTIALLY",
        _ => "AUTOMATED_DECISION_FULLY",
    };
    let mut statement = Map::new();
    statement.insert(
        "decision_account".into(),
        json!("DECISION_ACCOUNT_SUSPENDED"),
    );
    statement.insert(
        "decision_provision".into(),
        json!("DECISION_PROVISION_TOTAL_SUSPENSION"),
    );
    if let Some(ends_at) = fact.ends_at {
        statement.insert("end_date_account_restriction".into(), json!(date(ends_at)));
        statement.insert("end_date_service_restriction".into(), json!(date(ends_at)));
    }
    let decision = Decision {
        rule_hits: &fact.rule_hits,
        explanation: &explanation,
        facts: &facts,
        content_at: fact.content_at,
        applied_at: fact.applied_at,
        automated_detection: !by_hand,
        automated_decision,
        puid: fact.case_id.as_str(),
    };
    decision.fill(&mut statement, policy, rule_tags)?;
    Ok(Value::Object(statement))
}

/// A message blocked for its content (not for its account's suspension, nor for its
/// recipient's opt-out), read from its recorded verdict. Holds no account id.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockFact {
    pub message_id: String,
    /// When it was decided (Unix ms): within seconds of its sending.
    pub decided_at: i64,
    /// The enforcing rules that hit it.
    pub rule_hits: Vec<String>,
}

/// The statement of reasons for a blocked message: its delivery was refused (content removed)
/// by the rules alone. `puid` is `msg-` and the message id (or its SHA-256 prefix, when the id
/// holds characters the database refuses).
pub fn block_statement(
    fact: &BlockFact,
    policy: &StatementPolicy,
    rule_tags: &HashMap<String, String>,
) -> Result<Value, String> {
    let explanation = "The message matched rules for content the terms forbid.";
    let facts = format!(
        "The message was blocked before delivery: it matched the rules {}.",
        fact.rule_hits.join(", ")
    );
    let id = &fact.message_id;
    let puid = if id.len() <= 400
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        format!("msg-{id}")
    } else {
        let digest = sha2::Sha256::digest(id.as_bytes());
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("msg-{hex}")
    };
    let mut statement = Map::new();
    statement.insert(
        "decision_visibility".into(),
        json!(["DECISION_VISIBILITY_CONTENT_REMOVED"]),
    );
    let decision = Decision {
        rule_hits: &fact.rule_hits,
        explanation,
        facts: &facts,
        content_at: fact.decided_at,
        applied_at: fact.decided_at,
        automated_detection: true,
        automated_decision: "AUTOMATED_DECISION_FULLY",
        puid: &puid,
    };
    decision.fill(&mut statement, policy, rule_tags)?;
    Ok(Value::Object(statement))
}

/// What every statement says beyond what was restricted: the ground, the clause and its
/// category, the content, the dates, the source, the automation and the id.
struct Decision<'a> {
    rule_hits: &'a [String],
    explanation: &'a str,
    facts: &'a str,
    content_at: i64,
    applied_at: i64,
    automated_detection: bool,
    automated_decision: &'static str,
    puid: &'a str,
}

impl Decision<'_> {
    fn fill(
        &self,
        statement: &mut Map<String, Value>,
        policy: &StatementPolicy,
        rule_tags: &HashMap<String, String>,
    ) -> Result<(), String> {
        let tag_name = tag_of(self.rule_hits, rule_tags).unwrap_or(&policy.default_tag);
        let tag = policy
            .tags
            .get(tag_name)
            .ok_or_else(|| format!("policy tag `{tag_name}` is not in [statements.tags]"))?;
        let mut put = |key: &str, value: Value| {
            statement.insert(key.to_owned(), value);
        };
        let explanation = json!(truncate(self.explanation, 2000));
        match &tag.legal_ground {
            Some(law) => {
                put("decision_ground", json!("DECISION_GROUND_ILLEGAL_CONTENT"));
                put("illegal_content_legal_ground", json!(law));
                put("illegal_content_explanation", explanation);
            }
            None => {
                put(
                    "decision_ground",
                    json!("DECISION_GROUND_INCOMPATIBLE_CONTENT"),
                );
                put("incompatible_content_ground", json!(tag.clause));
                put("incompatible_content_explanation", explanation);
                put(
                    "incompatible_content_illegal",
                    json!(if tag.illegal { "Yes" } else { "No" }),
                );
            }
        }
        put("decision_ground_reference_url", json!(tag.url));
        put("category", json!(tag.category));
        if !tag.keywords.is_empty() {
            put("category_specification", json!(tag.keywords));
        }
        if let Some(other) = &tag.keyword_other {
            put("category_specification_other", json!(other));
        }
        put("content_type", json!(["CONTENT_TYPE_TEXT"]));
        put("content_date", json!(date(self.content_at)));
        put("application_date", json!(date(self.applied_at)));
        put("decision_facts", json!(truncate(self.facts, 5000)));
        put("source_type", json!("SOURCE_VOLUNTARY"));
        put(
            "automated_detection",
            json!(if self.automated_detection {
                "Yes"
            } else {
                "No"
            }),
        );
        put("automated_decision", json!(self.automated_decision));
        if !policy.territorial_scope.is_empty() {
            put("territorial_scope", json!(policy.territorial_scope));
        }
        put("puid", json!(self.puid));
        Ok(())
    }
}

/// The tag most of the rules behind the evidence carry (ties: the first by name).
fn tag_of<'t>(rule_hits: &[String], rule_tags: &'t HashMap<String, String>) -> Option<&'t String> {
    let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
    for tag in rule_hits.iter().filter_map(|rule| rule_tags.get(rule)) {
        *counts.entry(tag).or_default() += 1;
    }
    let most = counts.values().copied().max()?;
    counts
        .into_iter()
        .find(|&(_, count)| count == most)
        .map(|(tag, _)| tag)
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// A Unix ms instant as the database's `YYYY-MM-DD` (UTC).
fn date(ms: i64) -> String {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let date = at.date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The bodies for the database's batch endpoint (`POST /api/v1/statements`): at most 100
/// statements each, one JSON object per line.
pub fn batches(statements: &[Value]) -> Vec<String> {
    statements
        .chunks(MAX_BATCH)
        .map(|chunk| json!({ "statements": chunk }).to_string())
        .collect()
}

/// The batch endpoint takes at most this many statements a call.
pub const MAX_BATCH: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    /// The example statement of the database's API documentation (v2,
    /// <https://transparency.dsa.ec.europa.eu/page/api-documentation-two>), as given there.
    const DOCUMENTED_EXAMPLE: &str =
        include_str!("../../tests/data/dsa_api_example_statement.json");

    fn policy() -> StatementPolicy {
        let tag = |category: &str, keywords: &[&str]| PolicyTag {
            clause: "Acceptable Use Policy, section 2".into(),
            url: "https://warden.example.com/acceptable-use#fraud".into(),
            category: category.into(),
            keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
            keyword_other: None,
            illegal: true,
            legal_ground: None,
        };
        StatementPolicy {
            territorial_scope: vec!["DE".into(), "FR".into()],
            tags: BTreeMap::from([
                (
                    "fraud".into(),
                    tag("STATEMENT_CATEGORY_SCAMS_AND_FRAUD", &["KEYWORD_PHISHING"]),
                ),
                (
                    "aup".into(),
                    tag("STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS", &[]),
                ),
            ]),
            ..StatementPolicy::default()
        }
    }

    fn fact(step: Step, actor: Actor) -> StatementFact {
        const DAY: i64 = 86_400_000;
        let at = 1_796_000_000_000;
        StatementFact {
            case_id: CaseId::derive(
                &crate::message::AccountId::parse("account_id", "AC1".into()).unwrap(),
                "SM1",
            ),
            step,
            actor,
            upheld: false,
            applied_at: at,
            content_at: at - 60_000,
            ends_at: (step == Step::Restrict).then_some(at + DAY),
            reasons: vec![StoredReason {
                code: "repeated_blocked_messages".into(),
                description: "Several of the account's messages within an hour were blocked".into(),
            }],
            rule_hits: vec!["fraud.delivery_fee".into(), "fraud.lookalike".into()],
            evidence_messages: 3,
        }
    }

    fn rule_tags() -> HashMap<String, String> {
        HashMap::from([
            ("fraud.delivery_fee".into(), "fraud".into()),
            ("fraud.lookalike".into(), "fraud".into()),
        ])
    }

    #[test]
    fn the_databases_own_example_passes_and_each_broken_rule_is_named() {
        let example: Value = serde_json::from_str(DOCUMENTED_EXAMPLE).unwrap();
        assert_eq!(problems(&example), Vec::<String>::new());
        type Change = dyn Fn(&mut Map<String, Value>);
        let broken = |change: &Change| {
            let mut statement = example.clone();
            change(statement.as_object_mut().unwrap());
            problems(&statement)
        };
        let cases: [(&Change, &str); 9] = [
            (&|s| drop(s.remove("puid")), "puid is required"),
            (
                &|s| drop(s.insert("puid".into(), json!("TK 421"))),
                "puid may hold only",
            ),
            (
                &|s| drop(s.insert("category".into(), json!("STATEMENT_CATEGORY_SPAM"))),
                "category: \"STATEMENT_CATEGORY_SPAM\" is not an allowed value",
            ),
            (
                &|s| drop(s.insert("decision_facts".into(), json!("x".repeat(5001)))),
                "decision_facts is longer than 5000 characters",
            ),
            (
                &|s| drop(s.insert("content_date".into(), json!("2023-8-8"))),
                "content_date: `2023-8-8` is not a YYYY-MM-DD date",
            ),
            (
                &|s| drop(s.insert("end_date_monetary_restriction".into(), json!("2023-08-07"))),
                "end_date_monetary_restriction: 2023-08-07 is before application_date",
            ),
            (
                &|s| {
                    for key in [
                        "decision_visibility",
                        "decision_monetary",
                        "decision_provision",
                        "decision_account",
                    ] {
                        s.remove(key);
                    }
                },
                "one of decision_visibility",
            ),
            (
                &|s| drop(s.remove("incompatible_content_explanation")),
                "incompatible_content_explanation is required here",
            ),
            (
                &|s| drop(s.insert("territorial_scope".into(), json!(["DE", "EU"]))),
                "territorial_scope: \"EU\" is not an allowed value",
            ),
        ];
        for (change, expected) in cases {
            let found = broken(change);
            assert!(
                found.iter().any(|p| p.starts_with(expected)),
                "expected `{expected}` in {found:?}"
            );
        }
    }

    #[test]
    fn a_restriction_and_a_suspension_make_valid_statements_that_say_what_happened() {
        let policy = policy();
        policy.validate().unwrap();
        let restricted = statement(
            &fact(Step::Restrict, Actor::Automated),
            &policy,
            &rule_tags(),
        )
        .unwrap();
        assert_eq!(problems(&restricted), Vec::<String>::new());
        assert_eq!(restricted["category"], "STATEMENT_CATEGORY_SCAMS_AND_FRAUD");
        assert_eq!(
            restricted["category_specification"],
            json!(["KEYWORD_PHISHING"])
        );
        assert_eq!(restricted["automated_decision"], "AUTOMATED_DECISION_FULLY");
        assert_eq!(restricted["automated_detection"], "Yes");
        assert_eq!(restricted["application_date"], "2026-11-30");
        assert_eq!(restricted["content_date"], "2026-11-30");
        assert_eq!(restricted["end_date_account_restriction"], "2026-12-01");
        assert_eq!(restricted["territorial_scope"], json!(["DE", "FR"]));
        let case_id = fact(Step::Restrict, Actor::Automated).case_id;
        assert_eq!(restricted["puid"], case_id.as_str());
        let facts = restricted["decision_facts"].as_str().unwrap();
        assert!(
            facts.contains("3 messages") && facts.contains("fraud.delivery_fee"),
            "{facts}"
        );

        // Upheld by a reviewer since: partially automated. By hand: not at all, and the
        // admin's own words stay out of it.
        let upheld = StatementFact {
            upheld: true,
            ..fact(Step::Suspend, Actor::Automated)
        };
        let upheld = statement(&upheld, &policy, &rule_tags()).unwrap();
        assert_eq!(upheld["automated_decision"], "AUTOMATED_DECISION_PARTIALLY");
        assert!(upheld.get("end_date_account_restriction").is_none());
        let by_hand = StatementFact {
            reasons: vec![StoredReason {
                code: "manual".into(),
                description: "Called Jane Doe on +44 7911 123456".into(),
            }],
            rule_hits: Vec::new(),
            evidence_messages: 0,
            ..fact(Step::Suspend, Actor::Admin("root".into()))
        };
        let by_hand = statement(&by_hand, &policy, &rule_tags()).unwrap();
        assert_eq!(problems(&by_hand), Vec::<String>::new());
        assert_eq!(
            by_hand["automated_decision"],
            "AUTOMATED_DECISION_NOT_AUTOMATED"
        );
        assert_eq!(
            by_hand["category"], "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
            "the default tag"
        );
        assert!(!by_hand.to_string().contains("Jane"), "{by_hand}");
    }

    #[test]
    fn a_message_blocked_for_its_content_makes_a_valid_statement_of_removed_content() {
        let fact = BlockFact {
            message_id: "SM0001-000001".into(),
            decided_at: 1_796_000_000_000,
            rule_hits: vec!["fraud.delivery_fee".into()],
        };
        let blocked = block_statement(&fact, &policy(), &rule_tags()).unwrap();
        assert_eq!(problems(&blocked), Vec::<String>::new());
        assert_eq!(
            blocked["decision_visibility"],
            json!(["DECISION_VISIBILITY_CONTENT_REMOVED"])
        );
        assert!(blocked.get("decision_account").is_none(), "{blocked}");
        assert_eq!(blocked["category"], "STATEMENT_CATEGORY_SCAMS_AND_FRAUD");
        assert_eq!(blocked["puid"], "msg-SM0001-000001");
        // An id the database would refuse is named by its hash.
        let odd = BlockFact {
            message_id: "id with spaces/and:colons".into(),
            ..fact
        };
        let odd = block_statement(&odd, &policy(), &rule_tags()).unwrap();
        assert_eq!(problems(&odd), Vec::<String>::new());
        assert_eq!(odd["puid"].as_str().unwrap().len(), "msg-".len() + 24);
    }

    #[test]
    fn a_clause_filed_as_illegal_content_names_the_law() {
        let mut policy = policy();
        policy.tags.get_mut("fraud").unwrap().legal_ground =
            Some("Fraud Act 2006, section 2 (fraud by false representation)".into());
        policy.validate().unwrap();
        let filed = statement(
            &fact(Step::Suspend, Actor::Automated),
            &policy,
            &rule_tags(),
        )
        .unwrap();
        assert_eq!(problems(&filed), Vec::<String>::new());
        assert_eq!(filed["decision_ground"], "DECISION_GROUND_ILLEGAL_CONTENT");
        assert_eq!(
            filed["illegal_content_legal_ground"],
            "Fraud Act 2006, section 2 (fraud by false representation)"
        );
        assert!(
            filed.get("incompatible_content_ground").is_none(),
            "{filed}"
        );
        // Without its explanation, the database would refuse it.
        let mut unexplained = filed.clone();
        unexplained
            .as_object_mut()
            .unwrap()
            .remove("illegal_content_explanation");
        assert_eq!(
            problems(&unexplained),
            ["illegal_content_explanation is required here"]
        );
    }

    #[test]
    fn batches_hold_at_most_a_hundred_statements() {
        let statements: Vec<Value> = (0..250).map(|i| json!({ "puid": i })).collect();
        let sizes: Vec<usize> = batches(&statements)
            .iter()
            .map(|line| {
                let body: Value = serde_json::from_str(line).unwrap();
                body["statements"].as_array().unwrap().len()
            })
            .collect();
        assert_eq!(sizes, [100, 100, 50]);
    }

    #[test]
    fn tags_the_database_would_refuse_are_refused_at_load() {
        let mut unknown_category = policy();
        unknown_category.tags.get_mut("fraud").unwrap().category = "STATEMENT_CATEGORY_SPAM".into();
        assert!(
            unknown_category
                .validate()
                .unwrap_err()
                .contains("tags.fraud")
        );
        let mut no_default = policy();
        no_default.default_tag = "spam".into();
        assert!(no_default.validate().is_err());
        let mut greece = policy();
        greece.territorial_scope = vec!["EL".into()];
        assert!(greece.validate().is_err());
    }
}
