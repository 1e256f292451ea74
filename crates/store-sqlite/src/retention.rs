//! Retention on SQLite: threads that aged out move into `messages_archive`
//! (the statements are in `confab_core::retention`).

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

use crate::{db_err, decode_row, parse_ids, ts, SqliteStore};

fn p(n: usize) -> String {
    format!("?{n}")
}

impl SqliteStore {
    pub(crate) async fn archivable_threads_here(
        &self,
        channel: ChannelId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<MessageId>> {
        static SQL: LazyLock<String> = LazyLock::new(|| archivable_threads_sql(p));
        let ids: Vec<String> = sqlx::query_scalar(&SQL)
            .bind(channel.to_string())
            .bind(ts(before))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        parse_ids(&ids)
    }

    pub(crate) async fn count_archivable_here(
        &self,
        channel: ChannelId,
        before: DateTime<Utc>,
    ) -> Result<(u64, u64)> {
        static SQL: LazyLock<String> = LazyLock::new(|| count_archivable_sql(p));
        let (threads, messages): (i64, i64) = sqlx::query_as(&SQL)
            .bind(channel.to_string())
            .bind(ts(before))
            .fetch_one(&self.reader)
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
        let statements = archive_threads_sql(parents.len(), p);
        let ids: Vec<String> = parents.iter().map(ToString::to_string).collect();
        let at = ts(at);
        self.write(move |conn| {
            Box::pin(async move {
                let mut moved = 0;
                for (i, sql) in statements.iter().enumerate() {
                    let mut query = sqlx::query(sql);
                    for id in &ids {
                        query = query.bind(id);
                    }
                    if i == ARCHIVE_STATEMENT_WITH_TIME {
                        query = query.bind(&at);
                    }
                    moved = query
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?
                        .rows_affected();
                }
                Ok(moved)
            })
        })
        .await
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
            .bind(channel.to_string())
            .bind(i64::from(limit));
        if let Some((at, id)) = before {
            query = query.bind(ts(at)).bind(id.to_string());
        }
        let rows = query.fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(decode_row::<Message>).collect()
    }

    pub(crate) async fn retention_policies_here(
        &self,
        workspace: WorkspaceId,
    ) -> Result<Vec<(ChannelId, Option<Value>)>> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT channel_id, retention_policy FROM channels WHERE workspace_id = ? ORDER BY channel_id",
        )
        .bind(workspace.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|(id, policy)| {
                let id = id.parse().map_err(confab_core::Error::internal)?;
                let policy = policy
                    .map(|text| serde_json::from_str(&text))
                    .transpose()
                    .map_err(confab_core::Error::internal)?;
                Ok((id, policy))
            })
            .collect()
    }

    pub(crate) async fn claim_job_run_here(
        &self,
        job: &str,
        since: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        static SQL: LazyLock<String> = LazyLock::new(|| claim_job_run_sql(p));
        let query = sqlx::query(&SQL)
            .bind(job.to_owned())
            .bind(ts(since))
            .bind(ts(at));
        Ok(self.write_exec(query).await? == 1)
    }
}
