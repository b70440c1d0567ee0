//! The review API (axum): account holders appeal with the token from their notice; reviewers
//! and admins work the queue and decide. Served by `warden run` beside the stream processor,
//! or alone by `warden serve`.
//!
//! Every request is traced by method, route pattern, status and latency only: never a query
//! string (appeal tokens travel there), a header or a body.

mod admin;
pub mod auth;
pub mod error;
mod holder;
pub mod openapi;
pub mod outbox;
mod review;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rdkafka::producer::{FutureProducer, Producer};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

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

/// Reads, validates and hands over a new scorer.
pub type Reload = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

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

    /// Lets admins reload rules and policy through `reload`.
    pub fn with_reload(mut self, reload: Reload) -> Self {
        self.reload = Some(reload);
        self
    }
}

pub(crate) fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
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
    let mut router = Router::new();
    for endpoint in openapi::endpoints() {
        router = router.route(endpoint.path, endpoint.handler);
    }
    router
        .fallback(|| async { ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(state.settings.body_limit_bytes))
        .layer(middleware::from_fn(move |request, next| {
            with_timeout(timeout, request, next)
        }))
        .layer(middleware::from_fn(trace))
        .with_state(state)
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

/// Prometheus text format; the open-appeals gauge is read from the store at each scrape.
async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    METRICS.appeals_open.set(state.store.open_appeals().await?);
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

/// Serves `state` on `listener` until `shutdown`, and delivers the outbox meanwhile.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    topics: crate::config::Topics,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let deliverer = tokio::spawn(outbox::deliver(
        state.store.clone(),
        state.producer.clone(),
        topics,
        Arc::clone(&state.outbox),
        shutdown.clone(),
    ));
    let mut stop = shutdown.clone();
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|stop| *stop).await;
        })
        .await;
    let _ = deliverer.await;
    served
}
