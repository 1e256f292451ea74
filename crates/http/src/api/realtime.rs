//! Presence and typing over REST (the WebSocket gateway carries the same).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use confab_core::id::{ChannelId, UserId, WorkspaceId};
use confab_core::realtime::{Presence, PresenceStatus};
use confab_core::Error;
use confab_service::PresenceUpdate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::parse_id;
use crate::extract::{ApiJson, ApiQuery, Authed};
use crate::wire::{double_option, ErrorBody};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_presence, set_presence))
        .routes(routes!(who_is_typing, start_typing))
        .routes(routes!(crate::ws::upgrade))
}

/// Most users whose presence one request may ask for.
const MAX_PRESENCE_USERS: usize = 500;

/// A user's presence in a workspace. Users with nothing stored (never
/// connected, or gone for five minutes) are offline with no `last_seen`.
#[derive(Serialize, ToSchema)]
pub struct PresenceView {
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    /// `online`, `away` or `offline`.
    pub status: PresenceStatus,
    pub custom_status: Option<String>,
    pub last_seen: Option<DateTime<Utc>>,
    pub device_type: Option<String>,
    pub timezone: Option<String>,
}

impl PresenceView {
    pub fn new(user_id: UserId, presence: Option<Presence>) -> Self {
        match presence {
            Some(p) => Self {
                user_id,
                status: p.status,
                custom_status: p.custom_status,
                last_seen: Some(p.last_seen),
                device_type: Some(p.device_type),
                timezone: Some(p.timezone),
            },
            None => Self {
                user_id,
                status: PresenceStatus::Offline,
                custom_status: None,
                last_seen: None,
                device_type: None,
                timezone: None,
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
struct PresenceList {
    presence: Vec<PresenceView>,
}

#[derive(Deserialize, ToSchema)]
struct PresenceQuery {
    /// Comma-separated user ids (at most 500).
    user_ids: String,
}

#[utoipa::path(get, path = "/workspaces/{workspace}/presence", tag = "realtime",
    params(("workspace" = String, Path, description = "Workspace id"),
           ("user_ids" = String, Query, description = "Comma-separated user ids, at most 500")),
    responses((status = 200, body = PresenceList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_presence(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiQuery(query): ApiQuery<PresenceQuery>,
) -> Result<Json<PresenceList>, ApiError> {
    let workspace: WorkspaceId = parse_id(&workspace, "workspace")?;
    let users = query
        .user_ids
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<UserId>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Error::invalid("user_ids", "must be comma-separated user ids"))?;
    if users.is_empty() || users.len() > MAX_PRESENCE_USERS {
        return Err(Error::invalid(
            "user_ids",
            format!("give 1 to {MAX_PRESENCE_USERS} user ids"),
        )
        .into());
    }
    let found = app.presence(&caller, workspace, &users).await?;
    let presence = users
        .iter()
        .zip(found)
        .map(|(user, stored)| PresenceView::new(*user, stored))
        .collect();
    Ok(Json(PresenceList { presence }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PresenceBody {
    /// `online` or `away`.
    pub status: Option<PresenceStatus>,
    /// Up to 100 characters; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub custom_status: Option<Option<String>>,
}

impl From<PresenceBody> for PresenceUpdate {
    fn from(body: PresenceBody) -> Self {
        Self {
            status: body.status,
            custom_status: body.custom_status,
        }
    }
}

#[utoipa::path(put, path = "/workspaces/{workspace}/presence", tag = "realtime",
    params(("workspace" = String, Path, description = "Workspace id")), request_body = PresenceBody,
    responses((status = 200, body = PresenceView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, description = "More than 30 presence changes a minute", body = ErrorBody),
        (status = 503, description = "The shared state is unreachable", body = ErrorBody)))]
async fn set_presence(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiJson(body): ApiJson<PresenceBody>,
) -> Result<Json<PresenceView>, ApiError> {
    let workspace: WorkspaceId = parse_id(&workspace, "workspace")?;
    let presence = app.set_presence(&caller, workspace, body.into()).await?;
    Ok(Json(PresenceView::new(caller.user.id, Some(presence))))
}

/// Who is typing now (typing lapses 10 seconds after the last signal).
#[derive(Serialize, ToSchema)]
struct TypingList {
    #[schema(value_type = Vec<String>)]
    user_ids: Vec<UserId>,
}

#[utoipa::path(get, path = "/channels/{channel}/typing", tag = "realtime",
    params(("channel" = String, Path, description = "Channel id")),
    responses((status = 200, body = TypingList), (status = 404, body = ErrorBody)))]
async fn who_is_typing(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
) -> Result<Json<TypingList>, ApiError> {
    let channel: ChannelId = parse_id(&channel, "channel")?;
    let user_ids = app.who_is_typing(&caller, channel).await?;
    Ok(Json(TypingList { user_ids }))
}

#[utoipa::path(post, path = "/channels/{channel}/typing", tag = "realtime",
    params(("channel" = String, Path, description = "Channel id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, description = "More than 120 typing signals a minute", body = ErrorBody)))]
async fn start_typing(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
) -> Result<StatusCode, ApiError> {
    let channel: ChannelId = parse_id(&channel, "channel")?;
    app.typing(&caller, channel).await?;
    Ok(StatusCode::NO_CONTENT)
}
