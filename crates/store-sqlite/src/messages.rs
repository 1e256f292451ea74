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
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::{db_err, decode_row, json_text, ts, SqliteStore};

/// The columns of message reads: all but the edit history.
static COLUMNS: LazyLock<String> = LazyLock::new(|| message_columns("", "json_array_length"));

/// A message with its whole edit history (what an edit needs).
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

async fn adjust_reply_count(
    conn: &mut SqliteConnection,
    parent: MessageId,
    delta: i32,
    at: DateTime<Utc>,
) -> Result<i32> {
    sqlx::query_scalar(
        "UPDATE messages SET reply_count = max(reply_count + ?, 0), updated_at = ?
         WHERE message_id = ? RETURNING reply_count",
    )
    .bind(delta)
    .bind(ts(at))
    .bind(parent.to_string())
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)
}

/// The message `user` posted in `channel` with `client_id`, if any.
async fn client_message(
    conn: &mut SqliteConnection,
    channel: ChannelId,
    user: UserId,
    client_id: &str,
) -> Result<Option<Message>> {
    let earlier: Option<String> = sqlx::query_scalar(
        "SELECT message_id FROM message_client_ids
         WHERE channel_id = ? AND user_id = ? AND client_msg_id = ?",
    )
    .bind(channel.to_string())
    .bind(user.to_string())
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    match earlier {
        Some(id) => fetch_message(conn, id.parse().map_err(Error::internal)?).await,
        None => Ok(None),
    }
}

async fn insert(conn: &mut SqliteConnection, new: NewMessage) -> Result<Inserted> {
    let created_at = new.id.created_at();
    if let Some(client_id) = &new.client_msg_id {
        // Claim the idempotency key; if it was claimed before, answer with
        // the message that claimed it.
        let claimed: Option<String> = sqlx::query_scalar(
            "INSERT INTO message_client_ids (channel_id, user_id, client_msg_id, message_id, created_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (channel_id, user_id, client_msg_id) DO NOTHING
             RETURNING message_id",
        )
        .bind(new.channel_id.to_string())
        .bind(new.user_id.to_string())
        .bind(client_id)
        .bind(new.id.to_string())
        .bind(ts(created_at))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        if claimed.is_none() {
            let message = client_message(conn, new.channel_id, new.user_id, client_id)
                .await?
                .ok_or(Error::NotFound("message"))?;
            return Ok(Inserted {
                message,
                created: false,
                parent_reply_count: None,
            });
        }
    }
    // Stamped inside the transaction, after any wait: see `COMMIT_WINDOW`.
    let stamp = time::now();
    let mut parent_reply_count = None;
    if let Some(parent_id) = new.thread_id {
        let parent = fetch_message(conn, parent_id)
            .await?
            .ok_or(Error::NotFound("thread"))?;
        parent.accepts_reply_in(new.channel_id)?;
        parent_reply_count = Some(adjust_reply_count(conn, parent_id, 1, stamp).await?);
    }
    // The stamp: the creation time, or just after the channel's latest
    // stamp at or after it (the writer runs one transaction at a time).
    let row = sqlx::query(
        "INSERT INTO messages
           (message_id, workspace_id, channel_id, user_id, content, message_type,
            formatted_content, thread_id, client_msg_id, created_at, updated_at, ts, broadcast)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
                 (SELECT COALESCE(MAX(ts) + 1, ?12) FROM messages WHERE channel_id = ?3 AND ts >= ?12),
                 ?13)
         RETURNING *",
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
    .bind(ts(created_at))
    .bind(ts(stamp))
    .bind(created_at.timestamp_micros())
    .bind(new.thread_id.is_some() && new.broadcast)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let message = decode_row::<Message>(&row)?;
    insert_mentions(conn, &message, &new.mentions).await?;
    enqueue_for_search(conn, message.id, stamp).await?;
    time::check_commit_window(stamp)?;
    Ok(Inserted {
        message,
        created: true,
        parent_reply_count,
    })
}

/// Record who `message` mentions.
async fn insert_mentions(
    conn: &mut SqliteConnection,
    message: &Message,
    mentions: &[String],
) -> Result<()> {
    for mentioned in mentions {
        sqlx::query(
            "INSERT INTO message_mentions (message_id, channel_id, created_at, mentioned)
             VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(message.id.to_string())
        .bind(message.channel_id.to_string())
        .bind(ts(message.created_at))
        .bind(mentioned)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

async fn edit(
    conn: &mut SqliteConnection,
    id: MessageId,
    content: String,
    formatted_content: Option<Value>,
    mentions: Vec<String>,
    at: DateTime<Utc>,
) -> Result<Message> {
    let history = live_message(conn, id).await?.history_with_current(at);
    let stamp = time::now();
    let row = sqlx::query(
        "UPDATE messages SET content = ?, formatted_content = ?, edit_history = ?,
                             edited_at = ?, updated_at = ?
         WHERE message_id = ? RETURNING *",
    )
    .bind(content)
    .bind(formatted_content.as_ref().map(json_text))
    .bind(json_text(&history))
    .bind(ts(at))
    .bind(ts(stamp))
    .bind(id.to_string())
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let message = decode_row::<Message>(&row)?;
    sqlx::query("DELETE FROM message_mentions WHERE message_id = ?")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    insert_mentions(conn, &message, &mentions).await?;
    enqueue_for_search(conn, id, stamp).await?;
    time::check_commit_window(stamp)?;
    Ok(message)
}

/// Tell the search indexer that message `id` changed (in the caller's
/// transaction, so the change and the entry commit together).
pub(crate) async fn enqueue_for_search(
    conn: &mut SqliteConnection,
    id: MessageId,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("INSERT INTO search_outbox (kind, entity_id, created_at) VALUES ('message', ?, ?)")
        .bind(id.to_string())
        .bind(ts(at))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn delete(conn: &mut SqliteConnection, id: MessageId, at: DateTime<Utc>) -> Result<Changed> {
    let current = fetch_message(conn, id)
        .await?
        .ok_or(Error::NotFound("message"))?;
    if current.is_deleted {
        return Ok(Changed {
            message: current,
            changed: false,
        });
    }
    let stamp = time::now();
    let row = sqlx::query(
        "UPDATE messages SET is_deleted = 1, deleted_at = ?, updated_at = ?, content = '',
                             formatted_content = NULL, edit_history = '[]'
         WHERE message_id = ? RETURNING *",
    )
    .bind(ts(at))
    .bind(ts(stamp))
    .bind(id.to_string())
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    if let Some(parent) = current.thread_id {
        adjust_reply_count(conn, parent, -1, stamp).await?;
    }
    // A deleted message no longer shares its files.
    sqlx::query(&enqueue_message_files_sql(|n| format!("?{n}")))
        .bind(id.to_string())
        .bind(ts(stamp))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    sqlx::query("DELETE FROM message_files WHERE message_id = ?")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    enqueue_for_search(conn, id, stamp).await?;
    time::check_commit_window(stamp)?;
    Ok(Changed {
        message: decode_row::<Message>(&row)?,
        changed: true,
    })
}

async fn pin(
    conn: &mut SqliteConnection,
    id: MessageId,
    pinned_by: Option<UserId>,
    at: DateTime<Utc>,
) -> Result<Changed> {
    let current = live_message(conn, id).await?;
    if current.is_pinned == pinned_by.is_some() {
        return Ok(Changed {
            message: current,
            changed: false,
        });
    }
    if pinned_by.is_some() {
        static COUNT: LazyLock<String> = LazyLock::new(|| pinned_count_sql("?"));
        let pinned: i64 = sqlx::query_scalar(COUNT.as_str())
            .bind(current.channel_id.to_string())
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        check_pin_room(pinned)?;
    }
    let stamp = time::now();
    let row = sqlx::query(
        "UPDATE messages SET is_pinned = ?, pinned_by = ?, pinned_at = ?, updated_at = ?
         WHERE message_id = ? RETURNING *",
    )
    .bind(pinned_by.is_some())
    .bind(pinned_by.map(|u| u.to_string()))
    .bind(pinned_by.map(|_| ts(at)))
    .bind(ts(stamp))
    .bind(id.to_string())
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    enqueue_for_search(conn, id, stamp).await?;
    time::check_commit_window(stamp)?;
    Ok(Changed {
        message: decode_row::<Message>(&row)?,
        changed: true,
    })
}

/// One person's change of one reaction on a message.
struct ReactionChange {
    id: MessageId,
    user: UserId,
    emoji: String,
    add: bool,
}

async fn change_reactions(conn: &mut SqliteConnection, change: ReactionChange) -> Result<Changed> {
    let ReactionChange {
        id,
        user,
        emoji,
        add,
    } = change;
    let mut message = live_message(conn, id).await?;
    let had_reactions = !message.reactions.0.is_empty();
    let changed = match add {
        true => message.reactions.add(&emoji, user)?,
        false => message.reactions.remove(&emoji, user),
    };
    if changed {
        message.updated_at = time::now();
        sqlx::query("UPDATE messages SET reactions = ?, updated_at = ? WHERE message_id = ?")
            .bind(json_text(&message.reactions))
            .bind(ts(message.updated_at))
            .bind(id.to_string())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        record_reaction(conn, &message, user, &emoji, add).await?;
        // `has:reaction` changes only with the first and the last.
        if had_reactions == message.reactions.0.is_empty() {
            enqueue_for_search(conn, id, message.updated_at).await?;
        }
    }
    Ok(Changed { message, changed })
}

/// Keep `message_reactions` in step with the JSON, in its transaction.
async fn record_reaction(
    conn: &mut SqliteConnection,
    message: &Message,
    user: UserId,
    emoji: &str,
    add: bool,
) -> Result<()> {
    static INSERT: LazyLock<String> = LazyLock::new(|| reaction_insert_sql(|n| format!("?{n}")));
    static DELETE: LazyLock<String> = LazyLock::new(|| reaction_delete_sql(|n| format!("?{n}")));
    let query = match add {
        true => sqlx::query(&INSERT)
            .bind(message.id.to_string())
            .bind(user.to_string())
            .bind(emoji)
            .bind(message.workspace_id.to_string())
            .bind(message.channel_id.to_string())
            .bind(ts(message.updated_at)),
        false => sqlx::query(&DELETE)
            .bind(message.id.to_string())
            .bind(user.to_string())
            .bind(emoji),
    };
    query.execute(&mut *conn).await.map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn latest_with_authors(
        &self,
        channel: ChannelId,
        limit: u32,
    ) -> Result<Vec<(Message, Author)>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            let select = format!(
                "SELECT {}, u.display_name AS author_display_name, u.avatar_url AS author_avatar_url
                 FROM messages m JOIN users u ON u.user_id = m.user_id
                 WHERE m.channel_id = ?1 AND {{shown}} AND m.is_deleted = 0",
                message_columns("m.", "json_array_length")
            );
            channel_history_sql(&select, "m.", "DESC", "?2")
        });
        let rows = sqlx::query(&SQL)
            .bind(channel.to_string())
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|row| Ok((decode_row::<Message>(row)?, decode_row::<Author>(row)?)))
            .collect()
    }

    async fn insert_message(&self, new: &NewMessage) -> Result<Inserted> {
        let new = new.clone();
        self.write(move |conn| Box::pin(insert(conn, new))).await
    }

    async fn get_message(&self, id: MessageId) -> Result<Option<Message>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM messages WHERE message_id = ?", *COLUMNS));
        sqlx::query(&SQL)
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<Message>)
            .transpose()
    }

    async fn message_by_ts(&self, channel: ChannelId, stamp: i64) -> Result<Option<Message>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM messages WHERE channel_id = ? AND ts = ?",
                *COLUMNS
            )
        });
        sqlx::query(&SQL)
            .bind(channel.to_string())
            .bind(stamp)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<Message>)
            .transpose()
    }

    async fn get_messages(&self, ids: &[MessageId]) -> Result<Vec<Message>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {} FROM messages WHERE message_id IN (",
            *COLUMNS
        ));
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id.to_string());
        }
        q.push(")");
        let rows = q.build().fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(decode_row::<Message>).collect()
    }

    async fn scan_messages(&self, after: Option<MessageId>, limit: u32) -> Result<Vec<Message>> {
        // By id (time-ordered): the primary key gives the order.
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM messages WHERE message_id > ? ORDER BY message_id LIMIT ?",
                *COLUMNS
            )
        });
        let rows = sqlx::query(&SQL)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<Message>).collect()
    }

    async fn count_messages(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
            .fetch_one(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(count as u64)
    }

    async fn get_message_with_history(&self, id: MessageId) -> Result<Option<Message>> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
        fetch_message(&mut conn, id).await
    }

    async fn find_client_message(
        &self,
        channel: ChannelId,
        user: UserId,
        client_msg_id: &str,
    ) -> Result<Option<Message>> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
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
                "SELECT {} FROM messages WHERE channel_id = ?1 AND {{shown}} AND is_deleted = 0",
                *COLUMNS
            )
        });
        static LATEST: LazyLock<String> =
            LazyLock::new(|| channel_history_sql(&BASE, "", "DESC", "?2"));
        static BEFORE: LazyLock<String> = LazyLock::new(|| {
            let select = format!("{} AND (created_at, message_id) < (?2, ?3)", *BASE);
            channel_history_sql(&select, "", "DESC", "?4")
        });
        static AFTER: LazyLock<String> = LazyLock::new(|| {
            let select = format!("{} AND (created_at, message_id) > (?2, ?3)", *BASE);
            channel_history_sql(&select, "", "ASC", "?4")
        });
        let (sql, cursor) = match range {
            HistoryRange::Latest => (&*LATEST, None),
            HistoryRange::Before(id) => (&*BEFORE, Some(id)),
            HistoryRange::After(id) => (&*AFTER, Some(id)),
        };
        let mut query = sqlx::query(sql).bind(channel.to_string());
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
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM messages
                 WHERE thread_id = ? AND is_deleted = 0 AND (created_at, message_id) > (?, ?)
                 ORDER BY created_at, message_id LIMIT ?",
                *COLUMNS
            )
        });
        let rows = sqlx::query(&SQL)
            .bind(parent.to_string())
            .bind(ts(after.created_at()))
            .bind(after.to_string())
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<Message>).collect()
    }

    async fn thread_summary(&self, parent: MessageId) -> Result<ThreadSummary> {
        static SQL: LazyLock<String> = LazyLock::new(|| thread_summary_sql(|n| format!("?{n}")));
        let rows = sqlx::query(&SQL)
            .bind(parent.to_string())
            .bind(ts(parent.created_at()))
            .bind(i64::from(MAX_THREAD_REPLIERS))
            .fetch_all(&self.reader)
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
        let content = content.to_owned();
        let formatted_content = formatted_content.cloned();
        let mentions = mentions.to_vec();
        self.write(move |conn| Box::pin(edit(conn, id, content, formatted_content, mentions, at)))
            .await
    }

    async fn delete_message(&self, id: MessageId, at: DateTime<Utc>) -> Result<Changed> {
        self.write(move |conn| Box::pin(delete(conn, id, at))).await
    }

    async fn add_reaction(&self, id: MessageId, user: UserId, emoji: &str) -> Result<Changed> {
        let change = ReactionChange {
            id,
            user,
            emoji: emoji.to_owned(),
            add: true,
        };
        self.write(move |conn| Box::pin(change_reactions(conn, change)))
            .await
    }

    async fn remove_reaction(&self, id: MessageId, user: UserId, emoji: &str) -> Result<Changed> {
        let change = ReactionChange {
            id,
            user,
            emoji: emoji.to_owned(),
            add: false,
        };
        self.write(move |conn| Box::pin(change_reactions(conn, change)))
            .await
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
            LazyLock::new(|| reacted_by_sql(false, |n| format!("?{n}")));
        static NEXT: LazyLock<String> = LazyLock::new(|| reacted_by_sql(true, |n| format!("?{n}")));
        let mut query = sqlx::query(if before.is_some() { &NEXT } else { &FIRST })
            .bind(user.to_string())
            .bind(workspace.to_string())
            .bind(viewer.to_string());
        if let Some(last) = before {
            query = query
                .bind(ts(last.reacted_at))
                .bind(last.message_id.to_string());
        }
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
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
        self.write(move |conn| Box::pin(pin(conn, id, pinned_by, at)))
            .await
    }

    async fn changed_since(
        &self,
        channels: &[ChannelId],
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        if channels.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {} FROM messages WHERE channel_id IN (",
            *COLUMNS
        ));
        let mut list = q.separated(", ");
        for channel in channels {
            list.push_bind(channel.to_string());
        }
        q.push(") AND updated_at > ")
            .push_bind(ts(since))
            .push(" ORDER BY updated_at, message_id LIMIT ")
            .push_bind(i64::from(limit));
        let rows = q.build().fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(decode_row::<Message>).collect()
    }

    async fn list_pinned(&self, channel: ChannelId) -> Result<Vec<Message>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM messages WHERE channel_id = ? AND is_pinned AND is_deleted = 0
                 ORDER BY pinned_at DESC, message_id DESC",
                *COLUMNS
            )
        });
        let rows = sqlx::query(&SQL)
            .bind(channel.to_string())
            .fetch_all(&self.reader)
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
