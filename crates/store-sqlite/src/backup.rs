//! Backups of the database: a consistent copy made with `VACUUM INTO` while
//! the server goes on writing (a read transaction, so writers never wait),
//! the census of a database, and putting a copy back in place.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use confab_core::backup::{Census, SCHEMA_VERSION_SQL};
use confab_core::{Error, Result};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};

use crate::db_err;

/// The file a `sqlite://` URL names.
pub fn database_path(url: &str) -> Result<PathBuf> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| Error::invalid("database.url", e.to_string()))?;
    Ok(options.get_filename().to_path_buf())
}

pub(crate) async fn open_read_only(path: &Path) -> Result<SqliteConnection> {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| {
            Error::Unavailable(format!(
                "cannot open SQLite database {}: {e}",
                path.display()
            ))
        })
}

/// Copy the database at `url` into the new file `dest`, consistent as of
/// one moment, and count what the copy holds.
pub async fn snapshot(url: &str, dest: &Path) -> Result<Census> {
    let mut conn = open_read_only(&database_path(url)?).await?;
    let target = dest
        .to_str()
        .ok_or_else(|| Error::invalid("backup directory", "the path must be UTF-8"))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut conn)
        .await
        .map_err(db_err)?;
    conn.close().await.map_err(db_err)?;
    census_of(dest).await
}

/// The schema version and rows of each table of the database at `url`.
pub async fn census(url: &str) -> Result<Census> {
    census_of(&database_path(url)?).await
}

async fn census_of(path: &Path) -> Result<Census> {
    let mut conn = open_read_only(path).await?;
    let mut tx = conn.begin().await.map_err(db_err)?;
    let schema_version: Option<i64> = sqlx::query_scalar(SCHEMA_VERSION_SQL)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut census = Census {
        schema_version: schema_version.unwrap_or(0),
        ..Census::default()
    };
    for name in names {
        let sql = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
        let rows: i64 = sqlx::query_scalar(&sql)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        census.tables.insert(name, rows as u64);
    }
    tx.commit().await.map_err(db_err)?;
    conn.close().await.map_err(db_err)?;
    Ok(census)
}

/// Whether the database at `url` exists and holds any table.
pub async fn holds_data(url: &str) -> Result<bool> {
    let path = database_path(url)?;
    if !path.exists() {
        return Ok(false);
    }
    let mut conn = open_read_only(&path).await?;
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_schema WHERE type = 'table'")
        .fetch_one(&mut conn)
        .await
        .map_err(db_err)?;
    conn.close().await.map_err(db_err)?;
    Ok(tables > 0)
}

/// Put the database file `copy` (on the same file system) in place of the
/// database at `url`, with no server using it. The copy replaces the file
/// in one rename, so a crash leaves either the old database or the copy.
pub fn restore(url: &str, copy: &Path) -> Result<()> {
    let path = database_path(url)?;
    let io = |e: std::io::Error| Error::Internal(format!("restoring {}: {e}", path.display()));
    std::fs::File::open(copy)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    std::fs::rename(copy, &path).map_err(io)?;
    // The old database's journal must not be replayed onto the copy.
    for suffix in ["-wal", "-shm"] {
        let mut side = path.clone().into_os_string();
        side.push(suffix);
        match std::fs::remove_file(&side) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

/// The latest migration this build knows.
pub fn latest_schema_version() -> i64 {
    crate::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}
