//! SQLite implementation of the Confab store ports: the embedded default.
//!
//! The database runs in WAL mode with `synchronous=FULL`, so an acknowledged
//! write survives power loss. All writes go through a pool of exactly one
//! connection (SQLite allows one writer at a time; queuing in the pool instead
//! of in SQLite means concurrent writers never see "database is locked"), and
//! reads use a separate pool of read-only connections.
#![forbid(unsafe_code)]

mod channels;
mod files;
mod integrations;
mod messages;
mod row;
mod users;
mod workspaces;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::ports::{MaintenanceReport, StoreAdmin};
use confab_core::{Error, Result};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

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
    writer: SqlitePool,
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
        Ok(Self { writer, reader })
    }
}

impl SqliteStore {
    /// A write transaction that takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so it never fails half-way on a lock another process took.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)
    }
}

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
            .run(&self.writer)
            .await
            .map_err(|e| Error::Internal(format!("migration failed: {e}")))
    }

    async fn maintain(&self, _now: DateTime<Utc>) -> Result<MaintenanceReport> {
        // Keep the planner's statistics fresh; nothing to partition here.
        sqlx::query("PRAGMA optimize")
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(MaintenanceReport::default())
    }

    async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}
