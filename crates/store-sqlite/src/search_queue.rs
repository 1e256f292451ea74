//! The search outbox on SQLite: one indexer (the embedded shape), entries
//! held while it works on them so that a crash mid-batch frees them again.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::ports::{SearchQueue, SearchWork};
use confab_core::{Error, Result};
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::{db_err, ts, SqliteStore};

#[async_trait]
impl SearchQueue for SqliteStore {
    async fn claim_search_work(
        &self,
        limit: u32,
        now: DateTime<Utc>,
        hold_until: DateTime<Utc>,
    ) -> Result<Vec<SearchWork>> {
        let rows = self
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE search_outbox SET held_until = ?
                         WHERE seq IN (SELECT seq FROM search_outbox
                                       WHERE held_until IS NULL OR held_until < ?
                                       ORDER BY seq LIMIT ?)
                         RETURNING seq, kind, entity_id",
                    )
                    .bind(ts(hold_until))
                    .bind(ts(now))
                    .bind(i64::from(limit))
                    .fetch_all(conn)
                    .await
                    .map_err(db_err)
                })
            })
            .await?;
        let mut work = rows
            .iter()
            .map(|row| {
                Ok(SearchWork {
                    seq: row.try_get("seq").map_err(db_err)?,
                    kind: row.try_get::<String, _>("kind").map_err(db_err)?.parse()?,
                    entity_id: row
                        .try_get::<String, _>("entity_id")
                        .map_err(db_err)?
                        .parse()
                        .map_err(Error::internal)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        work.sort_by_key(|w| w.seq);
        Ok(work)
    }

    async fn finish_search_work(&self, seqs: &[i64]) -> Result<()> {
        if seqs.is_empty() {
            return Ok(());
        }
        let mut q = QueryBuilder::<Sqlite>::new("DELETE FROM search_outbox WHERE seq IN (");
        let mut list = q.separated(", ");
        for seq in seqs {
            list.push_bind(*seq);
        }
        q.push(")");
        self.write_built(q).await.map(drop)
    }

    async fn search_backlog(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM search_outbox")
            .fetch_one(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(count as u64)
    }
}
