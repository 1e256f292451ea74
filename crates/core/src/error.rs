//! The error type shared by every layer. Its variants are the kinds of failure
//! the HTTP layer maps to statuses; adapters translate their own errors into it.

use std::time::Duration;

/// Result alias used throughout Confab.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure, classified by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing does not exist, or the caller may not know that it exists.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller is known and may see the thing, but may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The caller is not authenticated.
    #[error("authentication required")]
    Unauthenticated,
    /// The request conflicts with the current state (duplicate name, full workspace, ...).
    #[error("conflict on {field}: {message}")]
    Conflict { field: String, message: String },
    /// A field of the request is invalid.
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    /// Too many requests; retry after the given delay.
    #[error("rate limited; retry after {}s", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    /// Something exceeded a configured size limit.
    #[error("{what} is too large (limit {limit})")]
    TooLarge { what: String, limit: u64 },
    /// The client took too long to send its request.
    #[error("request timed out: {0}")]
    TimedOut(String),
    /// A backend (database, cache, ...) cannot be reached right now.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected backend failure. The message is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// An [`Error::Conflict`] on `field`.
    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict {
            field: field.into(),
            message: message.into(),
        }
    }

    /// An [`Error::Internal`] from anything displayable.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }

    /// A short machine-readable code for the error kind.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::Forbidden(_) => "forbidden",
            Self::Unauthenticated => "unauthenticated",
            Self::Conflict { .. } => "conflict",
            Self::Invalid { .. } => "invalid",
            Self::RateLimited { .. } => "rate_limited",
            Self::TooLarge { .. } => "too_large",
            Self::TimedOut(_) => "timed_out",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

/// The request field behind a unique-constraint violation, from the database's
/// description of it (which names the constraint or the columns).
pub fn unique_field(description: &str) -> &'static str {
    const FIELDS: &[(&str, &str)] = &[
        ("email", "email"),
        ("username", "username"),
        ("domain", "domain"),
        ("_members", "user_id"),
        ("channels", "name"),
        ("client", "client_msg_id"),
        ("message_files", "file_id"),
    ];
    FIELDS
        .iter()
        .find(|(needle, _)| description.contains(needle))
        .map_or("id", |(_, field)| field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_field_reads_both_databases_wording() {
        assert_eq!(
            unique_field("UNIQUE constraint failed: users.email"),
            "email"
        );
        assert_eq!(
            unique_field(
                "duplicate key value violates unique constraint \"users_username_ci_key\""
            ),
            "username"
        );
        assert_eq!(
            unique_field("UNIQUE constraint failed: channels.workspace_id, channels.name"),
            "name"
        );
        assert_eq!(
            unique_field("duplicate key value violates unique constraint \"channel_members_channel_id_user_id_key\""),
            "user_id"
        );
        assert_eq!(unique_field("something else"), "id");
    }
}
