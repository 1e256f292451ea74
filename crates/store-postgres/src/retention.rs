//! Retention on PostgreSQL: threads that aged out move into
//! `messages_archive` (the statements are in `confab_core::retention`). The
//! rows are locked first, so two runs at once never move a thread twice.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use confab_core::id::{ChannelId, MessageId, WorkspaceId};
use confab_core::model::Message;
use confab_core::retention::{
    archivable_threads_sql, archive_threads_sql, archived_messages_sql, claim_job_run_sql,
    count_archivable_sql, ARCHIVE_STATEMENT_WITH_TIME,
};
use confab_core::Result;
use serde_json::Value;
use uuid::Uuid;

use crate::{db_err, decode_row, PostgresStore};

fn p(n: usize) -> String {
    format!("${n}")
}

impl PostgresStore {
    pub(crate) async fn archivable_threads_here(
        &self,
        channel: ChannelId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<MessageId>> {
        static SQL: LazyLock<String> = LazyLock::new(|| archivable_threads_sql(p));
        let ids: Vec<Uuid> = sqlx::query_scalar(&SQL)
            .bind(channel.0)
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(ids.into_iter().map(MessageId).collect())
    }

    pub(crate) async fn count_archivable_here(
        &self,
        channel: ChannelId,
        before: DateTime<Utc>,
    ) -> Result<(u64, u64)> {
        static SQL: LazyLock<String> = LazyLock::new(|| count_archivable_sql(p));
        let (threads, messages): (i64, i64) = sqlx::query_as(&SQL)
            .bind(channel.0)
            .bind(before)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok((threads as u64, messages as u64))
    }

    pub(crate) async fn archive_threads_here(
        &self,
        parents: &[MessageId],
        at: DateTime<Utc>,
    ) -> Result<u64> {
        if parents.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Uuid> = parents.iter().map(|id| id.0).collect();
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "SELECT 1 FROM messages WHERE message_id = ANY($1) OR thread_id = ANY($1) FOR UPDATE",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut moved = 0;
        for (i, sql) in archive_threads_sql(ids.len(), p).iter().enumerate() {
            let mut query = sqlx::query(sql);
            for id in &ids {
                query = query.bind(id);
            }
            if i == ARCHIVE_STATEMENT_WITH_TIME {
                query = query.bind(at);
            }
            moved = query
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
        }
        tx.commit().await.map_err(db_err)?;
        Ok(moved)
    }

    pub(crate) async fn archived_messages_here(
        &self,
        channel: ChannelId,
        before: Option<(DateTime<Utc>, MessageId)>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        static FIRST: LazyLock<String> = LazyLock::new(|| archived_messages_sql(false, p));
        static NEXT: LazyLock<String> = LazyLock::new(|| archived_messages_sql(true, p));
        let mut query = sqlx::query(if before.is_some() { &NEXT } else { &FIRST })
            .bind(channel.0)
            .bind(i64::from(limit));
        if let Some((at, id)) = before {
            query = query.bind(at).bind(id.0);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db_err)?;
        rows.iter().map(decode_row::<Message>).collect()
    }

    pub(crate) async fn retention_policies_here(
        &self,
        workspace: WorkspaceId,
    ) -> Result<Vec<(ChannelId, Option<Value>)>> {
        let rows: Vec<(Uuid, Option<Value>)> = sqlx::query_as(
            "SELECT channel_id, retention_policy FROM channels WHERE workspace_id = $1 ORDER BY channel_id",
        )
        .bind(workspace.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(id, policy)| (ChannelId(id), policy))
            .collect())
    }

    pub(crate) async fn claim_job_run_here(
        &self,
        job: &str,
        since: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        static SQL: LazyLock<String> = LazyLock::new(|| claim_job_run_sql(p));
        let done = sqlx::query(&SQL)
            .bind(job)
            .bind(since)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }
}
