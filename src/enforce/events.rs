//! The records Warden sends about accounts: `account-actions` (suspend, reinstate) for the
//! messaging pipeline and `notices` for the account holder (DESIGN.md), built in one place for
//! the stream processor and the review API alike.

use serde::Serialize;
use time::OffsetDateTime;

use super::AppealSettings;
use super::token::{AppealGrant, sign};
use crate::case::{AccountAction as AccountActionKind, Actor, Notice as NoticeKind, Outcome, Owed};
use crate::store::{Case, OutboxEvent, OutboxTopic, StoredReason};

#[derive(Serialize)]
struct AccountAction<'a> {
    account_id: &'a str,
    action: &'static str,
    case_id: &'a str,
    reason_codes: Vec<&'a str>,
    by: String,
    /// When a restriction ends.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

/// A `notices` record. `appeal_url`, `appeal_deadline`, `policy_url` and `automated` (whether
/// the account policy decided alone, or a person did) come with `suspended` and `restricted`
/// (which also has `until`); `policy_url`, `automated` and `next_step` (what further violations
/// bring) with `warning`; `appeal_id` with the appeal's notices; `outcome` and `explanation`
/// with `appeal_decided`; `redress` (what the holder may do beyond the appeal) with
/// `suspended`, `restricted` and `appeal_decided`.
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
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    until: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_step: Option<&'a str>,
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

impl<'a> Notice<'a> {
    /// A notice of `kind` about `case`, every optional field empty.
    fn about(case: &'a Case, kind: &'static str, at: OffsetDateTime) -> Self {
        Notice {
            account_id: case.account_id.as_str(),
            case_id: case.case_id.as_str(),
            kind,
            reasons: &case.reasons,
            automated: None,
            policy_url: None,
            appeal_url: None,
            appeal_deadline: None,
            until: None,
            next_step: None,
            appeal_id: None,
            outcome: None,
            explanation: None,
            redress: None,
            at,
        }
    }
}

/// The clause the case's evidence broke, or the policy as a whole.
fn policy_url<'a>(case: &'a Case, appeal: &'a AppealSettings) -> &'a str {
    case.policy_url.as_deref().unwrap_or(&appeal.policy_url)
}

fn json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("event records always serialize")
}

/// Unix milliseconds as a timestamp.
fn timestamp(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `account-actions`: `action` on the case's account, by `by` (sent as `automated`,
/// `automated:expiry`, `reviewer:<name>`, `admin:<name>`). A suspension of a case with an end
/// is sent as `restrict`, with `until`.
pub fn account_action(
    case: &Case,
    action: AccountActionKind,
    by: &Actor,
    at: OffsetDateTime,
) -> Vec<u8> {
    let until = match action {
        AccountActionKind::Suspend => case.ends_at.map(timestamp),
        AccountActionKind::Reinstate => None,
    };
    json(&AccountAction {
        account_id: case.account_id.as_str(),
        action: match until {
            Some(_) => "restrict",
            None => action.as_str(),
        },
        case_id: case.case_id.as_str(),
        reason_codes: case.reasons.iter().map(|r| r.code.as_str()).collect(),
        by: by.to_string(),
        until,
        at,
    })
}

/// `notices`, kind `warning`: why, that it was automated, the policy, and what further
/// violations bring. Nothing is taken away, so there is nothing to appeal.
pub fn warning_notice(case: &Case, appeal: &AppealSettings, at: OffsetDateTime) -> Vec<u8> {
    json(&Notice {
        automated: Some(true),
        policy_url: Some(policy_url(case, appeal)),
        next_step: Some(&appeal.warning_next_step),
        ..Notice::about(case, "warning", at)
    })
}

/// `notices`, kind `restriction_ended`: the account sends again.
pub fn restriction_ended_notice(case: &Case, at: OffsetDateTime) -> Vec<u8> {
    json(&Notice {
        automated: Some(true),
        ..Notice::about(case, "restriction_ended", at)
    })
}

/// `notices`, kind `suspended` (or `restricted`, with `until`, for a case with an end): why (the facts in plain words, the policy's URL), whether it was
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
        automated: Some(*by == Actor::Automated),
        policy_url: Some(policy_url(case, appeal)),
        appeal_url: Some(format!("{}?token={token}", appeal.base_url)),
        appeal_deadline: Some(deadline),
        until: case.ends_at.map(timestamp),
        redress: Some(&appeal.redress),
        ..Notice::about(
            case,
            match case.ends_at {
                Some(_) => "restricted",
                None => "suspended",
            },
            at,
        )
    })
}

/// `notices`, kind `appeal_received`.
pub fn appeal_received_notice(case: &Case, appeal_id: &str, at: OffsetDateTime) -> Vec<u8> {
    json(&Notice {
        appeal_id: Some(appeal_id),
        ..Notice::about(case, "appeal_received", at)
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
        automated: Some(false),
        appeal_id: Some(appeal_id),
        outcome: Some(outcome),
        explanation: Some(explanation),
        redress: Some(redress),
        ..Notice::about(case, "appeal_decided", at)
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
                    account_action(case, *action, actor, at),
                ),
                Owed::Notice(NoticeKind::Warning) => {
                    (OutboxTopic::Notices, warning_notice(case, appeal, at))
                }
                Owed::Notice(NoticeKind::RestrictionEnded) => {
                    (OutboxTopic::Notices, restriction_ended_notice(case, at))
                }
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
