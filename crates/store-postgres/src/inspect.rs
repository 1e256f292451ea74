//! Looking at a database without changing it (`confab doctor`).

use chrono::{DateTime, Datelike, Utc};
use confab_core::backup::SCHEMA_VERSION_SQL;
use confab_core::Result;

use crate::backup::connect;
use crate::db_err;

/// The latest migration applied to the database at `url`; `None` when it
/// has none (a new database).
pub async fn schema_version(url: &str) -> Result<Option<i64>> {
    let mut conn = connect(url).await?;
    let migrated: bool =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .map_err(db_err)?;
    if !migrated {
        return Ok(None);
    }
    sqlx::query_scalar(SCHEMA_VERSION_SQL)
        .fetch_one(&mut conn)
        .await
        .map_err(db_err)
}

/// How far this machine's clock is ahead of the database server's.
pub(crate) async fn clock_offset<'e>(
    executor: impl sqlx::PgExecutor<'e>,
) -> Result<chrono::Duration> {
    let asked = Utc::now();
    let theirs: DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(executor)
        .await
        .map_err(db_err)?;
    let answered = Utc::now();
    Ok(asked + (answered - asked) / 2 - theirs)
}

/// How far this machine's clock is ahead of that of the database at `url`.
pub async fn clock_offset_at(url: &str) -> Result<chrono::Duration> {
    let mut conn = connect(url).await?;
    clock_offset(&mut conn).await
}

/// How far ahead the month partitions of `messages` reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionHorizon {
    /// Whole months after the current one that have a partition; negative
    /// when even the current month has none.
    pub months_ahead: i32,
    /// Rows in the default partition (dated in a month without a
    /// partition), which maintenance moves out.
    pub default_rows: u64,
}

/// The partitions of `messages` as of `now`.
pub async fn partition_horizon(url: &str, now: DateTime<Utc>) -> Result<PartitionHorizon> {
    let mut conn = connect(url).await?;
    let latest: Option<String> = sqlx::query_scalar(
        "SELECT max(c.relname::text) FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'public.messages'::regclass AND c.relname ~ '^messages_[0-9]{4}_[0-9]{2}$'",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(db_err)?;
    let default_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM messages_default")
        .fetch_one(&mut conn)
        .await
        .map_err(db_err)?;
    let current = now.year() * 12 + now.month0() as i32;
    let months_ahead = latest
        .as_deref()
        .and_then(month_of)
        .map_or(-1, |month| month - current);
    Ok(PartitionHorizon {
        months_ahead,
        default_rows: default_rows as u64,
    })
}

/// `messages_2027_03` as a count of months (year × 12 + month − 1).
fn month_of(partition: &str) -> Option<i32> {
    let (year, month) = partition.strip_prefix("messages_")?.split_once('_')?;
    Some(year.parse::<i32>().ok()? * 12 + month.parse::<i32>().ok()? - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_read_as_months() {
        assert_eq!(month_of("messages_2027_03"), Some(2027 * 12 + 2));
        assert_eq!(month_of("messages_default"), None);
    }
}
