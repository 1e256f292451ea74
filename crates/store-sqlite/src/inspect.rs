//! Looking at a database without changing it (`confab doctor`).

use confab_core::Result;
use sqlx::Connection;

use crate::backup::{database_path, open_read_only};
use crate::db_err;

/// The latest migration applied to the database at `url`; `None` when it
/// has none (a new database) or does not exist.
pub async fn schema_version(url: &str) -> Result<Option<i64>> {
    let path = database_path(url)?;
    if !path.exists() {
        return Ok(None);
    }
    let mut conn = open_read_only(&path).await?;
    let migrated: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = '_sqlx_migrations')",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(db_err)?;
    let version = match migrated {
        true => sqlx::query_scalar(confab_core::backup::SCHEMA_VERSION_SQL)
            .fetch_one(&mut conn)
            .await
            .map_err(db_err)?,
        false => None,
    };
    conn.close().await.map_err(db_err)?;
    Ok(version)
}
