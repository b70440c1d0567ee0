//! The reviewers' side: the queue of cases waiting for a human, a case in full, claims, and
//! decisions. Overturning a suspension reinstates the account.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::auth::Reviewer;
use super::error::{ApiError, Body, Path, Query};
use super::input;
use super::{AppState, evidence_json, now_ms, rfc3339};
use crate::case::{CaseId, Refusal, Step};
use crate::clock;
use crate::enforce::events;
use crate::message::AccountId;
use crate::metrics::METRICS;
use crate::signals::{AccountState, Signals, Snapshot};
use crate::store::{Claim, Claiming, Deciding, NewDecision, Outcome, Releasing};

/// Longest decision note, in characters.
const MAX_NOTE_CHARS: usize = 2_000;

#[derive(Deserialize)]
pub struct QueueQuery {
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct QueueEntry {
    case_id: CaseId,
    account_id: AccountId,
    /// `appeal` (a holder asked for review) or `review` (opened for a human: allowlisted
    /// account, or the circuit breaker was open).
    kind: &'static str,
    appeal_id: Option<String>,
    waiting_since: String,
    age_seconds: i64,
    due_at: String,
    overdue: bool,
    claim: Option<ClaimView>,
}

#[derive(Serialize)]
pub struct ClaimView {
    reviewer: String,
    expires_at: String,
}

impl From<Claim> for ClaimView {
    fn from(claim: Claim) -> Self {
        Self {
            reviewer: claim.reviewer.to_string(),
            expires_at: rfc3339(claim.expires_at),
        }
    }
}

/// `GET /v1/review/queue?limit=N`: oldest first, with age and due time.
pub async fn queue(
    State(state): State<AppState>,
    _reviewer: Reviewer,
    Query(query): Query<QueueQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1_000).contains(&limit) {
        return Err(ApiError::invalid("`limit` must be 1 to 1000"));
    }
    let now = now_ms();
    let sla_ms = state.settings.appeal_sla_hours * 3_600_000;
    let items = state.store.review_queue(now, limit).await?;
    let entries: Vec<QueueEntry> = items
        .into_iter()
        .map(|item| QueueEntry {
            kind: if item.appeal_id.is_some() {
                "appeal"
            } else {
                "review"
            },
            age_seconds: clock::seconds_from_ms((now - item.waiting_since).max(0)),
            due_at: rfc3339(item.waiting_since + sla_ms),
            overdue: now > item.waiting_since + sla_ms,
            waiting_since: rfc3339(item.waiting_since),
            case_id: item.case_id,
            account_id: item.account_id,
            appeal_id: item.appeal_id,
            claim: item.claim.map(ClaimView::from),
        })
        .collect();
    Ok(Json(
        serde_json::json!({"count": entries.len(), "items": entries}),
    ))
}

/// `GET /v1/review/cases/{case_id}`: reasons, scores, rule hits, redacted evidence, the
/// account's signals (as of their last checkpoint), the appeal, decisions and history.
pub async fn case(
    State(state): State<AppState>,
    _reviewer: Reviewer,
    Path(case_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let case_id = input::case_id(case_id)?;
    let store = &state.store;
    let detail = store
        .case_detail(&case_id, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("case"))?;
    let evidence = store.evidence(&case_id).await?;
    let appeal = store.appeal_of_case(&case_id).await?;
    let decisions = store.decisions(&case_id).await?;
    let history = store.audit_log(&detail.case.account_id).await?;
    let signals = store
        .signal_state(Signals::account_key(&detail.case.account_id))
        .await?
        .and_then(|(bytes, at)| AccountState::decode(&bytes).map(|s| (s.snapshot(), at)));
    let signals = signals.map(|(snapshot, at): (Snapshot, i64)| {
        serde_json::json!({"as_of": rfc3339(at), "snapshot": snapshot})
    });
    Ok(Json(serde_json::json!({
        "case_id": detail.case.case_id,
        "account_id": detail.case.account_id,
        "status": detail.case.status.as_str(),
        "reasons": detail.case.reasons,
        "scores": detail.scores,
        "model_version": detail.model_version,
        "rules_version": detail.rules_version,
        "opened_at": rfc3339(detail.case.opened_at),
        "updated_at": rfc3339(detail.updated_at),
        "claim": detail.claim.map(ClaimView::from),
        "evidence": evidence.iter().map(evidence_json).collect::<Vec<_>>(),
        "signals": signals,
        "appeal": appeal.map(|a| serde_json::json!({
            "appeal_id": a.appeal_id,
            "statement": a.statement,
            "status": a.status.as_str(),
            "opened_at": rfc3339(a.opened_at),
            "outcome": a.outcome.map(|o| o.as_str()),
        })),
        "decisions": decisions.iter().map(|d| serde_json::json!({
            "outcome": d.outcome.as_str(),
            "reviewer": d.reviewer.to_string(),
            "note": d.note,
            "decided_at": rfc3339(d.decided_at),
        })).collect::<Vec<_>>(),
        "history": history.iter().map(|h| serde_json::json!({
            "at": rfc3339(h.at),
            "actor": h.actor.to_string(),
            "action": h.action,
            "case_id": h.case_id,
            "detail": h.detail,
        })).collect::<Vec<_>>(),
    })))
}

/// 409 for a reviewer who took the decision under appeal.
fn recused() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "recused",
        "you took the decision under appeal: another reviewer must decide the appeal",
    )
}

fn claimed_by_another(claim: Claim) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "claimed_by_another",
        format!(
            "{} holds this case until {}",
            claim.reviewer,
            rfc3339(claim.expires_at)
        ),
    )
}

/// `POST /v1/review/cases/{case_id}/claim`: one reviewer at a time; the claim lapses.
pub async fn claim(
    State(state): State<AppState>,
    reviewer: Reviewer,
    Path(case_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let case_id = input::case_id(case_id)?;
    let claim = claim_case(&state, &reviewer, &case_id).await?;
    Ok(Json(serde_json::json!({
        "case_id": case_id,
        "claim": ClaimView::from(claim),
    })))
}

/// Claims a case for `reviewer`: the one path of the API and the console.
pub(crate) async fn claim_case(
    state: &AppState,
    reviewer: &Reviewer,
    case_id: &CaseId,
) -> Result<Claim, ApiError> {
    let now = now_ms();
    let expires_at = now + state.settings.claim_minutes * 60_000;
    match state
        .store
        .claim(case_id, &reviewer.actor(), now, expires_at)
        .await?
    {
        Claiming::Claimed(claim) => Ok(claim),
        Claiming::HeldByOther(claim) => Err(claimed_by_another(claim)),
        Claiming::Recused => Err(recused()),
        Claiming::NoSuchCase => Err(ApiError::not_found("case")),
    }
}

/// `POST /v1/review/cases/{case_id}/release`: gives up one's own claim, so that another
/// reviewer may take the case at once.
pub async fn release(
    State(state): State<AppState>,
    reviewer: Reviewer,
    Path(case_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let case_id = input::case_id(case_id)?;
    release_case(&state, &reviewer, &case_id).await?;
    Ok(Json(serde_json::json!({"case_id": case_id, "claim": null})))
}

/// Releases `reviewer`'s claim on a case: the one path of the API and the console. Releasing
/// a case one does not hold changes nothing; another reviewer's claim is a conflict.
pub(crate) async fn release_case(
    state: &AppState,
    reviewer: &Reviewer,
    case_id: &CaseId,
) -> Result<(), ApiError> {
    match state
        .store
        .release_claim(case_id, &reviewer.actor(), now_ms())
        .await?
    {
        Releasing::Released | Releasing::NotHeld => Ok(()),
        Releasing::HeldByOther(claim) => Err(claimed_by_another(claim)),
        Releasing::NoSuchCase => Err(ApiError::not_found("case")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    outcome: String,
    note: String,
}

/// `POST /v1/review/cases/{case_id}/decision` `{outcome: uphold|overturn, note}`. Repeating a
/// decision answers as the first time; deciding otherwise afterwards is a conflict.
pub async fn decide_case(
    State(state): State<AppState>,
    reviewer: Reviewer,
    Path(case_id): Path<String>,
    Body(request): Body<DecisionRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let outcome = outcome_of(&request.outcome)?;
    let case_id = input::case_id(case_id)?;
    let status = decide(&state, &reviewer, &case_id, outcome, &request.note).await?;
    Ok(Json(serde_json::json!({
        "case_id": case_id,
        "outcome": outcome.as_str(),
        "status": status,
    })))
}

/// `uphold` or `overturn`, as a form or a body names it.
pub(crate) fn outcome_of(outcome: &str) -> Result<Outcome, ApiError> {
    match outcome {
        "uphold" => Ok(Outcome::Uphold),
        "overturn" => Ok(Outcome::Overturn),
        _ => Err(ApiError::invalid(
            "`outcome` must be \"uphold\" or \"overturn\"",
        )),
    }
}

/// Records a reviewer's decision with the events it owes: the one path of the API and the
/// console, so that a decision made in either is the same in the store, the audit log and the
/// events. Answers the case's status afterwards.
pub(crate) async fn decide(
    state: &AppState,
    reviewer: &Reviewer,
    case_id: &CaseId,
    outcome: Outcome,
    note: &str,
) -> Result<&'static str, ApiError> {
    let note = input::text("note", note, MAX_NOTE_CHARS)?;
    let store = &state.store;
    let case = store
        .case(case_id)
        .await?
        .ok_or_else(|| ApiError::not_found("case"))?;
    let appeal = store.appeal_of_case(case_id).await?;
    let actor = reviewer.actor();
    let at = OffsetDateTime::now_utc();
    let decision = NewDecision {
        case_id: case_id.clone(),
        actor: actor.clone(),
        outcome,
        note: note.to_owned(),
        at: now_ms(),
    };
    // The lifecycle says which events the step owes (`case::decision_step`); they are rendered here
    // and written by the store in the decision's transaction.
    let events_for = |step: &Step| {
        let decision = appeal.as_ref().map(|appeal| events::AppealDecision {
            appeal_id: &appeal.appeal_id,
            outcome,
            explanation: note,
        });
        events::owed(&step.owes, &case, &actor, &state.appeal, decision, at)
    };
    match store.record_decision(&decision, events_for).await? {
        Deciding::Decided(step) => {
            tracing::info!(%case_id, outcome = outcome.as_str(), "case decided");
            METRICS
                .appeal_decisions
                .with_label_values(&[outcome.as_str()])
                .inc();
            if step.reinstates {
                METRICS
                    .reinstatements
                    .with_label_values(&["reviewer"])
                    .inc();
            }
            state.outbox.notify_one();
        }
        Deciding::Refused(Refusal::AlreadyDecided) => {}
        Deciding::Refused(Refusal::DecidedOtherwise(earlier)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_decided",
                format!("the case was already decided: {}", earlier.as_str()),
            ));
        }
        Deciding::Refused(Refusal::HeldByOther(claim)) => return Err(claimed_by_another(claim)),
        Deciding::Refused(Refusal::Recused) => return Err(recused()),
        Deciding::Refused(Refusal::NothingToDecide) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "nothing_to_decide",
                "the case has no open appeal and is not in review",
            ));
        }
        Deciding::NoSuchCase => return Err(ApiError::not_found("case")),
    }
    Ok(store
        .case(case_id)
        .await?
        .map(|c| c.status.as_str())
        .unwrap_or("unknown"))
}
