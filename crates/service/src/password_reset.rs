//! Setting a forgotten password with a single-use link: mailed to the
//! account's address on request, or made by an operator (`confab admin
//! reset-password`). Using it sets the password, ends every session and
//! every half-done login of the account.

use chrono::Duration;
use confab_core::model::{ClientInfo, User, UserStatus};
use confab_core::ports::Mail;
use confab_core::{time, Error, Result};

use crate::tokens::{hash_token, looks_like_token, new_token};
use crate::{validate, Services};

/// How long a mailed link works.
pub const MAILED_RESET_TTL: Duration = Duration::hours(1);
/// How long a link made by an operator works (it goes to the person by
/// hand).
pub const ADMIN_RESET_TTL: Duration = Duration::hours(24);
/// Reset mails per address per hour, and requests per client address.
const RESETS_PER_ADDRESS_PER_HOUR: u64 = 3;
const RESETS_PER_IP_PER_HOUR: u64 = 20;
const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

/// A reset link made for an operator to hand over.
#[derive(Clone, Debug)]
pub struct IssuedReset {
    pub user: User,
    /// The token; the link is `{public_url}/reset-password?token={token}`.
    pub token: String,
    pub link: Option<String>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Services {
    /// Make a reset link for the user `who` names (an operator's
    /// command): it works once, for [`ADMIN_RESET_TTL`].
    pub async fn admin_password_reset(&self, who: &str) -> Result<IssuedReset> {
        let user = self.find_user_by_handle(who).await?;
        let (token, expires_at) = self.issue_reset(&user, ADMIN_RESET_TTL).await?;
        Ok(IssuedReset {
            link: self.reset_link(&token),
            user,
            token,
            expires_at,
        })
    }

    /// Mail a reset link to `email` if an active account has it. The
    /// answer is the same whether or not one does, so nobody learns which
    /// addresses have accounts; only the rate limits answer otherwise.
    pub async fn request_password_reset(&self, email: &str, client: &ClientInfo) -> Result<()> {
        let email = validate::email(email)?;
        if let Some(ip) = &client.ip_address {
            let key = format!("rate_limit:ip:{ip}:password_reset");
            self.enforce_rate(&key, HOUR, RESETS_PER_IP_PER_HOUR)
                .await?;
        }
        // Every spelling of an address shares one count.
        let key = format!("rate_limit:{}:password_reset", email.to_lowercase());
        self.enforce_rate(&key, HOUR, RESETS_PER_ADDRESS_PER_HOUR)
            .await?;
        let Some(user) = self.stores.users.find_user_by_email(&email).await? else {
            tracing::info!("a password reset for an address with no account");
            return Ok(());
        };
        if user.status != UserStatus::Active {
            return Ok(());
        }
        // Made and mailed after the answer, which therefore takes as long
        // for an address with an account as for one without.
        let services = self.clone();
        tokio::spawn(async move {
            let mailed = match services.issue_reset(&user, MAILED_RESET_TTL).await {
                Ok((token, _)) => services.mail_reset(&user, &token).await,
                Err(err) => Err(err),
            };
            if let Err(err) = mailed {
                tracing::warn!(error = %err, "the password reset mail was not sent");
            }
        });
        Ok(())
    }

    /// Use a reset token: the password becomes `password`, and every
    /// session and half-done login of the account ends.
    pub async fn reset_password(&self, token: &str, password: &str) -> Result<User> {
        let password = validate::password("password", password)?;
        if !looks_like_token(token) {
            return Err(Error::NotFound("reset link"));
        }
        let hash = self.passwords.hash(password).await?;
        let user = self
            .stores
            .users
            .use_password_reset(&hash_token(token), time::now(), &hash)
            .await?
            .ok_or(Error::NotFound("reset link"))?;
        self.stores.auth.delete_user_challenges(user.id).await?;
        self.revoke_sessions(user.id, None, None).await?;
        Ok(user)
    }

    async fn issue_reset(
        &self,
        user: &User,
        lifetime: Duration,
    ) -> Result<(String, chrono::DateTime<chrono::Utc>)> {
        let (token, token_hash) = new_token();
        let now = time::now();
        let expires_at = now + lifetime;
        self.stores
            .users
            .create_password_reset(user.id, &token_hash, now, expires_at)
            .await?;
        Ok((token, expires_at))
    }

    fn reset_link(&self, token: &str) -> Option<String> {
        let base = self.policy.public_url.as_deref()?;
        Some(format!(
            "{}/reset-password?token={token}",
            base.trim_end_matches('/')
        ))
    }

    async fn mail_reset(&self, user: &User, token: &str) -> Result<()> {
        let link = match self.reset_link(token) {
            Some(link) => format!("Open this link to choose a new one:\n\n  {link}\n\nOr enter"),
            None => "Enter".into(),
        };
        let body = format!(
            "Hello {name},\n\nSomeone (we hope you) asked to reset the password of the Confab \
             account @{username}. {link} this code where you are asked for it:\n\n  {token}\n\n\
             It works once, for an hour, and logs you out everywhere. If this was not you, \
             ignore this mail: your password stays as it is.\n",
            name = user.display_name,
            username = user.username,
        );
        self.mailer
            .send(&Mail {
                to: user.email.clone(),
                subject: "Reset your Confab password".into(),
                body,
            })
            .await
    }
}
