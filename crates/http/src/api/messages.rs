//! Messages, threads, reactions, pins and read markers.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use confab_core::id::{ChannelId, FileId, MessageId, WorkspaceId};
use confab_core::page::page_size;
use confab_core::Error;
use confab_service::PostMessage;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::parse_id;
use crate::extract::{ApiJson, ApiQuery, Authed};
use crate::wire::{cursor, AuthorView, ErrorBody, MessageView, ReactionView, ReadStateView};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(history, post))
        .routes(routes!(read_one, edit, delete))
        .routes(routes!(replies))
        .routes(routes!(edit_history))
        .routes(routes!(reactions, react))
        .routes(routes!(unreact))
        .routes(routes!(pin, unpin))
        .routes(routes!(pins))
        .routes(routes!(mark_read))
        .routes(routes!(read_state))
        .routes(routes!(unread))
        .routes(routes!(archived_messages))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ArchiveQuery {
    /// Page size (default 50, 1 to 200).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Messages of a channel moved to the archive by retention, newest first:
/// for the workspace's owners and admins who may read the channel.
#[utoipa::path(get, path = "/channels/{channel}/archived-messages", operation_id = "archived_messages", tag = "messages",
    params(("channel" = String, Path, description = CHANNEL), ArchiveQuery),
    responses((status = 200, body = MessageList), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn archived_messages(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
    ApiQuery(query): ApiQuery<ArchiveQuery>,
) -> Result<Json<MessageList>, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    let before = query
        .cursor
        .as_deref()
        .map(cursor::decode_time_id)
        .transpose()?;
    let limit = page_size(query.limit, 50);
    let messages = app.archived_messages(&caller, id, before, limit).await?;
    let next_cursor = (messages.len() == limit as usize)
        .then(|| messages.last())
        .flatten()
        .map(|m| cursor::encode_time_id(m.created_at, m.id));
    Ok(Json(MessageList {
        messages: messages.into_iter().map(MessageView::from).collect(),
        authors: Vec::new(),
        next_cursor,
    }))
}

const CHANNEL: &str = "Channel id";
const MESSAGE: &str = "Message id";

/// Messages, and how to ask for more.
#[derive(Serialize, ToSchema)]
struct MessageList {
    messages: Vec<MessageView>,
    /// The authors of these messages (history pages only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<AuthorView>,
    /// The id to pass as `before` (history) or `after` (replies) for the
    /// next page; absent when there is no more.
    next_cursor: Option<String>,
}

fn cursor_id(value: Option<&str>, field: &str) -> Result<Option<MessageId>, ApiError> {
    value
        .map(|v| {
            v.parse::<MessageId>()
                .map_err(|_| ApiError(Error::invalid(field, "is not a message id")))
        })
        .transpose()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    /// Page size (default 50); values outside 1 to 200 are taken as the
    /// nearest of the two.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    limit: Option<u32>,
    /// Messages older than this message id.
    before: Option<String>,
    /// Messages newer than this message id.
    after: Option<String>,
    /// This message with the ones just before and after it.
    around: Option<String>,
    /// The first messages at or after this time (RFC 3339), to jump to a date.
    since: Option<String>,
    /// The last messages before this time (RFC 3339).
    until: Option<String>,
}

fn time_param(value: &str, field: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| ApiError(Error::invalid(field, "is not an RFC 3339 time")))
}

fn history_query(query: &HistoryQuery) -> Result<confab_service::HistoryQuery, ApiError> {
    use confab_service::HistoryQuery as Q;
    let given = [
        &query.before,
        &query.after,
        &query.around,
        &query.since,
        &query.until,
    ]
    .iter()
    .filter(|p| p.is_some())
    .count();
    if given > 1 {
        return Err(Error::invalid(
            "query",
            "give at most one of before, after, around, since and until",
        )
        .into());
    }
    Ok(
        if let Some(id) = cursor_id(query.before.as_deref(), "before")? {
            Q::Before(id)
        } else if let Some(id) = cursor_id(query.after.as_deref(), "after")? {
            Q::After(id)
        } else if let Some(id) = cursor_id(query.around.as_deref(), "around")? {
            Q::Around(id)
        } else if let Some(at) = query.since.as_deref() {
            Q::Since(time_param(at, "since")?)
        } else if let Some(at) = query.until.as_deref() {
            Q::Until(time_param(at, "until")?)
        } else {
            Q::Latest
        },
    )
}

#[utoipa::path(get, path = "/channels/{channel}/messages", tag = "messages",
    params(("channel" = String, Path, description = CHANNEL), HistoryQuery),
    responses((status = 200, body = MessageList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn history(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<MessageList>, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    let range = history_query(&query)?;
    let limit = page_size(query.limit, 50);
    let page = app.history(&caller, id, range, limit).await?;
    let next_cursor = (page.messages.len() == limit as usize)
        .then(|| page.messages.last().map(|m| m.id.to_string()))
        .flatten();
    Ok(Json(MessageList {
        messages: page
            .messages
            .into_iter()
            .map(|m| MessageView::with_files(m, &page.files))
            .collect(),
        authors: page.authors.into_iter().map(AuthorView::from).collect(),
        next_cursor,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PostBody {
    content: String,
    #[schema(value_type = Option<Object>)]
    formatted_content: Option<Value>,
    /// Reply in the thread of this message.
    #[schema(value_type = Option<String>, format = Uuid)]
    thread_id: Option<MessageId>,
    /// With `thread_id`: also show the reply in the channel.
    #[serde(default)]
    broadcast: bool,
    /// The client's own id for the message: a retry with the same id
    /// returns the first message instead of posting again.
    client_msg_id: Option<String>,
    /// Files to share with the message (at most 10, each readable by the
    /// poster); with files, `content` may be empty.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    file_ids: Vec<FileId>,
}

#[utoipa::path(post, path = "/channels/{channel}/messages", tag = "messages",
    params(("channel" = String, Path, description = CHANNEL)), request_body = PostBody,
    responses((status = 201, body = MessageView), (status = 200, description = "A retry: the message first posted", body = MessageView),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn post(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
    ApiJson(body): ApiJson<PostBody>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    let posted = app
        .post_message(
            &caller,
            id,
            PostMessage {
                content: body.content,
                formatted_content: body.formatted_content,
                thread_id: body.thread_id,
                broadcast: body.broadcast,
                client_msg_id: body.client_msg_id,
                file_ids: body.file_ids,
            },
        )
        .await?;
    let status = if posted.inserted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let view = MessageView::with_files(posted.inserted.message, &posted.files);
    Ok((status, Json(view)))
}

#[utoipa::path(get, path = "/messages/{message}", tag = "messages",
    params(("message" = String, Path, description = MESSAGE)),
    responses((status = 200, body = MessageView), (status = 404, body = ErrorBody)))]
async fn read_one(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(message): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let id: MessageId = parse_id(&message, "message")?;
    Ok(Json(app.message(&caller, id).await?.into()))
}

/// One earlier version of an edited message.
#[derive(Serialize, ToSchema)]
struct EditRecordView {
    content: String,
    formatted_content: Option<serde_json::Value>,
    /// When this version was replaced.
    replaced_at: chrono::DateTime<chrono::Utc>,
}

/// The kept earlier versions of a message, oldest first.
#[derive(Serialize, ToSchema)]
struct EditHistory {
    versions: Vec<EditRecordView>,
}

#[utoipa::path(get, path = "/messages/{message}/history", tag = "messages",
    params(("message" = String, Path, description = MESSAGE)),
    responses((status = 200, body = EditHistory), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn edit_history(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(message): Path<String>,
) -> Result<Json<EditHistory>, ApiError> {
    let id: MessageId = parse_id(&message, "message")?;
    let versions = app
        .edit_history(&caller, id)
        .await?
        .into_iter()
        .map(|r| EditRecordView {
            content: r.content,
            formatted_content: r.formatted_content,
            replaced_at: r.replaced_at,
        })
        .collect();
    Ok(Json(EditHistory { versions }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EditBody {
    content: String,
    #[schema(value_type = Option<Object>)]
    formatted_content: Option<Value>,
}

#[utoipa::path(patch, path = "/messages/{message}", tag = "messages",
    params(("message" = String, Path, description = MESSAGE)), request_body = EditBody,
    responses((status = 200, body = MessageView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn edit(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(message): Path<String>,
    ApiJson(body): ApiJson<EditBody>,
) -> Result<Json<MessageView>, ApiError> {
    let id: MessageId = parse_id(&message, "message")?;
    let edited = app
        .edit_message(&caller, id, &body.content, body.formatted_content)
        .await?;
    Ok(Json(edited.into()))
}

#[utoipa::path(delete, path = "/messages/{message}", tag = "messages",
    params(("message" = String, Path, description = MESSAGE)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(message): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: MessageId = parse_id(&message, "message")?;
    app.delete_message(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct RepliesQuery {
    /// Page size (default 50); values outside 1 to 200 are taken as the
    /// nearest of the two.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    limit: Option<u32>,
    /// Replies after this reply id.
    after: Option<String>,
}

#[utoipa::path(get, path = "/messages/{message}/replies", tag = "messages",
    params(("message" = String, Path, description = MESSAGE), RepliesQuery),
    responses((status = 200, body = MessageList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn replies(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(message): Path<String>,
    ApiQuery(query): ApiQuery<RepliesQuery>,
) -> Result<Json<MessageList>, ApiError> {
    let id: MessageId = parse_id(&message, "message")?;
    let limit = page_size(query.limit, 50);
    let after = cursor_id(query.after.as_deref(), "after")?;
    let page = app.thread(&caller, id, after, limit).await?;
    let next_cursor = (page.messages.len() == limit as usize)
        .then(|| page.messages.last().map(|m| m.id.to_string()))
        .flatten();
    Ok(Json(MessageList {
        messages: page
            .messages
            .into_iter()
            .map(|m| MessageView::with_files(m, &page.files))
            .collect(),
        authors: Vec::new(),
        next_cursor,
    }))
}

/// The reactions on a message, per emoji.
#[derive(Serialize, ToSchema)]
struct ReactionList {
    reactions: Vec<ReactionView>,
}

#[utoipa::path(get, path = "/messages/{message}/reactions", tag = "messages",
    params(("message" = String, Path, description = MESSAGE)),
    responses((status = 200, body = ReactionList), (status = 404, body = ErrorBody)))]
async fn reactions(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(message): Path<String>,
) -> Result<Json<ReactionList>, ApiError> {
    let id: MessageId = parse_id(&message, "message")?;
    let view = MessageView::from(app.message(&caller, id).await?);
    Ok(Json(ReactionList {
        reactions: view.reactions,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReactBody {
    /// The emoji name, e.g. `thumbsup`.
    emoji: String,
}

#[utoipa::path(post, path = "/messages/{message}/reactions", tag = "messages",
    params(("message" = String, Path, description = MESSAGE)), request_body = ReactBody,
    responses((status = 200, body = MessageView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn react(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(message): Path<String>,
    ApiJson(body): ApiJson<ReactBody>,
) -> Result<Json<MessageView>, ApiError> {
    let id: MessageId = parse_id(&message, "message")?;
    Ok(Json(
        app.react(&caller, id, &body.emoji, true)
            .await?
            .message
            .into(),
    ))
}

#[utoipa::path(delete, path = "/messages/{message}/reactions/{emoji}", tag = "messages",
    params(("message" = String, Path, description = MESSAGE), ("emoji" = String, Path, description = "Emoji name")),
    responses((status = 200, body = MessageView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unreact(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path((message, emoji)): Path<(String, String)>,
) -> Result<Json<MessageView>, ApiError> {
    let id: MessageId = parse_id(&message, "message")?;
    Ok(Json(
        app.react(&caller, id, &emoji, false).await?.message.into(),
    ))
}

#[utoipa::path(post, path = "/messages/{message}/pin", tag = "messages",
    params(("message" = String, Path, description = MESSAGE)),
    responses((status = 200, body = MessageView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn pin(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(message): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let id: MessageId = parse_id(&message, "message")?;
    Ok(Json(app.pin(&caller, id, true).await?.message.into()))
}

#[utoipa::path(delete, path = "/messages/{message}/pin", tag = "messages",
    params(("message" = String, Path, description = MESSAGE)),
    responses((status = 200, body = MessageView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unpin(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(message): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let id: MessageId = parse_id(&message, "message")?;
    Ok(Json(app.pin(&caller, id, false).await?.message.into()))
}

#[utoipa::path(get, path = "/channels/{channel}/pins", tag = "messages",
    params(("channel" = String, Path, description = CHANNEL)),
    responses((status = 200, body = MessageList), (status = 404, body = ErrorBody)))]
async fn pins(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
) -> Result<Json<MessageList>, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    let messages = app.pins(&caller, id).await?;
    Ok(Json(MessageList {
        messages: messages.into_iter().map(MessageView::from).collect(),
        authors: Vec::new(),
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReadBody {
    /// The newest message read.
    #[schema(value_type = String, format = Uuid)]
    message_id: MessageId,
}

/// Whether the read marker moved.
#[derive(Serialize, ToSchema)]
struct ReadAnswer {
    moved: bool,
}

#[utoipa::path(post, path = "/channels/{channel}/read", tag = "messages",
    params(("channel" = String, Path, description = CHANNEL)), request_body = ReadBody,
    responses((status = 200, body = ReadAnswer), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn mark_read(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
    ApiJson(body): ApiJson<ReadBody>,
) -> Result<Json<ReadAnswer>, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    let moved = app.mark_read(&caller, id, body.message_id).await?;
    Ok(Json(ReadAnswer { moved }))
}

#[utoipa::path(get, path = "/channels/{channel}/read-state", tag = "messages",
    params(("channel" = String, Path, description = CHANNEL)),
    responses((status = 200, body = ReadStateView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn read_state(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
) -> Result<Json<ReadStateView>, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    Ok(Json(app.channel_read_state(&caller, id).await?.into()))
}

/// The caller's unread state in every channel of a workspace, with totals.
#[derive(Serialize, ToSchema)]
struct UnreadSummary {
    channels: Vec<ReadStateView>,
    total_unread: i64,
    total_mentions: i64,
}

#[utoipa::path(get, path = "/workspaces/{workspace}/unread", tag = "messages",
    params(("workspace" = String, Path, description = "Workspace id")),
    responses((status = 200, body = UnreadSummary), (status = 404, body = ErrorBody)))]
async fn unread(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
) -> Result<Json<UnreadSummary>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let states = app.read_states(&caller, id).await?;
    Ok(Json(UnreadSummary {
        total_unread: states.iter().map(|s| s.unread).sum(),
        total_mentions: states.iter().map(|s| s.mentions).sum(),
        channels: states.into_iter().map(ReadStateView::from).collect(),
    }))
}
