//! Time helpers. Confab keeps timestamps at microsecond precision (what
//! PostgreSQL stores) so that both databases return exactly what was written.

use chrono::{DateTime, SubsecRound, Utc};

/// Current UTC time truncated to microseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Longest a change to a message may take from its timestamp to its commit.
///
/// A change is stamped before it waits for the writer or for a lock, so one
/// that commits late would carry a time older than changes already seen.
/// Stores refuse to commit such a change (it answers "unavailable" and the
/// client retries with a new stamp), which lets a reconnecting socket that
/// replays from a little before its cursor miss nothing.
pub const COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

/// Refuse a change stamped `stamp` once [`COMMIT_WINDOW`] has passed; stores
/// call this as the last step before committing it.
pub fn check_commit_window(stamp: DateTime<Utc>) -> crate::Result<()> {
    let waited = Utc::now() - stamp;
    if waited.to_std().is_ok_and(|waited| waited > COMMIT_WINDOW) {
        return Err(crate::Error::Unavailable(format!(
            "the change waited {} ms for the database and was not saved; retry it",
            waited.num_milliseconds()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_refused_only_past_the_window() {
        assert!(check_commit_window(now()).is_ok());
        let late = now() - chrono::Duration::from_std(COMMIT_WINDOW).unwrap();
        let refused = check_commit_window(late - chrono::Duration::milliseconds(1));
        assert!(matches!(refused, Err(crate::Error::Unavailable(_))));
        // A stamp from a clock ahead of this one is not refused.
        assert!(check_commit_window(now() + chrono::Duration::seconds(3)).is_ok());
    }
}
