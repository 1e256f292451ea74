//! Prometheus metrics: every request counted and timed by route and status,
//! and `/metrics`, which samples this node's backends and renders what the
//! process recorded.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::{App, AppState};

/// How `/metrics` is rendered and who may read it on the main listener.
#[derive(Clone)]
pub struct MetricsOptions {
    /// The text of everything recorded, in Prometheus's format.
    pub render: Arc<dyn Fn() -> String + Send + Sync>,
    /// Serve `/metrics` on the main listener to requests bearing this token.
    pub token: Option<String>,
}

impl std::fmt::Debug for MetricsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsOptions")
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .finish_non_exhaustive()
    }
}

/// Count and time a request by its route (the pattern, never the path, so
/// the number of series stays bounded), method and status.
pub(crate) async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("confab_http_requests_total",
        "method" => method.clone(), "route" => route.clone(), "status" => status)
    .increment(1);
    metrics::histogram!("confab_http_request_duration_seconds",
        "method" => method, "route" => route)
    .record(started.elapsed().as_secs_f64());
    response
}

/// `/metrics` on the main listener, behind the configured token (absent
/// when no token is configured).
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(behind_token))
}

/// `/metrics` alone, open, for a listener of its own.
pub(crate) fn open_routes() -> Router<AppState> {
    Router::new().route("/metrics", get(open))
}

async fn behind_token(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = app
        .options
        .metrics
        .as_ref()
        .and_then(|m| m.token.as_deref())
    else {
        return crate::error::not_found().await.into_response();
    };
    let offered = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !confab_service::secrets_match(offered, token) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "the metrics token is missing or wrong\n",
        )
            .into_response();
    }
    render(&app).await
}

async fn open(State(app): State<AppState>) -> Response {
    render(&app).await
}

async fn render(app: &App) -> Response {
    let Some(options) = &app.options.metrics else {
        return crate::error::not_found().await.into_response();
    };
    sample(app).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        (options.render)(),
    )
        .into_response()
}

/// Set the gauges read at the moment of a scrape.
async fn sample(app: &App) {
    let figures = app.operational_figures().await;
    metrics::gauge!("confab_websocket_connections").set(app.hub.sockets() as f64);
    metrics::gauge!("confab_database_up").set(f64::from(u8::from(figures.database_ping.is_some())));
    if let Some(ping) = figures.database_ping {
        metrics::gauge!("confab_database_ping_seconds").set(ping.as_secs_f64());
    }
    let pool = figures.pool;
    metrics::gauge!("confab_database_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("confab_database_connections", "state" => "busy")
        .set(f64::from(pool.open.saturating_sub(pool.idle)));
    metrics::gauge!("confab_database_connections_max").set(f64::from(pool.max));
    metrics::gauge!("confab_realtime_up").set(f64::from(u8::from(figures.realtime_up)));
    if let Some(backlog) = figures.search_backlog {
        metrics::gauge!("confab_search_backlog").set(backlog as f64);
    }
}
