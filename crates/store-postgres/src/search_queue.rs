//! The search outbox on PostgreSQL: indexers on several nodes claim
//! entries with `FOR UPDATE SKIP LOCKED` and hold them for a while, so each
//! entry is worked on by one of them, and a crashed one's entries are taken
//! again once its hold ends.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::ports::{SearchQueue, SearchWork};
use confab_core::Result;
use sqlx::Row;
use uuid::Uuid;

use crate::{db_err, PostgresStore};

#[async_trait]
impl SearchQueue for PostgresStore {
    async fn claim_search_work(
        &self,
        limit: u32,
        now: DateTime<Utc>,
        hold_until: DateTime<Utc>,
    ) -> Result<Vec<SearchWork>> {
        let rows = sqlx::query(
            "UPDATE search_outbox SET held_until = $1
             WHERE seq IN (SELECT seq FROM search_outbox
                           WHERE held_until IS NULL OR held_until < $2
                           ORDER BY seq LIMIT $3
                           FOR UPDATE SKIP LOCKED)
             RETURNING seq, kind, entity_id",
        )
        .bind(hold_until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut work = rows
            .iter()
            .map(|row| {
                Ok(SearchWork {
                    seq: row.try_get("seq").map_err(db_err)?,
                    kind: row.try_get::<String, _>("kind").map_err(db_err)?.parse()?,
                    entity_id: row.try_get::<Uuid, _>("entity_id").map_err(db_err)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        work.sort_by_key(|w| w.seq);
        Ok(work)
    }

    async fn finish_search_work(&self, seqs: &[i64]) -> Result<()> {
        sqlx::query("DELETE FROM search_outbox WHERE seq = ANY($1)")
            .bind(seqs)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn search_backlog(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM search_outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(count as u64)
    }
}
