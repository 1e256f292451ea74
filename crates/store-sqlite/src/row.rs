//! Conversions between SQLite values and domain values.

use chrono::{DateTime, Utc};
use confab_core::columns::{Columns, FromColumns};
use confab_core::{Error, Result};
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

/// Timestamps are stored as fixed-width RFC 3339 UTC text with microseconds,
/// so that comparing the text compares the instants.
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Text for a JSON value.
pub(crate) fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// A row, read through the [`Columns`] accessors.
pub(crate) struct Cols<'a>(pub &'a SqliteRow);

/// Read a domain value from a row.
pub(crate) fn decode_row<T: FromColumns>(row: &SqliteRow) -> Result<T> {
    T::from_columns(&Cols(row))
}

/// Translate a database error into a domain error.
pub(crate) fn db_err(err: sqlx::Error) -> Error {
    match &err {
        sqlx::Error::Database(db) => {
            let text = db.message().to_owned();
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    Error::conflict(confab_core::error::unique_field(&text), "already taken")
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    Error::invalid("reference", "refers to something that does not exist")
                }
                _ if text.contains("database is locked") || text.contains("busy") => {
                    Error::Unavailable(text)
                }
                _ => Error::Internal(err.to_string()),
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            Error::Unavailable(err.to_string())
        }
        _ => Error::Internal(err.to_string()),
    }
}

fn bad(col: &str, what: impl std::fmt::Display) -> Error {
    Error::Internal(format!("bad value in column {col}: {what}"))
}

impl Columns for Cols<'_> {
    fn has(&self, col: &str) -> bool {
        use sqlx::Row;
        self.0.try_column(col).is_ok()
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        self.0.try_get(col).map_err(db_err)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        self.0.try_get(col).map_err(db_err)
    }
    fn flag(&self, col: &str) -> Result<bool> {
        self.0.try_get(col).map_err(db_err)
    }
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>> {
        self.opt_text(col)?
            .map(|t| Uuid::parse_str(&t).map_err(|e| bad(col, e)))
            .transpose()
    }
    fn opt_ts(&self, col: &str) -> Result<Option<DateTime<Utc>>> {
        self.opt_text(col)?
            .map(|t| {
                DateTime::parse_from_rfc3339(&t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| bad(col, e))
            })
            .transpose()
    }
    fn opt_json(&self, col: &str) -> Result<Option<Value>> {
        self.opt_text(col)?
            .map(|t| serde_json::from_str(&t).map_err(|e| bad(col, e)))
            .transpose()
    }
    fn string_list(&self, col: &str) -> Result<Vec<String>> {
        self.typed_json(col)
    }
}
