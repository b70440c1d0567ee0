//! One batch of records in, one decision per record out: decode, score, or dead-letter.
//!
//! No Kafka here, so the step is testable on its own. Deciding a record reads nothing but the
//! record and the scorer (per-account state is the enforcer's, applied afterwards in order), so a
//! batch is spread over the scoring pool's threads whatever its partitions.

use std::panic::{AssertUnwindSafe, catch_unwind};

use base64::Engine;
use rayon::prelude::*;
use serde::Serialize;
use time::OffsetDateTime;

use crate::config::Topics;
use crate::enforce::Facts;
use crate::message::{AccountId, FeedbackEvent, FeedbackKind, MessageEvent, MessageId, Verdict};
use crate::privacy::RecipientHasher;
use crate::rules::RuleUnion;
use crate::scoring::{Assessment, Scorer, Scratch};
use crate::signals::{Observation, simhash};
use crate::suspension::{MessageWeight, Trigger};

/// The input topic a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Input {
    Messages,
    Feedback,
}

impl Input {
    /// The topic's configured name.
    pub fn topic(self, topics: &Topics) -> &str {
        match self {
            Input::Messages => &topics.messages,
            Input::Feedback => &topics.feedback,
        }
    }
}

/// A record as read from an input topic.
#[derive(Debug, Clone)]
pub struct Record {
    pub input: Input,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
}

/// What becomes of one record.
#[derive(Debug, Clone)]
pub enum Decision {
    /// A verdict for `verdicts`, keyed by account, and what enforcement needs to know.
    Verdict {
        verdict: Box<Verdict>,
        facts: Box<Facts>,
    },
    /// Delivery feedback on one of the account's messages: it updates signals, and has no
    /// output of its own.
    Feedback {
        account_id: AccountId,
        message_id: MessageId,
        kind: FeedbackKind,
        /// When the pipeline learnt it, in Unix seconds.
        at: i64,
        /// The keyed hash of the recipient it is from, when the record names one.
        recipient: Option<u64>,
    },
    /// A `dead-letters` record: the record could not be decided, and never will be.
    DeadLetter { code: &'static str, json: Vec<u8> },
}

/// The `dead-letters` record (DESIGN.md), plus a stable `code` for grouping.
#[derive(Debug, Serialize)]
pub struct DeadLetter<'a> {
    pub source: Source<'a>,
    pub code: &'static str,
    pub reason: String,
    pub payload_base64: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Where a dead-lettered record came from.
#[derive(Debug, Serialize)]
pub struct Source<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

impl Decision {
    /// A dead letter for `record` (read from `topic`), carrying its bytes unchanged.
    pub fn dead_letter(
        topic: &str,
        record: &Record,
        code: &'static str,
        reason: String,
        at: OffsetDateTime,
    ) -> Self {
        let letter = DeadLetter {
            source: Source {
                topic,
                partition: record.partition,
                offset: record.offset,
            },
            code,
            reason,
            payload_base64: base64::engine::general_purpose::STANDARD
                .encode(record.payload.as_deref().unwrap_or_default()),
            at,
        };
        let json = serde_json::to_vec(&letter).expect("a dead letter always serializes");
        Decision::DeadLetter { code, json }
    }
}

/// Decides every record of a batch on `pool`'s threads. The result is in the order of
/// `records`. `recipients` keys the hashes of recipients' addresses that signals keep.
pub fn decide_batch(
    pool: &rayon::ThreadPool,
    scorer: &Scorer,
    recipients: &RecipientHasher,
    topics: &Topics,
    records: &[Record],
) -> Vec<Decision> {
    decide_batch_for(pool, [scorer], None, recipients, topics, records)
        .into_iter()
        .map(|[decision]| decision)
        .collect()
}

/// [`decide_batch`] for each of several scorers at once (a backtest's current and candidate
/// configurations): each record's decisions, one per scorer, in the scorers' order. With
/// `union`, the union of the scorers' rules (in their order), each message is matched once.
pub fn decide_batch_for<const N: usize>(
    pool: &rayon::ThreadPool,
    scorers: [&Scorer; N],
    union: Option<&RuleUnion>,
    recipients: &RecipientHasher,
    topics: &Topics,
    records: &[Record],
) -> Vec<[Decision; N]> {
    pool.install(|| {
        records
            .par_iter()
            // Fewer, longer jobs: each needs its own scratch space.
            .with_min_len(MIN_RECORDS_PER_JOB)
            .map_init(Scratch::new, |scratch, record| {
                decide_record_for(scorers, union, recipients, topics, record, scratch)
            })
            .collect()
    })
}

/// The smallest share of a batch one scoring thread takes at a time.
const MIN_RECORDS_PER_JOB: usize = 32;

/// Decodes and scores one record. A record that cannot be decoded, or whose scoring panics,
/// becomes a dead letter: redelivering it would fail the same way and hold up its partition.
pub fn decide_record(
    scorer: &Scorer,
    recipients: &RecipientHasher,
    topics: &Topics,
    record: &Record,
    scratch: &mut Scratch,
) -> Decision {
    let [decision] = decide_record_for([scorer], None, recipients, topics, record, scratch);
    decision
}

/// [`decide_record`] for each of `scorers`, doing once what they share: decoding, normalizing,
/// what the account's signals observe, the model's probabilities for scorers whose models are
/// the same ([`Scorer::predicts_as`]), and with `union` the rules. Only the fusion, and without
/// a union the rules, run per scorer.
pub fn decide_record_for<const N: usize>(
    scorers: [&Scorer; N],
    union: Option<&RuleUnion>,
    recipients: &RecipientHasher,
    topics: &Topics,
    record: &Record,
    scratch: &mut Scratch,
) -> [Decision; N] {
    let now = OffsetDateTime::now_utc();
    let topic = record.input.topic(topics);
    let event = match decode(record, recipients, topic, now) {
        Ok(event) => event,
        Err(decision) => return std::array::from_fn(|_| decision.clone()),
    };
    // A panic in scoring is a bug, but one message must not stop the stream: the scratch space
    // is reset before its next use, so nothing of the failed message leaks into the next.
    let decided = catch_unwind(AssertUnwindSafe(|| {
        scratch.prepare(&event.body);
        let observed = Observed::of(recipients, &event, scratch);
        let mut predicted = [None; N];
        for i in 0..N {
            predicted[i] = match (0..i).find(|&j| scorers[j].predicts_as(scorers[i])) {
                Some(j) => predicted[j],
                None => scorers[i].predict(&event.body, scratch),
            };
        }
        if let Some(union) = union {
            union.find(
                &scratch.normalized,
                &scratch.extracted,
                &mut scratch.union_matches,
            );
        }
        std::array::from_fn(|i| {
            let scorer = scorers[i];
            let (verdict, assessment) = match union {
                Some(union) => {
                    union.hits_of(i, &scratch.union_matches, &mut scratch.matches);
                    scorer.verdict_matched(&event, predicted[i], scratch, now)
                }
                None => scorer.verdict_prepared(&event, predicted[i], scratch, now),
            };
            let facts = facts(scorer, &observed, &event, scratch, &verdict, &assessment);
            Decision::Verdict {
                verdict: Box::new(verdict),
                facts: Box::new(facts),
            }
        })
    }));
    decided.unwrap_or_else(|_| {
        *scratch = Scratch::new();
        let letter = Decision::dead_letter(
            topic,
            record,
            "scoring_failed",
            "scoring panicked on this message".into(),
            now,
        );
        std::array::from_fn(|_| letter.clone())
    })
}

/// The message a record holds, or the decision for a record that holds none: its feedback, or
/// a dead letter for what cannot be decoded.
fn decode(
    record: &Record,
    recipients: &RecipientHasher,
    topic: &str,
    now: OffsetDateTime,
) -> Result<MessageEvent, Decision> {
    let Some(payload) = record.payload.as_deref() else {
        return Err(Decision::dead_letter(
            topic,
            record,
            "empty_record",
            "record has no value".into(),
            now,
        ));
    };
    if record.input == Input::Feedback {
        return Err(match FeedbackEvent::decode(payload) {
            Ok(feedback) => Decision::Feedback {
                recipient: feedback.to.as_deref().map(|to| recipients.hash(to)),
                account_id: feedback.account_id,
                message_id: feedback.message_id,
                kind: feedback.kind,
                at: feedback.at.unix_timestamp(),
            },
            Err(error) => {
                Decision::dead_letter(topic, record, error.code(), error.to_string(), now)
            }
        });
    }
    MessageEvent::decode(payload)
        .map_err(|error| Decision::dead_letter(topic, record, error.code(), error.to_string(), now))
}

/// What the account's signals observe of a message whatever its verdict.
struct Observed {
    recipient: u64,
    simhash: u64,
    /// Hash of each URL's registrable domain (at most the first few).
    domains: [Option<u64>; 4],
}

impl Observed {
    /// Read from `scratch` while it holds the message prepared.
    fn of(recipients: &RecipientHasher, event: &MessageEvent, scratch: &Scratch) -> Self {
        let mut domains = [None; 4];
        let registrable = scratch
            .extracted
            .urls()
            .filter_map(|url| url.registrable_domain.or(Some(url.host)));
        for (slot, domain) in domains.iter_mut().zip(registrable) {
            *slot = Some(xxhash_rust::xxh3::xxh3_64(domain.as_bytes()));
        }
        Observed {
            recipient: recipients.hash(&event.to),
            simhash: simhash(scratch.normalized.folded()),
            domains,
        }
    }
}

/// What signals and the account policy need from one scored message; read from `scratch`
/// while it still holds this message's rule hits and extraction.
fn facts(
    scorer: &Scorer,
    observed: &Observed,
    event: &MessageEvent,
    scratch: &Scratch,
    verdict: &Verdict,
    assessment: &Assessment,
) -> Facts {
    let model = assessment.model;
    // Shadow rules rarely hit: most messages skip the recomputation.
    let shadow_changes = if verdict.shadow_rule_hits.is_empty() {
        Vec::new()
    } else {
        scorer.shadow_changes(assessment, scratch)
    };
    let enforced = || {
        scratch
            .matches
            .iter()
            .map(|index| scorer.rules().rule(index))
            .filter(|rule| rule.enforced())
    };
    let weight = MessageWeight::of(verdict.action, enforced());
    // Only a message that may become evidence needs its clause.
    let policy_tag = weight
        .abusive
        .then(|| enforced().next().map(|rule| rule.policy_tag.clone()))
        .flatten();
    Facts {
        model,
        body: event.body.clone(),
        sent_at_ms: crate::clock::unix_ms(event.sent_at),
        observation: Observation {
            at: event.sent_at.unix_timestamp(),
            recipient: observed.recipient,
            simhash: observed.simhash,
            domains: observed.domains,
            abusive: weight.abusive,
            policy_violation: weight.policy_violation,
            violating: weight.violating,
            blocked: weight.blocked,
        },
        trigger: Trigger {
            action: verdict.action,
            high_severity_fraud: weight.high_severity_fraud,
            model_fraud: model.map(|m| m.fraud),
            has_url: scratch.extracted.has_url(),
        },
        policy_tag,
        shadow_changes,
    }
}
