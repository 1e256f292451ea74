//! Limits on the request head.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Largest total size of request header names and values.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Middleware: refuse requests whose headers exceed [`MAX_HEADER_BYTES`]
/// with 431.
pub async fn headers(request: Request, next: Next) -> Response {
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if size > MAX_HEADER_BYTES {
        let body = json!({"error": {
            "code": "too_large",
            "message": format!("request headers are too large (limit {MAX_HEADER_BYTES} bytes)"),
        }});
        return (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, Json(body)).into_response();
    }
    next.run(request).await
}
