//! Admins: suspend and reinstate by hand, legal holds, erasure of an account's evidence, the
//! export of what is kept about an account, audit search, and a validated reload of rules and
//! policy (the old set stays live when the new one is refused).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use time::OffsetDateTime;

use super::auth::{Admin, Reviewer};
use super::error::{ApiError, Body, Path, Query};
use super::input;
use super::{AppState, Loaded, RulesSet, evidence_json, now_ms, rfc3339};
use crate::case::{self, Actor, CaseId};
use crate::enforce::events;
use crate::message::AccountId;
use crate::message::Scores;
use crate::metrics::METRICS;
use crate::rules::RulesDiff;
use crate::store::{
    AuditEntry, BreakerEvent, CaseStatus, Erasure, NewCase, Opening, RulesLoad, Store, StoreError,
    StoredReason,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    reason: String,
}

/// Longest reason an admin gives, in characters.
const MAX_REASON_CHARS: usize = 1_000;

fn audit_json(entries: &[AuditEntry]) -> Vec<serde_json::Value> {
    entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "at": rfc3339(e.at),
                "actor": e.actor.to_string(),
                "action": e.action,
                "case_id": e.case_id,
                "account_id": e.account_id,
                "detail": e.detail,
            })
        })
        .collect()
}

/// `POST /v1/admin/accounts/{account_id}/suspend` `{reason}`: the holder is notified with an
/// appeal URL, as for an automated suspension.
pub async fn suspend(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(account_id): Path<String>,
    Body(request): Body<Reason>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let account_id = input::account_id(account_id)?;
    let case_id = suspend_account(&state, &admin, &account_id, &request.reason).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"case_id": case_id, "status": "suspended"})),
    ))
}

/// Suspends an account by hand, with the events it owes: the one path of the API and the
/// console.
pub(crate) async fn suspend_account(
    state: &AppState,
    admin: &Reviewer,
    account_id: &AccountId,
    reason: &str,
) -> Result<CaseId, ApiError> {
    let reason = input::text("reason", reason, MAX_REASON_CHARS)?;
    let at = now_ms();
    let actor = admin.actor();
    let case = NewCase {
        account_id: account_id.clone(),
        trigger_message_id: format!("manual:{actor}:{at}"),
        status: CaseStatus::Suspended,
        reasons: vec![StoredReason {
            code: "manual".into(),
            description: reason.to_owned(),
        }],
        scores: Scores::default(),
        model_version: None,
        rules_version: "manual".into(),
        evidence: Vec::new(),
        actor: actor.clone(),
        at,
        // A person's decision: no strikes, no end.
        strikes: 0,
        ends_at: None,
        policy_url: None,
    };
    let owed = events::owed(
        &case::opening_owes(case.status),
        &case.as_case(),
        &actor,
        &state.appeal,
        None,
        OffsetDateTime::now_utc(),
    );
    match state.store.open_case(&case, &owed).await? {
        Opening::Opened { case_id } => {
            state.outbox.notify_one();
            Ok(case_id)
        }
        Opening::AlreadyActive { case_id } => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_active",
            format!("the account already has an active case: {case_id}"),
        )),
    }
}

/// `POST /v1/admin/accounts/{account_id}/reinstate` `{reason}`: closes the active case.
pub async fn reinstate(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(account_id): Path<String>,
    Body(request): Body<Reason>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let account_id = input::account_id(account_id)?;
    let case_id = reinstate_account(&state, &admin, &account_id, &request.reason).await?;
    Ok(Json(
        serde_json::json!({"case_id": case_id, "status": "overturned"}),
    ))
}

/// Closes the account's active case by hand, with the events it owes: the one path of the API
/// and the console.
pub(crate) async fn reinstate_account(
    state: &AppState,
    admin: &Reviewer,
    account_id: &AccountId,
    reason: &str,
) -> Result<CaseId, ApiError> {
    let reason = input::text("reason", reason, MAX_REASON_CHARS)?;
    let actor = admin.actor();
    let now = OffsetDateTime::now_utc();
    let closed = state
        .store
        .manual_reinstate(account_id, &actor, reason, now_ms(), |case| {
            let owes = case::reinstating_owes(case.status);
            events::owed(&owes, case, &actor, &state.appeal, None, now)
        })
        .await?;
    let case = closed.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "no_active_case",
            "the account has no active case",
        )
    })?;
    state.outbox.notify_one();
    if case.status == CaseStatus::Suspended {
        METRICS.reinstatements.with_label_values(&["admin"]).inc();
    }
    Ok(case.case_id)
}

/// `PUT /v1/admin/accounts/{account_id}/legal-hold` `{reason}`.
pub async fn set_hold(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(account_id): Path<String>,
    Body(request): Body<Reason>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let account_id = input::account_id(account_id)?;
    let reason = input::text("reason", &request.reason, MAX_REASON_CHARS)?;
    state
        .store
        .set_legal_hold(&account_id, &admin.actor(), reason, now_ms())
        .await?;
    Ok(Json(
        serde_json::json!({"account_id": account_id, "legal_hold": reason}),
    ))
}

/// `DELETE /v1/admin/accounts/{account_id}/legal-hold`.
pub async fn lift_hold(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(account_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let account_id = input::account_id(account_id)?;
    if !state
        .store
        .lift_legal_hold(&account_id, &admin.actor(), now_ms())
        .await?
    {
        return Err(ApiError::not_found("legal hold"));
    }
    Ok(Json(
        serde_json::json!({"account_id": account_id, "legal_hold": null}),
    ))
}

/// `DELETE /v1/admin/accounts/{account_id}/evidence`: refused while a legal hold is set.
pub async fn erase(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(account_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let account_id = input::account_id(account_id)?;
    let (evidence, labels, opt_outs) = erase_account(&state, &admin, &account_id).await?;
    Ok(Json(serde_json::json!({
        "account_id": account_id,
        "erased": {"evidence": evidence, "labels": labels, "opt_outs": opt_outs},
    })))
}

/// Erases the account's evidence, labels and opt-outs (how many of each), unless a legal hold
/// forbids it: the one path of the API and the console.
pub(crate) async fn erase_account(
    state: &AppState,
    admin: &Reviewer,
    account_id: &AccountId,
) -> Result<(u64, u64, u64), ApiError> {
    match state
        .store
        .erase_evidence(account_id, &admin.actor(), now_ms())
        .await?
    {
        Erasure::Erased {
            evidence,
            labels,
            opt_outs,
        } => Ok((evidence, labels, opt_outs)),
        Erasure::OnLegalHold { reason } => Err(ApiError::new(
            StatusCode::CONFLICT,
            "legal_hold",
            format!("the account is under a legal hold: {reason}"),
        )),
    }
}

/// `GET /v1/admin/accounts/{account_id}/export`: everything kept about the account.
pub async fn export(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Path(account_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let account_id = input::account_id(account_id)?;
    Ok(Json(export_json(&state, &account_id).await?))
}

/// Everything kept about an account, as the export hands it out (API and console).
pub(crate) async fn export_json(
    state: &AppState,
    account_id: &AccountId,
) -> Result<serde_json::Value, ApiError> {
    let export = state.store.export_account(account_id).await?;
    Ok(serde_json::json!({
        "account_id": account_id,
        "legal_hold": export.legal_hold,
        "cases": export.cases.iter().map(|c| serde_json::json!({
            "case_id": c.case_id,
            "status": c.status.as_str(),
            "reasons": c.reasons,
            "opened_at": rfc3339(c.opened_at),
        })).collect::<Vec<_>>(),
        "evidence": export.evidence.iter().map(|(case_id, e)| {
            let mut evidence = evidence_json(e);
            evidence["case_id"] = serde_json::json!(case_id);
            evidence
        }).collect::<Vec<_>>(),
        "appeals": export.appeals.iter().map(|a| serde_json::json!({
            "appeal_id": a.appeal_id,
            "case_id": a.case_id,
            "statement": a.statement,
            "status": a.status.as_str(),
            "outcome": a.outcome.map(|o| o.as_str()),
            "explanation": a.explanation,
            "opened_at": rfc3339(a.opened_at),
        })).collect::<Vec<_>>(),
        "audit": audit_json(&export.audit),
    }))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    account_id: Option<String>,
}

/// `GET /v1/admin/audit?account_id=…`: the account's audit log, oldest first.
pub async fn audit(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Query(query): Query<AuditQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let account_id = query
        .account_id
        .ok_or_else(|| ApiError::invalid("`account_id` is required"))?;
    let account_id = input::account_id(account_id)?;
    let entries = state.store.audit_log(&account_id).await?;
    Ok(Json(serde_json::json!({"entries": audit_json(&entries)})))
}

/// Records a set the stream processor took in the version history, with what changed from the
/// set recorded before it.
pub async fn record_rules_load(
    store: &Store,
    loaded: &Loaded,
    by: Actor,
    action: &str,
) -> Result<RulesLoad, StoreError> {
    let previous = store.rules_loads(1).await?.into_iter().next();
    let summary = match previous {
        None => "the first set recorded".to_owned(),
        Some(previous) => match RulesDiff::between(&previous.rules, &loaded.set.rules) {
            Ok(diff) => diff.to_string().trim_end().replace('\n', "; "),
            Err(reason) => format!("not compared: {reason}"),
        },
    };
    let load = RulesLoad {
        loaded_at: now_ms(),
        version: loaded.rules_version.clone(),
        loaded_by: by,
        action: action.to_owned(),
        summary,
        rules: loaded.set.rules.clone(),
        policy: loaded.set.policy.clone(),
    };
    store.record_rules_load(&load).await?;
    Ok(load)
}

fn load_json(load: &RulesLoad) -> serde_json::Value {
    serde_json::json!({
        "version": load.version,
        "loaded_at": rfc3339(load.loaded_at),
        "loaded_by": load.loaded_by.to_string(),
        "action": load.action,
        "summary": load.summary,
    })
}

/// Takes a set through the stream processor's reload (`set`: an earlier one to put back),
/// and records it. The work runs as its own task: a client that gives up or a request that
/// reaches its timeout must not leave a set taken but missing from the history.
pub(crate) async fn take(
    state: &AppState,
    admin: Actor,
    set: Option<RulesSet>,
    action: &'static str,
) -> Result<RulesLoad, ApiError> {
    let Some(reload) = state.reload.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_stream_processor",
            "this instance scores nothing (warden serve): reload the instances running warden run",
        ));
    };
    let store = state.store.clone();
    tokio::spawn(async move {
        let result = tokio::task::spawn_blocking(move || reload(set.as_ref()))
            .await
            .map_err(|_| ApiError::invalid("the reload stopped unexpectedly"))?;
        let loaded = result.map_err(|problem| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_rules",
                format!("refused; the running rules stay: {problem}"),
            )
        })?;
        let load = record_rules_load(&store, &loaded, admin, action).await?;
        tracing::info!(
            by = %load.loaded_by,
            rules_version = load.version,
            action,
            "rules and policy taken"
        );
        Ok(load)
    })
    .await
    .map_err(|_| ApiError::invalid("the reload stopped unexpectedly"))?
}

fn taken_json(load: RulesLoad) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "rules_version": load.version,
        "summary": load.summary,
    }))
}

/// `POST /v1/admin/rules/reload`: reads and validates the rules, policy and model files; the
/// stream processor takes the new set at its next batch, or keeps the old one on error. The
/// set is recorded in the version history.
pub async fn reload(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    take(&state, admin.actor(), None, "reload")
        .await
        .map(taken_json)
}

/// `GET /v1/admin/rules/versions`: the sets taken, newest first, with who, when and what
/// changed.
pub async fn versions(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    let loads = state.store.rules_loads(100).await?;
    Ok(Json(serde_json::json!({
        "versions": loads.iter().map(load_json).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    version: String,
}

/// `POST /v1/admin/rules/rollback {version}`: puts an earlier set back, validated like a
/// reload (the files are rewritten only once it is valid), and records it.
pub async fn rollback(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Body(request): Body<Rollback>,
) -> Result<Json<serde_json::Value>, ApiError> {
    roll_back_to(&state, &admin, &request.version)
        .await
        .map(taken_json)
}

/// Puts back the earlier set `version` (see [`rollback`]): the one path of the API and the
/// console.
pub(crate) async fn roll_back_to(
    state: &AppState,
    admin: &Reviewer,
    version: &str,
) -> Result<RulesLoad, ApiError> {
    let version = input::text("version", version, 64)?;
    let earlier = state
        .store
        .rules_load(version)
        .await?
        .ok_or_else(|| ApiError::not_found("rules version"))?;
    let set = RulesSet {
        rules: earlier.rules,
        policy: earlier.policy,
    };
    take(state, admin.actor(), Some(set), "rollback").await
}

/// `GET /v1/admin/breaker`: whether the circuit breaker is tripped, since when, by whom.
pub async fn breaker(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    let latest = state.store.breaker_state().await?;
    Ok(Json(match latest {
        Some(event) => serde_json::json!({
            "tripped": event.tripped,
            "at": rfc3339(event.at),
            "by": event.actor.to_string(),
            "detail": event.detail,
        }),
        None => serde_json::json!({"tripped": false, "at": null, "by": null, "detail": null}),
    }))
}

/// `POST /v1/admin/breaker/reset` `{reason}`: automated suspensions resume on every instance
/// at its next checkpoint.
pub async fn reset_breaker(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Body(request): Body<Reason>,
) -> Result<Json<serde_json::Value>, ApiError> {
    reset_breaker_by(&state, &admin, &request.reason).await?;
    Ok(Json(serde_json::json!({"tripped": false})))
}

/// Resets a tripped breaker, recorded with who and why: the one path of the API and the
/// console (`warden breaker reset` writes the same event).
pub(crate) async fn reset_breaker_by(
    state: &AppState,
    admin: &Reviewer,
    reason: &str,
) -> Result<(), ApiError> {
    let reason = input::text("reason", reason, MAX_REASON_CHARS)?;
    let store = &state.store;
    if !store
        .breaker_state()
        .await?
        .is_some_and(|event| event.tripped)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_tripped",
            "the circuit breaker is not tripped; nothing to reset",
        ));
    }
    store
        .record_breaker(&BreakerEvent {
            at: now_ms(),
            tripped: false,
            actor: admin.actor(),
            detail: reason.to_owned(),
        })
        .await?;
    tracing::info!(by = %admin.name, "circuit breaker reset");
    Ok(())
}
