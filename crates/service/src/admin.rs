//! What an operator does from the command line (`confab admin`): access to
//! the server's shell and configuration is the credential, so these take no
//! caller. Each names its user by username, e-mail address or id, and an
//! unknown one is a clear "not found".

use confab_core::id::{UserId, WorkspaceId};
use confab_core::model::*;
use confab_core::{time, Error, Result};

use crate::tokens::session_handle;
use crate::{validate, Services};

/// A user made by an operator, and the password made for them when none
/// was given (shown once).
#[derive(Clone, Debug)]
pub struct CreatedUser {
    pub user: User,
    pub generated_password: Option<String>,
}

/// A live session as an operator sees it: its public handle, never its
/// token.
#[derive(Clone, Debug)]
pub struct SessionSummary {
    pub handle: String,
    pub device_type: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_activity_at: chrono::DateTime<chrono::Utc>,
}

impl Services {
    /// The user a handle names: an id, an e-mail address or a username.
    pub async fn find_user_by_handle(&self, who: &str) -> Result<User> {
        let who = who.trim();
        let found = if let Ok(id) = who.parse::<UserId>() {
            self.stores.users.get_user(id).await?
        } else if who.contains('@') && !who.starts_with('@') {
            self.stores.users.find_user_by_email(who).await?
        } else {
            let name = who.trim_start_matches('@');
            self.stores.users.find_user_by_username(name).await?
        };
        found.ok_or(Error::NotFound("user"))
    }

    /// Make an account (the first administrator of a fresh install, say).
    /// Without a password, one is made and given back once. The address
    /// counts as verified: the operator vouches for it.
    pub async fn admin_create_user(
        &self,
        username: &str,
        email: &str,
        display_name: Option<&str>,
        password: Option<String>,
    ) -> Result<CreatedUser> {
        let email = validate::email(email)?;
        let username = validate::username(username)?;
        let display_name =
            validate::text("display_name", display_name.unwrap_or(&username), 1, 200)?;
        let generated_password = password.is_none().then(|| crate::tokens::new_token().0);
        let password = password.or_else(|| generated_password.clone());
        let password = validate::password("password", password.as_deref().unwrap_or_default())?;
        self.require_free_username(&username).await?;
        if self
            .stores
            .users
            .find_user_by_email(&email)
            .await?
            .is_some()
        {
            return Err(Error::conflict("email", "an account has this address"));
        }
        let hash = self.passwords.hash(password).await?;
        let user = self
            .stores
            .users
            .create_user(&NewUser {
                id: UserId::new(),
                email,
                username,
                display_name,
                password_hash: Some(hash),
                created_at: time::now(),
            })
            .await?;
        // Verified as a link would verify it: a token made and used at once.
        let (_, token_hash) = crate::tokens::new_token();
        let now = time::now();
        let users = &self.stores.users;
        users
            .create_email_verification(
                user.id,
                &token_hash,
                now,
                now + chrono::Duration::minutes(1),
            )
            .await?;
        let user = users
            .use_email_verification(&token_hash, now)
            .await?
            .ok_or(Error::NotFound("user"))?;
        Ok(CreatedUser {
            user,
            generated_password,
        })
    }

    /// Deactivate (every session ends) or reactivate an account.
    pub async fn admin_set_user_active(&self, who: &str, active: bool) -> Result<User> {
        let user = self.find_user_by_handle(who).await?;
        let status = match active {
            true => UserStatus::Active,
            false => UserStatus::Deactivated,
        };
        self.stores.users.set_user_status(user.id, status).await?;
        if !active {
            self.revoke_sessions(user.id, None, None).await?;
        }
        Ok(User { status, ..user })
    }

    /// End every session of a user; how many there were.
    pub async fn admin_revoke_sessions(&self, who: &str) -> Result<(User, u64)> {
        let user = self.find_user_by_handle(who).await?;
        let ended = self.revoke_sessions(user.id, None, None).await?;
        Ok((user, ended))
    }

    /// A user's live sessions.
    pub async fn admin_sessions(&self, who: &str) -> Result<(User, Vec<SessionSummary>)> {
        let user = self.find_user_by_handle(who).await?;
        let sessions = self
            .stores
            .auth
            .list_user_sessions(user.id, time::now())
            .await?
            .into_iter()
            .map(|s| SessionSummary {
                handle: session_handle(&s.id),
                device_type: s.device_type,
                ip_address: s.ip_address,
                user_agent: s.user_agent,
                created_at: s.created_at,
                last_activity_at: s.last_activity_at,
            })
            .collect();
        Ok((user, sessions))
    }

    /// Workspaces: every one, or those a user is a member of.
    pub async fn admin_workspaces(&self, who: Option<&str>) -> Result<Vec<Workspace>> {
        match who {
            Some(who) => {
                let user = self.find_user_by_handle(who).await?;
                let listed = self
                    .stores
                    .workspaces
                    .list_workspaces_for_user(user.id)
                    .await?;
                Ok(listed.into_iter().map(|(workspace, _)| workspace).collect())
            }
            None => {
                let mut all: Vec<Workspace> = Vec::new();
                loop {
                    let after = all.last().map(|w| w.id);
                    let page = self.stores.workspaces.scan_workspaces(after, 500).await?;
                    let done = page.len() < 500;
                    all.extend(page);
                    if done {
                        return Ok(all);
                    }
                }
            }
        }
    }

    /// Make a user an owner of a workspace they are an active member of.
    pub async fn admin_make_owner(
        &self,
        who: &str,
        workspace: WorkspaceId,
    ) -> Result<WorkspaceMember> {
        let user = self.find_user_by_handle(who).await?;
        self.stores
            .workspaces
            .get_workspace(workspace)
            .await?
            .ok_or(Error::NotFound("workspace"))?;
        let member = self
            .stores
            .workspaces
            .get_member(workspace, user.id)
            .await?
            .filter(|m| m.status == MemberStatus::Active)
            .ok_or(Error::NotFound("member"))?;
        let update = MemberUpdate {
            role: Some(WorkspaceRole::Owner),
            ..Default::default()
        };
        self.stores
            .workspaces
            .update_member(workspace, member.user_id, &update)
            .await
    }
}
