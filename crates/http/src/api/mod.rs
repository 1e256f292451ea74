//! REST API v1.

mod accounts;
mod workspaces;

use axum::Router;

use crate::AppState;

/// Every `/api/v1` route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(accounts::routes())
        .merge(workspaces::routes())
}
