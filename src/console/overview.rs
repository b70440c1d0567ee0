//! The overview: today's automated suspensions by reason, the appeals open and the oldest, and
//! the overturn rate over 7 and 30 days (the false-positive signal), as small server-drawn
//! SVG charts: no script, no image files, nothing fetched.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::session::SignedIn;
use super::{Section, age, error_page, layout};
use crate::api::AppState;
use crate::api::error::ApiError;
use crate::api::now_ms;
use crate::clock;
use crate::transparency;

const DAY_MS: i64 = 86_400_000;

/// `GET /console/overview`.
pub async fn page(State(state): State<AppState>, who: SignedIn) -> Response {
    match body(&state).await {
        Ok(body) => layout(Some(&who), Section::Overview, "Overview", body).into_response(),
        Err(error) => error_page(Some(&who), &error),
    }
}

/// The overturn rate of appeals decided in the last `days` days: (overturned, decided).
async fn overturns(state: &AppState, now: i64, days: i64) -> Result<(u64, u64), ApiError> {
    let from = now - days * DAY_MS;
    let facts = state.store.transparency_facts(from, now).await?;
    let report = transparency::report(&facts, from, now, "", "");
    Ok((report.appeals.overturned, report.appeals.decided))
}

async fn body(state: &AppState) -> Result<Markup, ApiError> {
    let now = now_ms();
    let midnight = now - now.rem_euclid(DAY_MS);
    let store = &state.store;
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for reasons in store.automated_suspension_reasons(midnight).await? {
        for reason in reasons {
            *by_reason.entry(reason.description).or_default() += 1;
        }
    }
    let mut by_reason: Vec<(String, u64)> = by_reason.into_iter().collect();
    by_reason.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let open = store.open_appeals().await?;
    let oldest = store.oldest_open_appeal().await?;
    let week = overturns(state, now, 7).await?;
    let month = overturns(state, now, 30).await?;
    let rate = |(overturned, decided): (u64, u64)| {
        (decided > 0).then(|| overturned as f64 / decided as f64)
    };
    Ok(html! {
        section aria-labelledby="today" {
            h2 #today { "Automated suspensions today, by reason" }
            @if by_reason.is_empty() {
                p.muted { "None since midnight UTC." }
            } @else {
                (bars(&by_reason))
            }
        }
        section aria-labelledby="appeals" {
            h2 #appeals { "Appeals" }
            p #appeals-open {
                strong { (open) } " open"
                @if let Some(opened_at) = oldest {
                    "; the oldest has waited " strong { (age(clock::seconds_from_ms(now - opened_at))) }
                }
            }
        }
        section aria-labelledby="overturns" {
            h2 #overturns { "Overturned on appeal" }
            p.hint { "A rising rate means automated decisions that people find wrong." }
            (rate_bars(&[("Last 7 days", week, rate(week)), ("Last 30 days", month, rate(month))]))
        }
    })
}

/// Horizontal bars, one per `(label, count)`, scaled to the largest.
fn bars(rows: &[(String, u64)]) -> Markup {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    let height = 28 * rows.len();
    html! {
        svg.chart viewBox={"0 0 600 " (height)} width="100%" role="img" aria-label="Suspensions by reason" {
            @for (i, (label, count)) in rows.iter().enumerate() {
                @let y = 28 * i;
                @let width = 1 + 300 * count / max;
                text x="0" y=(y + 18) { (label) }
                rect.bar x="290" y=(y + 6) width=(width) height="16" {}
                text x=(296 + width) y=(y + 19) { (count) }
            }
        }
    }
}

type RateRow<'a> = (&'a str, (u64, u64), Option<f64>);

/// One bar per period, the share overturned out of 100 %.
fn rate_bars(rows: &[RateRow<'_>]) -> Markup {
    html! {
        svg.chart viewBox="0 0 600 64" width="100%" role="img" aria-label="Overturn rate" {
            @for (i, (label, (overturned, decided), rate)) in rows.iter().enumerate() {
                @let y = 32 * i;
                @let width = rate.map_or(0, |r| (r * 300.0).round() as i64);
                text x="0" y=(y + 18) { (label) }
                rect.track x="120" y=(y + 6) width="300" height="16" {}
                rect.bar x="120" y=(y + 6) width=(width) height="16" {}
                text x="430" y=(y + 19) {
                    @match rate {
                        Some(rate) => { (format!("{:.1} %", rate * 100.0)) " (" (overturned) " of " (decided) ")" },
                        None => "no appeals decided",
                    }
                }
            }
        }
    }
}
