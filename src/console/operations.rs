//! Admins' operations page: the circuit breaker's state and its reset; the rules and policy
//! reload (a refused set shows its line and reason, and the running set stays) and the version
//! history with rollback. Every form goes through the API's own paths (`api::admin`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::session::{Posted, SignedIn};
use super::{Section, alert, error_page, layout, see_other, when};
use crate::api::AppState;
use crate::api::admin::{reset_breaker_by, roll_back_to, take};
use crate::api::error::ApiError;

/// Versions listed, newest first.
const VERSIONS_SHOWN: i64 = 20;

/// `GET /console/operations`.
pub async fn page(State(state): State<AppState>, who: SignedIn) -> Response {
    render(&state, &who, None, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    who: &SignedIn,
    message: Option<&str>,
    status: StatusCode,
) -> Response {
    let page = async {
        who.admin_only()?;
        body(state, who, message).await
    };
    match page.await {
        Ok(body) => (
            status,
            layout(Some(who), Section::Operations, "Operations", body),
        )
            .into_response(),
        Err(error) => error_page(Some(who), &error),
    }
}

/// `POST /console/operations/{action}`: `breaker-reset` (with `reason`), `reload`, `rollback`
/// (with `version`).
pub async fn act(
    State(state): State<AppState>,
    Path(action): Path<String>,
    posted: Posted,
) -> Response {
    let who = &posted.who;
    let done = async {
        who.admin_only()?;
        let admin = &who.reviewer;
        match action.as_str() {
            "breaker-reset" => reset_breaker_by(&state, admin, posted.field("reason")).await,
            "reload" => take(&state, admin.actor(), None, "reload").await.map(drop),
            "rollback" => roll_back_to(&state, admin, posted.field("version"))
                .await
                .map(drop),
            _ => Err(ApiError::not_found("action")),
        }
    };
    match done.await {
        Ok(()) => see_other("/console/operations"),
        Err(error) if error.status == StatusCode::FORBIDDEN => error_page(Some(who), &error),
        Err(error) => render(&state, who, Some(&error.message), error.status).await,
    }
}

async fn body(state: &AppState, who: &SignedIn, message: Option<&str>) -> Result<Markup, ApiError> {
    let store = &state.store;
    let breaker = store.breaker_state().await?;
    let versions = store.rules_loads(VERSIONS_SHOWN).await?;
    let tripped = breaker.as_ref().is_some_and(|event| event.tripped);
    Ok(html! {
        (alert(message))
        section aria-labelledby="breaker" {
            h2 #breaker { "Circuit breaker" }
            p #breaker-state {
                @match &breaker {
                    Some(event) if event.tripped => {
                        strong.badge { "Tripped" } " since " (when(event.at)) ": " span dir="auto" { (event.detail) }
                        ". New cases go to human review instead of suspending."
                    },
                    Some(event) => {
                        "Closed: reset " (when(event.at)) " by " (event.actor.to_string()) " (" span dir="auto" { (event.detail) } ")."
                    },
                    None => "Closed: never tripped.",
                }
            }
            @if tripped {
                form method="post" action="/console/operations/breaker-reset" {
                    (who.csrf_field())
                    label for="reset-reason" { "Why it is safe to resume automated suspensions (required)" }
                    input #reset-reason name="reason" required maxlength="1000";
                    button type="submit" { "Reset the breaker" }
                }
            }
        }
        section aria-labelledby="rules" {
            h2 #rules { "Rules and policy" }
            @if state.reload.is_none() {
                p.muted { "This instance scores nothing (warden serve): reload the instances running warden run." }
            } @else {
                form method="post" action="/console/operations/reload" {
                    (who.csrf_field())
                    p.hint { "Reads and checks the rules, policy and model files; a refused set leaves the running one in place." }
                    button #reload type="submit" { "Reload rules and policy" }
                }
            }
            table.versions {
                caption { "Sets taken, newest first" }
                thead { tr {
                    th scope="col" { "When" } th scope="col" { "Version" } th scope="col" { "Who" }
                    th scope="col" { "How" } th scope="col" { "What changed" } th scope="col" { "" }
                } }
                tbody { @for (i, load) in versions.iter().enumerate() {
                    tr {
                        td { (when(load.loaded_at)) }
                        td { code { (load.version) } }
                        td { (load.loaded_by.to_string()) }
                        td { (load.action) }
                        td dir="auto" { (load.summary) }
                        td { @if i > 0 && state.reload.is_some() {
                            form method="post" action="/console/operations/rollback" {
                                (who.csrf_field())
                                input type="hidden" name="version" value=(load.version);
                                button type="submit" { "Roll back to this" }
                            }
                        } }
                    }
                } }
            }
        }
    })
}
