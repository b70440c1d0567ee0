//! The reviewers' console: server-rendered pages under `/console`, served by the API's own
//! router over the same store functions and the same decision paths as the JSON API
//! (`api::review::decide` and friends), so that a decision taken here and one taken with
//! `curl` are the same in the store, the audit log and the events.
//!
//! Pages are maud templates (compile-time checked; every interpolation is escaped). One
//! stylesheet and one small script are served from `/console/static/`, nothing from elsewhere,
//! and a strict Content-Security-Policy says so to the browser. Sign-in and the checks on every
//! state-changing form (session, `Origin`, CSRF token) live in [`session`].

mod admin;
mod case;
mod operations;
mod overview;
mod queue;
mod session;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};

use crate::api::AppState;
use crate::api::error::ApiError;
pub use session::SESSION_COOKIE;
use session::SignedIn;

const STYLESHEET: &str = include_str!("static/console.css");
const SCRIPT: &str = include_str!("static/console.js");

/// Nothing but this app's own stylesheet, script, forms and inline SVG; no framing, no referrer.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's routes, for the API's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/queue") }))
        .route(
            "/console/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/queue", get(queue::page))
        .route("/console/cases/{case_id}", get(case::page))
        .route("/console/cases/{case_id}/{action}", post(case::act))
        .route("/console/overview", get(overview::page))
        .route("/console/accounts", get(admin::find_account))
        .route("/console/accounts/{account_id}", get(admin::account_page))
        .route(
            "/console/accounts/{account_id}/{action}",
            post(admin::account_action),
        )
        .route("/console/accounts/{account_id}/export", get(admin::export))
        .route("/console/operations", get(operations::page))
        .route("/console/operations/{action}", post(operations::act))
        .route("/console/static/console.css", get(stylesheet))
        .route("/console/static/console.js", get(script))
        .layer(middleware::from_fn(security_headers))
}

/// The headers every console response carries.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

/// Which page of the navigation is current.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Queue,
    Overview,
    Accounts,
    Operations,
    None,
}

/// A whole page: the navigation (for a signed-in reviewer), the title and `body`.
fn layout(who: Option<&SignedIn>, section: Section, title: &str, body: Markup) -> Markup {
    let link = |href: &str, name: &str, this: Section| {
        html! {
            @if section == this {
                a href=(href) aria-current="page" { (name) }
            } @else {
                a href=(href) { (name) }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · Warden console" }
                link rel="stylesheet" href="/console/static/console.css";
                script src="/console/static/console.js" defer {}
            }
            body {
                header.top {
                    span.brand { "Warden" }
                    @if let Some(who) = who {
                        nav aria-label="Console" {
                            (link("/console/queue", "Queue", Section::Queue))
                            (link("/console/overview", "Overview", Section::Overview))
                            @if who.is_admin() {
                                (link("/console/accounts", "Accounts", Section::Accounts))
                                (link("/console/operations", "Operations", Section::Operations))
                            }
                        }
                        form.signout method="post" action="/console/sign-out" {
                            (who.csrf_field())
                            span { "Signed in as " strong #who { (who.reviewer.name) } " (" (who.role_name()) ")" }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main { h1 { (title) } (body) }
            }
        }
    }
}

/// A page that says what went wrong, with the status the API would answer.
fn error_page(who: Option<&SignedIn>, error: &ApiError) -> Response {
    let body = html! {
        p.error role="alert" { (error.message) }
        p { a href="/console/queue" { "Back to the queue" } }
    };
    (error.status, layout(who, Section::None, "Not done", body)).into_response()
}

/// An error box for the top of a page.
fn alert(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.error role="alert" { (message) }
        }
    }
}

/// Unix ms as `2026-12-07 14:03 UTC`.
fn when(ms: i64) -> String {
    let text = crate::api::rfc3339(ms);
    match (text.get(..10), text.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => text,
    }
}

/// A duration in seconds as `3 d 4 h`, `5 h 2 min` or `40 min`.
fn age(seconds: i64) -> String {
    let minutes = seconds.max(0) / 60;
    let (days, hours, minutes) = (minutes / 1_440, minutes / 60 % 24, minutes % 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {minutes} min")
    } else {
        format!("{minutes} min")
    }
}

/// 303 to `to`: after a form's POST, the browser GETs the result.
fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_largest_units_that_matter() {
        assert_eq!(age(59), "0 min");
        assert_eq!(age(40 * 60), "40 min");
        assert_eq!(age(5 * 3_600 + 120), "5 h 2 min");
        assert_eq!(age(3 * 86_400 + 4 * 3_600 + 59), "3 d 4 h");
        assert_eq!(age(-5), "0 min");
    }

    #[test]
    fn times_read_as_minutes_in_utc() {
        assert_eq!(when(1_796_648_580_000), "2026-12-07 13:03 UTC");
    }
}
