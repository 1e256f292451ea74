//! Workspaces, members and invitations.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use confab_core::id::{InvitationId, MemberId, UserId, WorkspaceId};
use confab_core::model::{
    MemberFilter, MemberStatus, MemberUpdate, Workspace, WorkspaceMember, WorkspaceRole,
    WorkspaceUpdate,
};
use confab_core::page::page_size;
use confab_service::NewWorkspaceRequest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::parse_id;
use crate::extract::{ApiJson, ApiQuery, Authed};
use crate::wire::{
    cursor, double_option, ChannelBrief, ErrorBody, InvitationView, MemberView, WithPerson,
    WorkspaceView,
};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_mine, create))
        .routes(routes!(read, update))
        .routes(routes!(leave))
        .routes(routes!(members))
        .routes(routes!(update_member))
        .routes(routes!(deactivate))
        .routes(routes!(reactivate))
        .routes(routes!(invitations, invite))
        .routes(routes!(revoke))
        .routes(routes!(accept))
}

/// A workspace with the caller's membership (and, when just created, its
/// general channel).
#[derive(Serialize, ToSchema)]
struct WorkspaceAnswer {
    workspace: WorkspaceView,
    membership: MemberView,
    #[serde(skip_serializing_if = "Option::is_none")]
    general_channel: Option<ChannelBrief>,
}

impl WorkspaceAnswer {
    fn new(workspace: Workspace, member: WorkspaceMember) -> Self {
        let role = member.role;
        Self {
            workspace: WorkspaceView::for_role(workspace, role),
            membership: member.into(),
            general_channel: None,
        }
    }
}

/// The caller's workspaces.
#[derive(Serialize, ToSchema)]
struct WorkspaceList {
    workspaces: Vec<WorkspaceAnswer>,
}

/// One page of members.
#[derive(Serialize, ToSchema)]
struct MemberPage {
    members: Vec<WithPerson<MemberView>>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// A new invitation and its token, shown only now.
#[derive(Serialize, ToSchema)]
struct InvitationCreated {
    invitation: InvitationView,
    token: String,
    /// Whether the invitation was mailed to its `email` (false for links,
    /// and when the mail could not be sent: share the token instead).
    mailed: bool,
}

/// The invitations of a workspace.
#[derive(Serialize, ToSchema)]
struct InvitationList {
    invitations: Vec<InvitationView>,
    /// Pass as `cursor` for older invitations; absent on the last page.
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct InvitationsQuery {
    /// Page size (default 50); values outside 1 to 200 are taken as the
    /// nearest of the two.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    domain: Option<String>,
    description: Option<String>,
}

#[utoipa::path(post, path = "/workspaces", tag = "workspaces", request_body = CreateBody,
    responses((status = 201, body = WorkspaceAnswer), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn create(
    State(app): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<WorkspaceAnswer>), ApiError> {
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
    let mut answer = WorkspaceAnswer::new(created.workspace, created.member);
    answer.general_channel = Some(created.general.into());
    Ok((StatusCode::CREATED, Json(answer)))
}

#[utoipa::path(get, path = "/workspaces", tag = "workspaces", responses((status = 200, body = WorkspaceList), (status = 401, body = ErrorBody)))]
async fn list_mine(
    State(app): State<AppState>,
    Authed(caller): Authed,
) -> Result<Json<WorkspaceList>, ApiError> {
    let workspaces = app
        .my_workspaces(&caller)
        .await?
        .into_iter()
        .map(|(w, m)| WorkspaceAnswer::new(w, m))
        .collect();
    Ok(Json(WorkspaceList { workspaces }))
}

#[utoipa::path(get, path = "/workspaces/{workspace}", operation_id = "get_workspace", tag = "workspaces", params(("workspace" = String, Path, description = "Workspace id")),
    responses((status = 200, body = WorkspaceAnswer), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn read(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
) -> Result<Json<WorkspaceAnswer>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let (w, m) = app.workspace_for(&caller, id).await?;
    Ok(Json(WorkspaceAnswer::new(w, m)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    domain: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    avatar_url: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    settings: Option<Value>,
    plan_type: Option<String>,
    max_members: Option<i32>,
    #[serde(default, deserialize_with = "double_option")]
    billing_email: Option<Option<String>>,
    sso_enabled: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    sso_config: Option<Option<Value>>,
    require_2fa: Option<bool>,
}

#[utoipa::path(patch, path = "/workspaces/{workspace}", operation_id = "update_workspace", tag = "workspaces", params(("workspace" = String, Path, description = "Workspace id")), request_body = UpdateBody,
    responses((status = 200, body = WorkspaceAnswer), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<WorkspaceAnswer>, ApiError> {
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
    let (updated, me) = app.update_workspace(&caller, id, update).await?;
    Ok(Json(WorkspaceAnswer::new(updated, me)))
}

#[utoipa::path(post, path = "/workspaces/{workspace}/leave", operation_id = "leave_workspace", tag = "workspaces", params(("workspace" = String, Path, description = "Workspace id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn leave(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    app.leave_workspace(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct MembersQuery {
    /// Page size (default 50); values outside 1 to 200 are taken as the
    /// nearest of the two.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only members with this role.
    role: Option<WorkspaceRole>,
    /// Only members with this status.
    status: Option<MemberStatus>,
}

#[utoipa::path(get, path = "/workspaces/{workspace}/members", operation_id = "workspace_members", tag = "members", params(("workspace" = String, Path, description = "Workspace id"), MembersQuery),
    responses((status = 200, body = MemberPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn members(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiQuery(query): ApiQuery<MembersQuery>,
) -> Result<Json<MemberPage>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let filter = MemberFilter {
        role: query.role,
        status: query.status,
    };
    let after = query
        .cursor
        .as_deref()
        .map(cursor::decode::<MemberId>)
        .transpose()?;
    let page = app
        .list_members(&caller, id, filter, after, page_size(query.limit, 50))
        .await?;
    Ok(Json(MemberPage {
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
struct MemberBody {
    role: Option<WorkspaceRole>,
    #[serde(default, deserialize_with = "double_option")]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    department: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    timezone: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    permissions: Option<Value>,
}

#[utoipa::path(patch, path = "/workspaces/{workspace}/members/{user}", operation_id = "update_workspace_member", tag = "members", params(("workspace" = String, Path, description = "Workspace id"), ("user" = String, Path, description = "User id of the member")), request_body = MemberBody,
    responses((status = 200, body = MemberView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
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

#[utoipa::path(post, path = "/workspaces/{workspace}/members/{user}/deactivate", tag = "members", params(("workspace" = String, Path, description = "Workspace id"), ("user" = String, Path, description = "User id of the member")),
    responses((status = 200, body = MemberView), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn deactivate(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path((workspace, user)): Path<(String, String)>,
) -> Result<Json<MemberView>, ApiError> {
    set_active(app, caller, workspace, user, false).await
}

#[utoipa::path(post, path = "/workspaces/{workspace}/members/{user}/reactivate", tag = "members", params(("workspace" = String, Path, description = "Workspace id"), ("user" = String, Path, description = "User id of the member")),
    responses((status = 200, body = MemberView), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reactivate(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path((workspace, user)): Path<(String, String)>,
) -> Result<Json<MemberView>, ApiError> {
    set_active(app, caller, workspace, user, true).await
}

#[derive(Deserialize, ToSchema)]
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

#[utoipa::path(post, path = "/workspaces/{workspace}/invitations", tag = "invitations", params(("workspace" = String, Path, description = "Workspace id")), request_body = InviteBody,
    responses((status = 201, body = InvitationCreated), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn invite(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<(StatusCode, Json<InvitationCreated>), ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let issued = app
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
        Json(InvitationCreated {
            invitation: issued.invitation.into(),
            token: issued.token,
            mailed: issued.mailed,
        }),
    ))
}

#[utoipa::path(get, path = "/workspaces/{workspace}/invitations", tag = "invitations", params(("workspace" = String, Path, description = "Workspace id"), InvitationsQuery),
    responses((status = 200, body = InvitationList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn invitations(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiQuery(query): ApiQuery<InvitationsQuery>,
) -> Result<Json<InvitationList>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let before = query
        .cursor
        .as_deref()
        .map(cursor::decode::<InvitationId>)
        .transpose()?;
    let page = app
        .invitations(&caller, id, before, page_size(query.limit, 50))
        .await?;
    Ok(Json(InvitationList {
        invitations: page.items.into_iter().map(InvitationView::from).collect(),
        next_cursor: page.next.map(|k| cursor::encode(&k.to_string())),
    }))
}

#[utoipa::path(delete, path = "/workspaces/{workspace}/invitations/{invitation}", tag = "invitations", params(("workspace" = String, Path, description = "Workspace id"), ("invitation" = String, Path, description = "Invitation id")),
    responses((status = 200, body = InvitationView), (status = 403, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AcceptBody {
    token: String,
}

#[utoipa::path(post, path = "/invitations/accept", tag = "invitations", request_body = AcceptBody,
    responses((status = 200, body = WorkspaceAnswer), (status = 409, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 403, description = "An invitation for an address the caller has not verified", body = ErrorBody)))]
async fn accept(
    State(app): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<AcceptBody>,
) -> Result<Json<WorkspaceAnswer>, ApiError> {
    let (w, m) = app.accept_invitation(&caller, &body.token).await?;
    Ok(Json(WorkspaceAnswer::new(w, m)))
}
