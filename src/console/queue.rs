//! The queue: open appeals and cases in review, oldest first, with age, due time and overdue
//! marking, filters, counts and pages.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::session::SignedIn;
use super::{Section, age, error_page, layout, when};
use crate::api::AppState;
use crate::api::error::ApiError;
use crate::api::now_ms;
use crate::case::CaseId;
use crate::clock;
use crate::store::{QueueCounts, QueueFilter, QueueItem};

/// Cases on one page of the queue.
const PAGE_SIZE: i64 = 50;

#[derive(Deserialize)]
pub struct QueueQuery {
    /// `appeal`, `review`, or empty for both.
    #[serde(default)]
    kind: String,
    /// `overdue`, `mine`, `unclaimed`, or empty for all.
    #[serde(default)]
    show: String,
    /// Where the page starts: after the case `WAITING_SINCE_MS.CASE_ID` (the last of the page
    /// before); the oldest first when absent.
    after: Option<String>,
}

impl QueueQuery {
    fn link(&self, kind: &str, show: &str, after: Option<&QueueItem>) -> String {
        let mut query = Vec::new();
        if !kind.is_empty() {
            query.push(format!("kind={kind}"));
        }
        if !show.is_empty() {
            query.push(format!("show={show}"));
        }
        if let Some(last) = after {
            query.push(format!("after={}.{}", last.waiting_since, last.case_id));
        }
        if query.is_empty() {
            "/console/queue".to_owned()
        } else {
            format!("/console/queue?{}", query.join("&"))
        }
    }
}

/// `GET /console/queue?kind=&show=&after=`.
pub async fn page(
    State(state): State<AppState>,
    who: SignedIn,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => return error_page(Some(&who), &ApiError::invalid(rejection.body_text())),
    };
    match queue(&state, &who, &query).await {
        Ok(body) => layout(Some(&who), Section::Queue, "Review queue", body).into_response(),
        Err(error) => error_page(Some(&who), &error),
    }
}

async fn queue(state: &AppState, who: &SignedIn, query: &QueueQuery) -> Result<Markup, ApiError> {
    let now = now_ms();
    let sla_ms = state.settings.appeal_sla_hours * 3_600_000;
    let me = who.reviewer.actor();
    let mut filter = QueueFilter {
        appeals: match query.kind.as_str() {
            "" => None,
            "appeal" => Some(true),
            "review" => Some(false),
            _ => return Err(ApiError::invalid("`kind` must be appeal or review")),
        },
        ..QueueFilter::default()
    };
    match query.show.as_str() {
        "" => {}
        "overdue" => filter.waiting_before = Some(now - sla_ms),
        "mine" => filter.claimed_by = Some(me.clone()),
        "unclaimed" => filter.unclaimed = true,
        _ => {
            return Err(ApiError::invalid(
                "`show` must be overdue, mine or unclaimed",
            ));
        }
    }
    filter.after = match &query.after {
        None => None,
        Some(cursor) => Some(cursor_of(cursor).ok_or_else(|| {
            ApiError::invalid(
                "`after` must be WAITING_SINCE_MS.CASE_ID, as the queue's links give it",
            )
        })?),
    };
    let store = &state.store;
    let items = store.queue_page(now, &filter, PAGE_SIZE + 1).await?;
    let counts = store.queue_counts(now, now - sla_ms, &me).await?;
    let more = items.len() as i64 > PAGE_SIZE;
    let shown = &items[..items.len().min(PAGE_SIZE as usize)];
    Ok(html! {
        (filters(query, &counts))
        @if shown.is_empty() {
            p.empty { "Nothing waits here." }
        } @else {
            table.queue {
                caption { "Oldest first. Keys: j / k to move, Enter to open." }
                thead { tr {
                    th scope="col" { "Case" } th scope="col" { "Kind" } th scope="col" { "Account" }
                    th scope="col" { "Waiting" } th scope="col" { "Due" } th scope="col" { "Claimed by" }
                } }
                tbody {
                    @for item in shown { (row(item, now, sla_ms)) }
                }
            }
        }
        nav.pages aria-label="Pages" {
            @if query.after.is_some() {
                a rel="first" href=(query.link(&query.kind, &query.show, None)) { "← Oldest first" }
            }
            @if more {
                a rel="next" href=(query.link(&query.kind, &query.show, shown.last())) { "Next page →" }
            }
        }
    })
}

/// `WAITING_SINCE_MS.CASE_ID`, as [`QueueQuery::link`] writes it.
fn cursor_of(cursor: &str) -> Option<(i64, CaseId)> {
    let (at, case_id) = cursor.split_once('.')?;
    Some((at.parse().ok()?, CaseId::parse(case_id.to_owned()).ok()?))
}

fn filters(query: &QueueQuery, counts: &QueueCounts) -> Markup {
    let choice = |href: String, name: &str, count: i64, current: bool| {
        html! {
            @if current {
                a.filter href=(href) aria-current="true" { (name) " " span.count { (count) } }
            } @else {
                a.filter href=(href) { (name) " " span.count { (count) } }
            }
        }
    };
    let kind = query.kind.as_str();
    let show = query.show.as_str();
    html! {
        nav.filters aria-label="Filters" {
            div {
                span.label { "Kind" }
                (choice(query.link("", show, None), "All", counts.all, kind.is_empty()))
                (choice(query.link("appeal", show, None), "Appeals", counts.appeals, kind == "appeal"))
                (choice(query.link("review", show, None), "In review", counts.in_review, kind == "review"))
            }
            div {
                span.label { "Show" }
                (choice(query.link(kind, "", None), "Every case", counts.all, show.is_empty()))
                (choice(query.link(kind, "overdue", None), "Overdue", counts.overdue, show == "overdue"))
                (choice(query.link(kind, "mine", None), "Claimed by me", counts.mine, show == "mine"))
                (choice(query.link(kind, "unclaimed", None), "Unclaimed", counts.unclaimed, show == "unclaimed"))
            }
        }
    }
}

fn row(item: &QueueItem, now: i64, sla_ms: i64) -> Markup {
    let due = item.waiting_since + sla_ms;
    let overdue = now > due;
    let href = format!("/console/cases/{}", item.case_id);
    html! {
        tr.case data-href=(href) .overdue[overdue] {
            td { a href=(href) { (item.case_id) } }
            td { @if item.appeal_id.is_some() { "Appeal" } @else { "In review" } }
            td { (item.account_id) }
            td { (age(clock::seconds_from_ms(now - item.waiting_since))) }
            td {
                (when(due))
                @if overdue { " " strong.badge { "Overdue" } }
            }
            td {
                @match &item.claim {
                    Some(claim) => (claim.reviewer.to_string()),
                    None => span.muted { "—" },
                }
            }
        }
    }
}
