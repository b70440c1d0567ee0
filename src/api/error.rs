//! Errors as the API answers them: `{"error": {"code", "message"}}` with the right status, and
//! the JSON body, path and query extractors whose every rejection is such an error (axum's own
//! answer in plain text).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, for clients to branch on.
    pub code: &'static str,
    /// For people; never a secret, a token or a message body.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        (self.status, axum::Json(body)).into_response()
    }
}

/// A database failure is the server's problem: logged in full, answered without detail.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store error while answering a request");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the request could not be completed; try again",
        )
    }
}

/// A JSON request body; malformed, mistyped or oversized bodies are answered as [`ApiError`]s.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(rejected(rejection)),
        }
    }
}

fn rejected(rejection: JsonRejection) -> ApiError {
    let (code, status) = match &rejection {
        JsonRejection::JsonSyntaxError(_) => ("malformed_json", StatusCode::BAD_REQUEST),
        JsonRejection::JsonDataError(_) => ("invalid_request", StatusCode::UNPROCESSABLE_ENTITY),
        JsonRejection::MissingJsonContentType(_) => {
            ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE)
        }
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ("body_too_large", StatusCode::PAYLOAD_TOO_LARGE)
        }
        _ => ("bad_request", rejection.status()),
    };
    ApiError::new(status, code, rejection.body_text())
}

/// Path parameters; one that is not UTF-8 once decoded is answered 400 `invalid_path`.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(refused(
                rejection.status(),
                "invalid_path",
                rejection.body_text(),
            )),
        }
    }
}

/// A query string; one that does not parse (a number that is not one, a repeated parameter) is
/// answered 400 `invalid_query`.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(refused(
                rejection.status(),
                "invalid_query",
                rejection.body_text(),
            )),
        }
    }
}

/// A client's mistake as a JSON error; a rejection axum counts as its own failure (a route
/// without the parameters its handler expects) as the generic 500.
fn refused(status: StatusCode, code: &'static str, message: String) -> ApiError {
    if status.is_server_error() {
        tracing::error!(message, "extractor failed on a route");
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the request could not be completed; try again",
        );
    }
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}
