//! Channels, direct conversations and channel membership.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use confab_core::id::{ChannelId, UserId, WorkspaceId};
use confab_core::model::{ChannelMemberUpdate, ChannelRole, ChannelUpdate, NotificationLevel};
use confab_core::page::page_size;
use confab_core::Error;
use confab_service::NewChannelRequest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::parse_id;
use crate::extract::{ApiJson, ApiQuery, Authed};
use crate::wire::{cursor, double_option, ChannelMemberView, ChannelView, ErrorBody, WithPerson};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_channels, create_channel))
        .routes(routes!(browse))
        .routes(routes!(open_conversation))
        .routes(routes!(read, update))
        .routes(routes!(archive))
        .routes(routes!(unarchive))
        .routes(routes!(join))
        .routes(routes!(leave))
        .routes(routes!(members, add_member))
        .routes(routes!(update_member, remove_member))
}

/// A channel with the caller's membership, when the caller is in it.
#[derive(Serialize, ToSchema)]
struct ChannelAnswer {
    channel: ChannelView,
    #[serde(skip_serializing_if = "Option::is_none")]
    membership: Option<ChannelMemberView>,
}

/// The channels the caller is in.
#[derive(Serialize, ToSchema)]
struct ChannelList {
    channels: Vec<ChannelAnswer>,
}

/// One page of public channels, by name.
#[derive(Serialize, ToSchema)]
struct ChannelPage {
    channels: Vec<ChannelView>,
    next_cursor: Option<String>,
}

/// One page of channel members.
#[derive(Serialize, ToSchema)]
struct ChannelMemberPage {
    members: Vec<WithPerson<ChannelMemberView>>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    /// Page size (default 50); values outside 1 to 200 are taken as the
    /// nearest of the two.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

const WORKSPACE: &str = "Workspace id";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateChannelBody {
    name: String,
    #[serde(default)]
    private: bool,
    display_name: Option<String>,
    description: Option<String>,
    topic: Option<String>,
    purpose: Option<String>,
}

#[utoipa::path(post, path = "/workspaces/{workspace}/channels", tag = "channels",
    params(("workspace" = String, Path, description = WORKSPACE)), request_body = CreateChannelBody,
    responses((status = 201, body = ChannelView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn create_channel(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiJson(body): ApiJson<CreateChannelBody>,
) -> Result<(StatusCode, Json<ChannelView>), ApiError> {
    let workspace: WorkspaceId = parse_id(&workspace, "workspace")?;
    let request = NewChannelRequest {
        name: body.name,
        private: body.private,
        display_name: body.display_name,
        description: body.description,
        topic: body.topic,
        purpose: body.purpose,
    };
    let channel = app.create_channel(&caller, workspace, request).await?;
    Ok((StatusCode::CREATED, Json(channel.into())))
}

#[utoipa::path(get, path = "/workspaces/{workspace}/channels", tag = "channels",
    params(("workspace" = String, Path, description = WORKSPACE)),
    responses((status = 200, body = ChannelList), (status = 404, body = ErrorBody)))]
async fn my_channels(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
) -> Result<Json<ChannelList>, ApiError> {
    let workspace: WorkspaceId = parse_id(&workspace, "workspace")?;
    let channels = app
        .my_channels(&caller, workspace)
        .await?
        .into_iter()
        .map(|(c, m)| ChannelAnswer {
            channel: c.into(),
            membership: Some(m.into()),
        })
        .collect();
    Ok(Json(ChannelList { channels }))
}

#[utoipa::path(get, path = "/workspaces/{workspace}/channels/browse", tag = "channels",
    params(("workspace" = String, Path, description = WORKSPACE), PageQuery),
    responses((status = 200, body = ChannelPage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn browse(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ChannelPage>, ApiError> {
    let workspace: WorkspaceId = parse_id(&workspace, "workspace")?;
    let after = query
        .cursor
        .as_deref()
        .map(cursor::decode::<String>)
        .transpose()?;
    let page = app
        .browse_channels(
            &caller,
            workspace,
            after.as_deref(),
            page_size(query.limit, 50),
        )
        .await?;
    Ok(Json(ChannelPage {
        channels: page.items.into_iter().map(ChannelView::from).collect(),
        next_cursor: page.next.map(|k| cursor::encode(&k)),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConversationBody {
    /// The other people: one for a direct message, more for a group.
    #[schema(value_type = Vec<String>)]
    users: Vec<UserId>,
}

#[utoipa::path(post, path = "/workspaces/{workspace}/conversations", tag = "channels",
    params(("workspace" = String, Path, description = WORKSPACE)), request_body = ConversationBody,
    responses((status = 200, body = ChannelView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn open_conversation(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiJson(body): ApiJson<ConversationBody>,
) -> Result<Json<ChannelView>, ApiError> {
    let workspace: WorkspaceId = parse_id(&workspace, "workspace")?;
    if body.users.is_empty() {
        return Err(Error::invalid("users", "name at least one person").into());
    }
    let channel = app
        .open_conversation(&caller, workspace, &body.users)
        .await?;
    Ok(Json(channel.into()))
}

const CHANNEL: &str = "Channel id";

#[utoipa::path(get, path = "/channels/{channel}", operation_id = "get_channel", tag = "channels",
    params(("channel" = String, Path, description = CHANNEL)),
    responses((status = 200, body = ChannelAnswer), (status = 404, body = ErrorBody)))]
async fn read(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
) -> Result<Json<ChannelAnswer>, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    let access = app.channel_access(&caller, id).await?;
    Ok(Json(ChannelAnswer {
        channel: access.channel.into(),
        membership: access.membership.filter(|m| m.is_active).map(Into::into),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateChannelBody {
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    topic: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    purpose: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    retention_policy: Option<Option<Value>>,
    allow_threads: Option<bool>,
    allow_file_upload: Option<bool>,
    allow_external_sharing: Option<bool>,
}

#[utoipa::path(patch, path = "/channels/{channel}", operation_id = "update_channel", tag = "channels",
    params(("channel" = String, Path, description = CHANNEL)), request_body = UpdateChannelBody,
    responses((status = 200, body = ChannelView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
    ApiJson(body): ApiJson<UpdateChannelBody>,
) -> Result<Json<ChannelView>, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    let update = ChannelUpdate {
        name: body.name,
        display_name: body.display_name,
        description: body.description,
        topic: body.topic,
        purpose: body.purpose,
        retention_policy: body.retention_policy,
        allow_threads: body.allow_threads,
        allow_file_upload: body.allow_file_upload,
        allow_external_sharing: body.allow_external_sharing,
    };
    Ok(Json(app.update_channel(&caller, id, update).await?.into()))
}

#[utoipa::path(post, path = "/channels/{channel}/archive", tag = "channels",
    params(("channel" = String, Path, description = CHANNEL)),
    responses((status = 200, body = ChannelView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn archive(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    Ok(Json(
        app.set_channel_archived(&caller, id, true).await?.into(),
    ))
}

#[utoipa::path(post, path = "/channels/{channel}/unarchive", tag = "channels",
    params(("channel" = String, Path, description = CHANNEL)),
    responses((status = 200, body = ChannelView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unarchive(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    Ok(Json(
        app.set_channel_archived(&caller, id, false).await?.into(),
    ))
}

#[utoipa::path(post, path = "/channels/{channel}/join", tag = "channels",
    params(("channel" = String, Path, description = CHANNEL)),
    responses((status = 200, body = ChannelMemberView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn join(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
) -> Result<Json<ChannelMemberView>, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    Ok(Json(app.join_channel(&caller, id).await?.into()))
}

#[utoipa::path(post, path = "/channels/{channel}/leave", operation_id = "leave_channel", tag = "channels",
    params(("channel" = String, Path, description = CHANNEL)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn leave(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    app.leave_channel(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/channels/{channel}/members", operation_id = "channel_members", tag = "channels",
    params(("channel" = String, Path, description = CHANNEL), PageQuery),
    responses((status = 200, body = ChannelMemberPage), (status = 404, body = ErrorBody)))]
async fn members(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ChannelMemberPage>, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    let after = query
        .cursor
        .as_deref()
        .map(cursor::decode::<UserId>)
        .transpose()?;
    let page = app
        .channel_members(&caller, id, after, page_size(query.limit, 50))
        .await?;
    Ok(Json(ChannelMemberPage {
        members: page
            .items
            .into_iter()
            .map(|(member, user)| WithPerson::new(member, user))
            .collect(),
        next_cursor: page.next.map(|k| cursor::encode(&k.to_string())),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AddMemberBody {
    #[schema(value_type = String, format = Uuid)]
    user_id: UserId,
}

#[utoipa::path(post, path = "/channels/{channel}/members", tag = "channels",
    params(("channel" = String, Path, description = CHANNEL)), request_body = AddMemberBody,
    responses((status = 200, body = ChannelMemberView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn add_member(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
    ApiJson(body): ApiJson<AddMemberBody>,
) -> Result<Json<ChannelMemberView>, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    Ok(Json(
        app.add_to_channel(&caller, id, body.user_id).await?.into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChannelMemberBody {
    role: Option<ChannelRole>,
    notification_level: Option<NotificationLevel>,
}

#[utoipa::path(patch, path = "/channels/{channel}/members/{user}", operation_id = "update_channel_member", tag = "channels",
    params(("channel" = String, Path, description = CHANNEL), ("user" = String, Path, description = "User id")),
    request_body = ChannelMemberBody,
    responses((status = 200, body = ChannelMemberView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_member(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path((channel, user)): Path<(String, String)>,
    ApiJson(body): ApiJson<ChannelMemberBody>,
) -> Result<Json<ChannelMemberView>, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    let user: UserId = parse_id(&user, "member")?;
    let update = ChannelMemberUpdate {
        role: body.role,
        notification_level: body.notification_level,
    };
    Ok(Json(
        app.update_channel_member(&caller, id, user, update)
            .await?
            .into(),
    ))
}

#[utoipa::path(delete, path = "/channels/{channel}/members/{user}", tag = "channels",
    params(("channel" = String, Path, description = CHANNEL), ("user" = String, Path, description = "User id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_member(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path((channel, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    let user: UserId = parse_id(&user, "member")?;
    app.remove_from_channel(&caller, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}
