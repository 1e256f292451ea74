//! PostgreSQL implementation of the Confab store ports: the scale-out shape.
//!
//! `messages` is range-partitioned by month on `created_at` and `files` is
//! hash-partitioned 16 ways on `file_id`. A message's `created_at` is the
//! timestamp inside its UUIDv7 id, so every lookup by id also names
//! `created_at` and touches one partition.
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

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::ports::{MaintenanceReport, StoreAdmin};
use confab_core::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;

pub use messages::LATEST_WITH_AUTHORS_SQL;
pub(crate) use row::{db_err, decode_row, json_value, Cols};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How many months of message partitions exist ahead of the current one.
pub const PARTITION_MONTHS_AHEAD: i32 = 3;

/// How to connect to PostgreSQL.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    /// `postgres://...`
    pub url: String,
    pub max_connections: u32,
    /// How long to wait for the server and for a free connection.
    pub timeout: Duration,
    /// Longest a statement may run (PostgreSQL's `statement_timeout`), so a
    /// runaway query frees its connection; migrations and maintenance run
    /// without it.
    pub statement_timeout: Duration,
    /// Longest a statement waits for a lock (`lock_timeout`), so one stuck
    /// transaction does not queue every writer behind it.
    pub lock_timeout: Duration,
}

impl PostgresOptions {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            lock_timeout: Duration::from_secs(10),
        }
    }
}

/// A PostgreSQL database holding every Confab table.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connect, apply pending migrations and create the partitions needed now.
    pub async fn open(options: &PostgresOptions) -> Result<Self> {
        let store = Self::connect(options).await?;
        store.migrate().await?;
        store.maintain(confab_core::time::now()).await?;
        Ok(store)
    }

    /// Connect without migrating.
    pub async fn connect(options: &PostgresOptions) -> Result<Self> {
        let unreachable = |e: sqlx::Error| {
            Error::Unavailable(format!(
                "cannot connect to PostgreSQL at {}: {e}",
                redact(&options.url)
            ))
        };
        let millis = |d: Duration| format!("{}ms", d.as_millis());
        let connect = PgConnectOptions::from_str(&options.url)
            .map_err(unreachable)?
            .options([
                ("statement_timeout", millis(options.statement_timeout)),
                ("lock_timeout", millis(options.lock_timeout)),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.timeout)
            .connect_with(connect)
            .await
            .map_err(unreachable)?;
        let store = Self { pool };
        store.warn_if_commits_are_not_durable().await?;
        store.warn_if_clocks_differ().await?;
        Ok(store)
    }

    /// With `synchronous_commit` off, an acknowledged message can be lost in
    /// a crash: say so at start.
    async fn warn_if_commits_are_not_durable(&self) -> Result<()> {
        let setting: String = sqlx::query_scalar("SHOW synchronous_commit")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        if setting == "off" {
            tracing::warn!(
                "PostgreSQL synchronous_commit is off: acknowledged messages may be lost in a crash"
            );
        }
        Ok(())
    }

    /// Nodes stamp changes with their own clocks and sockets resume on any
    /// node, so clocks far apart could hide a change from a resume: say so.
    async fn warn_if_clocks_differ(&self) -> Result<()> {
        let apart = inspect::clock_offset(&self.pool).await?.abs();
        if apart > chrono::Duration::seconds(1) {
            tracing::warn!(
                apart_ms = apart.num_milliseconds(),
                "this node's clock differs from PostgreSQL's; keep node clocks synchronised \
                 (NTP), or a resuming socket may miss changes"
            );
        }
        Ok(())
    }

    /// A connection of its own for long administrative work (migrations,
    /// partition maintenance): no statement timeout, and it is closed when
    /// dropped instead of going back to the pool with that setting.
    async fn admin_connection(&self) -> Result<sqlx::PgConnection> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?.detach();
        sqlx::query("SET statement_timeout = 0")
            .execute(&mut conn)
            .await
            .map_err(db_err)?;
        Ok(conn)
    }

    /// The connection pool, for tests and tools that inspect the schema.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[async_trait]
impl StoreAdmin for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn migrate(&self) -> Result<()> {
        let mut conn = self.admin_connection().await?;
        MIGRATOR
            .run_direct(&mut conn)
            .await
            .map_err(|e| Error::Internal(format!("migration failed: {e}")))
    }

    async fn maintain(&self, now: DateTime<Utc>) -> Result<MaintenanceReport> {
        let mut conn = self.admin_connection().await?;
        let partitions_created: Vec<String> =
            sqlx::query_scalar("SELECT confab_maintain_partitions($1, $2)")
                .bind(now)
                .bind(PARTITION_MONTHS_AHEAD)
                .fetch_all(&mut conn)
                .await
                .map_err(db_err)?;
        if !partitions_created.is_empty() {
            tracing::info!(?partitions_created, "created partitions");
        }
        Ok(MaintenanceReport { partitions_created })
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
        confab_core::ports::PoolUsage {
            open: self.pool.size(),
            idle: self.pool.num_idle() as u32,
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            super::redact("postgres://me:secret@db:5432/x"),
            "postgres://me:***@db:5432/x"
        );
        assert_eq!(super::redact("postgres://me@db/x"), "postgres://me@db/x");
    }
}
