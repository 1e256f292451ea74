//! Confab's HTTP surface: routing, request ids, the error format, and the
//! handlers, each of which parses, calls one service method and maps the
//! result to a wire type.
#![forbid(unsafe_code)]

mod error;
mod health;
mod request_id;

use std::sync::Arc;

use axum::Router;
use confab_service::Services;

pub use error::ApiError;
pub use request_id::RequestId;

/// Shared state of every handler.
pub type AppState = Arc<Services>;

/// The whole HTTP application.
pub fn router(services: Services) -> Router {
    Router::new()
        .merge(health::routes())
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(request_id::assign))
        .with_state(Arc::new(services))
}
