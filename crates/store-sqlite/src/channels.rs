use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::columns::channel_context_sql;
use confab_core::id::{ChannelId, MessageId, UserId, WorkspaceId};
use confab_core::model::*;
use confab_core::page::Page;
use confab_core::ports::ChannelStore;
use confab_core::{time, Error, Result};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::{db_err, decode_row, json_text, ts, SqliteStore};

pub(crate) async fn insert_channel(
    conn: &mut SqliteConnection,
    channel: &NewChannel,
) -> Result<Channel> {
    let row = sqlx::query(
        "INSERT INTO channels
           (channel_id, workspace_id, name, display_name, description, channel_type, is_general,
            topic, purpose, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
    )
    .bind(channel.id.to_string())
    .bind(channel.workspace_id.to_string())
    .bind(&channel.name)
    .bind(&channel.display_name)
    .bind(&channel.description)
    .bind(channel.channel_type.as_str())
    .bind(channel.is_general)
    .bind(&channel.topic)
    .bind(&channel.purpose)
    .bind(channel.created_by.to_string())
    .bind(ts(channel.created_at))
    .bind(ts(channel.created_at))
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    decode_row::<Channel>(&row)
}

/// Insert a membership, or reactivate an inactive one (keeping its id and read marker).
pub(crate) async fn insert_channel_member(
    conn: &mut SqliteConnection,
    member: &NewChannelMember,
) -> Result<ChannelMember> {
    let row = sqlx::query(
        "INSERT INTO channel_members (membership_id, channel_id, user_id, role, invited_by, joined_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (channel_id, user_id) DO UPDATE SET
           is_active = 1, left_at = NULL, role = excluded.role,
           invited_by = excluded.invited_by, joined_at = excluded.joined_at
         WHERE channel_members.is_active = 0
         RETURNING *",
    )
    .bind(member.id.to_string())
    .bind(member.channel_id.to_string())
    .bind(member.user_id.to_string())
    .bind(member.role.as_str())
    .bind(member.invited_by.map(|u| u.to_string()))
    .bind(ts(member.joined_at))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    match row {
        Some(row) => decode_row::<ChannelMember>(&row),
        // Already an active member: nothing to change.
        None => fetch_channel_member(conn, member.channel_id, member.user_id)
            .await?
            .ok_or(Error::NotFound("channel member")),
    }
}

async fn fetch_channel_member(
    conn: &mut SqliteConnection,
    channel: ChannelId,
    user: UserId,
) -> Result<Option<ChannelMember>> {
    sqlx::query("SELECT * FROM channel_members WHERE channel_id = ? AND user_id = ?")
        .bind(channel.to_string())
        .bind(user.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(decode_row::<ChannelMember>)
        .transpose()
}

impl SqliteStore {
    async fn channel_where(&self, clause: &str, binds: &[String]) -> Result<Option<Channel>> {
        let sql = format!("SELECT * FROM channels WHERE {clause}");
        let mut query = sqlx::query(&sql);
        for b in binds {
            query = query.bind(b);
        }
        query
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<Channel>)
            .transpose()
    }
}

#[async_trait]
impl ChannelStore for SqliteStore {
    async fn create_channel(
        &self,
        channel: &NewChannel,
        members: &[NewChannelMember],
    ) -> Result<Channel> {
        let channel = channel.clone();
        let members = members.to_vec();
        self.write(move |conn| {
            Box::pin(async move {
                let created = insert_channel(conn, &channel).await?;
                for member in &members {
                    insert_channel_member(conn, member).await?;
                }
                Ok(created)
            })
        })
        .await
    }

    async fn get_channel(&self, id: ChannelId) -> Result<Option<Channel>> {
        self.channel_where("channel_id = ?", &[id.to_string()])
            .await
    }

    async fn find_channel_by_name(
        &self,
        workspace: WorkspaceId,
        name: &str,
    ) -> Result<Option<Channel>> {
        self.channel_where(
            "workspace_id = ? AND name = ?",
            &[workspace.to_string(), name.to_owned()],
        )
        .await
    }

    async fn update_channel(&self, id: ChannelId, update: &ChannelUpdate) -> Result<Channel> {
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE channels SET updated_at = ");
        q.push_bind(ts(time::now()));
        if let Some(v) = &update.name {
            q.push(", name = ").push_bind(v.clone());
        }
        if let Some(v) = &update.display_name {
            q.push(", display_name = ").push_bind(v.clone());
        }
        if let Some(v) = &update.description {
            q.push(", description = ").push_bind(v.clone());
        }
        if let Some(v) = &update.topic {
            q.push(", topic = ").push_bind(v.clone());
        }
        if let Some(v) = &update.purpose {
            q.push(", purpose = ").push_bind(v.clone());
        }
        if let Some(v) = &update.retention_policy {
            q.push(", retention_policy = ")
                .push_bind(v.as_ref().map(json_text));
        }
        if let Some(v) = update.allow_threads {
            q.push(", allow_threads = ").push_bind(v);
        }
        if let Some(v) = update.allow_file_upload {
            q.push(", allow_file_upload = ").push_bind(v);
        }
        if let Some(v) = update.allow_external_sharing {
            q.push(", allow_external_sharing = ").push_bind(v);
        }
        q.push(" WHERE channel_id = ")
            .push_bind(id.to_string())
            .push(" RETURNING *");
        let row = self
            .write_built(q)
            .await?
            .ok_or(Error::NotFound("channel"))?;
        decode_row::<Channel>(&row)
    }

    async fn set_archived(
        &self,
        id: ChannelId,
        archived: bool,
        at: DateTime<Utc>,
    ) -> Result<Channel> {
        let row = self
            .write_row(
                sqlx::query(
                    "UPDATE channels SET is_archived = ?, archived_at = ?, updated_at = ?
             WHERE channel_id = ? RETURNING *",
                )
                .bind(archived)
                .bind(archived.then(|| ts(at)))
                .bind(ts(at))
                .bind(id.to_string()),
            )
            .await?
            .ok_or(Error::NotFound("channel"))?;
        decode_row::<Channel>(&row)
    }

    async fn list_channels_for_user(
        &self,
        workspace: WorkspaceId,
        user: UserId,
    ) -> Result<Vec<(Channel, ChannelMember)>> {
        let channels = sqlx::query(
            "SELECT c.* FROM channels c JOIN channel_members m ON m.channel_id = c.channel_id
             WHERE c.workspace_id = ? AND m.user_id = ? AND m.is_active = 1
             ORDER BY c.name",
        )
        .bind(workspace.to_string())
        .bind(user.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let members = sqlx::query(
            "SELECT m.* FROM channel_members m JOIN channels c ON m.channel_id = c.channel_id
             WHERE c.workspace_id = ? AND m.user_id = ? AND m.is_active = 1",
        )
        .bind(workspace.to_string())
        .bind(user.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let channels = channels
            .iter()
            .map(decode_row::<Channel>)
            .collect::<Result<Vec<_>>>()?;
        let members = members
            .iter()
            .map(decode_row::<ChannelMember>)
            .collect::<Result<Vec<_>>>()?;
        Ok(pair_channels(channels, members))
    }

    async fn list_public_channels(
        &self,
        workspace: WorkspaceId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Channel, String>> {
        let rows = sqlx::query(
            "SELECT * FROM channels WHERE workspace_id = ? AND channel_type = 'public' AND name > ?
             ORDER BY name LIMIT ?",
        )
        .bind(workspace.to_string())
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let channels = rows
            .iter()
            .map(decode_row::<Channel>)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(channels, limit, |c| c.name.clone()))
    }

    async fn add_channel_member(&self, member: &NewChannelMember) -> Result<ChannelMember> {
        let member = member.clone();
        self.write(move |conn| Box::pin(async move { insert_channel_member(conn, &member).await }))
            .await
    }

    async fn remove_channel_member(
        &self,
        channel: ChannelId,
        user: UserId,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let done = self
            .write_exec(
                sqlx::query(
                    "UPDATE channel_members SET is_active = 0, left_at = ?
             WHERE channel_id = ? AND user_id = ? AND is_active = 1",
                )
                .bind(ts(at))
                .bind(channel.to_string())
                .bind(user.to_string()),
            )
            .await?;
        Ok(done > 0)
    }

    async fn channel_context(
        &self,
        channel: ChannelId,
        user: UserId,
    ) -> Result<Option<ChannelContext>> {
        static SQL: LazyLock<String> = LazyLock::new(|| channel_context_sql("?1", "?2"));
        sqlx::query(&SQL)
            .bind(channel.to_string())
            .bind(user.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<ChannelContext>)
            .transpose()
    }

    async fn get_channel_member(
        &self,
        channel: ChannelId,
        user: UserId,
    ) -> Result<Option<ChannelMember>> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
        fetch_channel_member(&mut conn, channel, user).await
    }

    async fn list_channel_members(
        &self,
        channel: ChannelId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Page<ChannelMember, UserId>> {
        let rows = sqlx::query(
            "SELECT * FROM channel_members WHERE channel_id = ? AND is_active = 1 AND user_id > ?
             ORDER BY user_id LIMIT ?",
        )
        .bind(channel.to_string())
        .bind(after.map(|u| u.to_string()).unwrap_or_default())
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let members = rows
            .iter()
            .map(decode_row::<ChannelMember>)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(members, limit, |m| m.user_id))
    }

    async fn update_channel_member(
        &self,
        channel: ChannelId,
        user: UserId,
        update: &ChannelMemberUpdate,
    ) -> Result<ChannelMember> {
        let mut q =
            QueryBuilder::<Sqlite>::new("UPDATE channel_members SET channel_id = channel_id");
        if let Some(v) = update.role {
            q.push(", role = ").push_bind(v.as_str());
        }
        if let Some(v) = update.notification_level {
            q.push(", notification_level = ").push_bind(v.as_str());
        }
        q.push(" WHERE channel_id = ")
            .push_bind(channel.to_string())
            .push(" AND user_id = ")
            .push_bind(user.to_string())
            .push(" RETURNING *");
        let row = self
            .write_built(q)
            .await?
            .ok_or(Error::NotFound("channel member"))?;
        decode_row::<ChannelMember>(&row)
    }

    async fn read_states(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        channel: Option<ChannelId>,
    ) -> Result<Vec<ReadState>> {
        let rows = sqlx::query(
            "SELECT cm.channel_id, cm.last_read_message_id,
               (SELECT count(*) FROM (SELECT 1 FROM messages m
                  WHERE m.channel_id = cm.channel_id AND (m.thread_id IS NULL OR m.broadcast)
                    AND m.message_type <> 'system' AND m.is_deleted = 0
                    AND m.user_id != cm.user_id
                    AND (cm.last_read_message_at IS NULL
                         OR (m.created_at, m.message_id) > (cm.last_read_message_at, cm.last_read_message_id))
                  LIMIT ?)) AS unread,
               (SELECT count(DISTINCT mm.message_id) FROM message_mentions mm
                  JOIN messages m ON m.message_id = mm.message_id
                  WHERE mm.channel_id = cm.channel_id AND mm.mentioned IN (cm.user_id, 'channel', 'here')
                    AND m.is_deleted = 0 AND m.user_id != cm.user_id
                    AND (cm.last_read_message_at IS NULL
                         OR (mm.created_at, mm.message_id) > (cm.last_read_message_at, cm.last_read_message_id))
               ) AS mentions
             FROM channel_members cm JOIN channels c ON c.channel_id = cm.channel_id
             WHERE c.workspace_id = ? AND cm.user_id = ? AND cm.is_active = 1
               AND (? IS NULL OR cm.channel_id = ?)
             ORDER BY c.name",
        )
        .bind(MAX_COUNTED_UNREAD)
        .bind(workspace.to_string())
        .bind(user.to_string())
        .bind(channel.map(|c| c.to_string()))
        .bind(channel.map(|c| c.to_string()))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode_row::<ReadState>).collect()
    }

    async fn mark_read(
        &self,
        channel: ChannelId,
        user: UserId,
        message: MessageId,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let done = self
            .write_exec(
                sqlx::query(
                    "UPDATE channel_members
                     SET last_read_message_id = ?, last_read_message_at = ?, last_read_at = ?
                     WHERE channel_id = ? AND user_id = ?
                       AND (last_read_message_id IS NULL OR last_read_message_id < ?)",
                )
                .bind(message.to_string())
                .bind(ts(message.created_at()))
                .bind(ts(at))
                .bind(channel.to_string())
                .bind(user.to_string())
                .bind(message.to_string()),
            )
            .await?;
        if done > 0 {
            return Ok(true);
        }
        match self.get_channel_member(channel, user).await? {
            Some(_) => Ok(false),
            None => Err(Error::NotFound("channel member")),
        }
    }

    async fn retention_policies(
        &self,
        workspace: WorkspaceId,
    ) -> Result<Vec<(ChannelId, Option<serde_json::Value>)>> {
        self.retention_policies_here(workspace).await
    }
}
