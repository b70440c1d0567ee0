//! Admins' pages: find an account; its page with its cases, legal hold and history; suspend
//! and reinstate by hand (reason required), set and lift a legal hold, erase its evidence
//! (refused under a hold, with the reason shown), download its export. Every form goes through
//! the API's own paths (`api::admin`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::session::{Posted, SignedIn};
use super::{Section, alert, error_page, layout, see_other, when};
use crate::api::AppState;
use crate::api::admin::{erase_account, export_json, reinstate_account, suspend_account};
use crate::api::error::ApiError;
use crate::api::now_ms;
use crate::message::AccountId;

fn account_id(raw: String) -> Result<AccountId, ApiError> {
    AccountId::parse("account_id", raw).map_err(|error| ApiError::invalid(error.to_string()))
}

#[derive(Deserialize)]
pub struct FindQuery {
    account_id: Option<String>,
}

/// `GET /console/accounts?account_id=`: the search form, or straight to the account.
pub async fn find_account(
    who: SignedIn,
    query: Result<Query<FindQuery>, QueryRejection>,
) -> Response {
    if let Err(error) = who.admin_only() {
        return error_page(Some(&who), &error);
    }
    let wanted = query
        .ok()
        .and_then(|Query(q)| q.account_id)
        .unwrap_or_default();
    let message = if wanted.trim().is_empty() {
        None
    } else {
        match account_id(wanted.trim().to_owned()) {
            Ok(id) => return see_other(&format!("/console/accounts/{id}")),
            Err(error) => Some(error.message),
        }
    };
    let body = html! {
        (alert(message.as_deref()))
        form.find method="get" action="/console/accounts" {
            label for="account_id" { "Account id" }
            input #account_id name="account_id" required;
            button type="submit" { "Open" }
        }
    };
    layout(Some(&who), Section::Accounts, "Accounts", body).into_response()
}

/// `GET /console/accounts/{account_id}`.
pub async fn account_page(
    State(state): State<AppState>,
    who: SignedIn,
    Path(raw): Path<String>,
) -> Response {
    render(&state, &who, raw, None, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    who: &SignedIn,
    raw: String,
    message: Option<&str>,
    status: StatusCode,
) -> Response {
    let page = async {
        who.admin_only()?;
        let id = account_id(raw)?;
        let body = body(state, who, &id, message).await?;
        Ok::<_, ApiError>((id, body))
    };
    match page.await {
        Ok((id, body)) => {
            let title = format!("Account {id}");
            (status, layout(Some(who), Section::Accounts, &title, body)).into_response()
        }
        Err(error) => error_page(Some(who), &error),
    }
}

/// `POST /console/accounts/{account_id}/{action}`: `suspend`, `reinstate` (with `reason`),
/// `hold` (with `reason`), `lift-hold`, `erase` (with `confirm`).
pub async fn account_action(
    State(state): State<AppState>,
    Path((raw, action)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let who = &posted.who;
    let done = async {
        who.admin_only()?;
        let id = account_id(raw.clone())?;
        let admin = &who.reviewer;
        let reason = posted.field("reason");
        match action.as_str() {
            "suspend" => suspend_account(&state, admin, &id, reason).await.map(drop),
            "reinstate" => reinstate_account(&state, admin, &id, reason)
                .await
                .map(drop),
            "hold" => {
                let reason = crate::api::input::text("reason", reason, 1_000)?;
                let store = &state.store;
                Ok(store
                    .set_legal_hold(&id, &admin.actor(), reason, now_ms())
                    .await?)
            }
            "lift-hold" => {
                let store = &state.store;
                store
                    .lift_legal_hold(&id, &admin.actor(), now_ms())
                    .await?
                    .then_some(())
                    .ok_or_else(|| ApiError::not_found("legal hold"))
            }
            "erase" => {
                if posted.field("confirm") != "yes" {
                    return Err(ApiError::invalid(
                        "Tick the confirmation box to erase the evidence.",
                    ));
                }
                erase_account(&state, admin, &id).await.map(drop)
            }
            _ => Err(ApiError::not_found("action")),
        }
    };
    match done.await {
        Ok(()) => see_other(&format!("/console/accounts/{raw}")),
        Err(error) if error.status == StatusCode::FORBIDDEN => error_page(Some(who), &error),
        Err(error) => render(&state, who, raw, Some(&error.message), error.status).await,
    }
}

/// `GET /console/accounts/{account_id}/export`: the export, as a file to save.
pub async fn export(
    State(state): State<AppState>,
    who: SignedIn,
    Path(raw): Path<String>,
) -> Response {
    let export = async {
        who.admin_only()?;
        let id = account_id(raw)?;
        Ok::<_, ApiError>((export_json(&state, &id).await?, id))
    };
    match export.await {
        Ok((json, id)) => (
            [
                (header::CONTENT_TYPE, "application/json".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"warden-export-{id}.json\""),
                ),
            ],
            json.to_string(),
        )
            .into_response(),
        Err(error) => error_page(Some(&who), &error),
    }
}

async fn body(
    state: &AppState,
    who: &SignedIn,
    id: &AccountId,
    message: Option<&str>,
) -> Result<Markup, ApiError> {
    let export = state.store.export_account(id).await?;
    let active = state.store.active_case(id).await?;
    let action = |what: &str| format!("/console/accounts/{id}/{what}");
    let reason_form = |what: &str, label: &str| {
        html! {
            form method="post" action=(action(what)) {
                (who.csrf_field())
                label for={(what) "-reason"} { (label) " — reason (required)" }
                input #{(what) "-reason"} name="reason" required maxlength="1000";
                button type="submit" { (label) }
            }
        }
    };
    Ok(html! {
        (alert(message))
        section.summary aria-label="Summary" {
            dl {
                dt { "Active case" } dd #active-case {
                    @match &active {
                        Some(case) => { a href={"/console/cases/" (case.case_id)} { (case.case_id) } " (" (case.status.as_str()) ")" },
                        None => "none",
                    }
                }
                dt { "Legal hold" } dd #legal-hold {
                    @match &export.legal_hold { Some(reason) => (reason), None => "none" }
                }
                dt { "Evidence kept" } dd #evidence-count { (export.evidence.len()) " excerpts" }
            }
        }
        section.work aria-label="Act on this account" {
            @if active.is_some() { (reason_form("reinstate", "Reinstate")) } @else { (reason_form("suspend", "Suspend")) }
            @if export.legal_hold.is_some() {
                form method="post" action=(action("lift-hold")) {
                    (who.csrf_field())
                    button #lift-hold type="submit" { "Lift the legal hold" }
                }
            } @else {
                (reason_form("hold", "Set a legal hold"))
            }
            form method="post" action=(action("erase")) {
                (who.csrf_field())
                label.confirm {
                    input type="checkbox" name="confirm" value="yes" required;
                    " Erase every evidence excerpt, label and opt-out kept for this account"
                }
                button #erase type="submit" { "Erase evidence" }
            }
            p { a #export href=(format!("/console/accounts/{id}/export")) download { "Download the export (JSON)" } }
        }
        section aria-labelledby="cases" {
            h2 #cases { "Cases" }
            ul { @for case in &export.cases {
                li { a href={"/console/cases/" (case.case_id)} { (case.case_id) } " — " (case.status.as_str()) ", " (when(case.opened_at)) }
            } }
        }
        section aria-labelledby="history" {
            h2 #history { "History" }
            table.history {
                thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "Detail" } } }
                tbody { @for entry in &export.audit {
                    tr { td { (when(entry.at)) } td { (entry.actor.to_string()) } td { (entry.action) } td dir="auto" { (entry.detail) } }
                } }
            }
        }
    })
}
