//! A case page: the reasons in plain words, scores and versions, each piece of redacted
//! evidence with its rule hits, the account's signals, the holder's appeal, the decisions and
//! the account's history; claim, release and decide. The forms go through the API's own paths
//! (`api::review`), and a refusal (another reviewer's claim, a case decided meanwhile) shows
//! the case as it now is, with the reason, instead of overwriting anything.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::session::{Posted, SignedIn};
use super::{Section, alert, error_page, layout, see_other, when};
use crate::api::error::ApiError;
use crate::api::review::{claim_case, decide as decide_case, outcome_of, release_case};
use crate::api::{AppState, now_ms};
use crate::case::CaseId;
use crate::signals::{AccountState, Signals};
use crate::store::CaseStatus;

fn case_id(raw: String) -> Result<CaseId, ApiError> {
    CaseId::parse(raw).map_err(|_| ApiError::not_found("case"))
}

/// `GET /console/cases/{case_id}`.
pub async fn page(
    State(state): State<AppState>,
    who: SignedIn,
    Path(raw): Path<String>,
) -> Response {
    match case_id(raw) {
        Ok(id) => render(&state, &who, &id, None, StatusCode::OK).await,
        Err(error) => error_page(Some(&who), &error),
    }
}

/// The case as it is now, with `message` (why a form was refused) above it.
async fn render(
    state: &AppState,
    who: &SignedIn,
    case_id: &CaseId,
    message: Option<&str>,
    status: StatusCode,
) -> Response {
    match body(state, who, case_id, message).await {
        Ok(body) => {
            let title = format!("Case {case_id}");
            (status, layout(Some(who), Section::Queue, &title, body)).into_response()
        }
        Err(error) => error_page(Some(who), &error),
    }
}

/// After a form: the case page again, or the refusal on it.
async fn after(
    state: &AppState,
    who: &SignedIn,
    case_id: &CaseId,
    done: Result<(), ApiError>,
    then: &str,
) -> Response {
    match done {
        Ok(()) => see_other(then),
        Err(error) if error.status == StatusCode::NOT_FOUND => error_page(Some(who), &error),
        Err(error) => render(state, who, case_id, Some(&error.message), error.status).await,
    }
}

/// `POST /console/cases/{case_id}/{action}`: `claim`, `release`, or `decision` (with
/// `outcome`, `note` and `confirm`; decided, back to the queue).
pub async fn act(
    State(state): State<AppState>,
    Path((raw, action)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let who = &posted.who;
    let Ok(id) = case_id(raw) else {
        return error_page(Some(who), &ApiError::not_found("case"));
    };
    let reviewer = &who.reviewer;
    let here = format!("/console/cases/{id}");
    let (done, then) = match action.as_str() {
        "claim" => (claim_case(&state, reviewer, &id).await.map(drop), here),
        "release" => (release_case(&state, reviewer, &id).await, here),
        "decision" => {
            let decided = async {
                let outcome = outcome_of(posted.field("outcome"))?;
                if posted.field("confirm") != "yes" {
                    return Err(ApiError::invalid(
                        "Tick the confirmation box to record the decision.",
                    ));
                }
                decide_case(&state, reviewer, &id, outcome, posted.field("note")).await
            };
            (decided.await.map(drop), "/console/queue".to_owned())
        }
        _ => (Err(ApiError::not_found("action")), here),
    };
    after(&state, who, &id, done, &then).await
}

async fn body(
    state: &AppState,
    who: &SignedIn,
    case_id: &CaseId,
    message: Option<&str>,
) -> Result<Markup, ApiError> {
    let store = &state.store;
    let now = now_ms();
    let detail = store
        .case_detail(case_id, now)
        .await?
        .ok_or_else(|| ApiError::not_found("case"))?;
    // The rest of the page, read side by side (each is its own indexed query).
    let account = &detail.case.account_id;
    let (evidence, appeal, decisions, history, signals) = tokio::try_join!(
        store.evidence(case_id),
        store.appeal_of_case(case_id),
        store.decisions(case_id),
        store.audit_log(account),
        store.signal_state(Signals::account_key(account)),
    )?;
    let signals =
        signals.and_then(|(bytes, at)| AccountState::decode(&bytes).map(|s| (s.snapshot(), at)));
    let case = &detail.case;
    let me = who.reviewer.actor();
    let mine = detail.claim.as_ref().is_some_and(|c| c.reviewer == me);
    let open = appeal.as_ref().is_some_and(|a| a.status.as_str() == "open")
        || case.status == CaseStatus::InReview;
    let action = |what: &str| format!("/console/cases/{case_id}/{what}");
    let signal_rows = signals
        .as_ref()
        .and_then(|(snapshot, _)| serde_json::to_value(snapshot).ok())
        .and_then(|value| value.as_object().cloned())
        .unwrap_or_default();
    Ok(html! {
        (alert(message))
        section.summary aria-label="Summary" {
            dl {
                dt { "Account" } dd #account { (case.account_id) }
                dt { "Status" } dd #status { (case.status.as_str()) }
                dt { "Opened" } dd { (when(case.opened_at)) }
                @if let Some(ends_at) = case.ends_at { dt { "Restricted until" } dd { (when(ends_at)) } }
                dt { "Scores" } dd {
                    "spam " (format!("{:.2}", detail.scores.spam))
                    " · fraud " (format!("{:.2}", detail.scores.fraud))
                    " · AUP " (format!("{:.2}", detail.scores.aup))
                }
                dt { "Versions" } dd {
                    "rules " code { (detail.rules_version) }
                    " · model " code { (detail.model_version.as_deref().unwrap_or("none")) }
                }
                dt { "Claim" } dd #claim {
                    @match &detail.claim {
                        Some(claim) => { (claim.reviewer.to_string()) " until " (when(claim.expires_at)) },
                        None => "nobody",
                    }
                }
            }
        }
        @if open {
            section.work aria-label="Work this case" {
                @if mine {
                    form method="post" action=(action("release")) {
                        (who.csrf_field())
                        button #release type="submit" { "Release" }
                    }
                } @else {
                    form method="post" action=(action("claim")) {
                        (who.csrf_field())
                        button #claim-button type="submit" data-key="c" { "Claim (c)" }
                    }
                }
                @for (outcome, label, key) in [("uphold", "Uphold", "u"), ("overturn", "Overturn", "o")] {
                    details.decide #{(outcome) "-form"} {
                        summary data-key=(key) { (label) " (" (key) ")" }
                        form method="post" action=(action("decision")) {
                            (who.csrf_field())
                            input type="hidden" name="outcome" value=(outcome);
                            label for={(outcome) "-note"} { "Note to the account holder (required)" }
                            textarea #{(outcome) "-note"} name="note" required maxlength="2000" rows="4" {}
                            label.confirm {
                                input type="checkbox" name="confirm" value="yes" required;
                                " I have read the evidence and the appeal; " (label.to_lowercase()) " this case."
                            }
                            button type="submit" { (label) }
                        }
                    }
                }
            }
        }
        div.columns { div {
        section aria-labelledby="reasons" {
            h2 #reasons { "Why" }
            ul { @for reason in &case.reasons { li { strong { (reason.description) } " " code { (reason.code) } } } }
        }
        section aria-labelledby="evidence" {
            h2 #evidence { "Evidence (redacted)" }
            @if evidence.is_empty() { p.muted { "No evidence is kept for this case." } }
            @for piece in &evidence {
                article.evidence {
                    blockquote.excerpt dir="auto" { (piece.excerpt) }
                    p.meta {
                        (piece.action.as_str()) " · " (when(piece.sent_at)) " · message " code { (piece.message_id.as_str()) }
                    }
                    p.hits { "Rules: " @for hit in &piece.rule_hits { code.rule { (hit.as_str()) } " " } }
                }
            }
        }
        } div {
        section aria-labelledby="appeal" {
            h2 #appeal { "Appeal" }
            @match &appeal {
                Some(appeal) => {
                    p.meta { (appeal.status.as_str()) ", opened " (when(appeal.opened_at)) }
                    blockquote.statement dir="auto" { (appeal.statement) }
                }
                None => p.muted { "No appeal: the case is in review." },
            }
        }
        section aria-labelledby="signals" {
            h2 #signals { "Account signals" }
            @match &signals {
                Some((_, at)) => {
                    p.meta { "As of " (when(*at)) }
                    table.signals { tbody {
                        @for (name, value) in &signal_rows { tr { th scope="row" { (name.replace('_', " ")) } td { (value) } } }
                    } }
                }
                None => p.muted { "No signals kept for this account." },
            }
        }
        } }
        @if !decisions.is_empty() {
            section aria-labelledby="decisions" {
                h2 #decisions { "Decisions" }
                ul { @for d in &decisions {
                    li { (d.outcome.as_str()) " by " (d.reviewer.to_string()) ", " (when(d.decided_at)) ": " span dir="auto" { (d.note) } }
                } }
            }
        }
        section aria-labelledby="history" {
            h2 #history { "The account's history" }
            table.history {
                thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "Case" } } }
                tbody { @for entry in &history {
                    tr {
                        td { (when(entry.at)) }
                        td { (entry.actor.to_string()) }
                        td { (entry.action) }
                        td { @if let Some(id) = &entry.case_id { a href={"/console/cases/" (id)} { (id) } } }
                    }
                } }
            }
        }
    })
}
