//! The wire form of errors: `{"error": {"code", "message", "field"?}}` with a
//! fitting status. A 5xx body never carries internals, only the request id
//! (added by the request-id middleware); the details go to the log.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use confab_core::Error;
use serde_json::{json, Value};

/// A domain error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        Self(err)
    }
}

fn status_of(err: &Error) -> StatusCode {
    match err {
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::Unauthenticated => StatusCode::UNAUTHORIZED,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::Invalid { .. } => StatusCode::BAD_REQUEST,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::TimedOut(_) => StatusCode::REQUEST_TIMEOUT,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Seconds to put in `Retry-After`, rounded up and at least one.
fn retry_after_secs(delay: Duration) -> u64 {
    delay.as_secs() + u64::from(delay.subsec_nanos() > 0).max(u64::from(delay.is_zero()))
}

/// `response` with the `Retry-After` header of `delay`.
pub(crate) fn with_retry_after(mut response: Response, delay: Duration) -> Response {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after_secs(delay)),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0);
        if status.is_server_error() {
            tracing::error!(error = %self.0, "request failed");
            // The request-id middleware writes the body of every 5xx response.
            return status.into_response();
        }
        let body = error_detail(&self.0, self.0.to_string());
        let response = (status, Json(json!({ "error": body }))).into_response();
        match &self.0 {
            Error::RateLimited { retry_after } => with_retry_after(response, *retry_after),
            _ => response,
        }
    }
}

/// The `error` object of a response or socket event: `code`, `message`, and
/// `field` where one request field is at fault.
pub(crate) fn error_detail(err: &Error, message: String) -> Value {
    let mut detail = json!({"code": err.code(), "message": message});
    if let Error::Invalid { field, .. } | Error::Conflict { field, .. } = err {
        detail["field"] = json!(field);
    }
    detail
}

/// The answer for a route that does not exist.
pub async fn not_found() -> ApiError {
    ApiError(Error::NotFound("route"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn statuses_follow_the_error_kind() {
        assert_eq!(status_of(&Error::NotFound("x")), StatusCode::NOT_FOUND);
        assert_eq!(
            status_of(&Error::invalid("name", "empty")),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(&Error::RateLimited {
                retry_after: Duration::from_secs(1)
            }),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}
