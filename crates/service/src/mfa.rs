//! TOTP (RFC 6238) second factor: enrollment, confirmation, disabling and
//! code checks. A code is accepted once, within one 30-second step either
//! side; failed codes are counted per account in the database, across every
//! path that checks a code, and too many lock the account's codes for a while.

use confab_core::model::{AttemptRules, User};
use confab_core::{time, Error, Result};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::accounts::Caller;
use crate::{chrono_duration, Services};

const STEP_SECONDS: i64 = 30;
const ISSUER: &str = "Confab";

/// A secret to load into an authenticator app, shown once at enrollment.
#[derive(Clone, Debug)]
pub struct MfaEnrollment {
    /// Base32 secret, for typing in.
    pub secret: String,
    /// `otpauth://totp/...` URI, for a QR code.
    pub otpauth_uri: String,
}

fn totp_for(user: &User, secret_base32: &str) -> Result<TOTP> {
    let bytes = Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .map_err(|e| Error::Internal(format!("stored TOTP secret is malformed: {e:?}")))?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECONDS as u64,
        bytes,
        Some(ISSUER.to_owned()),
        user.email.clone(),
    )
    .map_err(|e| Error::Internal(format!("cannot build TOTP: {e}")))
}

/// Compare without an early exit, so timing says nothing about the secret
/// (a code, a token).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Services {
    /// Start enrolling: a new secret, not yet in force until confirmed. The
    /// password is asked again, so a borrowed session cannot bind the
    /// account to someone else's authenticator.
    pub async fn mfa_enroll(&self, caller: &Caller, password: &str) -> Result<MfaEnrollment> {
        let user = &caller.user;
        if user.mfa_enabled {
            return Err(Error::conflict(
                "mfa",
                "two-factor authentication is already on",
            ));
        }
        self.require_password(caller, "password", password).await?;
        let secret = Secret::generate_secret().to_encoded().to_string();
        let totp = totp_for(user, &secret)?;
        let sealed = self.policy.secret_key.seal(&secret)?;
        self.stores
            .users
            .set_mfa(user.id, false, Some(&sealed))
            .await?;
        Ok(MfaEnrollment {
            secret,
            otpauth_uri: totp.get_url(),
        })
    }

    /// Finish enrolling with a first code; MFA is in force from then on.
    pub async fn mfa_confirm(&self, caller: &Caller, code: &str) -> Result<()> {
        let user = &caller.user;
        if user.mfa_enabled {
            return Err(Error::conflict(
                "mfa",
                "two-factor authentication is already on",
            ));
        }
        let secret = user
            .mfa_secret
            .clone()
            .ok_or_else(|| Error::conflict("mfa", "start enrollment first"))?;
        self.check_totp(user, &secret, code).await?;
        self.stores
            .users
            .set_mfa(user.id, true, Some(&secret))
            .await?;
        self.mfa_turned(caller).await?;
        Ok(())
    }

    /// Turn MFA off; requires a fresh code.
    pub async fn mfa_disable(&self, caller: &Caller, code: &str) -> Result<()> {
        let user = &caller.user;
        let secret = match (&user.mfa_secret, user.mfa_enabled) {
            (Some(secret), true) => secret.clone(),
            _ => return Err(Error::conflict("mfa", "two-factor authentication is off")),
        };
        self.check_totp(user, &secret, code).await?;
        self.stores.users.set_mfa(user.id, false, None).await?;
        self.mfa_turned(caller).await?;
        Ok(())
    }

    /// After MFA was turned on or off: every other session of the caller
    /// ends (they were opened under the old rule), and open sockets learn
    /// of the change.
    async fn mfa_turned(&self, caller: &Caller) -> Result<()> {
        self.revoke_sessions(caller.user.id, None, Some(&caller.session.id))
            .await?;
        self.after_mfa_changed(caller.user.id).await;
        Ok(())
    }

    /// Accept `code` once if it matches a step within one of now. Every
    /// attempt is counted before the code is looked at, atomically with the
    /// lock check, so parallel guesses cannot evaluate more codes than the
    /// policy allows; a right code clears the count.
    /// `stored_secret` is the user's `mfa_secret` as stored (sealed).
    pub(crate) async fn check_totp(
        &self,
        user: &User,
        stored_secret: &str,
        code: &str,
    ) -> Result<()> {
        let subject = format!("mfa:{}", user.id);
        let now = time::now();
        let rules = AttemptRules {
            now,
            window_start: now - chrono_duration(self.policy.mfa_failure_window),
            max_attempts: self.policy.mfa_max_failures,
            lock_until: now + chrono_duration(self.policy.mfa_lockout),
        };
        if self
            .stores
            .auth
            .take_attempt(&subject, &rules)
            .await?
            .is_none()
        {
            let locked_until = self
                .stores
                .auth
                .get_failures(&subject)
                .await?
                .and_then(|f| f.locked_until)
                .unwrap_or(rules.lock_until);
            return Err(Error::RateLimited {
                retry_after: (locked_until - now).to_std().unwrap_or_default(),
            });
        }
        let secret = self.policy.secret_key.open(stored_secret)?;
        let totp = totp_for(user, &secret)?;
        let current = now.timestamp().div_euclid(STEP_SECONDS);
        let code = code.trim();
        let matched = [current - 1, current, current + 1]
            .into_iter()
            .find(|step| same(&totp.generate((step * STEP_SECONDS) as u64), code));
        if let Some(step) = matched {
            if self.stores.auth.use_totp_step(user.id, step, now).await? {
                self.stores.auth.clear_failures(&subject).await?;
                return Ok(());
            }
        }
        Err(Error::invalid(
            "code",
            "the code is wrong, expired or already used",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn constant_time_comparison() {
        assert!(same("123456", "123456"));
        assert!(!same("123456", "123457"));
        assert!(!same("12345", "123456"));
    }
}
