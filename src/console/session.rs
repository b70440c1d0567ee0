//! Signing in to the console and the checks every request passes.
//!
//! A reviewer pastes their API token once; the console keeps a session instead: a random id in
//! an `HttpOnly`, `SameSite=Strict` cookie (`Secure` unless the page is served on loopback),
//! and in the database only that id's SHA-256, with an expiry and an idle timeout, so that
//! every instance knows the session and a copy of the database signs no one in. Each request
//! checks that the token the session was made from is still in the reviewers file: rotating
//! or removing a token ends its sessions.
//!
//! Every state-changing request is a form POST that must come from this origin (`Origin`
//! equal to `Host`) and carry the session's CSRF token; [`Posted`] checks both before a
//! handler runs.

use std::collections::HashMap;

use axum::extract::{Form, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use maud::{Markup, html};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Section, layout, see_other};
use crate::api::AppState;
use crate::api::auth::{Reviewer, Role, token_hash};
use crate::api::error::ApiError;
use crate::api::now_ms;
use crate::store::ConsoleSession;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "warden_console";

/// A session's last use is written at most this often (a write per page view would be a
/// database write on every click).
const TOUCH_EVERY_MS: i64 = 60_000;

/// A signed-in reviewer or admin, from a live session.
pub struct SignedIn {
    pub reviewer: Reviewer,
    csrf: String,
    session_sha256: String,
}

impl SignedIn {
    pub fn is_admin(&self) -> bool {
        self.reviewer.role == Role::Admin
    }

    pub fn role_name(&self) -> &'static str {
        match self.reviewer.role {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
        }
    }

    /// The hidden field every form of this session carries.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }

    /// Refuses anyone who is not an admin, with the page a reviewer sees.
    pub fn admin_only(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "This page is for admins.",
            ))
        }
    }
}

fn digest(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 32 random bytes from the operating system, as hex.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random generator");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == SESSION_COOKIE)
        .map(|cookie| cookie.value().to_owned())
}

/// Whether the browser reached this app on a loopback name, where a `Secure` cookie would
/// never be sent back over plain HTTP.
fn on_loopback(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn session_cookie(value: String, max_age_s: i64, headers: &HeaderMap) -> String {
    Cookie::build((SESSION_COOKIE, value))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(!on_loopback(headers))
        .max_age(cookie::time::Duration::seconds(max_age_s))
        .build()
        .to_string()
}

/// To the sign-in page, forgetting the session cookie.
fn to_sign_in(headers: &HeaderMap) -> Response {
    let mut response = see_other("/console/sign-in");
    if let Ok(value) = session_cookie(String::new(), 0, headers).parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(id) = session_id(&parts.headers) else {
            return Err(to_sign_in(&parts.headers));
        };
        let session_sha256 = digest(&id);
        let store = &state.store;
        let stored = store
            .console_session(&session_sha256)
            .await
            .map_err(|error| super::error_page(None, &error.into()))?;
        let Some(session) = stored else {
            return Err(to_sign_in(&parts.headers));
        };
        let now = now_ms();
        let idle_ms = state.settings.console_idle_minutes * 60_000;
        let reviewers = state.reviewers.reviewers();
        let still_valid = reviewers.by_token_hash(&session.token_sha256);
        let live = now < session.expires_at && now - session.last_seen_at < idle_ms;
        let reviewer = match still_valid {
            Some((name, role))
                if live && name == session.reviewer && role_name(role) == session.role =>
            {
                Reviewer { name, role }
            }
            _ => {
                // Expired, idle, or its token rotated or removed: the session ends here.
                let _ = store.end_console_session(&session_sha256).await;
                return Err(to_sign_in(&parts.headers));
            }
        };
        if now - session.last_seen_at >= TOUCH_EVERY_MS {
            store
                .touch_console_session(&session_sha256, now)
                .await
                .map_err(|error| super::error_page(None, &error.into()))?;
        }
        Ok(SignedIn {
            reviewer,
            csrf: session.csrf,
            session_sha256,
        })
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Reviewer => "reviewer",
    }
}

/// Refuses a POST that does not come from a page of this origin. A browser names the page's
/// origin in `Origin`, which must then be the host the request was sent to; under this
/// console's `Referrer-Policy: no-referrer` it sends `Origin: null` instead, and then its fetch
/// metadata (`Sec-Fetch-Site`, which no page's script can set) must say `same-origin`.
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "This form was not sent from the console's own pages.",
        )
    };
    let value = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    match value(header::ORIGIN) {
        Some(origin) if origin != "null" => {
            let host = value(header::HOST).ok_or_else(refused)?;
            let origin_host = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .ok_or_else(refused)?;
            if origin_host.eq_ignore_ascii_case(host) {
                Ok(())
            } else {
                Err(refused())
            }
        }
        _ if value(HeaderName::from_static("sec-fetch-site")) == Some("same-origin") => Ok(()),
        _ => Err(refused()),
    }
}

/// A state-changing form from a signed-in reviewer, checked: same origin, and the session's
/// CSRF token. Its other fields are in `fields`.
pub struct Posted {
    pub who: SignedIn,
    pub fields: HashMap<String, String>,
}

impl Posted {
    /// A field's value, or "" when the form did not send it.
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let who = SignedIn::from_request_parts(&mut parts, state).await?;
        if let Err(error) = same_origin(&parts.headers) {
            return Err(super::error_page(Some(&who), &error));
        }
        let request = Request::from_parts(parts, body);
        let Form(mut fields) = Form::<HashMap<String, String>>::from_request(request, state)
            .await
            .map_err(|rejection| {
                let error =
                    ApiError::new(rejection.status(), "invalid_form", rejection.body_text());
                super::error_page(Some(&who), &error)
            })?;
        let presented = fields.remove("csrf").unwrap_or_default();
        if !bool::from(presented.as_bytes().ct_eq(who.csrf.as_bytes())) {
            let error = ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "This form has expired or was not sent from the console. Reload the page and try again.",
            );
            return Err(super::error_page(Some(&who), &error));
        }
        Ok(Posted { who, fields })
    }
}

fn sign_in_form(message: Option<&str>) -> Markup {
    html! {
        (super::alert(message))
        form.signin method="post" action="/console/sign-in" {
            label for="token" { "Your reviewer token" }
            input #token type="password" name="token" required autocomplete="off" autofocus;
            p.hint { "The token stays in this form; the console keeps a session instead." }
            button type="submit" { "Sign in" }
        }
    }
}

/// `GET /console/sign-in`.
pub async fn sign_in_page() -> Markup {
    layout(None, Section::None, "Sign in", sign_in_form(None))
}

/// `POST /console/sign-in` `token`: a new session for the token's reviewer.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    let refuse = |status: StatusCode, message: &str| {
        let page = layout(None, Section::None, "Sign in", sign_in_form(Some(message)));
        (status, page).into_response()
    };
    if let Err(error) = same_origin(&headers) {
        return refuse(error.status, &error.message);
    }
    let token = fields.get("token").map_or("", |t| t.trim());
    let Some((name, role)) = state.reviewers.reviewers().authenticate(token) else {
        return refuse(StatusCode::UNAUTHORIZED, "That token is not valid.");
    };
    let now = now_ms();
    let settings = &state.settings;
    let idle_since = now - settings.console_idle_minutes * 60_000;
    let id = random_token();
    let lifetime_s = settings.console_session_hours * 3_600;
    let session = ConsoleSession {
        reviewer: name.clone(),
        role: role_name(role).to_owned(),
        token_sha256: token_hash(token),
        csrf: random_token(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + lifetime_s * 1_000,
    };
    let stored = async {
        state
            .store
            .end_stale_console_sessions(now, idle_since)
            .await?;
        state
            .store
            .create_console_session(&digest(&id), &session)
            .await
    };
    if let Err(error) = stored.await {
        return super::error_page(None, &error.into());
    }
    tracing::info!(reviewer = %name, "console sign-in");
    let mut response = see_other("/console/queue");
    if let Ok(value) = session_cookie(id, lifetime_s, &headers).parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `POST /console/sign-out`: the session ends.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    posted: Posted,
) -> Response {
    if let Err(error) = state
        .store
        .end_console_session(&posted.who.session_sha256)
        .await
    {
        return super::error_page(Some(&posted.who), &error.into());
    }
    to_sign_in(&headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), value.parse().unwrap());
        }
        map
    }

    #[test]
    fn only_a_form_from_this_host_passes_the_origin_check() {
        let ok = headers(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "http://127.0.0.1:8080"),
        ]);
        assert!(same_origin(&ok).is_ok());
        for (origin, host) in [
            ("http://evil.example", "127.0.0.1:8080"),
            ("null", "127.0.0.1:8080"),
            ("http://127.0.0.1:8081", "127.0.0.1:8080"),
        ] {
            let map = headers(&[(header::HOST, host), (header::ORIGIN, origin)]);
            assert!(same_origin(&map).is_err(), "{origin} passed for {host}");
        }
        assert!(same_origin(&headers(&[(header::HOST, "127.0.0.1:8080")])).is_err());
        // `Origin: null` (the page's no-referrer policy): the fetch metadata decides.
        let fetched = |site: &str| {
            let sec_fetch_site = HeaderName::from_static("sec-fetch-site");
            headers(&[
                (header::HOST, "127.0.0.1:8080"),
                (header::ORIGIN, "null"),
                (sec_fetch_site, site),
            ])
        };
        assert!(same_origin(&fetched("same-origin")).is_ok());
        for site in ["cross-site", "same-site", "none"] {
            assert!(same_origin(&fetched(site)).is_err(), "{site}");
        }
    }

    #[test]
    fn cookies_are_secure_except_on_loopback() {
        for (host, secure) in [
            ("127.0.0.1:8080", false),
            ("localhost:3000", false),
            ("[::1]:8080", false),
            ("warden.example.com", true),
            ("10.0.0.5:8080", true),
        ] {
            let cookie = session_cookie("x".into(), 60, &headers(&[(header::HOST, host)]));
            assert_eq!(cookie.contains("Secure"), secure, "{host}: {cookie}");
            assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        }
    }

    #[test]
    fn session_ids_are_random_and_long() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
