//! The review API (axum): account holders appeal with the token from their notice; reviewers
//! and admins work the queue and decide. Served by `warden run` beside the stream processor,
//! or alone by `warden serve`.
//!
//! Every request is traced by method, route pattern, status and latency only: never a query
//! string (appeal tokens travel there), a header or a body.
//!
//! Floods are bounded at every stage: request headers must arrive within the request timeout
//! (hyper's header timer, which `axum::serve` leaves unset), a body announced over the limit is
//! refused before it is read, the rest of a request runs under the timeout, and appeals are
//! rate-limited per peer address.

pub(crate) mod admin;
pub mod auth;
pub mod error;
mod holder;
pub(crate) mod input;
pub mod openapi;
pub mod outbox;
pub(crate) mod review;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rdkafka::producer::{FutureProducer, Producer};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

pub use admin::record_rules_load;

use crate::config::ApiConfig;
use crate::enforce::AppealSettings;
use crate::metrics::METRICS;
use crate::store::Store;
use auth::ReviewerDirectory;
use error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub appeal: AppealSettings,
    pub reviewers: Arc<ReviewerDirectory>,
    pub settings: ApiConfig,
    /// Wakes the outbox deliverer after a step wrote events.
    pub outbox: Arc<Notify>,
    pub appeal_limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// For `/readyz`: the broker the outbox delivers to.
    pub producer: FutureProducer,
    /// Reloads rules and policy into the stream processor (`warden run` only): the new rules
    /// version, or why the files were refused.
    pub reload: Option<Reload>,
}

/// Reads, validates and hands over a new scorer: from the rules and policy files, or, for a
/// rollback, from an earlier set's text, written back to the files once it is valid. Says what
/// was taken, or why the set was refused (the running one stays).
pub type Reload = Arc<dyn Fn(Option<&RulesSet>) -> Result<Loaded, String> + Send + Sync>;

/// The text of a rules and policy set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesSet {
    pub rules: String,
    pub policy: String,
}

/// What a start or a reload took: the rules version and the files' text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub rules_version: String,
    pub set: RulesSet,
}

impl AppState {
    pub fn new(
        store: Store,
        appeal: AppealSettings,
        reviewers: ReviewerDirectory,
        settings: ApiConfig,
        producer: FutureProducer,
    ) -> Self {
        let per_minute = NonZeroU32::new(settings.appeals_per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            store,
            appeal,
            reviewers: Arc::new(reviewers),
            outbox: Arc::new(Notify::new()),
            appeal_limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
            settings,
            producer,
            reload: None,
        }
    }

    /// Shares the outbox's wake-up with the stream processor of the same process, so that one
    /// deliverer sends every case event.
    pub fn with_outbox(mut self, outbox: Arc<Notify>) -> Self {
        self.outbox = outbox;
        self
    }

    /// Lets admins reload rules and policy through `reload`.
    pub fn with_reload(mut self, reload: Reload) -> Self {
        self.reload = Some(reload);
        self
    }
}

use crate::clock;
pub(crate) use crate::clock::now_ms;

/// One piece of a case's redacted evidence as the API shows it, to reviewers and in an export.
pub(crate) fn evidence_json(evidence: &crate::store::Evidence) -> serde_json::Value {
    serde_json::json!({
        "message_id": evidence.message_id,
        "excerpt": evidence.excerpt,
        "rule_hits": evidence.rule_hits,
        "action": evidence.action,
        "sent_at": rfc3339(evidence.sent_at),
    })
}

/// Unix ms as RFC 3339.
pub(crate) fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The routes, with body limit, timeout and tracing.
pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_millis(state.settings.request_timeout_ms);
    let body_limit = state.settings.body_limit_bytes;
    let mut router = Router::new();
    for endpoint in openapi::endpoints() {
        router = router.route(endpoint.path, endpoint.handler);
    }
    router
        .merge(crate::console::routes())
        .fallback(|| async { ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(move |request, next| {
            with_timeout(timeout, request, next)
        }))
        .layer(middleware::from_fn(move |request, next| {
            announced_within(body_limit, request, next)
        }))
        .layer(middleware::from_fn(trace))
        .with_state(state)
}

/// A body whose announced length is over the limit is refused at once, not waited for.
async fn announced_within(limit: usize, request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is over the {limit}-byte limit"),
        )
        .into_response();
    }
    next.run(request).await
}

async fn with_timeout(timeout: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long; try again",
        )
        .into_response(),
    }
}

async fn trace(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    let metrics = &*METRICS;
    metrics
        .http_requests
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .inc();
    metrics
        .http_request_seconds
        .with_label_values(&[route.as_str()])
        .observe(start.elapsed().as_secs_f64());
    tracing::info!(
        %method,
        route,
        status = response.status().as_u16(),
        micros = start.elapsed().as_micros() as u64,
        "request"
    );
    response
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// Prometheus text format; the appeal queue's gauges (how many are open, how long the oldest
/// has waited) are read from the store at each scrape.
async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    METRICS.appeals_open.set(state.store.open_appeals().await?);
    let oldest = state.store.oldest_open_appeal().await?;
    METRICS
        .appeal_age_seconds
        .set(oldest.map_or(0, |opened_at| {
            clock::seconds_from_ms((now_ms() - opened_at).max(0))
        }));
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        METRICS.render(),
    )
        .into_response())
}

/// Ready when the database answers and the broker's metadata can be fetched.
async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.store.ping().await.is_ok();
    let producer = state.producer.clone();
    let broker = tokio::task::spawn_blocking(move || {
        producer
            .client()
            .fetch_metadata(None, Duration::from_secs(2))
            .is_ok()
    })
    .await
    .unwrap_or(false);
    let status = if database && broker {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if status == StatusCode::OK { "ready" } else { "not_ready" },
        "database": database,
        "broker": broker,
    });
    (status, Json(body)).into_response()
}

/// Resolves once `shutdown` says stop (or its sender is gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Serves `state` on `listener` until `shutdown`. At shutdown it stops accepting, lets each
/// connection finish the request in hand, and waits for them. The outbox is delivered beside
/// it by [`outbox::deliver`], which the caller runs (one per process).
pub async fn serve(
    mut listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    use axum::serve::Listener;

    let header_timeout = Duration::from_millis(state.settings.request_timeout_ms);
    let app = router(state);
    // Every connection holds a receiver; all are gone when every connection has closed.
    let (open_tx, open_rx) = watch::channel(());
    let mut stop = shutdown.clone();
    loop {
        // Accept errors (out of file descriptors under a flood) are waited out inside.
        let (stream, peer) = tokio::select! {
            accepted = Listener::accept(&mut listener) => accepted,
            _ = stopping(&mut stop) => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let service = hyper::service::service_fn(move |mut request| {
            request.extensions_mut().insert(ConnectInfo(peer));
            hyper::service::Service::call(&service, request)
        });
        let mut stop = shutdown.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection =
                builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopping(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(open);
        });
    }
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}
