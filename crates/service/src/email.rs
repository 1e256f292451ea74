//! Mail: proving an address (a single-use link mailed to it) and
//! invitations mailed to their address, which only an account that proved
//! that address may accept.

use async_trait::async_trait;
use chrono::Duration;
use confab_core::model::User;
use confab_core::ports::{Mail, Mailer};
use confab_core::{time, Error, Result};

use crate::tokens::{hash_token, looks_like_token, new_token};
use crate::{Caller, Services};

/// How long a verification link works.
pub const EMAIL_VERIFICATION_TTL: Duration = Duration::hours(48);
/// Verification mails one person may ask for per hour.
const VERIFICATION_MAILS_PER_HOUR: u64 = 5;

/// The mailer of services given none: every mail is refused.
pub(crate) struct NoMailer;

#[async_trait]
impl Mailer for NoMailer {
    async fn send(&self, _mail: &Mail) -> Result<()> {
        Err(Error::Unavailable("this server sends no mail".into()))
    }

    fn backend(&self) -> &'static str {
        "none"
    }
}

impl Services {
    /// Mail `user` a link that proves their address.
    pub(crate) async fn send_verification(&self, user: &User) -> Result<()> {
        let (token, token_hash) = new_token();
        let now = time::now();
        self.stores
            .users
            .create_email_verification(user.id, &token_hash, now, now + EMAIL_VERIFICATION_TTL)
            .await?;
        let link = match &self.policy.public_url {
            Some(base) => format!(
                "Open this link to confirm it:\n\n  {}/verify-email?token={token}\n\n",
                base.trim_end_matches('/')
            ),
            None => String::new(),
        };
        let body = format!(
            "Hello {name},\n\nSomeone (we hope you) gave {email} for the Confab account \
             @{username}. {link}Or enter this code where you are asked for it:\n\n  {token}\n\n\
             It works once, for 48 hours. If this was not you, ignore this mail.\n",
            name = user.display_name,
            email = user.email,
            username = user.username,
        );
        self.mailer
            .send(&Mail {
                to: user.email.clone(),
                subject: "Confirm your e-mail address for Confab".into(),
                body,
            })
            .await
    }

    /// Mail `to` the invitation `token` to `workspace` from `inviter`.
    pub(crate) async fn send_invitation(
        &self,
        inviter: &User,
        workspace: &str,
        to: &str,
        token: &str,
        days: i64,
    ) -> Result<()> {
        let link = match &self.policy.public_url {
            Some(base) => format!(
                "Open this link to join (sign up first with this address if you \
                 have no account):\n\n  {}/invite/{token}\n\nOr",
                base.trim_end_matches('/')
            ),
            None => "Log in (or sign up with this address) and".into(),
        };
        let body = format!(
            "Hello,\n\n{inviter} (@{username}) invites you to the workspace {workspace} \
             on Confab.\n\n{link} accept the invitation with this code:\n\n  {token}\n\n\
             It works once, for {days} days, and only for an account with the address {to}.\n",
            inviter = inviter.display_name,
            username = inviter.username,
        );
        self.mailer
            .send(&Mail {
                to: to.to_owned(),
                subject: format!(
                    "{} invites you to {workspace} on Confab",
                    inviter.display_name
                ),
                body,
            })
            .await
    }

    /// Send the caller a new verification link (earlier ones keep working
    /// until used or expired).
    pub async fn request_email_verification(&self, caller: &Caller) -> Result<()> {
        if caller.user.email_verified_at.is_some() {
            return Err(Error::conflict("email", "this address is already verified"));
        }
        self.limit_per_hour(caller, "email_verification", VERIFICATION_MAILS_PER_HOUR)
            .await?;
        self.send_verification(&caller.user).await
    }

    /// Use a verification token: the account it was mailed for is verified.
    pub async fn verify_email(&self, token: &str) -> Result<User> {
        if !looks_like_token(token) {
            return Err(Error::NotFound("verification"));
        }
        self.stores
            .users
            .use_email_verification(&hash_token(token), time::now())
            .await?
            .ok_or(Error::NotFound("verification"))
    }
}
