//! Ephemeral state for one node: rate-limit counters kept in process memory.
//! Everything here may be lost on restart without losing user data.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::ports::{fixed_window, RateLimiter};
use confab_core::Result;

/// Counters are swept when the map grows past this many keys.
const SWEEP_AT: usize = 10_000;

/// Fixed-window counters in memory, keyed like the Redis schema
/// (`{key}:{window}`), each forgotten once its window has passed.
#[derive(Debug, Default)]
pub struct MemoryRateLimiter {
    counters: Mutex<HashMap<String, (u64, DateTime<Utc>)>>,
}

impl MemoryRateLimiter {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(
        &self,
        key: &str,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<(u64, Duration)> {
        let (index, left) = fixed_window(window, now);
        let expires = now + chrono::Duration::from_std(left).unwrap_or_default();
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        if counters.len() >= SWEEP_AT {
            counters.retain(|_, (_, until)| *until > now);
        }
        let entry = counters
            .entry(format!("{key}:{index}"))
            .or_insert((0, expires));
        entry.0 += 1;
        Ok((entry.0, left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[tokio::test]
    async fn counts_within_a_window_and_restarts_in_the_next() {
        let limiter = MemoryRateLimiter::new();
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 10).unwrap();
        let minute = Duration::from_secs(60);
        for expected in 1..=3 {
            let (count, left) = limiter.hit("login:a", minute, t).await.unwrap();
            assert_eq!(count, expected);
            assert_eq!(left, Duration::from_secs(50));
        }
        assert_eq!(limiter.hit("login:b", minute, t).await.unwrap().0, 1);
        let next = t + chrono::Duration::seconds(60);
        assert_eq!(limiter.hit("login:a", minute, next).await.unwrap().0, 1);
    }
}
