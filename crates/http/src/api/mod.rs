//! REST API v1, with its OpenAPI document generated from the handlers.

mod accounts;
mod channels;
mod common;
mod files;
mod integrations;
mod messages;
mod realtime;
mod search;
mod workspaces;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::Modify;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// The document's frame: title, version, the bearer scheme as the default
/// requirement (routes that need no session say so).
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Confab API", description = "Confab's REST API, version 1."),
    servers((url = "/api/v1")),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "accounts", description = "Sign-up, login, sessions, profile, MFA"),
        (name = "workspaces", description = "Workspaces"),
        (name = "members", description = "Workspace members and roles"),
        (name = "invitations", description = "Invitations to join a workspace"),
        (name = "channels", description = "Channels, direct conversations and channel members"),
        (name = "messages", description = "Messages, threads, reactions, pins and read markers"),
        (name = "realtime", description = "Presence and typing (also carried by the WebSocket gateway at /api/v1/ws)"),
        (name = "search", description = "Searching messages"),
        (name = "files", description = "Uploading, downloading, listing and deleting files"),
        (name = "integrations", description = "Bots and personal API tokens for the Slack-compatible Web API at /api/<method>"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub(crate) use common::complete_document;

/// Every `/api/v1` route with its documentation.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .merge(accounts::routes())
        .merge(workspaces::routes())
        .merge(channels::routes())
        .merge(messages::routes())
        .merge(realtime::routes())
        .merge(search::routes())
        .merge(files::routes())
        .merge(integrations::routes())
}

/// Parse an id from the path; a malformed one is simply not found.
pub(crate) fn parse_id<T: std::str::FromStr>(
    text: &str,
    what: &'static str,
) -> Result<T, crate::ApiError> {
    text.parse()
        .map_err(|_| crate::ApiError(confab_core::Error::NotFound(what)))
}
