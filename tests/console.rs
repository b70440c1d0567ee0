//! The reviewers' console over real HTTP: sign-in, sessions and the checks on every form
//! (`Origin`, CSRF), the headers on every page, and who may see what. The journeys a reviewer
//! makes in a real browser are in `tests/console_browser.rs`.

mod common;
#[path = "common/console.rs"]
mod harness;

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use warden::api::{Loaded, RulesSet};
use warden::config::ApiConfig;
use warden::store::{Actor, BreakerEvent, CaseStatus};

use harness::{ALICE, BOB, Console, ROOT, reviewers_toml};

/// A client that shows redirects instead of following them, and keeps no cookies of its own.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A signed-in reviewer: the session cookie and the page's CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

impl Console {
    /// The sign-in form sent with `token`, from `origin` (none: no `Origin` header).
    async fn sign_in_form(&self, token: &str, origin: Option<&str>) -> reqwest::Response {
        let mut request = http()
            .post(self.url("/console/sign-in"))
            .form(&[("token", token)]);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        request.send().await.unwrap()
    }

    /// Signs in with `token` as a browser would (a form POST from this origin).
    async fn sign_in(&self, token: &str) -> Session {
        let response = self.sign_in_form(token, Some(&self.base)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let page = self.page("/console/queue", &cookie).await;
        assert_eq!(page.0, StatusCode::OK);
        let csrf = page
            .2
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the page's forms carry a CSRF token")
            .to_owned();
        Session { cookie, csrf }
    }

    async fn page(&self, path: &str, cookie: &str) -> (StatusCode, HeaderMap, String) {
        let response = http()
            .get(self.url(path))
            .header(header::COOKIE, cookie)
            .send()
            .await
            .unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.text().await.unwrap())
    }

    /// A form POST with the given cookie, origin and fields.
    async fn post_form(
        &self,
        path: &str,
        cookie: &str,
        origin: Option<&str>,
        fields: &[(&str, &str)],
    ) -> StatusCode {
        let mut request = http()
            .post(self.url(path))
            .header(header::COOKIE, cookie)
            .form(fields);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        request.send().await.unwrap().status()
    }
}

fn redirects_to_sign_in(status: StatusCode, headers: &HeaderMap) -> bool {
    status == StatusCode::SEE_OTHER && headers[header::LOCATION] == "/console/sign-in"
}

#[tokio::test]
async fn without_a_live_session_every_page_leads_to_sign_in() {
    let console = Console::start(ApiConfig::default(), None).await;
    let (case_id, _) = console
        .case("AC1001", CaseStatus::InReview, "Pay the fee")
        .await;
    let pages = [
        "/console/queue".to_owned(),
        format!("/console/cases/{case_id}"),
        "/console/overview".to_owned(),
        "/console/accounts/AC1001".to_owned(),
    ];
    for cookie in ["", "warden_console=forged0123456789", "other=1"] {
        for page in &pages {
            let (status, headers, _) = console.page(page, cookie).await;
            assert!(
                redirects_to_sign_in(status, &headers),
                "{page} with cookie {cookie:?}: {status}"
            );
        }
    }
    // A POST without a session changes nothing.
    let status = console
        .post_form(
            &format!("/console/cases/{case_id}/claim"),
            "warden_console=forged",
            Some(&console.base),
            &[("csrf", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let detail = console
        .store
        .case_detail(&case_id, 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.claim, None);
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_refuses_a_bad_token() {
    let console = Console::start(ApiConfig::default(), None).await;
    let response = console.sign_in_form(ALICE, Some(&console.base)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    // Served on loopback: a Secure cookie would never come back over plain HTTP.
    assert!(!cookie.contains("Secure"), "{cookie}");
    // The token is nowhere in the cookie or the redirect.
    assert!(!cookie.contains(ALICE));
    assert_eq!(response.headers()[header::LOCATION], "/console/queue");

    for (token, origin) in [
        ("not-a-token", Some(console.base.as_str())),
        (ALICE, Some("http://evil.example")),
        (ALICE, None),
    ] {
        let response = console.sign_in_form(token, origin).await;
        assert!(
            response.status().is_client_error(),
            "{token} from {origin:?}"
        );
        assert!(response.headers().get(header::SET_COOKIE).is_none());
    }
}

#[tokio::test]
async fn a_form_without_the_csrf_token_or_from_another_origin_changes_nothing() {
    let console = Console::start(ApiConfig::default(), None).await;
    let (case_id, _) = console
        .case("AC1002", CaseStatus::InReview, "Pay the fee")
        .await;
    let alice = console.sign_in(ALICE).await;
    let claim = format!("/console/cases/{case_id}/claim");
    let base = console.base.clone();
    for (origin, csrf, why) in [
        (Some(base.as_str()), None, "no CSRF token"),
        (
            Some(base.as_str()),
            Some("0".repeat(64)),
            "a wrong CSRF token",
        ),
        (
            Some("http://evil.example"),
            Some(alice.csrf.clone()),
            "another origin",
        ),
        (
            Some("null"),
            Some(alice.csrf.clone()),
            "an opaque origin, no fetch metadata",
        ),
        (None, Some(alice.csrf.clone()), "no Origin"),
    ] {
        let mut fields = vec![];
        if let Some(csrf) = &csrf {
            fields.push(("csrf", csrf.as_str()));
        }
        let status = console
            .post_form(&claim, &alice.cookie, origin, &fields)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{why}");
        let detail = console
            .store
            .case_detail(&case_id, 0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(detail.claim, None, "{why} claimed the case");
    }
    // The same form, done right, claims.
    let status = console
        .post_form(&claim, &alice.cookie, Some(&base), &[("csrf", &alice.csrf)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let detail = console
        .store
        .case_detail(&case_id, 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.claim.unwrap().reviewer.to_string(), "reviewer:alice");
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let console = Console::start(ApiConfig::default(), None).await;
    let (case_id, _) = console
        .case("AC1003", CaseStatus::InReview, "Pay the fee")
        .await;
    let root = console.sign_in(ROOT).await;
    let pages = [
        "/console/sign-in".to_owned(),
        "/console/queue".to_owned(),
        format!("/console/cases/{case_id}"),
        "/console/cases/not-a-case".to_owned(),
        "/console/overview".to_owned(),
        "/console/accounts/AC1003".to_owned(),
        "/console/operations".to_owned(),
        "/console/static/console.css".to_owned(),
        "/console/static/console.js".to_owned(),
    ];
    for page in &pages {
        let (status, headers, body) = console.page(page, &root.cookie).await;
        assert!(
            status.is_success() || status == StatusCode::NOT_FOUND,
            "{page}: {status}"
        );
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{page}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{page}: {csp}");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{page}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{page}");
        // Every page is small, and nothing is fetched from elsewhere.
        assert!(body.len() < 100 * 1024, "{page}: {} bytes", body.len());
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{page}"
        );
    }
}

#[tokio::test]
async fn a_reviewer_cannot_open_or_use_the_admin_pages() {
    let console = Console::start(ApiConfig::default(), None).await;
    let (case_id, _) = console
        .case("AC1004", CaseStatus::Suspended, "Pay the fee")
        .await;
    let alice = console.sign_in(ALICE).await;
    let (status, _, _) = console
        .page("/console/accounts/AC1004", &alice.cookie)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = console
        .page("/console/accounts/AC1004/export", &alice.cookie)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let status = console
        .post_form(
            "/console/accounts/AC1004/reinstate",
            &alice.cookie,
            Some(&console.base),
            &[("csrf", &alice.csrf), ("reason", "friend of mine")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let case = console.store.case(&case_id).await.unwrap().unwrap();
    assert_eq!(case.status, CaseStatus::Suspended);
}

#[tokio::test]
async fn sign_out_rotation_and_expiry_end_a_session() {
    let console = Console::start(ApiConfig::default(), None).await;
    // Sign-out.
    let alice = console.sign_in(ALICE).await;
    let status = console
        .post_form(
            "/console/sign-out",
            &alice.cookie,
            Some(&console.base),
            &[("csrf", &alice.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, headers, _) = console.page("/console/queue", &alice.cookie).await;
    assert!(redirects_to_sign_in(status, &headers));

    // Rotating Bob's token ends Bob's session, not Alice's.
    let alice = console.sign_in(ALICE).await;
    let bob = console.sign_in(BOB).await;
    std::fs::write(
        &console.reviewers_file,
        reviewers_toml(&[
            ("alice", "reviewer", ALICE),
            ("bob", "reviewer", "bob-rotated-token-0123456789abcdef"),
            ("root", "admin", ROOT),
        ]),
    )
    .unwrap();
    let (status, headers, _) = console.page("/console/queue", &bob.cookie).await;
    assert!(redirects_to_sign_in(status, &headers), "{status}");
    let (status, _, _) = console.page("/console/queue", &alice.cookie).await;
    assert_eq!(status, StatusCode::OK);

    // A session past its lifetime ends.
    let brief = ApiConfig {
        console_session_hours: 0,
        ..ApiConfig::default()
    };
    let console = Console::start(brief, None).await;
    let response = console.sign_in_form(ALICE, Some(&console.base)).await;
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let (status, headers, _) = console.page("/console/queue", &cookie).await;
    assert!(redirects_to_sign_in(status, &headers));
}

#[tokio::test]
async fn the_queue_filters_counts_and_pages_the_waiting_cases() {
    let console = Console::start(ApiConfig::default(), None).await;
    for i in 0..60 {
        console
            .case(&format!("AC2{i:03}"), CaseStatus::InReview, "Pay the fee")
            .await;
    }
    let appealed = console
        .appealed("AC3000", "Pay the fee", "It was my own bank's message")
        .await;
    let alice = console.sign_in(ALICE).await;
    let rows = |body: &str| body.matches("<tr class=\"case").count();
    let (_, _, first) = console.page("/console/queue", &alice.cookie).await;
    assert_eq!(rows(&first), 50);
    let next = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to the next page")
        .replace("&amp;", "&");
    let (_, _, second) = console.page(&next, &alice.cookie).await;
    assert_eq!(rows(&second), 11);
    assert!(!second.contains("rel=\"next\""));
    // The two pages hold every waiting case once.
    let ids = |body: &str| -> Vec<String> {
        body.split("data-href=\"/console/cases/")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().to_owned())
            .collect()
    };
    let mut all = [ids(&first), ids(&second)].concat();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 61);
    let (status, _, _) = console
        .page("/console/queue?after=yesterday", &alice.cookie)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, _, appeals) = console
        .page("/console/queue?kind=appeal", &alice.cookie)
        .await;
    assert_eq!(rows(&appeals), 1);
    assert!(appeals.contains(appealed.as_str()));
    // Seeded cases began waiting in 2026-12; with a 72-hour SLA every one is overdue.
    let (_, _, overdue) = console
        .page("/console/queue?kind=review&show=overdue", &alice.cookie)
        .await;
    assert_eq!(rows(&overdue), 50);
    let (_, _, mine) = console
        .page("/console/queue?show=mine", &alice.cookie)
        .await;
    assert_eq!(rows(&mine), 0);
    let (status, _, _) = console
        .page("/console/queue?show=everything", &alice.cookie)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_admin_resets_the_breaker_and_sees_a_refused_reload_with_its_line_and_reason() {
    // A reload as `warden run` gives it, refusing the files as a broken rule would be refused.
    let reload: warden::api::Reload = Arc::new(|_| {
        Err("config/rules.toml:12: rule `fraud.greeting`: unknown category `fraudd`".to_owned())
    });
    let console = Console::start_with(ApiConfig::default(), None, Some(reload)).await;
    let alice = console.sign_in(ALICE).await;
    let (status, _, _) = console.page("/console/operations", &alice.cookie).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let root = console.sign_in(ROOT).await;
    let (_, _, page) = console.page("/console/operations", &root.cookie).await;
    assert!(page.contains("Closed: never tripped."), "{page}");
    console
        .store
        .record_breaker(&BreakerEvent {
            at: 1_000,
            tripped: true,
            actor: Actor::Automated,
            detail: "40 suspensions in 10 minutes".into(),
        })
        .await
        .unwrap();
    let (_, _, page) = console.page("/console/operations", &root.cookie).await;
    assert!(page.contains("40 suspensions in 10 minutes"), "{page}");
    let reset = "/console/operations/breaker-reset";
    let status = console
        .post_form(
            reset,
            &root.cookie,
            Some(&console.base),
            &[("csrf", &root.csrf), ("reason", "")],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reset needs a reason"
    );
    let fields = [
        ("csrf", root.csrf.as_str()),
        ("reason", "The greeting rule is fixed"),
    ];
    let status = console
        .post_form(reset, &root.cookie, Some(&console.base), &fields)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let state = console.store.breaker_state().await.unwrap().unwrap();
    assert!(!state.tripped);
    assert_eq!(state.actor, Actor::Admin("root".into()));
    // The API reads the same state.
    let answer: serde_json::Value = reqwest::Client::new()
        .get(console.url("/v1/admin/breaker"))
        .bearer_auth(ROOT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&answer["tripped"], &answer["by"]),
        (&false.into(), &"admin:root".into())
    );

    let status = console
        .post_form(
            "/console/operations/reload",
            &root.cookie,
            Some(&console.base),
            &[("csrf", &root.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let response = http()
        .post(console.url("/console/operations/reload"))
        .header(header::COOKIE, &root.cookie)
        .header(header::ORIGIN, &console.base)
        .form(&[("csrf", &root.csrf)])
        .send()
        .await
        .unwrap();
    let page = response.text().await.unwrap();
    assert!(
        page.contains("config/rules.toml:12: rule `fraud.greeting`: unknown category `fraudd`"),
        "{page}"
    );
    assert!(console.store.rules_loads(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_reload_that_outlasts_its_request_is_still_recorded_in_the_history() {
    // A reload held until its request has already timed out, as a slow rules compile on a
    // busy machine would be. The set it takes must still reach the version history.
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let reload: warden::api::Reload = Arc::new(move |_| {
        gate.lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| "the test never released the reload".to_owned())?;
        Ok(Loaded {
            rules_version: "5low0000000a".into(),
            set: RulesSet {
                rules: "# the slow set".into(),
                policy: String::new(),
            },
        })
    });
    let settings = ApiConfig {
        request_timeout_ms: 300,
        ..ApiConfig::default()
    };
    let console = Console::start_with(settings, None, Some(reload)).await;
    let response = http()
        .post(console.url("/v1/admin/rules/reload"))
        .bearer_auth(ROOT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    release.send(()).unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    let load = loop {
        if let Some(load) = console.store.rules_loads(10).await.unwrap().pop() {
            break load;
        }
        assert!(
            Instant::now() < deadline,
            "the reload was taken but never recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        (load.version.as_str(), load.action.as_str()),
        ("5low0000000a", "reload")
    );
    assert_eq!(load.loaded_by, Actor::Admin("root".into()));
}

#[tokio::test]
async fn the_overview_counts_todays_suspensions_open_appeals_and_overturns() {
    let console = Console::start(ApiConfig::default(), None).await;
    // Two automated suspensions today, for the same reason.
    let now = warden::clock::unix_ms(time::OffsetDateTime::now_utc());
    for account in ["AC6001", "AC6002"] {
        let case = warden::store::NewCase {
            at: now,
            ..common::database::new_case(account, &format!("SM-{account}"), now)
        };
        console.store.open_case(&case, &[]).await.unwrap();
    }
    // Two appeals: one overturned by a reviewer, one still open.
    let overturned = console.appealed("AC6003", "Pay the fee", "Mine").await;
    console.appealed("AC6004", "Pay the fee", "Mine too").await;
    let decided = reqwest::Client::new()
        .post(console.url(&format!("/v1/review/cases/{overturned}/decision")))
        .bearer_auth(ALICE)
        .json(&serde_json::json!({"outcome": "overturn", "note": "Their own notice"}))
        .send()
        .await
        .unwrap();
    assert!(decided.status().is_success());

    let alice = console.sign_in(ALICE).await;
    let (status, _, page) = console.page("/console/overview", &alice.cookie).await;
    assert_eq!(status, StatusCode::OK);
    let today = page.split("id=\"appeals\"").next().unwrap();
    assert!(
        today.contains("Several messages were blocked</text>"),
        "{today}"
    );
    assert!(
        today.contains(">2</text>"),
        "two suspensions today: {today}"
    );
    assert!(page.contains("<strong>1</strong> open"), "{page}");
    assert_eq!(page.matches("100.0 % (1 of 1)").count(), 2, "{page}");
}
