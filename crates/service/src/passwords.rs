//! Password hashing with Argon2id, off the async threads.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::Arc;
use std::time::Duration;

use confab_core::{Error, Result};
use tokio::sync::Semaphore;

/// Verified against when an account does not exist, so that a login answers
/// in the same time either way.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Jbn1j1QDC2HN3QD9u2hXU0W6bT8sGgO0v5q0Yy5hE2Y";

/// Bounds the Argon2 work in flight: each hash takes 19 MiB and a core for
/// tens of milliseconds, so a flood of sign-ups or logins queues here (for
/// at most `wait`) instead of exhausting memory and the blocking threads.
#[derive(Clone, Debug)]
pub(crate) struct PasswordWork {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl PasswordWork {
    pub(crate) fn new(concurrent: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
            wait,
        }
    }

    /// Run `work` once a permit is free, or refuse after the wait.
    async fn run<T>(&self, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let _permit = tokio::time::timeout(self.wait, self.permits.acquire())
            .await
            .map_err(|_| Error::RateLimited {
                retry_after: Duration::from_secs(5),
            })?
            .map_err(Error::internal)?;
        work.await
    }

    pub(crate) async fn hash(&self, password: String) -> Result<String> {
        self.run(hash_password(password)).await
    }

    pub(crate) async fn verify(&self, password: String, hash: Option<String>) -> Result<bool> {
        self.run(verify_password(password, hash)).await
    }
}

async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(Error::internal)?
}

/// Whether `password` matches `hash`. Without a hash, the same work is done
/// against a dummy and the answer is no.
async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let stored = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| Error::Internal(format!("stored password hash is malformed: {e}")))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
    .map_err(Error::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_the_dummy_never_matches() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!verify_password("wrong horse".into(), Some(hash))
            .await
            .unwrap());
        assert!(!verify_password("anything".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn work_beyond_the_permits_waits_then_is_refused() {
        let work = PasswordWork::new(1, Duration::from_millis(50));
        let held = work.permits.clone().acquire_owned().await.unwrap();
        let refused = work.hash("pw".into()).await;
        assert!(
            matches!(refused, Err(Error::RateLimited { .. })),
            "{refused:?}"
        );
        drop(held);
        assert!(work
            .hash("pw".into())
            .await
            .unwrap()
            .starts_with("$argon2id$"));
    }
}
