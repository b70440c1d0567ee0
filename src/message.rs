//! The message contract: what the messaging pipeline sends Warden (`MessageEvent`) and what Warden
//! answers for each message (`Verdict`).
//!
//! Records are decoded once, at the edge, into validated domain types: a `MessageEvent` that exists
//! is known to have every required field in range. Decoding failures are typed (`DecodeError`) and
//! name the field and the problem, because a dead-lettered record is only useful if an engineer can
//! tell from its reason what the producer got wrong.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Largest message body Warden accepts, in bytes of UTF-8 (64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Longest identifier (message, account) Warden accepts, in bytes.
const MAX_ID_BYTES: usize = 128;

/// Why a record could not be decoded into a `MessageEvent`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record is not valid UTF-8 (first bad byte at offset {valid_up_to})")]
    InvalidUtf8 { valid_up_to: usize },
    #[error("record is not a JSON object: {0}")]
    Json(String),
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    #[error("field `{field}`: {problem}")]
    InvalidField {
        field: &'static str,
        problem: String,
    },
    #[error("field `body` is {bytes} bytes, over the {MAX_BODY_BYTES}-byte limit")]
    BodyTooLarge { bytes: usize },
}

impl DecodeError {
    /// A short, stable code for metrics labels and dead-letter reasons.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::InvalidUtf8 { .. } => "invalid_utf8",
            DecodeError::Json(_) => "invalid_json",
            DecodeError::MissingField(_) => "missing_field",
            DecodeError::InvalidField { .. } => "invalid_field",
            DecodeError::BodyTooLarge { .. } => "body_too_large",
        }
    }
}

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates an identifier: non-empty, at most 128 bytes, no whitespace or control
            /// characters.
            pub fn parse(field: &'static str, raw: String) -> Result<Self, DecodeError> {
                validate_id(field, &raw)?;
                Ok(Self(raw))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_newtype!(
    /// The pipeline's identifier of one message (e.g. `SM5f1c...`).
    MessageId
);
id_newtype!(
    /// The customer account that sent a message (e.g. `AC93b1...`); also the Kafka key.
    AccountId
);

/// The id of a rule of the rules file (e.g. `fraud.delivery_fee`), as verdicts, evidence and
/// metrics carry it. Shared, not copied: every hit of a rule points at the rule's one string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleId(Arc<str>);

impl RuleId {
    /// A rule id as the rules file gives it (the rules compiler checks its form).
    pub fn new(id: &str) -> Self {
        Self(Arc::from(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn validate_id(field: &'static str, raw: &str) -> Result<(), DecodeError> {
    let problem = if raw.is_empty() {
        "is empty"
    } else if raw.len() > MAX_ID_BYTES {
        "is longer than 128 bytes"
    } else if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "contains whitespace or control characters"
    } else {
        return Ok(());
    };
    Err(DecodeError::InvalidField {
        field,
        problem: problem.to_owned(),
    })
}

/// The channel a message travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Mms,
    Whatsapp,
    Chat,
    Email,
}

impl Channel {
    fn parse(raw: &str) -> Result<Self, DecodeError> {
        match raw {
            "sms" => Ok(Channel::Sms),
            "mms" => Ok(Channel::Mms),
            "whatsapp" => Ok(Channel::Whatsapp),
            "chat" => Ok(Channel::Chat),
            "email" => Ok(Channel::Email),
            other => Err(DecodeError::InvalidField {
                field: "channel",
                problem: format!(
                    "unknown channel {other:?} (expected sms, mms, whatsapp, chat or email)"
                ),
            }),
        }
    }
}

/// One message as the pipeline sent it, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageEvent {
    pub message_id: MessageId,
    pub account_id: AccountId,
    pub sent_at: OffsetDateTime,
    pub channel: Channel,
    /// Sender address; optional because the pipeline may not know it for every channel.
    pub from: Option<String>,
    /// Recipient address (an end-user number or address: personal data, never stored raw).
    pub to: String,
    pub body: String,
    pub media_count: u32,
    /// ISO 3166-1 alpha-2 country of the recipient, when known.
    pub destination_country: Option<String>,
    pub account_created_at: Option<OffsetDateTime>,
}

/// The record as it appears on the wire. Every field is optional here so that a missing one is
/// reported by name instead of as a generic serde error; unknown fields are ignored.
#[derive(Deserialize)]
struct WireMessage {
    message_id: Option<String>,
    account_id: Option<String>,
    sent_at: Option<String>,
    channel: Option<String>,
    from: Option<String>,
    to: Option<String>,
    body: Option<String>,
    media_count: Option<u32>,
    destination_country: Option<String>,
    account_created_at: Option<String>,
}

impl MessageEvent {
    /// Decodes one `messages` record (JSON, UTF-8).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::from_wire(parse_json(bytes)?)
    }

    fn from_wire(wire: WireMessage) -> Result<Self, DecodeError> {
        let body = required("body", wire.body)?;
        if body.len() > MAX_BODY_BYTES {
            return Err(DecodeError::BodyTooLarge { bytes: body.len() });
        }
        let to = required("to", wire.to)?;
        if to.trim().is_empty() {
            return Err(DecodeError::InvalidField {
                field: "to",
                problem: "is empty".to_owned(),
            });
        }
        Ok(MessageEvent {
            message_id: MessageId::parse("message_id", required("message_id", wire.message_id)?)?,
            account_id: AccountId::parse("account_id", required("account_id", wire.account_id)?)?,
            sent_at: parse_timestamp("sent_at", &required("sent_at", wire.sent_at)?)?,
            channel: Channel::parse(&required("channel", wire.channel)?)?,
            from: wire.from,
            to,
            body,
            media_count: wire.media_count.unwrap_or(0),
            destination_country: wire.destination_country,
            account_created_at: wire
                .account_created_at
                .map(|raw| parse_timestamp("account_created_at", &raw))
                .transpose()?,
        })
    }
}

/// Parses a record's JSON, naming the path of a field of the wrong type.
fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    // Tracking the path costs a fifth of decoding; a record that fails is decoded again with it,
    // for an error that names the field.
    if let Ok(wire) = serde_json::from_str(text) {
        return Ok(wire);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let wire: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            DecodeError::Json(inner.to_string())
        } else {
            DecodeError::Json(format!("at `{path}`: {inner}"))
        }
    })?;
    de.end().map_err(|e| DecodeError::Json(e.to_string()))?;
    Ok(wire)
}

/// What the pipeline learnt of a sent message (`message-feedback`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedbackKind {
    /// The message could not be delivered.
    Undelivered,
    /// A carrier filtered it as spam.
    CarrierFiltered,
    /// The recipient replied STOP (or the channel's equivalent): a complaint, and with `to`,
    /// a recipient the account may not message again until they opt back in.
    OptOut,
    /// The recipient asked for the account's messages again (START, or a new consent).
    OptIn,
}

impl FeedbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Undelivered => "undelivered",
            FeedbackKind::CarrierFiltered => "carrier_filtered",
            FeedbackKind::OptOut => "opt_out",
            FeedbackKind::OptIn => "opt_in",
        }
    }

    /// What it says of the recipient's consent to the account's messages: withdrawn
    /// (`Some(true)`), given again (`Some(false)`), or nothing.
    pub fn opted_out(self) -> Option<bool> {
        match self {
            FeedbackKind::OptOut => Some(true),
            FeedbackKind::OptIn => Some(false),
            FeedbackKind::Undelivered | FeedbackKind::CarrierFiltered => None,
        }
    }

    fn parse(raw: &str) -> Result<Self, DecodeError> {
        match raw {
            "undelivered" => Ok(FeedbackKind::Undelivered),
            "carrier_filtered" => Ok(FeedbackKind::CarrierFiltered),
            "opt_out" => Ok(FeedbackKind::OptOut),
            "opt_in" => Ok(FeedbackKind::OptIn),
            other => Err(DecodeError::InvalidField {
                field: "kind",
                problem: format!(
                    "unknown feedback {other:?} (expected undelivered, carrier_filtered, opt_out or opt_in)"
                ),
            }),
        }
    }
}

/// One `message-feedback` record, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackEvent {
    pub message_id: MessageId,
    pub account_id: AccountId,
    pub kind: FeedbackKind,
    pub at: OffsetDateTime,
    /// The recipient the feedback is from, as the message's `to` (personal data, never stored
    /// raw): an opt-out with it is honoured for that recipient; an opt-in needs it.
    pub to: Option<String>,
}

#[derive(Deserialize)]
struct WireFeedback {
    message_id: Option<String>,
    account_id: Option<String>,
    kind: Option<String>,
    at: Option<String>,
    to: Option<String>,
}

impl FeedbackEvent {
    /// Decodes one `message-feedback` record (JSON, UTF-8).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let wire: WireFeedback = parse_json(bytes)?;
        let kind = FeedbackKind::parse(&required("kind", wire.kind)?)?;
        let to = wire.to.filter(|to| !to.trim().is_empty());
        if kind == FeedbackKind::OptIn && to.is_none() {
            return Err(DecodeError::MissingField("to"));
        }
        Ok(FeedbackEvent {
            message_id: MessageId::parse("message_id", required("message_id", wire.message_id)?)?,
            account_id: AccountId::parse("account_id", required("account_id", wire.account_id)?)?,
            kind,
            at: parse_timestamp("at", &required("at", wire.at)?)?,
            to,
        })
    }
}

fn required(field: &'static str, value: Option<String>) -> Result<String, DecodeError> {
    value.ok_or(DecodeError::MissingField(field))
}

fn parse_timestamp(field: &'static str, raw: &str) -> Result<OffsetDateTime, DecodeError> {
    OffsetDateTime::parse(raw, &Rfc3339).map_err(|e| DecodeError::InvalidField {
        field,
        problem: format!("{raw:?} is not an RFC 3339 timestamp ({e})"),
    })
}

/// Content categories Warden scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Spam,
    Fraud,
    Aup,
}

impl Category {
    pub const ALL: [Category; 3] = [Category::Spam, Category::Fraud, Category::Aup];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Spam => "spam",
            Category::Fraud => "fraud",
            Category::Aup => "aup",
        }
    }

    /// The index of this category in per-category arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to one message. Ordered from mildest to strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Flag,
    Block,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Flag => "flag",
            Action::Block => "block",
        }
    }

    /// The action `as_str` names, as stored.
    pub fn parse(raw: &str) -> Option<Self> {
        [Action::Allow, Action::Flag, Action::Block]
            .into_iter()
            .find(|action| action.as_str() == raw)
    }
}

/// Probability-like scores in [0, 1], one per category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub spam: f64,
    pub fraud: f64,
    pub aup: f64,
}

impl Scores {
    pub fn get(&self, category: Category) -> f64 {
        match category {
            Category::Spam => self.spam,
            Category::Fraud => self.fraud,
            Category::Aup => self.aup,
        }
    }

    /// The scores rounded to four decimals, for records people read.
    pub fn rounded(&self) -> Self {
        let round = |x: f64| (x * 1e4).round() / 1e4;
        Scores {
            spam: round(self.spam),
            fraud: round(self.fraud),
            aup: round(self.aup),
        }
    }

    pub fn from_array(values: [f64; 3]) -> Self {
        Scores {
            spam: values[Category::Spam.index()],
            fraud: values[Category::Fraud.index()],
            aup: values[Category::Aup.index()],
        }
    }
}

/// Warden's decision on one message: the `verdicts` record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub message_id: MessageId,
    pub account_id: AccountId,
    pub action: Action,
    pub scores: Scores,
    /// Ids of the enforcing rules that matched, in rule-file order.
    pub rule_hits: Vec<RuleId>,
    /// Ids of shadow-mode rules that matched: recorded for tuning, never acted on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shadow_rule_hits: Vec<RuleId>,
    pub model_version: Option<String>,
    pub rules_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
    /// The account is suspended: the message is blocked whatever its content.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub account_suspended: bool,
    /// The recipient opted out of the account's messages: blocked whatever its content.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub recipient_opted_out: bool,
    /// Flagged as spam (bulk promotion) and telling its recipient no way to opt out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub marketing_without_opt_out: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(overrides: &[(&str, serde_json::Value)], remove: &[&str]) -> Vec<u8> {
        let mut value = serde_json::json!({
            "message_id": "SM1", "account_id": "AC1", "sent_at": "2026-11-28T17:04:05Z",
            "channel": "sms", "from": "+14155550100", "to": "+14155550199", "body": "hello",
        });
        let object = value.as_object_mut().unwrap();
        for (key, v) in overrides {
            object.insert((*key).to_owned(), v.clone());
        }
        for key in remove {
            object.remove(*key);
        }
        serde_json::to_vec(&value).unwrap()
    }

    #[test]
    fn decodes_a_complete_record_and_ignores_unknown_fields() {
        let bytes = record(
            &[
                ("media_count", 2.into()),
                ("destination_country", "US".into()),
                ("account_created_at", "2026-11-01T09:00:00+01:00".into()),
                ("campaign", "unknown extra field".into()),
            ],
            &[],
        );
        let event = MessageEvent::decode(&bytes).unwrap();
        assert_eq!(event.message_id.as_str(), "SM1");
        assert_eq!(event.account_id.as_str(), "AC1");
        assert_eq!(event.channel, Channel::Sms);
        assert_eq!(event.media_count, 2);
        assert_eq!(event.destination_country.as_deref(), Some("US"));
        assert_eq!(event.account_created_at.unwrap().offset().whole_hours(), 1);
    }

    #[test]
    fn optional_fields_may_be_absent() {
        let event = MessageEvent::decode(&record(&[], &["from"])).unwrap();
        assert_eq!(event.from, None);
        assert_eq!(event.media_count, 0);
    }

    #[test]
    fn each_missing_required_field_is_named() {
        for field in [
            "message_id",
            "account_id",
            "sent_at",
            "channel",
            "to",
            "body",
        ] {
            let err = MessageEvent::decode(&record(&[], &[field])).unwrap_err();
            assert_eq!(err, DecodeError::MissingField(field), "{field}");
            assert!(err.to_string().contains(field));
        }
    }

    #[test]
    fn sent_at_must_be_rfc3339() {
        let err = MessageEvent::decode(&record(&[("sent_at", "28/11/2026 17:04".into())], &[]))
            .unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::InvalidField {
                    field: "sent_at",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("RFC 3339"));
    }

    #[test]
    fn unknown_channel_is_refused_by_name() {
        let err = MessageEvent::decode(&record(&[("channel", "pigeon".into())], &[])).unwrap_err();
        assert!(matches!(
            err,
            DecodeError::InvalidField {
                field: "channel",
                ..
            }
        ));
        assert!(err.to_string().contains("pigeon"), "{err}");
    }

    #[test]
    fn body_over_64_kib_is_refused_and_64_kib_is_accepted() {
        let at_limit = "a".repeat(MAX_BODY_BYTES);
        assert!(MessageEvent::decode(&record(&[("body", at_limit.into())], &[])).is_ok());
        let over = "a".repeat(MAX_BODY_BYTES + 1);
        let err = MessageEvent::decode(&record(&[("body", over.into())], &[])).unwrap_err();
        assert_eq!(
            err,
            DecodeError::BodyTooLarge {
                bytes: MAX_BODY_BYTES + 1
            }
        );
    }

    #[test]
    fn invalid_utf8_reports_the_offset() {
        let mut bytes = record(&[], &[]);
        bytes.insert(3, 0xff);
        assert_eq!(
            MessageEvent::decode(&bytes).unwrap_err(),
            DecodeError::InvalidUtf8 { valid_up_to: 3 }
        );
    }

    #[test]
    fn wrong_types_and_broken_json_name_the_place() {
        let err = MessageEvent::decode(&record(&[("media_count", "two".into())], &[])).unwrap_err();
        assert!(err.to_string().contains("media_count"), "{err}");
        let err = MessageEvent::decode(b"{\"message_id\": ").unwrap_err();
        assert_eq!(err.code(), "invalid_json");
        let err = MessageEvent::decode(b"[1, 2]").unwrap_err();
        assert_eq!(err.code(), "invalid_json");
        let err = MessageEvent::decode(&[record(&[], &[]), b"{}".to_vec()].concat()).unwrap_err();
        assert_eq!(err.code(), "invalid_json", "trailing data must be refused");
    }

    #[test]
    fn identifiers_are_validated() {
        for bad in ["", "AC 1", "AC\u{0}1"] {
            let err =
                MessageEvent::decode(&record(&[("account_id", bad.into())], &[])).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::InvalidField {
                        field: "account_id",
                        ..
                    }
                ),
                "{bad:?}: {err}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = MessageEvent::decode(&bytes);
        }

        #[test]
        fn any_valid_record_round_trips_its_fields(
            account in "[A-Za-z0-9]{1,40}",
            body in "\\PC{0,200}",
            channel in proptest::sample::select(vec!["sms", "mms", "whatsapp", "chat", "email"]),
        ) {
            let bytes = record(&[("account_id", account.clone().into()), ("body", body.clone().into()), ("channel", channel.into())], &[]);
            let event = MessageEvent::decode(&bytes).unwrap();
            proptest::prop_assert_eq!(event.account_id.as_str(), account.as_str());
            proptest::prop_assert_eq!(event.body, body);
        }
    }

    #[test]
    fn verdict_serializes_to_the_contract() {
        let verdict = Verdict {
            message_id: MessageId("SM1".into()),
            account_id: AccountId("AC1".into()),
            action: Action::Block,
            scores: Scores::from_array([0.0, 0.95, 0.0]),
            rule_hits: vec![RuleId::new("fraud.delivery_fee")],
            shadow_rule_hits: vec![],
            model_version: None,
            rules_version: "abc".into(),
            decided_at: time::macros::datetime!(2026-11-28 17:04:05 UTC),
            account_suspended: false,
            recipient_opted_out: false,
            marketing_without_opt_out: false,
        };
        let json: serde_json::Value = serde_json::to_value(&verdict).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "message_id": "SM1", "account_id": "AC1", "action": "block",
                "scores": {"spam": 0.0, "fraud": 0.95, "aup": 0.0},
                "rule_hits": ["fraud.delivery_fee"], "model_version": null,
                "rules_version": "abc", "decided_at": "2026-11-28T17:04:05Z"
            })
        );
    }
}
