//! Sign-up, login, sessions, logout, passwords, profiles.

use chrono::{DateTime, Utc};
use confab_core::id::{UserId, WorkspaceId};
use confab_core::model::*;
use confab_core::{time, Error, Result};

use crate::tokens::{hash_token, looks_like_token, new_token, session_handle};
use crate::{chrono_duration, validate, Services};

/// What a person gives to create an account.
#[derive(Clone, Debug)]
pub struct SignUp {
    pub email: String,
    pub username: String,
    pub display_name: String,
    pub password: String,
}

/// A new session and the bearer token that opens it (shown once).
#[derive(Clone, Debug)]
pub struct IssuedSession {
    pub token: String,
    pub session: Session,
    pub user: User,
}

/// The answer to a correct password.
#[derive(Clone, Debug)]
pub enum LoginOutcome {
    /// Logged in.
    Session(Box<IssuedSession>),
    /// The account uses MFA: send a TOTP code with this challenge token.
    MfaRequired {
        challenge_token: String,
        expires_at: DateTime<Utc>,
    },
}

/// An authenticated request's user and session.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: User,
    pub session: Session,
    /// This request slid the session's expiry (a cookie holding it should
    /// be renewed to match).
    pub renewed: bool,
    /// The API token the caller came with: it acts in its workspace alone.
    pub token: Option<ApiToken>,
}

impl Caller {
    /// A token acts only in its own workspace: anything else is not found.
    pub fn may_act_in(&self, workspace: WorkspaceId) -> Result<()> {
        match &self.token {
            Some(token) if token.workspace_id != workspace => Err(Error::NotFound("workspace")),
            _ => Ok(()),
        }
    }

    /// Whether the caller's token carries `scope` (a session carries every
    /// scope: scopes narrow tokens only).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.token
            .as_ref()
            .is_none_or(|t| t.scopes.iter().any(|s| s == scope))
    }
}

const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);
const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

fn bad_credentials() -> Error {
    Error::Unauthenticated
}

impl Services {
    /// Create an account. The answer is the same whether or not the e-mail
    /// address is already registered, so sign-up cannot reveal accounts; a
    /// taken username is reported, as usernames are public. The username is
    /// checked before the address, on every database, so a known username
    /// with a candidate address tells nothing about the address. Cheap checks
    /// and rate limits come before the password is hashed.
    pub async fn sign_up(&self, request: SignUp, client: &ClientInfo) -> Result<()> {
        let email = validate::email(&request.email)?;
        let username = validate::username(&request.username)?;
        let display_name = validate::text("display_name", &request.display_name, 1, 200)?;
        let password = validate::password("password", &request.password)?;
        self.check_signup_rate(client).await?;
        self.require_free_username(&username).await?;
        let hash = self.passwords.hash(password).await?;
        let new = NewUser {
            id: UserId::new(),
            email,
            username,
            display_name,
            password_hash: Some(hash),
            created_at: time::now(),
        };
        match self.stores.users.create_user(&new).await {
            Ok(user) => {
                // The account exists either way; the person can ask again.
                if let Err(err) = self.send_verification(&user).await {
                    tracing::warn!(error = %err, "the verification mail was not sent");
                }
                Ok(())
            }
            Err(Error::Conflict { field, .. }) if field == "email" => {
                // Another sign-up may have taken the username meanwhile.
                self.require_free_username(&new.username).await?;
                tracing::info!("sign-up for an address already registered");
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    pub(crate) async fn require_free_username(&self, username: &str) -> Result<()> {
        match self.stores.users.find_user_by_username(username).await? {
            Some(_) => Err(Error::conflict("username", "this username is taken")),
            None => Ok(()),
        }
    }

    /// Sign-ups per client address per hour, and from everywhere per minute.
    async fn check_signup_rate(&self, client: &ClientInfo) -> Result<()> {
        if let Some(ip) = &client.ip_address {
            let key = format!("rate_limit:ip:{ip}:signup");
            self.enforce_rate(&key, HOUR, self.policy.signups_per_ip_per_hour)
                .await?;
        }
        self.enforce_rate(
            "rate_limit:all:signup",
            MINUTE,
            self.policy.signups_per_minute,
        )
        .await
    }

    /// Login attempts per client address first, then per account. The
    /// account key is the normalised address, so spellings of one address
    /// share a count, and text that is no address is refused before it
    /// becomes a key.
    async fn check_login_rate(&self, email: &str, client: &ClientInfo) -> Result<()> {
        if let Some(ip) = &client.ip_address {
            let key = format!("rate_limit:ip:{ip}:login");
            self.enforce_rate(&key, MINUTE, self.policy.login_attempts_per_ip)
                .await?;
        }
        let account = validate::email(email)
            .map_err(|_| bad_credentials())?
            .to_lowercase();
        let key = format!("rate_limit:{account}:login");
        self.enforce_rate(&key, MINUTE, self.policy.login_attempts_per_account)
            .await
    }

    /// Check an e-mail address and password. Wrong address, wrong password
    /// and deactivated account all get the same answer in the same time.
    pub async fn log_in(
        &self,
        email: &str,
        password: &str,
        client: ClientInfo,
    ) -> Result<LoginOutcome> {
        self.check_login_rate(email, &client).await?;
        let user = self.stores.users.find_user_by_email(email.trim()).await?;
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let matches = self.passwords.verify(password.to_owned(), hash).await?;
        let user = match user {
            Some(user) if matches && user.status == UserStatus::Active => user,
            _ => return Err(bad_credentials()),
        };
        if user.mfa_enabled {
            let (challenge_token, id) = new_token();
            let now = time::now();
            let challenge = LoginChallenge {
                id,
                user_id: user.id,
                client,
                created_at: now,
                expires_at: now + chrono_duration(self.policy.mfa_challenge_ttl),
            };
            self.stores.auth.create_login_challenge(&challenge).await?;
            return Ok(LoginOutcome::MfaRequired {
                challenge_token,
                expires_at: challenge.expires_at,
            });
        }
        let issued = self.issue_session(user, client).await?;
        Ok(LoginOutcome::Session(Box::new(issued)))
    }

    /// The second login step: a TOTP code for a pending challenge.
    pub async fn log_in_with_code(
        &self,
        challenge_token: &str,
        code: &str,
    ) -> Result<IssuedSession> {
        if !looks_like_token(challenge_token) {
            return Err(bad_credentials());
        }
        let id = hash_token(challenge_token);
        let now = time::now();
        let challenge = self
            .stores
            .auth
            .get_login_challenge(&id)
            .await?
            .filter(|c| c.expires_at > now)
            .ok_or_else(bad_credentials)?;
        let user = self
            .stores
            .users
            .get_user(challenge.user_id)
            .await?
            .filter(|u| u.status == UserStatus::Active && u.mfa_enabled)
            .ok_or_else(bad_credentials)?;
        let secret = user.mfa_secret.clone().ok_or_else(bad_credentials)?;
        self.check_totp(&user, &secret, code).await?;
        self.stores.auth.delete_login_challenge(&id).await?;
        self.issue_session(user, challenge.client).await
    }

    async fn issue_session(&self, user: User, client: ClientInfo) -> Result<IssuedSession> {
        let (token, id) = new_token();
        let now = time::now();
        let session = Session {
            id,
            user_id: user.id,
            workspace_id: None,
            device_type: client.device_type,
            ip_address: client.ip_address,
            user_agent: client.user_agent,
            permissions: vec!["read".into(), "write".into()],
            created_at: now,
            last_activity_at: now,
            expires_at: now + chrono_duration(self.policy.session_ttl),
            revoked_at: None,
        };
        self.stores.auth.create_session(&session).await?;
        self.mirror_session(&session).await;
        self.end_sessions_beyond_the_cap(user.id).await?;
        self.stores.users.record_login(user.id, now).await?;
        let user = self.stores.users.get_user(user.id).await?.unwrap_or(user);
        Ok(IssuedSession {
            token,
            session,
            user,
        })
    }

    /// A person keeps at most `max_sessions_per_user` live sessions: a new
    /// login ends the least recently opened beyond it.
    async fn end_sessions_beyond_the_cap(&self, user: UserId) -> Result<()> {
        let live = self
            .stores
            .auth
            .list_user_sessions(user, time::now())
            .await?;
        for oldest in live.iter().skip(self.policy.max_sessions_per_user) {
            self.revoke_sessions(user, Some(&oldest.id), None).await?;
        }
        Ok(())
    }

    /// The caller behind a bearer token. Anything wrong (unknown, revoked,
    /// expired, deactivated) is "unauthenticated". Use slides the expiry.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        if !looks_like_token(token) {
            return Err(Error::Unauthenticated);
        }
        let now = time::now();
        let (mut session, user) = self
            .stores
            .auth
            .get_session_with_user(&hash_token(token))
            .await?
            .filter(|(s, u)| s.is_live(now) && u.status == UserStatus::Active)
            .ok_or(Error::Unauthenticated)?;
        let renewed =
            now - session.last_activity_at >= chrono_duration(self.policy.session_touch_interval);
        if renewed {
            let expires_at = now + chrono_duration(self.policy.session_ttl);
            if !self
                .stores
                .auth
                .touch_session(&session.id, now, expires_at, None)
                .await?
            {
                return Err(Error::Unauthenticated);
            }
            session.last_activity_at = now;
            session.expires_at = expires_at;
            self.mirror_session(&session).await;
        }
        Ok(Caller {
            user,
            session,
            renewed,
            token: None,
        })
    }

    /// End the caller's session.
    pub async fn log_out(&self, caller: &Caller) -> Result<()> {
        self.revoke_sessions(caller.user.id, Some(&caller.session.id), None)
            .await
            .map(drop)
    }

    /// End every session of the caller, this one included.
    pub async fn log_out_everywhere(&self, caller: &Caller) -> Result<u64> {
        self.revoke_sessions(caller.user.id, None, None).await
    }

    /// The caller's live sessions.
    pub async fn sessions(&self, caller: &Caller) -> Result<Vec<Session>> {
        self.stores
            .auth
            .list_user_sessions(caller.user.id, time::now())
            .await
    }

    /// End one of the caller's sessions, named by its handle
    /// ([`session_handle`]); another user's is "not found".
    pub async fn revoke_session(&self, caller: &Caller, handle: &str) -> Result<()> {
        let session = self
            .sessions(caller)
            .await?
            .into_iter()
            .find(|s| session_handle(&s.id) == handle)
            .ok_or(Error::NotFound("session"))?;
        self.revoke_sessions(caller.user.id, Some(&session.id), None)
            .await
            .map(drop)
    }

    /// The caller's password, given again for a sensitive change; refused
    /// as invalid `field` when wrong.
    pub(crate) async fn require_password(
        &self,
        caller: &Caller,
        field: &str,
        password: &str,
    ) -> Result<()> {
        let hash = caller.user.password_hash.clone();
        if self.passwords.verify(password.to_owned(), hash).await? {
            Ok(())
        } else {
            Err(Error::invalid(field, "is not the current password"))
        }
    }

    /// Change the password; every other session of the caller ends.
    pub async fn change_password(&self, caller: &Caller, current: &str, new: &str) -> Result<()> {
        let new = validate::password("new_password", new)?;
        let user = &caller.user;
        self.require_password(caller, "current_password", current)
            .await?;
        let hash = self.passwords.hash(new).await?;
        self.stores.users.set_password_hash(user.id, &hash).await?;
        // A login half done with the old password does not finish.
        self.stores.auth.delete_user_challenges(user.id).await?;
        self.revoke_sessions(user.id, None, Some(&caller.session.id))
            .await?;
        Ok(())
    }

    /// Deactivate the caller's own account (password required); every
    /// session ends at once.
    pub async fn deactivate_account(&self, caller: &Caller, password: &str) -> Result<()> {
        let user = &caller.user;
        self.require_password(caller, "password", password).await?;
        self.stores
            .users
            .set_user_status(user.id, UserStatus::Deactivated)
            .await?;
        self.revoke_sessions(user.id, None, None).await?;
        Ok(())
    }

    /// Change profile fields of the caller's account.
    pub async fn update_profile(&self, caller: &Caller, update: ProfileUpdate) -> Result<User> {
        let checked = ProfileUpdate {
            display_name: update
                .display_name
                .as_deref()
                .map(|v| validate::text("display_name", v, 1, 200))
                .transpose()?,
            avatar_url: validate::clearable(update.avatar_url, |v| validate::url("avatar_url", v))?,
            timezone: update
                .timezone
                .as_deref()
                .map(|v| validate::text("timezone", v, 1, 50))
                .transpose()?,
            title: validate::clearable(update.title, |v| validate::text("title", v, 1, 200))?,
            phone: validate::clearable(update.phone, |v| validate::text("phone", v, 1, 50))?,
            bio: validate::clearable(update.bio, |v| validate::text("bio", v, 1, 5000))?,
            pronouns: validate::clearable(update.pronouns, |v| {
                validate::text("pronouns", v, 1, 50)
            })?,
            notification_settings: update
                .notification_settings
                .as_ref()
                .map(|v| validate::json_object("notification_settings", v))
                .transpose()?,
            theme_preferences: update
                .theme_preferences
                .as_ref()
                .map(|v| validate::json_object("theme_preferences", v))
                .transpose()?,
            language: update
                .language
                .as_deref()
                .map(|v| validate::text("language", v, 2, 10))
                .transpose()?,
        };
        self.stores
            .users
            .update_profile(caller.user.id, &checked)
            .await
    }
}
