//! Backups of the database with PostgreSQL's own tools: `pg_dump` in the
//! custom format, reading a snapshot exported by a transaction that also
//! counts every table (so the census is of exactly what was dumped), and
//! `pg_restore` into an empty database in one transaction.

use std::path::Path;
use std::process::{Command, Output};
use std::str::FromStr;

use confab_core::backup::{Census, SCHEMA_VERSION_SQL};
use confab_core::{Error, Result};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

use crate::{db_err, redact};

/// The tables of the `public` schema, partitioned ones once (not their
/// partitions).
const TABLES_SQL: &str = "SELECT c.relname::text FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
     ORDER BY 1";

pub(crate) async fn connect(url: &str) -> Result<PgConnection> {
    PgConnectOptions::from_str(url)
        .map_err(|e| Error::invalid("database.url", e.to_string()))?
        .connect()
        .await
        .map_err(|e| {
            Error::Unavailable(format!(
                "cannot connect to PostgreSQL at {}: {e}",
                redact(url)
            ))
        })
}

/// Dump the database at `url` into the new file `dest` with `pg_dump`
/// (custom format, compressed), while the server goes on writing, and count
/// what the dump holds.
pub async fn snapshot(url: &str, dest: &Path) -> Result<Census> {
    let mut conn = connect(url).await?;
    check_client_version("pg_dump", &mut conn).await?;
    let mut tx = conn.begin().await.map_err(db_err)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    let census = census_in(&mut tx).await?;
    let mut dump = tool("pg_dump", url);
    dump.arg("--format=custom")
        .arg(format!("--snapshot={snapshot}"))
        .arg("--file")
        .arg(dest);
    // The snapshot lives as long as the transaction that exported it.
    let dumped = run_tool(dump).await;
    tx.commit().await.map_err(db_err)?;
    dumped?;
    Ok(census)
}

/// The schema version and rows of each table of the database at `url`.
pub async fn census(url: &str) -> Result<Census> {
    let mut conn = connect(url).await?;
    let mut tx = conn.begin().await.map_err(db_err)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let census = census_in(&mut tx).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(census)
}

async fn census_in(conn: &mut PgConnection) -> Result<Census> {
    let schema_version: Option<i64> = sqlx::query_scalar(SCHEMA_VERSION_SQL)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    let names: Vec<String> = sqlx::query_scalar(TABLES_SQL)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    let mut census = Census {
        schema_version: schema_version.unwrap_or(0),
        ..Census::default()
    };
    for name in names {
        let sql = format!(
            "SELECT count(*) FROM public.\"{}\"",
            name.replace('"', "\"\"")
        );
        let rows: i64 = sqlx::query_scalar(&sql)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        census.tables.insert(name, rows as u64);
    }
    Ok(census)
}

/// Whether the database at `url` holds any table.
pub async fn holds_data(url: &str) -> Result<bool> {
    let mut conn = connect(url).await?;
    let found: bool = sqlx::query_scalar(&format!("SELECT EXISTS ({TABLES_SQL})"))
        .fetch_one(&mut conn)
        .await
        .map_err(db_err)?;
    Ok(found)
}

/// Load the dump `file` into the database at `url` with `pg_restore`, in one
/// transaction (a failure leaves the database as it was). With `clear`,
/// everything in the `public` schema is dropped first.
pub async fn restore(url: &str, file: &Path, clear: bool) -> Result<()> {
    let mut conn = connect(url).await?;
    check_client_version("pg_restore", &mut conn).await?;
    if clear {
        sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            .execute(&mut conn)
            .await
            .map_err(db_err)?;
    }
    conn.close().await.map_err(db_err)?;
    let mut load = tool("pg_restore", url);
    load.args([
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
    ])
    .arg(file);
    run_tool(load).await
}

/// `program` connecting to `url`. The password goes in the environment, not
/// on the command line where every user of the machine could read it.
fn tool(program: &str, url: &str) -> Command {
    let mut command = Command::new(program);
    let mut target = url.to_owned();
    if let Ok(mut parsed) = url::Url::parse(url) {
        if let Some(password) = parsed.password() {
            let password = percent_encoding::percent_decode_str(password)
                .decode_utf8_lossy()
                .into_owned();
            command.env("PGPASSWORD", password);
            let _ = parsed.set_password(None);
            target = parsed.to_string();
        }
    }
    command.arg("--dbname").arg(target);
    command
}

async fn run_tool(mut command: Command) -> Result<()> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(Error::internal)?;
    check_output(&program, output)
}

fn check_output(program: &str, output: std::io::Result<Output>) -> Result<()> {
    let output = output.map_err(|e| {
        Error::Unavailable(format!(
            "cannot run {program} (install PostgreSQL's client programs): {e}"
        ))
    })?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    Err(Error::Internal(format!(
        "{program} failed ({}): {}",
        output.status,
        said.trim()
    )))
}

/// `pg_dump` and `pg_restore` must be at least the server's major version.
async fn check_client_version(program: &str, conn: &mut PgConnection) -> Result<()> {
    let server: String = sqlx::query_scalar("SHOW server_version_num")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    let server_major = server.parse::<u32>().map_err(Error::internal)? / 10_000;
    let version = Command::new(program).arg("--version").output();
    let text = match &version {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        _ => {
            return Err(Error::Unavailable(format!(
                "cannot run {program}: install PostgreSQL's client programs, version {server_major} or later"
            )))
        }
    };
    let client_major = client_major_version(&text).unwrap_or(0);
    if client_major < server_major {
        return Err(Error::Unavailable(format!(
            "{program} {client_major} cannot work with a PostgreSQL {server_major} server: install the client programs of version {server_major} or later"
        )));
    }
    Ok(())
}

/// The major version in `pg_dump (PostgreSQL) 15.20 (Debian …)`.
fn client_major_version(text: &str) -> Option<u32> {
    let number = text
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    number.split('.').next()?.parse().ok()
}

/// The latest migration this build knows.
pub fn latest_schema_version() -> i64 {
    crate::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_version_is_read_from_its_banner() {
        assert_eq!(
            client_major_version("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n"),
            Some(15)
        );
        assert_eq!(
            client_major_version("pg_restore (PostgreSQL) 17beta1"),
            None
        );
        assert_eq!(client_major_version("pg_dump (PostgreSQL) 9.6.24"), Some(9));
    }

    #[test]
    fn the_password_leaves_the_command_line() {
        let command = tool("pg_dump", "postgres://app:s%40cret@db.internal:5432/confab");
        let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy()).collect();
        assert_eq!(args, ["--dbname", "postgres://app@db.internal:5432/confab"]);
        let password = command
            .get_envs()
            .find(|(k, _)| *k == "PGPASSWORD")
            .and_then(|(_, v)| v);
        assert_eq!(password, Some(std::ffi::OsStr::new("s@cret")));
    }
}
