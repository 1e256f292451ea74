//! Liveness and readiness probes.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up and serving HTTP.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The process can serve requests: its database answers.
async fn readyz(State(services): State<AppState>) -> Result<Json<Value>, ApiError> {
    services.readiness().await?;
    Ok(Json(
        json!({"status": "ready", "database": services.storage_backend()}),
    ))
}
