use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::id::{ChannelId, MessageId, UserId};
use confab_core::model::*;
use confab_core::ports::MessageStore;
use confab_core::{Error, Result};
use serde_json::Value;
use sqlx::SqliteConnection;

use crate::{db_err, decode_row, json_text, ts, SqliteStore};

async fn fetch_message(conn: &mut SqliteConnection, id: MessageId) -> Result<Option<Message>> {
    sqlx::query("SELECT * FROM messages WHERE message_id = ?")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(decode_row::<Message>)
        .transpose()
}

/// The live (undeleted) message, or NotFound.
async fn live_message(conn: &mut SqliteConnection, id: MessageId) -> Result<Message> {
    fetch_message(conn, id)
        .await?
        .filter(|m| !m.is_deleted)
        .ok_or(Error::NotFound("message"))
}

impl SqliteStore {
    async fn write_conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>> {
        self.writer.acquire().await.map_err(db_err)
    }
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn insert_message(&self, new: &NewMessage) -> Result<Inserted> {
        let mut tx = self.write_tx().await?;
        if let Some(client_id) = &new.client_msg_id {
            let earlier: Option<String> = sqlx::query_scalar(
                "SELECT message_id FROM message_client_ids
                 WHERE channel_id = ? AND user_id = ? AND client_msg_id = ?",
            )
            .bind(new.channel_id.to_string())
            .bind(new.user_id.to_string())
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            if let Some(earlier) = earlier {
                let id: MessageId = earlier.parse().map_err(Error::internal)?;
                let message = fetch_message(&mut tx, id)
                    .await?
                    .ok_or(Error::NotFound("message"))?;
                return Ok(Inserted {
                    message,
                    created: false,
                });
            }
        }
        if let Some(parent_id) = new.thread_id {
            let parent = fetch_message(&mut tx, parent_id)
                .await?
                .ok_or(Error::NotFound("thread"))?;
            parent.accepts_reply_in(new.channel_id)?;
            sqlx::query(
                "UPDATE messages SET reply_count = reply_count + 1, updated_at = ?
                 WHERE message_id = ?",
            )
            .bind(ts(new.id.created_at()))
            .bind(parent_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let created_at = ts(new.id.created_at());
        let row = sqlx::query(
            "INSERT INTO messages
               (message_id, workspace_id, channel_id, user_id, content, message_type,
                formatted_content, thread_id, client_msg_id, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(new.id.to_string())
        .bind(new.workspace_id.to_string())
        .bind(new.channel_id.to_string())
        .bind(new.user_id.to_string())
        .bind(&new.content)
        .bind(new.message_type.as_str())
        .bind(new.formatted_content.as_ref().map(json_text))
        .bind(new.thread_id.map(|t| t.to_string()))
        .bind(&new.client_msg_id)
        .bind(&created_at)
        .bind(&created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(client_id) = &new.client_msg_id {
            sqlx::query(
                "INSERT INTO message_client_ids (channel_id, user_id, client_msg_id, message_id, created_at)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(new.channel_id.to_string())
            .bind(new.user_id.to_string())
            .bind(client_id)
            .bind(new.id.to_string())
            .bind(&created_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let message = decode_row::<Message>(&row)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Inserted {
            message,
            created: true,
        })
    }

    async fn get_message(&self, id: MessageId) -> Result<Option<Message>> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
        fetch_message(&mut conn, id).await
    }

    async fn history(
        &self,
        channel: ChannelId,
        range: HistoryRange,
        limit: u32,
    ) -> Result<Vec<Message>> {
        const BASE: &str = "SELECT * FROM messages
            WHERE channel_id = ? AND thread_id IS NULL AND is_deleted = 0";
        let (sql, cursor) = match range {
            HistoryRange::Latest => (
                format!("{BASE} ORDER BY created_at DESC, message_id DESC LIMIT ?"),
                None,
            ),
            HistoryRange::Before(id) => (
                format!("{BASE} AND (created_at, message_id) < (?, ?) ORDER BY created_at DESC, message_id DESC LIMIT ?"),
                Some(id),
            ),
            HistoryRange::After(id) => (
                format!("{BASE} AND (created_at, message_id) > (?, ?) ORDER BY created_at ASC, message_id ASC LIMIT ?"),
                Some(id),
            ),
        };
        let mut query = sqlx::query(&sql).bind(channel.to_string());
        if let Some(id) = cursor {
            query = query.bind(ts(id.created_at())).bind(id.to_string());
        }
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        let mut messages = rows
            .iter()
            .map(decode_row::<Message>)
            .collect::<Result<Vec<_>>>()?;
        if matches!(range, HistoryRange::After(_)) {
            messages.reverse();
        }
        Ok(messages)
    }

    async fn thread_replies(
        &self,
        parent: MessageId,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let after = after.unwrap_or(parent);
        let rows = sqlx::query(
            "SELECT * FROM messages
             WHERE thread_id = ? AND is_deleted = 0 AND (created_at, message_id) > (?, ?)
             ORDER BY created_at, message_id LIMIT ?",
        )
        .bind(parent.to_string())
        .bind(ts(after.created_at()))
        .bind(after.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode_row::<Message>).collect()
    }

    async fn edit_message(
        &self,
        id: MessageId,
        content: &str,
        formatted_content: Option<&Value>,
        at: DateTime<Utc>,
    ) -> Result<Message> {
        let mut tx = self.write_tx().await?;
        let history = live_message(&mut tx, id).await?.history_with_current(at);
        let row = sqlx::query(
            "UPDATE messages SET content = ?, formatted_content = ?, edit_history = ?,
                                 edited_at = ?, updated_at = ?
             WHERE message_id = ? RETURNING *",
        )
        .bind(content)
        .bind(formatted_content.map(json_text))
        .bind(json_text(&history))
        .bind(ts(at))
        .bind(ts(at))
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let message = decode_row::<Message>(&row)?;
        tx.commit().await.map_err(db_err)?;
        Ok(message)
    }

    async fn delete_message(&self, id: MessageId, at: DateTime<Utc>) -> Result<Changed> {
        let mut tx = self.write_tx().await?;
        let current = fetch_message(&mut tx, id)
            .await?
            .ok_or(Error::NotFound("message"))?;
        if current.is_deleted {
            return Ok(Changed {
                message: current,
                changed: false,
            });
        }
        let row = sqlx::query(
            "UPDATE messages SET is_deleted = 1, deleted_at = ?, updated_at = ?, content = '',
                                 formatted_content = NULL, edit_history = '[]'
             WHERE message_id = ? RETURNING *",
        )
        .bind(ts(at))
        .bind(ts(at))
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(parent) = current.thread_id {
            sqlx::query(
                "UPDATE messages SET reply_count = reply_count - 1, updated_at = ?
                 WHERE message_id = ? AND reply_count > 0",
            )
            .bind(ts(at))
            .bind(parent.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let message = decode_row::<Message>(&row)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Changed {
            message,
            changed: true,
        })
    }

    async fn add_reaction(&self, id: MessageId, user: UserId, emoji: &str) -> Result<Changed> {
        self.change_reactions(id, |r| r.add(emoji, user)).await
    }

    async fn remove_reaction(&self, id: MessageId, user: UserId, emoji: &str) -> Result<Changed> {
        self.change_reactions(id, |r| r.remove(emoji, user)).await
    }

    async fn set_pinned(
        &self,
        id: MessageId,
        pinned_by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> Result<Changed> {
        let mut conn = self.write_conn().await?;
        let done = sqlx::query(
            "UPDATE messages SET is_pinned = ?, pinned_by = ?, pinned_at = ?, updated_at = ?
             WHERE message_id = ? AND is_deleted = 0 AND is_pinned != ?",
        )
        .bind(pinned_by.is_some())
        .bind(pinned_by.map(|u| u.to_string()))
        .bind(pinned_by.map(|_| ts(at)))
        .bind(ts(at))
        .bind(id.to_string())
        .bind(pinned_by.is_some())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        let message = live_message(&mut conn, id).await?;
        Ok(Changed {
            message,
            changed: done.rows_affected() > 0,
        })
    }

    async fn list_pinned(&self, channel: ChannelId) -> Result<Vec<Message>> {
        let rows = sqlx::query(
            "SELECT * FROM messages WHERE channel_id = ? AND is_pinned AND is_deleted = 0
             ORDER BY pinned_at DESC, message_id DESC",
        )
        .bind(channel.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode_row::<Message>).collect()
    }
}

impl SqliteStore {
    async fn change_reactions(
        &self,
        id: MessageId,
        change: impl FnOnce(&mut Reactions) -> bool + Send,
    ) -> Result<Changed> {
        let mut tx = self.write_tx().await?;
        let mut message = live_message(&mut tx, id).await?;
        let changed = change(&mut message.reactions);
        if changed {
            sqlx::query("UPDATE messages SET reactions = ? WHERE message_id = ?")
                .bind(json_text(&message.reactions))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
        }
        Ok(Changed { message, changed })
    }
}
