//! Conversions between PostgreSQL values and domain values.

use chrono::{DateTime, Utc};
use confab_core::columns::{Columns, FromColumns};
use confab_core::{Error, Result};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::Row;
use uuid::Uuid;

/// A row, read through the [`Columns`] accessors.
pub(crate) struct Cols<'a>(pub &'a PgRow);

/// Read a domain value from a row.
pub(crate) fn decode_row<T: FromColumns>(row: &PgRow) -> Result<T> {
    T::from_columns(&Cols(row))
}

/// JSON for a serialisable value.
pub(crate) fn json_value<T: serde::Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Translate a database error into a domain error.
pub(crate) fn db_err(err: sqlx::Error) -> Error {
    match &err {
        sqlx::Error::Database(db) => {
            let description = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => Error::conflict(
                    confab_core::error::unique_field(&description),
                    "already taken",
                ),
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    Error::invalid("reference", "refers to something that does not exist")
                }
                // string_data_right_truncation: a value longer than its column allows.
                _ if db.code().as_deref() == Some("22001") => {
                    Error::invalid("value", db.message().to_owned())
                }
                _ if db.code().as_deref().is_some_and(is_transient) => {
                    Error::Unavailable(err.to_string())
                }
                _ => Error::Internal(err.to_string()),
            }
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => Error::Unavailable(err.to_string()),
        _ => Error::Internal(err.to_string()),
    }
}

/// SQLSTATEs that say the database cannot serve now but may soon: the
/// server was shut down or restarted (class 57: operator intervention, and
/// query_canceled from a statement timeout), the connection failed (08),
/// it ran out of connections or memory (53), a transaction lost a
/// serialization race or deadlock (40001, 40P01) or waited too long for a
/// lock (55P03). They answer 503, so clients retry.
fn is_transient(code: &str) -> bool {
    code.starts_with("57")
        || code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "40001" | "40P01" | "55P03")
}

impl Cols<'_> {
    fn get<T>(&self, col: &str) -> Result<T>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        self.0.try_get(col).map_err(db_err)
    }
}

impl Columns for Cols<'_> {
    fn has(&self, col: &str) -> bool {
        use sqlx::Row;
        self.0.try_column(col).is_ok()
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        self.get(col)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        // INTEGER and BIGINT columns decode to different Rust types.
        match self.get::<Option<i64>>(col) {
            Ok(v) => Ok(v),
            Err(_) => Ok(self.get::<Option<i32>>(col)?.map(i64::from)),
        }
    }
    fn flag(&self, col: &str) -> Result<bool> {
        self.get(col)
    }
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>> {
        self.get(col)
    }
    fn opt_ts(&self, col: &str) -> Result<Option<DateTime<Utc>>> {
        self.get(col)
    }
    fn opt_json(&self, col: &str) -> Result<Option<Value>> {
        self.get(col)
    }
    fn string_list(&self, col: &str) -> Result<Vec<String>> {
        self.get(col)
    }
}
