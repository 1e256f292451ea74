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

/// What this server is and where its API lives: what `/` answers programs
/// (browsers get the web client there).
pub(crate) fn about() -> Value {
    json!({
        "service": "confab",
        "version": env!("CARGO_PKG_VERSION"),
        "api": "/api/v1",
        "openapi": "/api/v1/openapi.json",
        "health": "/healthz",
        "ready": "/readyz",
        "client": "/",
    })
}

/// The process is up and serving HTTP.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The process can serve requests: its database answers. The shared
/// real-time state is reported but does not decide: without it the server
/// still serves, with real time paused.
async fn readyz(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    app.readiness().await?;
    let (bus, state) = app.realtime_backends();
    Ok(Json(json!({
        "status": "ready",
        "database": app.storage_backend(),
        "realtime": {
            "bus": bus,
            "state": state,
            "reachable": app.realtime_health().await.is_ok(),
            "sockets": app.hub.sockets(),
        },
    })))
}
