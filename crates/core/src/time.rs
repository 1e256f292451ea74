//! Time helpers. Confab keeps timestamps at microsecond precision (what
//! PostgreSQL stores) so that both databases return exactly what was written.

use chrono::{DateTime, SubsecRound, Utc};

/// Current UTC time truncated to microseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
