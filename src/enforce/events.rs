//! The records Warden sends about accounts: `account-actions` (suspend, reinstate) for the
//! messaging pipeline and `notices` for the account holder (DESIGN.md), built in one place for
//! the stream processor and the review API alike.

use serde::Serialize;
use time::OffsetDateTime;

use super::AppealSettings;
use super::token::{AppealGrant, sign};
use crate::case::{Actor, Notice as NoticeKind, Outcome, Owed};
use crate::store::{Case, OutboxEvent, OutboxTopic, StoredReason};

#[derive(Serialize)]
struct AccountAction<'a> {
    account_id: &'a str,
    action: &'static str,
    case_id: &'a str,
    reason_codes: Vec<&'a str>,
    by: String,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

/// A `notices` record. `appeal_url`, `appeal_deadline`, `policy_url` and `automated` (whether
/// the account policy decided alone, or a person did) come with `suspended`; `appeal_id` with
/// the appeal's notices; `outcome` and `explanation` with `appeal_decided`; `redress` (what the
/// holder may do beyond the appeal) with `suspended` and `appeal_decided`.
#[derive(Serialize)]
struct Notice<'a> {
    account_id: &'a str,
    case_id: &'a str,
    kind: &'static str,
    reasons: &'a [StoredReason],
    #[serde(skip_serializing_if = "Option::is_none")]
    automated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    appeal_url: Option<String>,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    appeal_deadline: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    appeal_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redress: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

fn json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("event records always serialize")
}

/// `account-actions`: `action` (`suspend` or `reinstate`) on the case's account, by `by`
/// (sent as `automated`, `reviewer:<name>`, `admin:<name>`).
pub fn account_action(
    case: &Case,
    action: &'static str,
    by: &Actor,
    at: OffsetDateTime,
) -> Vec<u8> {
    json(&AccountAction {
        account_id: case.account_id.as_str(),
        action,
        case_id: case.case_id.as_str(),
        reason_codes: case.reasons.iter().map(|r| r.code.as_str()).collect(),
        by: by.to_string(),
        at,
    })
}

/// `notices`, kind `suspended`: why (the facts in plain words, the policy's URL), whether it was
/// decided by `by` alone as the automated policy, the appeal URL with its signed token and
/// deadline, and redress beyond the appeal.
pub fn suspended_notice(
    case: &Case,
    by: &Actor,
    appeal: &AppealSettings,
    at: OffsetDateTime,
) -> Vec<u8> {
    let deadline = at + time::Duration::days(appeal.days);
    let token = sign(
        &appeal.secret,
        &AppealGrant {
            case_id: case.case_id.clone(),
            account_id: case.account_id.clone(),
            expires_at: deadline,
        },
    );
    json(&Notice {
        account_id: case.account_id.as_str(),
        case_id: case.case_id.as_str(),
        kind: "suspended",
        reasons: &case.reasons,
        automated: Some(*by == Actor::Automated),
        policy_url: Some(&appeal.policy_url),
        appeal_url: Some(format!("{}?token={token}", appeal.base_url)),
        appeal_deadline: Some(deadline),
        appeal_id: None,
        outcome: None,
        explanation: None,
        redress: Some(&appeal.redress),
        at,
    })
}

/// `notices`, kind `appeal_received`.
pub fn appeal_received_notice(case: &Case, appeal_id: &str, at: OffsetDateTime) -> Vec<u8> {
    json(&Notice {
        account_id: case.account_id.as_str(),
        case_id: case.case_id.as_str(),
        kind: "appeal_received",
        reasons: &case.reasons,
        automated: None,
        policy_url: None,
        appeal_url: None,
        appeal_deadline: None,
        appeal_id: Some(appeal_id),
        outcome: None,
        explanation: None,
        redress: None,
        at,
    })
}

/// `notices`, kind `appeal_decided`: the outcome (`upheld` or `overturned`), the reviewer's
/// explanation, and redress beyond the appeal.
pub fn appeal_decided_notice(
    case: &Case,
    appeal_id: &str,
    outcome: &str,
    explanation: &str,
    redress: &str,
    at: OffsetDateTime,
) -> Vec<u8> {
    json(&Notice {
        account_id: case.account_id.as_str(),
        case_id: case.case_id.as_str(),
        kind: "appeal_decided",
        reasons: &case.reasons,
        automated: Some(false),
        policy_url: None,
        appeal_url: None,
        appeal_deadline: None,
        appeal_id: Some(appeal_id),
        outcome: Some(outcome),
        explanation: Some(explanation),
        redress: Some(redress),
        at,
    })
}

/// The decision an `appeal_decided` notice reports.
#[derive(Debug, Clone, Copy)]
pub struct AppealDecision<'a> {
    pub appeal_id: &'a str,
    pub outcome: Outcome,
    pub explanation: &'a str,
}

/// The outbox records for what a step of `case` owes (`case::Owed`), by `actor` at `at`: the
/// one place the lifecycle's words become the pipeline's and the holder's records. `decision`
/// is needed for an appeal-decided notice only.
pub fn owed(
    owes: &[Owed],
    case: &Case,
    actor: &Actor,
    appeal: &AppealSettings,
    decision: Option<AppealDecision<'_>>,
    at: OffsetDateTime,
) -> Vec<OutboxEvent> {
    owes.iter()
        .filter_map(|owed| {
            let (topic, json) = match owed {
                Owed::AccountAction(action) => (
                    OutboxTopic::AccountActions,
                    account_action(case, action.as_str(), actor, at),
                ),
                Owed::Notice(NoticeKind::Suspended) => (
                    OutboxTopic::Notices,
                    suspended_notice(case, actor, appeal, at),
                ),
                Owed::Notice(NoticeKind::AppealDecided) => {
                    let decision = decision?;
                    let notice = appeal_decided_notice(
                        case,
                        decision.appeal_id,
                        decision.outcome.as_str(),
                        decision.explanation,
                        &appeal.redress,
                        at,
                    );
                    (OutboxTopic::Notices, notice)
                }
            };
            let json = String::from_utf8(json).expect("JSON is UTF-8");
            Some(OutboxEvent::new(topic, &case.account_id, json))
        })
        .collect()
}
