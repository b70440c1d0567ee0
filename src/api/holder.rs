//! The account holder's side: appeal a suspension with the token from the notice, and follow
//! the appeal. A token grants one case of one account, and nothing else.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::error::{ApiError, Body, Path, Query};
use super::input;
use super::{AppState, now_ms, rfc3339};
use crate::enforce::events;
use crate::enforce::token::{AppealGrant, TokenError, verify};
use crate::store::{Appeal, CaseId, CaseStatus, OutboxEvent, OutboxTopic, appeal_id};

/// Longest appeal statement, in characters.
const MAX_STATEMENT_CHARS: usize = 4_000;

#[derive(Deserialize)]
pub struct AppealRequest {
    token: String,
    statement: String,
}

#[derive(Serialize)]
pub struct AppealView {
    appeal_id: String,
    case_id: CaseId,
    status: &'static str,
    opened_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decided_at: Option<String>,
}

impl From<Appeal> for AppealView {
    fn from(appeal: Appeal) -> Self {
        Self {
            appeal_id: appeal.appeal_id,
            case_id: appeal.case_id,
            status: appeal.status.as_str(),
            opened_at: rfc3339(appeal.opened_at),
            outcome: appeal.outcome.map(|o| o.as_str()),
            explanation: appeal.explanation,
            decided_at: appeal.decided_at.map(rfc3339),
        }
    }
}

fn granted(state: &AppState, token: &str) -> Result<AppealGrant, ApiError> {
    verify(&state.appeal.secret, token, OffsetDateTime::now_utc()).map_err(|error| {
        let code = match error {
            TokenError::Expired(_) => "token_expired",
            TokenError::Malformed | TokenError::BadSignature => "invalid_token",
        };
        ApiError::new(StatusCode::UNAUTHORIZED, code, error.to_string())
    })
}

/// `POST /v1/appeals`: opens the appeal (201), or returns the one the case has (200).
pub async fn open(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Body(request): Body<AppealRequest>,
) -> Result<(StatusCode, Json<AppealView>), ApiError> {
    if state.appeal_limiter.check_key(&client.ip()).is_err() {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many appeal requests from this address; try again in a minute",
        ));
    }
    let grant = granted(&state, &request.token)?;
    let statement = input::text("statement", &request.statement, MAX_STATEMENT_CHARS)?;
    let case = state
        .store
        .case(&grant.case_id)
        .await?
        .ok_or_else(|| ApiError::not_found("case"))?;
    if case.account_id != grant.account_id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the token does not grant this case",
        ));
    }
    if let Some(existing) = state.store.appeal_of_case(&case.case_id).await? {
        return Ok((StatusCode::OK, Json(existing.into())));
    }
    if case.status != CaseStatus::Suspended {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_appealable",
            "the case is no longer a suspension",
        ));
    }
    let now = now_ms();
    let notice =
        events::appeal_received_notice(&case, &appeal_id(&case.case_id), OffsetDateTime::now_utc());
    let event = OutboxEvent::new(
        OutboxTopic::Notices,
        &case.account_id,
        String::from_utf8(notice).expect("JSON is UTF-8"),
    );
    let (appeal, opened) = state
        .store
        .open_appeal(&case, statement, now, &[event])
        .await?;
    if opened {
        tracing::info!(
            case_id = %case.case_id,
            appeal_id = appeal.appeal_id,
            "appeal opened"
        );
        state.outbox.notify_one();
    }
    let status = if opened {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(appeal.into())))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /v1/appeals/{id}?token=…`: the appeal's status, and once decided its outcome.
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
) -> Result<Json<AppealView>, ApiError> {
    let token = query.token.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the `token` query parameter is required",
        )
    })?;
    let grant = granted(&state, &token)?;
    let id = input::record_id(id, "appeal")?;
    let appeal = state
        .store
        .appeal(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("appeal"))?;
    if appeal.case_id != grant.case_id || appeal.account_id != grant.account_id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the token does not grant this appeal",
        ));
    }
    Ok(Json(appeal.into()))
}
