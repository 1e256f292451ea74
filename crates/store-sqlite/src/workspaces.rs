use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::LazyLock;

use confab_core::columns::{
    already_a_member, check_member_rules, insert_invitation_sql, insert_member_sql,
    member_rules_sql, pending_invitations_sql, Columns,
};
use confab_core::id::{InvitationId, MemberId, MembershipId, UserId, WorkspaceId};
use confab_core::model::*;
use confab_core::page::Page;
use confab_core::ports::WorkspaceStore;
use confab_core::{time, Error, Result};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::channels::{insert_channel, insert_channel_member};
use crate::{db_err, decode_row, json_text, ts, Cols, SqliteStore};

pub(crate) async fn insert_member(
    conn: &mut SqliteConnection,
    member: &NewWorkspaceMember,
) -> Result<WorkspaceMember> {
    static SQL: LazyLock<String> = LazyLock::new(|| insert_member_sql(|n| format!("?{n}")));
    let row = sqlx::query(SQL.as_str())
        .bind(member.id.to_string())
        .bind(member.workspace_id.to_string())
        .bind(member.user_id.to_string())
        .bind(member.role.as_str())
        .bind(member.status.as_str())
        .bind(member.invited_by.map(|u| u.to_string()))
        .bind(&member.invitation_token)
        .bind(ts(member.joined_at))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or_else(already_a_member)?;
    decode_row::<WorkspaceMember>(&row)
}

/// Add a member unless the workspace's active and invited members already
/// fill `max_members` (the caller's transaction makes the check atomic).
async fn add_member_within_limit(
    conn: &mut SqliteConnection,
    member: &NewWorkspaceMember,
) -> Result<WorkspaceMember> {
    let row = sqlx::query(
        "SELECT w.max_members,
                (SELECT count(*) FROM workspace_members m
                  WHERE m.workspace_id = w.workspace_id AND m.status IN ('active', 'invited')) AS taken
         FROM workspaces w WHERE w.workspace_id = ?",
    )
    .bind(member.workspace_id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::NotFound("workspace"))?;
    let row = Cols(&row);
    if row.int("taken")? >= row.int("max_members")? {
        return Err(Error::conflict("max_members", "the workspace is full"));
    }
    insert_member(conn, member).await
}

/// The membership rules hold after a change in `workspace` (see
/// [`check_member_rules`]).
async fn require_member_rules(
    conn: &mut SqliteConnection,
    workspace: WorkspaceId,
    reactivated: bool,
) -> Result<()> {
    static SQL: LazyLock<String> = LazyLock::new(|| member_rules_sql("?"));
    let row = sqlx::query(SQL.as_str())
        .bind(workspace.to_string())
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    check_member_rules(&Cols(&row), reactivated)
}

#[async_trait]
impl WorkspaceStore for SqliteStore {
    async fn create_workspace(
        &self,
        workspace: &NewWorkspace,
        owner: &NewWorkspaceMember,
        general: &NewChannel,
    ) -> Result<(Workspace, Channel)> {
        let (workspace, owner, general) = (workspace.clone(), owner.clone(), general.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let row = sqlx::query(
                    "INSERT INTO workspaces (workspace_id, name, domain, description, created_at, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
                )
                .bind(workspace.id.to_string())
                .bind(&workspace.name)
                .bind(&workspace.domain)
                .bind(&workspace.description)
                .bind(ts(workspace.created_at))
                .bind(ts(workspace.created_at))
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
                let created = decode_row::<Workspace>(&row)?;
                insert_member(conn, &owner).await?;
                let channel = insert_channel(conn, &general).await?;
                insert_channel_member(
                    conn,
                    &NewChannelMember {
                        id: Default::default(),
                        channel_id: channel.id,
                        user_id: owner.user_id,
                        role: ChannelRole::Admin,
                        invited_by: None,
                        joined_at: owner.joined_at,
                    },
                )
                .await?;
                Ok((created, channel))
            })
        })
        .await
    }

    async fn get_workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>> {
        sqlx::query("SELECT * FROM workspaces WHERE workspace_id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<Workspace>)
            .transpose()
    }

    async fn scan_workspaces(
        &self,
        after: Option<WorkspaceId>,
        limit: u32,
    ) -> Result<Vec<Workspace>> {
        let rows = sqlx::query("SELECT * FROM workspaces WHERE ?1 IS NULL OR workspace_id > ?1 ORDER BY workspace_id LIMIT ?2")
            .bind(after.map(|id| id.to_string()))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<Workspace>).collect()
    }

    async fn update_workspace(
        &self,
        id: WorkspaceId,
        update: &WorkspaceUpdate,
    ) -> Result<Workspace> {
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE workspaces SET updated_at = ");
        q.push_bind(ts(time::now()));
        if let Some(v) = &update.name {
            q.push(", name = ").push_bind(v.clone());
        }
        if let Some(v) = &update.domain {
            q.push(", domain = ").push_bind(v.clone());
        }
        if let Some(v) = &update.description {
            q.push(", description = ").push_bind(v.clone());
        }
        if let Some(v) = &update.avatar_url {
            q.push(", avatar_url = ").push_bind(v.clone());
        }
        if let Some(v) = &update.settings {
            q.push(", settings = ").push_bind(json_text(v));
        }
        if let Some(v) = &update.plan_type {
            q.push(", plan_type = ").push_bind(v.clone());
        }
        if let Some(v) = update.max_members {
            q.push(", max_members = ").push_bind(v);
        }
        if let Some(v) = &update.billing_email {
            q.push(", billing_email = ").push_bind(v.clone());
        }
        if let Some(v) = &update.subscription_status {
            q.push(", subscription_status = ").push_bind(v.clone());
        }
        if let Some(v) = update.sso_enabled {
            q.push(", sso_enabled = ").push_bind(v);
        }
        if let Some(v) = &update.sso_config {
            q.push(", sso_config = ")
                .push_bind(v.as_ref().map(json_text));
        }
        if let Some(v) = update.require_2fa {
            q.push(", require_2fa = ").push_bind(v);
        }
        q.push(" WHERE workspace_id = ")
            .push_bind(id.to_string())
            .push(" RETURNING *");
        let row = self
            .write_built(q)
            .await?
            .ok_or(Error::NotFound("workspace"))?;
        decode_row::<Workspace>(&row)
    }

    async fn memberships_of(&self, users: &[UserId]) -> Result<Vec<WorkspaceMember>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut q =
            QueryBuilder::<Sqlite>::new("SELECT * FROM workspace_members WHERE user_id IN (");
        let mut list = q.separated(", ");
        for id in users {
            list.push_bind(id.to_string());
        }
        q.push(")");
        let rows = q.build().fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(decode_row::<WorkspaceMember>).collect()
    }

    async fn list_workspaces_for_user(
        &self,
        user: UserId,
    ) -> Result<Vec<(Workspace, WorkspaceMember)>> {
        let members = sqlx::query("SELECT * FROM workspace_members WHERE user_id = ?")
            .bind(user.to_string())
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        let workspaces = sqlx::query(
            "SELECT * FROM workspaces WHERE workspace_id IN
               (SELECT workspace_id FROM workspace_members WHERE user_id = ?)
             ORDER BY name, workspace_id",
        )
        .bind(user.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let members = members
            .iter()
            .map(decode_row::<WorkspaceMember>)
            .collect::<Result<Vec<_>>>()?;
        let workspaces = workspaces
            .iter()
            .map(decode_row::<Workspace>)
            .collect::<Result<Vec<_>>>()?;
        Ok(confab_core::model::pair_workspaces(workspaces, members))
    }

    async fn add_member(&self, member: &NewWorkspaceMember) -> Result<WorkspaceMember> {
        let member = member.clone();
        self.write(move |conn| {
            Box::pin(async move { add_member_within_limit(conn, &member).await })
        })
        .await
    }

    async fn get_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
    ) -> Result<Option<WorkspaceMember>> {
        sqlx::query("SELECT * FROM workspace_members WHERE workspace_id = ? AND user_id = ?")
            .bind(workspace.to_string())
            .bind(user.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<WorkspaceMember>)
            .transpose()
    }

    async fn search_members(
        &self,
        workspace: WorkspaceId,
        text: &str,
        by_email: bool,
        limit: u32,
    ) -> Result<Vec<UserId>> {
        let [start, word_start, inside] = confab_core::columns::member_search_patterns(text);
        let sql = confab_core::columns::member_search_sql(by_email, |n| format!("?{n}"));
        let ids: Vec<String> = sqlx::query_scalar(&sql)
            .bind(workspace.to_string())
            .bind(start)
            .bind(word_start)
            .bind(inside)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        crate::parse_ids(&ids)
    }

    async fn list_members(
        &self,
        workspace: WorkspaceId,
        filter: &MemberFilter,
        after: Option<MemberId>,
        limit: u32,
    ) -> Result<Page<WorkspaceMember, MemberId>> {
        let mut q =
            QueryBuilder::<Sqlite>::new("SELECT * FROM workspace_members WHERE workspace_id = ");
        q.push_bind(workspace.to_string());
        if let Some(role) = filter.role {
            q.push(" AND role = ").push_bind(role.as_str());
        }
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(after) = after {
            q.push(" AND member_id > ").push_bind(after.to_string());
        }
        q.push(" ORDER BY member_id LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = q.build().fetch_all(&self.reader).await.map_err(db_err)?;
        let members = rows
            .iter()
            .map(decode_row::<WorkspaceMember>)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(members, limit, |m| m.id))
    }

    async fn update_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        update: &MemberUpdate,
    ) -> Result<WorkspaceMember> {
        let reactivated = update.status == Some(MemberStatus::Active);
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE workspace_members SET updated_at = ");
        q.push_bind(ts(time::now()));
        if let Some(v) = update.role {
            q.push(", role = ").push_bind(v.as_str());
        }
        if let Some(v) = update.status {
            q.push(", status = ").push_bind(v.as_str());
        }
        if let Some(v) = &update.title {
            q.push(", title = ").push_bind(v.clone());
        }
        if let Some(v) = &update.department {
            q.push(", department = ").push_bind(v.clone());
        }
        if let Some(v) = &update.timezone {
            q.push(", timezone = ").push_bind(v.clone());
        }
        if let Some(v) = &update.permissions {
            q.push(", permissions = ").push_bind(json_text(v));
        }
        if let Some(v) = update.last_seen_at {
            q.push(", last_seen_at = ").push_bind(ts(v));
        }
        q.push(" WHERE workspace_id = ")
            .push_bind(workspace.to_string())
            .push(" AND user_id = ")
            .push_bind(user.to_string())
            .push(" RETURNING *");
        let row = self
            .write(move |conn| {
                Box::pin(async move {
                    let row = q
                        .build()
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(db_err)?
                        .ok_or(Error::NotFound("member"))?;
                    let member = decode_row::<WorkspaceMember>(&row)?;
                    // Failing here rolls the update back with the savepoint.
                    require_member_rules(conn, member.workspace_id, reactivated).await?;
                    Ok(member)
                })
            })
            .await?;
        Ok(row)
    }

    async fn count_active_members(
        &self,
        workspace: WorkspaceId,
        role: Option<WorkspaceRole>,
    ) -> Result<i64> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT count(*) AS n FROM workspace_members WHERE status = 'active' AND workspace_id = ",
        );
        q.push_bind(workspace.to_string());
        if let Some(role) = role {
            q.push(" AND role = ").push_bind(role.as_str());
        }
        let row = q.build().fetch_one(&self.reader).await.map_err(db_err)?;
        Cols(&row).int("n")
    }

    async fn create_invitation(&self, invitation: &Invitation) -> Result<Invitation> {
        let invitation = invitation.clone();
        self.write(move |conn| {
            Box::pin(async move {
                static PENDING: LazyLock<String> =
                    LazyLock::new(|| pending_invitations_sql("?", "?"));
                let pending: i64 = sqlx::query_scalar(PENDING.as_str())
                    .bind(invitation.workspace_id.to_string())
                    .bind(ts(invitation.created_at))
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                check_invitation_room(pending)?;
                static INSERT: LazyLock<String> =
                    LazyLock::new(|| insert_invitation_sql(|n| format!("?{n}")));
                let row = sqlx::query(INSERT.as_str())
                    .bind(invitation.id.to_string())
                    .bind(invitation.workspace_id.to_string())
                    .bind(&invitation.token_hash)
                    .bind(&invitation.email)
                    .bind(invitation.role.as_str())
                    .bind(invitation.max_uses)
                    .bind(ts(invitation.expires_at))
                    .bind(invitation.created_by.to_string())
                    .bind(ts(invitation.created_at))
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                decode_row::<Invitation>(&row)
            })
        })
        .await
    }

    async fn get_invitation_by_token(&self, token_hash: &str) -> Result<Option<Invitation>> {
        sqlx::query("SELECT * FROM invitations WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<Invitation>)
            .transpose()
    }

    async fn list_invitations(
        &self,
        workspace: WorkspaceId,
        before: Option<InvitationId>,
        limit: u32,
    ) -> Result<Page<Invitation, InvitationId>> {
        let rows = sqlx::query(
            "SELECT * FROM invitations WHERE workspace_id = ?1 AND (?2 IS NULL OR invitation_id < ?2)
             ORDER BY invitation_id DESC LIMIT ?3",
        )
        .bind(workspace.to_string())
        .bind(before.map(|id| id.to_string()))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let invitations = rows
            .iter()
            .map(decode_row::<Invitation>)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(invitations, limit, |i| i.id))
    }

    async fn revoke_invitation(
        &self,
        workspace: WorkspaceId,
        id: InvitationId,
        at: DateTime<Utc>,
    ) -> Result<Invitation> {
        let query = sqlx::query(
            "UPDATE invitations SET revoked_at = coalesce(revoked_at, ?)
             WHERE invitation_id = ? AND workspace_id = ? RETURNING *",
        )
        .bind(ts(at))
        .bind(id.to_string())
        .bind(workspace.to_string());
        let row = self
            .write_row(query)
            .await?
            .ok_or(Error::NotFound("invitation"))?;
        decode_row::<Invitation>(&row)
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        member: &NewWorkspaceMember,
        at: DateTime<Utc>,
    ) -> Result<(Invitation, WorkspaceMember)> {
        let token_hash = token_hash.to_owned();
        let member = member.clone();
        self.write(move |conn| {
            Box::pin(async move {
                let invitation = sqlx::query("SELECT * FROM invitations WHERE token_hash = ?")
                    .bind(&token_hash)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(decode_row::<Invitation>)
                    .transpose()?
                    .ok_or(Error::NotFound("invitation"))?;
                let joined = add_member_within_limit(conn, &invitation.admit(&member, at)?).await?;
                if joined.role != WorkspaceRole::Guest {
                    sqlx::query(
                        "INSERT INTO channel_members (membership_id, channel_id, user_id, role, invited_by, joined_at)
                         SELECT ?, channel_id, ?, 'member', ?, ? FROM channels
                         WHERE workspace_id = ? AND is_general = 1
                         ON CONFLICT (channel_id, user_id) DO UPDATE SET is_active = 1, left_at = NULL",
                    )
                    .bind(MembershipId::new().to_string())
                    .bind(joined.user_id.to_string())
                    .bind(invitation.created_by.to_string())
                    .bind(ts(at))
                    .bind(joined.workspace_id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                }
                let row = sqlx::query(
                    "UPDATE invitations SET use_count = use_count + 1 WHERE invitation_id = ? RETURNING *",
                )
                .bind(invitation.id.to_string())
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
                Ok((decode_row::<Invitation>(&row)?, joined))
            })
        })
        .await
    }
}
