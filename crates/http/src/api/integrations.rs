//! Integrations (bots) and personal API tokens, for the Slack-compatible
//! Web API at `/api/<method>`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use confab_core::id::{ChannelId, IntegrationId, WorkspaceId};
use confab_core::model::{ApiToken, Integration};
use confab_service::{CommandOutcome, InstallRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::parse_id;
use crate::extract::{ApiJson, Authed};
use crate::wire::ErrorBody;
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, install))
        .routes(routes!(remove))
        .routes(routes!(subscribe))
        .routes(routes!(run_command))
        .routes(routes!(deliveries))
        .routes(routes!(my_tokens, create_token))
        .routes(routes!(revoke_token))
}

/// An installed integration. Its secrets are never shown after creation.
#[derive(Serialize, ToSchema)]
struct IntegrationView {
    #[schema(value_type = String, format = Uuid)]
    id: IntegrationId,
    #[serde(rename = "type")]
    integration_type: String,
    name: String,
    /// Its id as Slack's clients see it (`api_app_id`).
    app_id: String,
    scopes: Vec<String>,
    /// `active`, or `revoked` once removed.
    status: String,
    last_error: Option<String>,
    /// The integration's bot user.
    bot_user_id: Option<String>,
    /// The channel an incoming webhook posts to.
    #[schema(value_type = Option<String>, format = Uuid)]
    channel_id: Option<ChannelId>,
    /// Where a bot's events go, and which.
    event_url: Option<String>,
    events: Vec<String>,
    installed_by: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

impl From<Integration> for IntegrationView {
    fn from(i: Integration) -> Self {
        Self {
            id: i.id,
            bot_user_id: i.config["bot_user_id"].as_str().map(str::to_owned),
            channel_id: i.channel_id,
            event_url: i.config["event_url"].as_str().map(str::to_owned),
            events: i.config["events"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            integration_type: i.integration_type,
            name: i.app_name,
            app_id: i.app_id,
            scopes: i.scopes,
            status: i.status,
            last_error: i.last_error,
            installed_by: i.installed_by.to_string(),
            created_at: i.created_at,
            last_used_at: i.last_used_at,
        }
    }
}

/// An API token, without its secret.
#[derive(Serialize, ToSchema)]
struct TokenView {
    #[schema(value_type = String, format = Uuid)]
    id: IntegrationId,
    label: String,
    /// `bot` (`xoxb-`) or `user` (`xoxp-`).
    kind: String,
    scopes: Vec<String>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id,
            label: t.label,
            kind: t.kind.as_str().to_owned(),
            scopes: t.scopes,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InstallBody {
    /// `bot`, `incoming_webhook`, `outgoing_webhook` or `slash_command`.
    #[serde(rename = "type")]
    integration_type: String,
    name: String,
    /// A bot's scopes, Slack's names; `groups:*` stands for every
    /// `groups:` scope.
    #[serde(default)]
    scopes: Vec<String>,
    /// The channel an incoming webhook posts to (Confab's id).
    channel_id: Option<String>,
    /// A slash command's name (`/deploy`).
    command: Option<String>,
    /// The URL a slash command or an outgoing webhook calls.
    url: Option<String>,
    /// The words an outgoing webhook listens for at the start of a
    /// message (none: every message of its channel).
    #[serde(default)]
    trigger_words: Vec<String>,
}

/// An integration just installed, with its secret shown this once.
#[derive(Serialize, ToSchema)]
struct Installed {
    integration: IntegrationView,
    /// A bot's token (`xoxb-…`): keep it, it is not shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// An incoming webhook's URL, its secret inside: keep it, it is not
    /// shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// An outgoing webhook's token, sent in each call for the receiver to
    /// check. Not shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    verification_token: Option<String>,
    /// The signing secret of a bot, slash command or outgoing webhook: what
    /// it is sent is signed with it (`X-Slack-Signature`). Not shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_secret: Option<String>,
}

#[utoipa::path(get, path = "/workspaces/{workspace}/integrations", tag = "integrations", params(("workspace" = String, Path, description = "Workspace id")),
    responses((status = 200, body = Vec<IntegrationView>), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
) -> Result<Json<Vec<IntegrationView>>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let found = app.integrations(&caller, id).await?;
    Ok(Json(found.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/workspaces/{workspace}/integrations", tag = "integrations", params(("workspace" = String, Path, description = "Workspace id")), request_body = InstallBody,
    responses((status = 201, body = Installed), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn install(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<InstallBody>,
) -> Result<(StatusCode, Json<Installed>), ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let channel = match body.channel_id.as_deref() {
        Some(text) => Some(parse_id::<ChannelId>(text, "channel")?),
        None => None,
    };
    let request = InstallRequest {
        integration_type: body.integration_type,
        name: body.name,
        scopes: body.scopes,
        channel,
        command: body.command,
        url: body.url,
        trigger_words: body.trigger_words,
    };
    let installed = app.install_integration(&caller, id, request).await?;
    let kind = installed.integration.integration_type.as_str();
    let (is_bot, is_hook) = (kind == "bot", kind == "incoming_webhook");
    let is_outgoing = kind == "outgoing_webhook";
    let base = crate::slack::base_url(&app, &headers);
    let url = is_hook.then(|| {
        format!(
            "{base}/hooks/{}/{}",
            installed.integration.id, installed.secret
        )
    });
    Ok((
        StatusCode::CREATED,
        Json(Installed {
            integration: installed.integration.into(),
            token: is_bot.then(|| installed.secret.clone()),
            verification_token: is_outgoing.then_some(installed.secret),
            url,
            signing_secret: installed.signing_secret,
        }),
    ))
}

#[utoipa::path(delete, path = "/integrations/{integration}", tag = "integrations", params(("integration" = String, Path, description = "Integration id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(integration): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: IntegrationId = parse_id(&integration, "integration")?;
    app.remove_integration(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    /// What the token is for, to recognise it later.
    label: String,
    scopes: Vec<String>,
}

/// A personal token just made, shown this once.
#[derive(Serialize, ToSchema)]
struct TokenCreated {
    token: TokenView,
    /// The token (`xoxp-…`): keep it, it is not shown again.
    secret: String,
}

#[utoipa::path(get, path = "/workspaces/{workspace}/tokens", tag = "integrations", params(("workspace" = String, Path, description = "Workspace id")),
    responses((status = 200, body = Vec<TokenView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn my_tokens(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let tokens = app.user_tokens(&caller, id).await?;
    Ok(Json(tokens.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/workspaces/{workspace}/tokens", tag = "integrations", params(("workspace" = String, Path, description = "Workspace id")), request_body = TokenBody,
    responses((status = 201, body = TokenCreated), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_token(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let (token, secret) = app
        .create_user_token(&caller, id, &body.label, &body.scopes)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            token: token.into(),
            secret,
        }),
    ))
}

#[utoipa::path(delete, path = "/tokens/{token}", tag = "integrations", params(("token" = String, Path, description = "Token id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(token): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: IntegrationId = parse_id(&token, "token")?;
    app.revoke_token(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EventsBody {
    /// The bot's request URL; null stops its events. It must answer
    /// Slack's `url_verification` with its challenge.
    url: Option<String>,
    /// Events to send: `message`, `app_mention`, `reaction_added`,
    /// `reaction_removed`, `member_joined_channel`, `channel_created`.
    #[serde(default)]
    events: Vec<String>,
}

#[utoipa::path(put, path = "/integrations/{integration}/events", tag = "integrations", params(("integration" = String, Path, description = "Integration id")), request_body = EventsBody,
    responses((status = 200, body = IntegrationView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn subscribe(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(integration): Path<String>,
    ApiJson(body): ApiJson<EventsBody>,
) -> Result<Json<IntegrationView>, ApiError> {
    let id: IntegrationId = parse_id(&integration, "integration")?;
    let changed = app
        .subscribe_bot_events(&caller, id, body.url.as_deref(), &body.events)
        .await?;
    Ok(Json(changed.into()))
}

/// One event sent (or being sent) to a bot.
#[derive(Serialize, ToSchema)]
struct DeliveryView {
    event_id: String,
    /// `pending`, `delivered` or `failed`.
    status: String,
    attempts: i32,
    last_error: Option<String>,
    #[schema(value_type = Object)]
    payload: serde_json::Value,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
}

#[utoipa::path(get, path = "/integrations/{integration}/deliveries", tag = "integrations", params(("integration" = String, Path, description = "Integration id")),
    responses((status = 200, body = Vec<DeliveryView>, description = "The latest 100, newest first"), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn deliveries(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(integration): Path<String>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let id: IntegrationId = parse_id(&integration, "integration")?;
    let found = app.event_deliveries(&caller, id).await?;
    Ok(Json(
        found
            .into_iter()
            .map(|d| DeliveryView {
                event_id: d.event_id,
                status: d.status,
                attempts: d.attempts,
                last_error: d.last_error,
                payload: d.payload,
                created_at: d.created_at,
                delivered_at: d.delivered_at,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CommandBody {
    /// The command's name (`/deploy`).
    command: String,
    /// What was typed after it.
    #[serde(default)]
    text: String,
}

/// What a slash command answered.
#[derive(Serialize, ToSchema)]
struct CommandAnswer {
    /// `ephemeral` (for the caller alone, not kept), `in_channel` (posted
    /// as the command's bot: `message`), `none` (acknowledged with nothing
    /// to show) or `failed` (`text` says why).
    response_type: &'static str,
    text: Option<String>,
    #[schema(value_type = Option<Object>)]
    formatted_content: Option<serde_json::Value>,
    message: Option<crate::wire::MessageView>,
}

#[utoipa::path(post, path = "/channels/{channel}/commands", tag = "integrations", params(("channel" = String, Path, description = "Channel id")), request_body = CommandBody,
    responses((status = 200, body = CommandAnswer), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "No such channel, or no such command in its workspace")))]
async fn run_command(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(channel): Path<String>,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<CommandBody>,
) -> Result<Json<CommandAnswer>, ApiError> {
    let id: ChannelId = parse_id(&channel, "channel")?;
    let base = crate::slack::base_url(&app, &headers);
    let outcome = app
        .run_command(&caller, id, &body.command, &body.text, &base)
        .await?;
    Ok(Json(match outcome {
        CommandOutcome::Ephemeral {
            text,
            formatted_content,
        } => CommandAnswer {
            response_type: "ephemeral",
            text: Some(text),
            formatted_content,
            message: None,
        },
        CommandOutcome::InChannel(posted) => CommandAnswer {
            response_type: "in_channel",
            text: None,
            formatted_content: None,
            message: Some(crate::wire::MessageView::from(posted.inserted.message)),
        },
        CommandOutcome::Acknowledged => CommandAnswer {
            response_type: "none",
            text: None,
            formatted_content: None,
            message: None,
        },
        CommandOutcome::Failed(why) => CommandAnswer {
            response_type: "failed",
            text: Some(why),
            formatted_content: None,
            message: None,
        },
    }))
}
