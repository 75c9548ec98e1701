//! Errors at the API's edge: one enum, one mapping to HTTP status.
//!
//! What the caller got wrong is 4xx with a message that says what; what
//! went wrong here (a database error, a corrupt row, a failed task) is
//! 500, logged with the request's id (the `x-request-id` header of the
//! answer), and the answer says no more than that it failed.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use state::StateError;

#[derive(Debug)]
pub(crate) enum ApiError {
    /// The request is not valid here: 400.
    Invalid(String),
    /// Nothing of that name in the caller's tenant: 404.
    NotFound(String),
    /// The incident changed since the caller read it: 409 with the current version.
    Conflict { current: i64 },
    /// Too many at once: 429 with `Retry-After`.
    Busy(&'static str),
    /// A part the request needs is switched off, or did not answer in
    /// time: 503.
    Unavailable(String),
    /// Our failure: 500, logged.
    Internal(String),
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> ApiError {
        match e {
            StateError::Invalid(why) => ApiError::Invalid(why),
            StateError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StateError::Conflict { current } => ApiError::Conflict { current },
            e @ (StateError::Io(_) | StateError::Internal(_)) => ApiError::Internal(e.to_string()),
        }
    }
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the caller is told. An internal error's detail stays in the
    /// log: it may name tables, paths or another tenant's rows.
    pub(crate) fn message(&self) -> String {
        match self {
            ApiError::Invalid(m) | ApiError::NotFound(m) | ApiError::Unavailable(m) => m.clone(),
            ApiError::Conflict { current } => StateError::Conflict { current: *current }.to_string(),
            ApiError::Busy(m) => (*m).to_string(),
            ApiError::Internal(_) => "internal error; the server log has the details under this request's id".into(),
        }
    }

    /// Logs an internal error in the request's span (which carries its id).
    pub(crate) fn log(&self) {
        if let ApiError::Internal(detail) = self {
            tracing::error!(error = %detail, "request failed");
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let mut body = json!({"error": self.message()});
        if let ApiError::Conflict { current } = self {
            body["version"] = json!(current);
        }
        let mut resp = (self.status(), Json(body)).into_response();
        if matches!(self, ApiError::Busy(_)) {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

/// Runs blocking work (the state store, the event store) off the async
/// threads; a task that fails to finish is our error.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::Internal(format!("a worker task failed: {e}")))?
}
