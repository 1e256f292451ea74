use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::columns::{
    channel_history_sql, message_columns, pinned_count_sql, reacted_by_sql, reaction_delete_sql,
    reaction_insert_sql, thread_summary_sql,
};
use confab_core::file_sql::enqueue_message_files_sql;
use confab_core::id::{ChannelId, MessageId, UserId, WorkspaceId};
use confab_core::model::*;
use confab_core::ports::MessageStore;
use confab_core::time;
use confab_core::{Error, Result};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{db_err, decode_row, json_value, PostgresStore};

/// Every lookup by id also names `created_at` (the id's own timestamp), so
/// PostgreSQL reads exactly one partition.
const BY_ID: &str = "message_id = $1 AND created_at = $2";

/// Whether a read inside a transaction also locks the row until commit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lock {
    None,
    ForUpdate,
}

/// The columns of message reads: all but the edit history.
static COLUMNS: LazyLock<String> = LazyLock::new(|| message_columns("", "jsonb_array_length"));

/// Claim the message's stamp in its channel: its creation time, or just
/// after the channel's latest stamp at or after it. Posts to one channel
/// take their stamps one at a time, under a lock held to the commit, so
/// stamps also increase in the order readers see the posts.
async fn claim_stamp(
    tx: &mut PgConnection,
    new: &NewMessage,
    created_at: DateTime<Utc>,
) -> Result<i64> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(STAMP_LOCK_CLASS)
        .bind(channel_lock_key(new.channel_id))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    sqlx::query_scalar(
        "INSERT INTO message_ts (channel_id, ts, message_id, created_at)
         SELECT $1, COALESCE(MAX(ts) + 1, $2), $3, $4
         FROM message_ts WHERE channel_id = $1 AND ts >= $2
         RETURNING ts",
    )
    .bind(new.channel_id.0)
    .bind(created_at.timestamp_micros())
    .bind(new.id.0)
    .bind(created_at)
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)
}

/// The class of the advisory locks that order stamps (the two-key form,
/// apart from the one-key locks of partition maintenance).
const STAMP_LOCK_CLASS: i32 = 0x7473;

/// The lock key of a channel: the last random bits of its id (two channels
/// that share one only wait for each other).
fn channel_lock_key(channel: ChannelId) -> i32 {
    let bytes = channel.0.as_bytes();
    i32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]])
}

/// A message with its whole edit history (what an edit needs).
async fn fetch_message(
    conn: &mut PgConnection,
    id: MessageId,
    lock: Lock,
) -> Result<Option<Message>> {
    let suffix = if lock == Lock::ForUpdate {
        " FOR UPDATE"
    } else {
        ""
    };
    sqlx::query(&format!("SELECT * FROM messages WHERE {BY_ID}{suffix}"))
        .bind(id.0)
        .bind(id.created_at())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(decode_row::<Message>)
        .transpose()
}

/// The live (undeleted) message, locked for update, or NotFound.
async fn lock_live_message(conn: &mut PgConnection, id: MessageId) -> Result<Message> {
    fetch_message(conn, id, Lock::ForUpdate)
        .await?
        .filter(|m| !m.is_deleted)
        .ok_or(Error::NotFound("message"))
}

async fn adjust_reply_count(
    conn: &mut PgConnection,
    parent: MessageId,
    delta: i32,
    at: DateTime<Utc>,
) -> Result<i32> {
    sqlx::query_scalar(&format!(
        "UPDATE messages SET reply_count = GREATEST(reply_count + $3, 0), updated_at = $4
         WHERE {BY_ID} RETURNING reply_count"
    ))
    .bind(parent.0)
    .bind(parent.created_at())
    .bind(delta)
    .bind(at)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)
}

/// The newest messages of a channel with their authors: one index range
/// scan on the newest partitions joined to users by primary key.
pub static LATEST_WITH_AUTHORS_SQL: LazyLock<String> = LazyLock::new(|| {
    let select = format!(
        "SELECT {}, u.display_name AS author_display_name, u.avatar_url AS author_avatar_url
        FROM messages m JOIN users u ON u.user_id = m.user_id
        WHERE m.channel_id = $1 AND {{shown}} AND NOT m.is_deleted",
        message_columns("m.", "jsonb_array_length")
    );
    channel_history_sql(&select, "m.", "DESC", "$2")
});

#[async_trait]
impl MessageStore for PostgresStore {
    async fn latest_with_authors(
        &self,
        channel: ChannelId,
        limit: u32,
    ) -> Result<Vec<(Message, Author)>> {
        let rows = sqlx::query(&LATEST_WITH_AUTHORS_SQL)
            .bind(channel.0)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|row| Ok((decode_row::<Message>(row)?, decode_row::<Author>(row)?)))
            .collect()
    }

    async fn insert_message(&self, new: &NewMessage) -> Result<Inserted> {
        let created_at = new.id.created_at();
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if let Some(client_id) = &new.client_msg_id {
            // Claim the idempotency key first. A concurrent claim of the same
            // key waits here until the other transaction ends, then sees its row.
            let claimed: Option<Uuid> = sqlx::query_scalar(
                "INSERT INTO message_client_ids (channel_id, user_id, client_msg_id, message_id, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (channel_id, user_id, client_msg_id) DO NOTHING
                 RETURNING message_id",
            )
            .bind(new.channel_id.0)
            .bind(new.user_id.0)
            .bind(client_id)
            .bind(new.id.0)
            .bind(created_at)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            if claimed.is_none() {
                let message = client_message(&mut tx, new.channel_id, new.user_id, client_id)
                    .await?
                    .ok_or(Error::NotFound("message"))?;
                return Ok(Inserted {
                    message,
                    created: false,
                    parent_reply_count: None,
                });
            }
        }
        let mut parent_reply_count = None;
        let mut stamp = time::now();
        if let Some(parent_id) = new.thread_id {
            let parent = fetch_message(&mut tx, parent_id, Lock::ForUpdate)
                .await?
                .ok_or(Error::NotFound("thread"))?;
            parent.accepts_reply_in(new.channel_id)?;
            // Stamped after the wait for the parent's lock: see `COMMIT_WINDOW`.
            stamp = time::now();
            parent_reply_count = Some(adjust_reply_count(&mut tx, parent_id, 1, stamp).await?);
        }
        let stamp_ts = claim_stamp(&mut tx, new, created_at).await?;
        let row = sqlx::query(
            "INSERT INTO messages
               (message_id, workspace_id, channel_id, user_id, content, message_type,
                formatted_content, thread_id, client_msg_id, created_at, updated_at, ts, broadcast)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *",
        )
        .bind(new.id.0)
        .bind(new.workspace_id.0)
        .bind(new.channel_id.0)
        .bind(new.user_id.0)
        .bind(&new.content)
        .bind(new.message_type.as_str())
        .bind(&new.formatted_content)
        .bind(new.thread_id.map(|t| t.0))
        .bind(&new.client_msg_id)
        .bind(created_at)
        .bind(stamp)
        .bind(stamp_ts)
        .bind(new.thread_id.is_some() && new.broadcast)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let message = decode_row::<Message>(&row)?;
        insert_mentions(&mut tx, &message, &new.mentions).await?;
        enqueue_for_search(&mut tx, message.id).await?;
        time::check_commit_window(stamp)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Inserted {
            message,
            created: true,
            parent_reply_count,
        })
    }

    async fn message_by_ts(&self, channel: ChannelId, stamp: i64) -> Result<Option<Message>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM messages
                 WHERE (message_id, created_at) =
                       (SELECT message_id, created_at FROM message_ts WHERE channel_id = $1 AND ts = $2)",
                *COLUMNS
            )
        });
        sqlx::query(&SQL)
            .bind(channel.0)
            .bind(stamp)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<Message>)
            .transpose()
    }

    async fn get_message(&self, id: MessageId) -> Result<Option<Message>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM messages WHERE {BY_ID}", *COLUMNS));
        sqlx::query(&SQL)
            .bind(id.0)
            .bind(id.created_at())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<Message>)
            .transpose()
    }

    async fn get_messages(&self, ids: &[MessageId]) -> Result<Vec<Message>> {
        // With the ids' own times, so that only their partitions are read.
        let uuids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        let times: Vec<DateTime<Utc>> = ids.iter().map(|id| id.created_at()).collect();
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM messages
                 WHERE message_id = ANY($1) AND created_at = ANY($2)
                   AND created_at BETWEEN $3 AND $4",
                *COLUMNS
            )
        });
        let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(&SQL)
            .bind(&uuids)
            .bind(&times)
            .bind(*first)
            .bind(*last)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<Message>).collect()
    }

    async fn scan_messages(&self, after: Option<MessageId>, limit: u32) -> Result<Vec<Message>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM messages WHERE $1::uuid IS NULL OR message_id > $1
                 ORDER BY message_id LIMIT $2",
                *COLUMNS
            )
        });
        // By id (time-ordered): each month's primary key index gives the
        // order, merged across months.
        let rows = sqlx::query(&SQL)
            .bind(after.map(|id| id.0))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<Message>).collect()
    }

    async fn count_messages(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(count as u64)
    }

    async fn get_message_with_history(&self, id: MessageId) -> Result<Option<Message>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_message(&mut conn, id, Lock::None).await
    }

    async fn find_client_message(
        &self,
        channel: ChannelId,
        user: UserId,
        client_msg_id: &str,
    ) -> Result<Option<Message>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        client_message(&mut conn, channel, user, client_msg_id).await
    }

    async fn history(
        &self,
        channel: ChannelId,
        range: HistoryRange,
        limit: u32,
    ) -> Result<Vec<Message>> {
        static BASE: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM messages WHERE channel_id = $1 AND {{shown}} AND NOT is_deleted",
                *COLUMNS
            )
        });
        static LATEST: LazyLock<String> =
            LazyLock::new(|| channel_history_sql(&BASE, "", "DESC", "$2"));
        // The plain created_at bound lets PostgreSQL skip whole partitions.
        static BEFORE: LazyLock<String> = LazyLock::new(|| {
            let select = format!(
                "{} AND created_at <= $2 AND (created_at, message_id) < ($2, $3)",
                *BASE
            );
            channel_history_sql(&select, "", "DESC", "$4")
        });
        static AFTER: LazyLock<String> = LazyLock::new(|| {
            let select = format!(
                "{} AND created_at >= $2 AND (created_at, message_id) > ($2, $3)",
                *BASE
            );
            channel_history_sql(&select, "", "ASC", "$4")
        });
        let (sql, cursor) = match range {
            HistoryRange::Latest => (&*LATEST, None),
            HistoryRange::Before(id) => (&*BEFORE, Some(id)),
            HistoryRange::After(id) => (&*AFTER, Some(id)),
        };
        let mut query = sqlx::query(sql).bind(channel.0);
        if let Some(id) = cursor {
            query = query.bind(id.created_at()).bind(id.0);
        }
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
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
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM messages
                 WHERE thread_id = $1 AND NOT is_deleted
                   AND created_at >= $2 AND (created_at, message_id) > ($2, $3)
                 ORDER BY created_at, message_id LIMIT $4",
                *COLUMNS
            )
        });
        let rows = sqlx::query(&SQL)
            .bind(parent.0)
            .bind(after.created_at())
            .bind(after.0)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<Message>).collect()
    }

    async fn thread_summary(&self, parent: MessageId) -> Result<ThreadSummary> {
        static SQL: LazyLock<String> = LazyLock::new(|| thread_summary_sql(|n| format!("${n}")));
        let rows = sqlx::query(&SQL)
            .bind(parent.0)
            .bind(parent.created_at())
            .bind(i64::from(MAX_THREAD_REPLIERS))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<Replier>).collect()
    }

    async fn edit_message(
        &self,
        id: MessageId,
        content: &str,
        formatted_content: Option<&Value>,
        mentions: &[String],
        at: DateTime<Utc>,
    ) -> Result<Message> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let history = lock_live_message(&mut tx, id)
            .await?
            .history_with_current(at);
        let stamp = time::now();
        let row = sqlx::query(&format!(
            "UPDATE messages SET content = $3, formatted_content = $4, edit_history = $5,
                                 edited_at = $6, updated_at = $7
             WHERE {BY_ID} RETURNING *"
        ))
        .bind(id.0)
        .bind(id.created_at())
        .bind(content)
        .bind(formatted_content)
        .bind(json_value(&history))
        .bind(at)
        .bind(stamp)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let message = decode_row::<Message>(&row)?;
        sqlx::query("DELETE FROM message_mentions WHERE message_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_mentions(&mut tx, &message, mentions).await?;
        enqueue_for_search(&mut tx, id).await?;
        time::check_commit_window(stamp)?;
        tx.commit().await.map_err(db_err)?;
        Ok(message)
    }

    async fn delete_message(&self, id: MessageId, at: DateTime<Utc>) -> Result<Changed> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let current = fetch_message(&mut tx, id, Lock::ForUpdate)
            .await?
            .ok_or(Error::NotFound("message"))?;
        if current.is_deleted {
            return Ok(Changed {
                message: current,
                changed: false,
            });
        }
        let stamp = time::now();
        let row = sqlx::query(&format!(
            "UPDATE messages SET is_deleted = TRUE, deleted_at = $3, updated_at = $4, content = '',
                                 formatted_content = NULL, edit_history = '[]'
             WHERE {BY_ID} RETURNING *"
        ))
        .bind(id.0)
        .bind(id.created_at())
        .bind(at)
        .bind(stamp)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(parent) = current.thread_id {
            adjust_reply_count(&mut tx, parent, -1, stamp).await?;
        }
        // A deleted message no longer shares its files.
        sqlx::query(&enqueue_message_files_sql(|n| format!("${n}")))
            .bind(id.0)
            .bind(stamp)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query("DELETE FROM message_files WHERE message_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let message = decode_row::<Message>(&row)?;
        enqueue_for_search(&mut tx, id).await?;
        time::check_commit_window(stamp)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Changed {
            message,
            changed: true,
        })
    }

    async fn add_reaction(&self, id: MessageId, user: UserId, emoji: &str) -> Result<Changed> {
        self.change_reactions(id, user, emoji, true).await
    }

    async fn remove_reaction(&self, id: MessageId, user: UserId, emoji: &str) -> Result<Changed> {
        self.change_reactions(id, user, emoji, false).await
    }

    async fn reacted_by(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        viewer: UserId,
        before: Option<Reacted>,
        limit: u32,
    ) -> Result<Vec<Reacted>> {
        static FIRST: LazyLock<String> =
            LazyLock::new(|| reacted_by_sql(false, |n| format!("${n}")));
        static NEXT: LazyLock<String> = LazyLock::new(|| reacted_by_sql(true, |n| format!("${n}")));
        let mut query = sqlx::query(if before.is_some() { &NEXT } else { &FIRST })
            .bind(user.0)
            .bind(workspace.0)
            .bind(viewer.0);
        if let Some(last) = before {
            query = query.bind(last.reacted_at).bind(last.message_id.0);
        }
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<Reacted>).collect()
    }

    async fn set_pinned(
        &self,
        id: MessageId,
        pinned_by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> Result<Changed> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let current = lock_live_message(&mut tx, id).await?;
        if current.is_pinned == pinned_by.is_some() {
            return Ok(Changed {
                message: current,
                changed: false,
            });
        }
        if pinned_by.is_some() {
            // Pins of one channel take turns, so the count cannot overshoot.
            sqlx::query("SELECT 1 FROM channels WHERE channel_id = $1 FOR UPDATE")
                .bind(current.channel_id.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            static COUNT: LazyLock<String> = LazyLock::new(|| pinned_count_sql("$1"));
            let pinned: i64 = sqlx::query_scalar(COUNT.as_str())
                .bind(current.channel_id.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
            check_pin_room(pinned)?;
        }
        let stamp = time::now();
        let row = sqlx::query(&format!(
            "UPDATE messages SET is_pinned = $3, pinned_by = $4, pinned_at = $5, updated_at = $6
             WHERE {BY_ID} RETURNING *"
        ))
        .bind(id.0)
        .bind(id.created_at())
        .bind(pinned_by.is_some())
        .bind(pinned_by.map(|u| u.0))
        .bind(pinned_by.map(|_| at))
        .bind(stamp)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let message = decode_row::<Message>(&row)?;
        enqueue_for_search(&mut tx, id).await?;
        time::check_commit_window(stamp)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Changed {
            message,
            changed: true,
        })
    }

    async fn changed_since(
        &self,
        channels: &[ChannelId],
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let channels: Vec<Uuid> = channels.iter().map(|c| c.0).collect();
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM messages WHERE channel_id = ANY($1) AND updated_at > $2
                 ORDER BY updated_at, message_id LIMIT $3",
                *COLUMNS
            )
        });
        let rows = sqlx::query(&SQL)
            .bind(&channels)
            .bind(since)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<Message>).collect()
    }

    async fn list_pinned(&self, channel: ChannelId) -> Result<Vec<Message>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM messages WHERE channel_id = $1 AND is_pinned AND NOT is_deleted
                 ORDER BY pinned_at DESC, message_id DESC",
                *COLUMNS
            )
        });
        let rows = sqlx::query(&SQL)
            .bind(channel.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<Message>).collect()
    }

    async fn archivable_threads(
        &self,
        channel: ChannelId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<MessageId>> {
        self.archivable_threads_here(channel, before, limit).await
    }

    async fn count_archivable(
        &self,
        channel: ChannelId,
        before: DateTime<Utc>,
    ) -> Result<(u64, u64)> {
        self.count_archivable_here(channel, before).await
    }

    async fn archive_threads(&self, parents: &[MessageId], at: DateTime<Utc>) -> Result<u64> {
        self.archive_threads_here(parents, at).await
    }

    async fn archived_messages(
        &self,
        channel: ChannelId,
        before: Option<(DateTime<Utc>, MessageId)>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        self.archived_messages_here(channel, before, limit).await
    }
}

impl PostgresStore {
    /// Add or remove `user`'s `emoji` on the message, keeping
    /// `message_reactions` in step with the JSON in one transaction.
    async fn change_reactions(
        &self,
        id: MessageId,
        user: UserId,
        emoji: &str,
        add: bool,
    ) -> Result<Changed> {
        static INSERT: LazyLock<String> =
            LazyLock::new(|| reaction_insert_sql(|n| format!("${n}")));
        static DELETE: LazyLock<String> =
            LazyLock::new(|| reaction_delete_sql(|n| format!("${n}")));
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut message = lock_live_message(&mut tx, id).await?;
        let had_reactions = !message.reactions.0.is_empty();
        let changed = match add {
            true => message.reactions.add(emoji, user)?,
            false => message.reactions.remove(emoji, user),
        };
        if changed {
            message.updated_at = time::now();
            sqlx::query(&format!(
                "UPDATE messages SET reactions = $3, updated_at = $4 WHERE {BY_ID}"
            ))
            .bind(id.0)
            .bind(id.created_at())
            .bind(json_value(&message.reactions))
            .bind(message.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            let recorded = match add {
                true => sqlx::query(&INSERT)
                    .bind(id.0)
                    .bind(user.0)
                    .bind(emoji)
                    .bind(message.workspace_id.0)
                    .bind(message.channel_id.0)
                    .bind(message.updated_at),
                false => sqlx::query(&DELETE).bind(id.0).bind(user.0).bind(emoji),
            };
            recorded.execute(&mut *tx).await.map_err(db_err)?;
            // `has:reaction` changes only with the first and the last.
            if had_reactions == message.reactions.0.is_empty() {
                enqueue_for_search(&mut tx, id).await?;
            }
            tx.commit().await.map_err(db_err)?;
        }
        Ok(Changed { message, changed })
    }
}

/// Tell the search indexer that message `id` changed (in the caller's
/// transaction, so the change and the entry commit together).
pub(crate) async fn enqueue_for_search(conn: &mut PgConnection, id: MessageId) -> Result<()> {
    sqlx::query("INSERT INTO search_outbox (kind, entity_id) VALUES ('message', $1)")
        .bind(id.0)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// The message `user` posted in `channel` with `client_id`, if any.
async fn client_message(
    conn: &mut PgConnection,
    channel: ChannelId,
    user: UserId,
    client_id: &str,
) -> Result<Option<Message>> {
    let earlier: Option<Uuid> = sqlx::query_scalar(
        "SELECT message_id FROM message_client_ids
         WHERE channel_id = $1 AND user_id = $2 AND client_msg_id = $3",
    )
    .bind(channel.0)
    .bind(user.0)
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    match earlier {
        Some(id) => fetch_message(conn, MessageId(id), Lock::None).await,
        None => Ok(None),
    }
}

/// Record who `message` mentions.
async fn insert_mentions(
    conn: &mut PgConnection,
    message: &Message,
    mentions: &[String],
) -> Result<()> {
    for mentioned in mentions {
        sqlx::query(
            "INSERT INTO message_mentions (message_id, channel_id, created_at, mentioned)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(message.id.0)
        .bind(message.channel_id.0)
        .bind(message.created_at)
        .bind(mentioned)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}
