use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::id::{InvitationId, MemberId, MembershipId, UserId, WorkspaceId};
use confab_core::model::*;
use confab_core::page::Page;
use confab_core::ports::WorkspaceStore;
use confab_core::{time, Error, Result};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::channels::{insert_channel, insert_channel_member};
use confab_core::columns::{
    already_a_member, check_member_rules, insert_invitation_sql, insert_member_sql,
    member_rules_sql, pending_invitations_sql, Columns,
};

use crate::{db_err, decode_row, json_value, Cols, PostgresStore};

pub(crate) async fn insert_member(
    conn: &mut PgConnection,
    member: &NewWorkspaceMember,
) -> Result<WorkspaceMember> {
    static SQL: LazyLock<String> = LazyLock::new(|| insert_member_sql(|n| format!("${n}")));
    let row = sqlx::query(SQL.as_str())
        .bind(member.id.0)
        .bind(member.workspace_id.0)
        .bind(member.user_id.0)
        .bind(member.role.as_str())
        .bind(member.status.as_str())
        .bind(member.invited_by.map(|u| u.0))
        .bind(&member.invitation_token)
        .bind(member.joined_at)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or_else(already_a_member)?;
    decode_row::<WorkspaceMember>(&row)
}

/// Add a member unless the workspace's active and invited members already
/// fill `max_members`. Locking the workspace row serialises concurrent joins,
/// so the count cannot overshoot.
async fn add_member_within_limit(
    conn: &mut PgConnection,
    member: &NewWorkspaceMember,
) -> Result<WorkspaceMember> {
    let max_members: i32 =
        sqlx::query_scalar("SELECT max_members FROM workspaces WHERE workspace_id = $1 FOR UPDATE")
            .bind(member.workspace_id.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("workspace"))?;
    let taken: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM workspace_members
         WHERE workspace_id = $1 AND status IN ('active', 'invited')",
    )
    .bind(member.workspace_id.0)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    if taken >= i64::from(max_members) {
        return Err(Error::conflict("max_members", "the workspace is full"));
    }
    insert_member(conn, member).await
}

#[async_trait]
impl WorkspaceStore for PostgresStore {
    async fn create_workspace(
        &self,
        workspace: &NewWorkspace,
        owner: &NewWorkspaceMember,
        general: &NewChannel,
    ) -> Result<(Workspace, Channel)> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let row = sqlx::query(
            "INSERT INTO workspaces (workspace_id, name, domain, description, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(workspace.id.0)
        .bind(&workspace.name)
        .bind(&workspace.domain)
        .bind(&workspace.description)
        .bind(workspace.created_at)
        .bind(workspace.created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let created = decode_row::<Workspace>(&row)?;
        insert_member(&mut tx, owner).await?;
        let channel = insert_channel(&mut tx, general).await?;
        insert_channel_member(
            &mut tx,
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
        tx.commit().await.map_err(db_err)?;
        Ok((created, channel))
    }

    async fn get_workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>> {
        sqlx::query("SELECT * FROM workspaces WHERE workspace_id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
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
        let rows = sqlx::query("SELECT * FROM workspaces WHERE $1::uuid IS NULL OR workspace_id > $1 ORDER BY workspace_id LIMIT $2")
            .bind(after.map(|id| id.0))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<Workspace>).collect()
    }

    async fn update_workspace(
        &self,
        id: WorkspaceId,
        update: &WorkspaceUpdate,
    ) -> Result<Workspace> {
        let mut q = QueryBuilder::<Postgres>::new("UPDATE workspaces SET updated_at = ");
        q.push_bind(time::now());
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
            q.push(", settings = ").push_bind(json_value(v));
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
                .push_bind(v.as_ref().map(json_value));
        }
        if let Some(v) = update.require_2fa {
            q.push(", require_2fa = ").push_bind(v);
        }
        q.push(" WHERE workspace_id = ")
            .push_bind(id.0)
            .push(" RETURNING *");
        let row = q
            .build()
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("workspace"))?;
        decode_row::<Workspace>(&row)
    }

    async fn memberships_of(&self, users: &[UserId]) -> Result<Vec<WorkspaceMember>> {
        let ids: Vec<uuid::Uuid> = users.iter().map(|id| id.0).collect();
        let rows = sqlx::query("SELECT * FROM workspace_members WHERE user_id = ANY($1)")
            .bind(&ids)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<WorkspaceMember>).collect()
    }

    async fn list_workspaces_for_user(
        &self,
        user: UserId,
    ) -> Result<Vec<(Workspace, WorkspaceMember)>> {
        let members = sqlx::query("SELECT * FROM workspace_members WHERE user_id = $1")
            .bind(user.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let workspaces = sqlx::query(
            "SELECT * FROM workspaces WHERE workspace_id IN
               (SELECT workspace_id FROM workspace_members WHERE user_id = $1)
             ORDER BY name, workspace_id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let created = add_member_within_limit(&mut tx, member).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn get_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
    ) -> Result<Option<WorkspaceMember>> {
        sqlx::query("SELECT * FROM workspace_members WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace.0)
            .bind(user.0)
            .fetch_optional(&self.pool)
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
        let sql = confab_core::columns::member_search_sql(by_email, |n| format!("${n}"));
        let ids: Vec<uuid::Uuid> = sqlx::query_scalar(&sql)
            .bind(workspace.0)
            .bind(start)
            .bind(word_start)
            .bind(inside)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn list_members(
        &self,
        workspace: WorkspaceId,
        filter: &MemberFilter,
        after: Option<MemberId>,
        limit: u32,
    ) -> Result<Page<WorkspaceMember, MemberId>> {
        let mut q =
            QueryBuilder::<Postgres>::new("SELECT * FROM workspace_members WHERE workspace_id = ");
        q.push_bind(workspace.0);
        if let Some(role) = filter.role {
            q.push(" AND role = ").push_bind(role.as_str());
        }
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(after) = after {
            q.push(" AND member_id > ").push_bind(after.0);
        }
        q.push(" ORDER BY member_id LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = q.build().fetch_all(&self.pool).await.map_err(db_err)?;
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
        let mut q = QueryBuilder::<Postgres>::new("UPDATE workspace_members SET updated_at = ");
        q.push_bind(time::now());
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
            q.push(", permissions = ").push_bind(json_value(v));
        }
        if let Some(v) = update.last_seen_at {
            q.push(", last_seen_at = ").push_bind(v);
        }
        q.push(" WHERE workspace_id = ")
            .push_bind(workspace.0)
            .push(" AND user_id = ")
            .push_bind(user.0)
            .push(" RETURNING *");
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Serialise membership changes of one workspace, so that two owners
        // demoting each other cannot both succeed.
        sqlx::query("SELECT 1 FROM workspaces WHERE workspace_id = $1 FOR UPDATE")
            .bind(workspace.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let row = q
            .build()
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("member"))?;
        static RULES: LazyLock<String> = LazyLock::new(|| member_rules_sql("$1"));
        let rules = sqlx::query(RULES.as_str())
            .bind(workspace.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let reactivated = update.status == Some(MemberStatus::Active);
        check_member_rules(&Cols(&rules), reactivated)?;
        tx.commit().await.map_err(db_err)?;
        decode_row::<WorkspaceMember>(&row)
    }

    async fn count_active_members(
        &self,
        workspace: WorkspaceId,
        role: Option<WorkspaceRole>,
    ) -> Result<i64> {
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT count(*) AS n FROM workspace_members WHERE status = 'active' AND workspace_id = ",
        );
        q.push_bind(workspace.0);
        if let Some(role) = role {
            q.push(" AND role = ").push_bind(role.as_str());
        }
        let row = q.build().fetch_one(&self.pool).await.map_err(db_err)?;
        Cols(&row).int("n")
    }

    async fn create_invitation(&self, invitation: &Invitation) -> Result<Invitation> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Invitations of one workspace take turns, so the count cannot
        // overshoot.
        sqlx::query("SELECT 1 FROM workspaces WHERE workspace_id = $1 FOR UPDATE")
            .bind(invitation.workspace_id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        static PENDING: LazyLock<String> = LazyLock::new(|| pending_invitations_sql("$1", "$2"));
        let pending: i64 = sqlx::query_scalar(PENDING.as_str())
            .bind(invitation.workspace_id.0)
            .bind(invitation.created_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        check_invitation_room(pending)?;
        static INSERT: LazyLock<String> =
            LazyLock::new(|| insert_invitation_sql(|n| format!("${n}")));
        let row = sqlx::query(INSERT.as_str())
            .bind(invitation.id.0)
            .bind(invitation.workspace_id.0)
            .bind(&invitation.token_hash)
            .bind(&invitation.email)
            .bind(invitation.role.as_str())
            .bind(invitation.max_uses)
            .bind(invitation.expires_at)
            .bind(invitation.created_by.0)
            .bind(invitation.created_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        decode_row::<Invitation>(&row)
    }

    async fn get_invitation_by_token(&self, token_hash: &str) -> Result<Option<Invitation>> {
        sqlx::query("SELECT * FROM invitations WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
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
            "SELECT * FROM invitations
             WHERE workspace_id = $1 AND ($2::uuid IS NULL OR invitation_id < $2)
             ORDER BY invitation_id DESC LIMIT $3",
        )
        .bind(workspace.0)
        .bind(before.map(|id| id.0))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
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
        let row = sqlx::query(
            "UPDATE invitations SET revoked_at = coalesce(revoked_at, $1)
             WHERE invitation_id = $2 AND workspace_id = $3 RETURNING *",
        )
        .bind(at)
        .bind(id.0)
        .bind(workspace.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound("invitation"))?;
        decode_row::<Invitation>(&row)
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        member: &NewWorkspaceMember,
        at: DateTime<Utc>,
    ) -> Result<(Invitation, WorkspaceMember)> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let invitation = sqlx::query("SELECT * FROM invitations WHERE token_hash = $1 FOR UPDATE")
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<Invitation>)
            .transpose()?
            .ok_or(Error::NotFound("invitation"))?;
        let joined = add_member_within_limit(&mut tx, &invitation.admit(member, at)?).await?;
        if joined.role != WorkspaceRole::Guest {
            sqlx::query(
                "INSERT INTO channel_members (membership_id, channel_id, user_id, role, invited_by, joined_at)
                 SELECT $1, channel_id, $2, 'member', $3, $4 FROM channels
                 WHERE workspace_id = $5 AND is_general
                 ON CONFLICT (channel_id, user_id) DO UPDATE SET is_active = TRUE, left_at = NULL",
            )
            .bind(MembershipId::new().0)
            .bind(joined.user_id.0)
            .bind(invitation.created_by.0)
            .bind(at)
            .bind(joined.workspace_id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let row = sqlx::query(
            "UPDATE invitations SET use_count = use_count + 1 WHERE invitation_id = $1 RETURNING *",
        )
        .bind(invitation.id.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok((decode_row::<Invitation>(&row)?, joined))
    }
}
