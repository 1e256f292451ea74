//! Confab's HTTP surface: routing, request ids, the error format, and the
//! handlers, each of which parses, calls one service method and maps the
//! result to a wire type.
#![forbid(unsafe_code)]

mod api;
mod error;
mod extract;
mod forwarded;
mod health;
mod limits;
mod metrics;
mod request_id;
mod serve;
mod slack;
mod wire;
pub(crate) mod ws;

use std::sync::Arc;

use axum::Router;
use confab_service::{Hub, Services};

pub use error::ApiError;
pub use forwarded::parse_trusted_proxies;
pub use metrics::MetricsOptions;
pub use request_id::RequestId;
pub use serve::{serve, ServeOptions};

/// How the HTTP layer presents itself.
#[derive(Clone, Debug, Default)]
pub struct HttpOptions {
    /// Mark the session cookie `Secure` (set when the public URL is https).
    pub secure_cookies: bool,
    /// The address users open (`server.public_url`): browsers may open
    /// sockets from this origin, as well as from the host they connected to.
    pub public_url: Option<String>,
    /// Proxies whose forwarding headers name the client
    /// (`server.trusted_proxies`, see [`parse_trusted_proxies`]).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Prometheus metrics, when they are on.
    pub metrics: Option<MetricsOptions>,
}

/// What every handler shares: the services, and the HTTP options.
pub struct App {
    services: Services,
    pub options: HttpOptions,
    /// This node's fan-out of events to its sockets.
    pub hub: Arc<Hub>,
}

impl std::ops::Deref for App {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

/// Shared state of every handler.
pub type AppState = Arc<App>;

/// Largest request body the JSON API accepts.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The HTTP application, `/metrics` for a listener of its own, and the hub
/// of the WebSockets (to close them at shutdown).
pub struct Routers {
    pub app: Router,
    pub metrics: Router,
    pub hub: Arc<Hub>,
}

/// The whole HTTP application.
pub fn router(services: Services, options: HttpOptions) -> Routers {
    let hub = Hub::start(&services);
    let (api, document) = api::routes().split_for_parts();
    let document = Arc::new(api::complete_document(document));
    let state = Arc::new(App {
        hub: hub.clone(),
        services,
        options,
    });
    let app = Router::new()
        .nest("/api/v1", api)
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let document = document.clone();
                async move { axum::Json(document.as_ref().clone()) }
            }),
        )
        .merge(slack::routes())
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(confab_web::routes(health::about()))
        .route_layer(axum::middleware::from_fn(metrics::record))
        .fallback(error::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(extract::renew_cookie))
        .layer(axum::middleware::from_fn(limits::headers))
        .layer(axum::middleware::from_fn(request_id::assign))
        .with_state(state.clone());
    let metrics = metrics::open_routes().with_state(state);
    Routers { app, metrics, hub }
}
