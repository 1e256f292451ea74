//! Workspaces, members and invitations.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use confab_core::id::{InvitationId, MemberId, UserId, WorkspaceId};
use confab_core::model::{
    MemberFilter, MemberStatus, MemberUpdate, WorkspaceRole, WorkspaceUpdate,
};
use confab_core::page::page_size;
use confab_core::Error;
use confab_service::NewWorkspaceRequest;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::extract::{ApiJson, Authed};
use crate::wire::{cursor, double_option, ChannelBrief, InvitationView, MemberView, WorkspaceView};
use crate::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces", get(list_mine).post(create))
        .route("/workspaces/{workspace}", get(read).patch(update))
        .route("/workspaces/{workspace}/leave", post(leave))
        .route("/workspaces/{workspace}/members", get(members))
        .route(
            "/workspaces/{workspace}/members/{user}",
            axum::routing::patch(update_member),
        )
        .route(
            "/workspaces/{workspace}/members/{user}/deactivate",
            post(deactivate),
        )
        .route(
            "/workspaces/{workspace}/members/{user}/reactivate",
            post(reactivate),
        )
        .route(
            "/workspaces/{workspace}/invitations",
            get(invitations).post(invite),
        )
        .route(
            "/workspaces/{workspace}/invitations/{invitation}",
            delete(revoke),
        )
        .route("/invitations/accept", post(accept))
}

/// Parse an id from the path; a malformed one is simply not found.
fn parse_id<T: std::str::FromStr>(text: &str, what: &'static str) -> Result<T, ApiError> {
    text.parse().map_err(|_| ApiError(Error::NotFound(what)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    domain: Option<String>,
    description: Option<String>,
}

async fn create(
    State(app): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let created = app
        .create_workspace(
            &caller,
            NewWorkspaceRequest {
                name: body.name,
                domain: body.domain,
                description: body.description,
            },
        )
        .await?;
    let role = created.member.role;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "workspace": WorkspaceView::for_role(created.workspace, role),
            "membership": MemberView::from(created.member),
            "general_channel": ChannelBrief::from(created.general),
        })),
    ))
}

async fn list_mine(
    State(app): State<AppState>,
    Authed(caller): Authed,
) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = app
        .my_workspaces(&caller)
        .await?
        .into_iter()
        .map(|(w, m)| {
            json!({
                "workspace": WorkspaceView::for_role(w, m.role),
                "membership": MemberView::from(m),
            })
        })
        .collect();
    Ok(Json(json!({ "workspaces": items })))
}

async fn read(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let (w, m) = app.workspace_for(&caller, id).await?;
    Ok(Json(json!({
        "workspace": WorkspaceView::for_role(w, m.role),
        "membership": MemberView::from(m),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    domain: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    avatar_url: Option<Option<String>>,
    settings: Option<Value>,
    plan_type: Option<String>,
    max_members: Option<i32>,
    #[serde(default, deserialize_with = "double_option")]
    billing_email: Option<Option<String>>,
    sso_enabled: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    sso_config: Option<Option<Value>>,
    require_2fa: Option<bool>,
}

async fn update(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<Value>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let update = WorkspaceUpdate {
        name: body.name,
        domain: body.domain,
        description: body.description,
        avatar_url: body.avatar_url,
        settings: body.settings,
        plan_type: body.plan_type,
        max_members: body.max_members,
        billing_email: body.billing_email,
        subscription_status: None,
        sso_enabled: body.sso_enabled,
        sso_config: body.sso_config,
        require_2fa: body.require_2fa,
    };
    let updated = app.update_workspace(&caller, id, update).await?;
    let (_, me) = app.workspace_for(&caller, id).await?;
    Ok(Json(
        json!({ "workspace": WorkspaceView::for_role(updated, me.role) }),
    ))
}

async fn leave(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    app.leave_workspace(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MembersQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    role: Option<String>,
    status: Option<String>,
}

async fn members(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    query: Result<Query<MembersQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError(Error::invalid("query", e.body_text())))?;
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let filter = MemberFilter {
        role: query
            .role
            .as_deref()
            .map(str::parse::<WorkspaceRole>)
            .transpose()?,
        status: query
            .status
            .as_deref()
            .map(str::parse::<MemberStatus>)
            .transpose()?,
    };
    let after = query
        .cursor
        .as_deref()
        .map(cursor::decode::<MemberId>)
        .transpose()?;
    let page = app
        .list_members(&caller, id, filter, after, page_size(query.limit, 50))
        .await?;
    let members: Vec<MemberView> = page.items.into_iter().map(MemberView::from).collect();
    Ok(Json(json!({
        "members": members,
        "next_cursor": page.next.map(|k| cursor::encode(&k.to_string())),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    role: Option<WorkspaceRole>,
    #[serde(default, deserialize_with = "double_option")]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    department: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    timezone: Option<Option<String>>,
    permissions: Option<Value>,
}

async fn update_member(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path((workspace, user)): Path<(String, String)>,
    ApiJson(body): ApiJson<MemberBody>,
) -> Result<Json<MemberView>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let user: UserId = parse_id(&user, "member")?;
    let update = MemberUpdate {
        role: body.role,
        title: body.title,
        department: body.department,
        timezone: body.timezone,
        permissions: body.permissions,
        ..Default::default()
    };
    Ok(Json(
        app.update_member(&caller, id, user, update).await?.into(),
    ))
}

async fn set_active(
    app: AppState,
    caller: confab_service::Caller,
    workspace: String,
    user: String,
    active: bool,
) -> Result<Json<MemberView>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let user: UserId = parse_id(&user, "member")?;
    Ok(Json(
        app.set_member_active(&caller, id, user, active)
            .await?
            .into(),
    ))
}

async fn deactivate(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path((workspace, user)): Path<(String, String)>,
) -> Result<Json<MemberView>, ApiError> {
    set_active(app, caller, workspace, user, false).await
}

async fn reactivate(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path((workspace, user)): Path<(String, String)>,
) -> Result<Json<MemberView>, ApiError> {
    set_active(app, caller, workspace, user, true).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    email: Option<String>,
    #[serde(default = "default_role")]
    role: WorkspaceRole,
    max_uses: Option<i32>,
    expires_in_days: Option<i64>,
}

fn default_role() -> WorkspaceRole {
    WorkspaceRole::Member
}

async fn invite(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let (invitation, token) = app
        .invite(
            &caller,
            id,
            body.email.as_deref(),
            body.role,
            body.max_uses,
            body.expires_in_days,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "invitation": InvitationView::from(invitation), "token": token })),
    ))
}

async fn invitations(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let list: Vec<InvitationView> = app
        .invitations(&caller, id)
        .await?
        .into_iter()
        .map(InvitationView::from)
        .collect();
    Ok(Json(json!({ "invitations": list })))
}

async fn revoke(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path((workspace, invitation)): Path<(String, String)>,
) -> Result<Json<InvitationView>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let invitation: InvitationId = parse_id(&invitation, "invitation")?;
    Ok(Json(
        app.revoke_invitation(&caller, id, invitation).await?.into(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptBody {
    token: String,
}

async fn accept(
    State(app): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<AcceptBody>,
) -> Result<Json<Value>, ApiError> {
    let (w, m) = app.accept_invitation(&caller, &body.token).await?;
    Ok(Json(json!({
        "workspace": WorkspaceView::for_role(w, m.role),
        "membership": MemberView::from(m),
    })))
}
