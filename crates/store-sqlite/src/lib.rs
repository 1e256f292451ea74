//! SQLite implementation of the Confab store ports: the embedded default.
//!
//! The database runs in WAL mode with `synchronous=FULL`, so an acknowledged
//! write survives power loss. All writes go through a pool of exactly one
//! connection (SQLite allows one writer at a time; queuing in the pool instead
//! of in SQLite means concurrent writers never see "database is locked"), and
//! reads use a separate pool of read-only connections.
#![forbid(unsafe_code)]

mod auth;
pub mod backup;
mod channels;
mod files;
pub mod inspect;
mod integrations;
mod messages;
mod retention;
mod row;
mod search_queue;
mod users;
mod workspaces;
mod writer;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::ports::{MaintenanceReport, StoreAdmin};
use confab_core::{Error, Result};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite};

pub(crate) use row::{db_err, decode_row, json_text, ts, Cols};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How to open a SQLite database.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// `sqlite://PATH` (the file is created if missing).
    pub url: String,
    /// Size of the read-only connection pool.
    pub readers: u32,
    /// How long to wait for a connection or a lock.
    pub timeout: Duration,
}

impl SqliteOptions {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            readers: 8,
            timeout: Duration::from_secs(5),
        }
    }
}

/// A SQLite database holding every Confab table.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// The one write connection; used directly only for migrations.
    write_pool: SqlitePool,
    /// Every write goes through here (group commit).
    writer: writer::Writer,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Open (creating if needed) the database and apply pending migrations.
    pub async fn open(options: &SqliteOptions) -> Result<Self> {
        let store = Self::connect(options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Open the database without migrating it.
    pub async fn connect(options: &SqliteOptions) -> Result<Self> {
        let base = SqliteConnectOptions::from_str(&options.url)
            .map_err(|e| Error::invalid("database.url", e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(options.timeout);
        let in_memory = options.url.contains(":memory:");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(options.timeout)
            .connect_with(base.clone())
            .await
            .map_err(|e| open_error(&options.url, e))?;
        // An in-memory database exists only on its one connection.
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(options.readers.max(1))
                .acquire_timeout(options.timeout)
                .connect_with(base.read_only(true))
                .await
                .map_err(|e| open_error(&options.url, e))?
        };
        Ok(Self {
            writer: writer::Writer::start(writer.clone()),
            write_pool: writer,
            reader,
        })
    }
}

impl SqliteStore {
    /// Run `work` in a write transaction (grouped with concurrent writes) and
    /// return its result once committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut sqlx::SqliteConnection,
            ) -> futures::future::BoxFuture<'c, Result<T>>
            + Send
            + 'static,
    {
        self.writer.write(work).await
    }

    /// Run one statement in a write transaction; the row it returns, if any.
    pub(crate) async fn write_row(&self, query: OwnedQuery) -> Result<Option<SqliteRow>> {
        self.write(move |conn| {
            Box::pin(async move { query.fetch_optional(conn).await.map_err(db_err) })
        })
        .await
    }

    /// Run one statement built by a query builder; the row it returns, if any.
    pub(crate) async fn write_built(
        &self,
        mut builder: QueryBuilder<'static, Sqlite>,
    ) -> Result<Option<SqliteRow>> {
        self.write(move |conn| {
            Box::pin(async move { builder.build().fetch_optional(conn).await.map_err(db_err) })
        })
        .await
    }

    /// Run one statement in a write transaction; how many rows it changed.
    pub(crate) async fn write_exec(&self, query: OwnedQuery) -> Result<u64> {
        self.write(move |conn| {
            Box::pin(async move { Ok(query.execute(conn).await.map_err(db_err)?.rows_affected()) })
        })
        .await
    }
}

/// Ids read back as text.
pub(crate) fn parse_ids<T: std::str::FromStr>(ids: &[String]) -> Result<Vec<T>>
where
    T::Err: std::fmt::Display,
{
    ids.iter()
        .map(|id| id.parse().map_err(Error::internal))
        .collect()
}

/// A statement whose text and arguments it owns, so it can go to the writer task.
pub(crate) type OwnedQuery = sqlx::query::Query<'static, Sqlite, SqliteArguments<'static>>;

fn open_error(url: &str, err: sqlx::Error) -> Error {
    Error::Unavailable(format!("cannot open SQLite database {url}: {err}"))
}

#[async_trait]
impl StoreAdmin for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn migrate(&self) -> Result<()> {
        MIGRATOR
            .run(&self.write_pool)
            .await
            .map_err(|e| Error::Internal(format!("migration failed: {e}")))
    }

    async fn maintain(&self, _now: DateTime<Utc>) -> Result<MaintenanceReport> {
        // Keep the planner's statistics fresh; nothing to partition here.
        self.write(|conn| {
            Box::pin(async move {
                sqlx::query("PRAGMA optimize")
                    .execute(conn)
                    .await
                    .map_err(db_err)?;
                Ok(())
            })
        })
        .await?;
        Ok(MaintenanceReport::default())
    }

    async fn claim_job_run(
        &self,
        job: &str,
        since: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        self.claim_job_run_here(job, since, at).await
    }

    fn pool_usage(&self) -> confab_core::ports::PoolUsage {
        let pools = [&self.write_pool, &self.reader];
        confab_core::ports::PoolUsage {
            open: pools.iter().map(|p| p.size()).sum(),
            idle: pools.iter().map(|p| p.num_idle() as u32).sum(),
            max: pools
                .iter()
                .map(|p| p.options().get_max_connections())
                .sum(),
        }
    }

    async fn close(&self) {
        self.write_pool.close().await;
        self.reader.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn durability_settings_are_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::open(&SqliteOptions::new(url)).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.reader)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        // 2 is FULL: the WAL is synced at every commit.
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&store.write_pool)
            .await
            .unwrap();
        assert_eq!(sync, 2);
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&store.write_pool)
            .await
            .unwrap();
        assert_eq!(fk, 1);
        let readonly = sqlx::query("CREATE TABLE t (x)")
            .execute(&store.reader)
            .await;
        assert!(readonly.is_err(), "reader connections cannot write");
        store.close().await;
    }
}
