//! Integrations and API tokens: bots installed by workspace admins, and
//! personal tokens people make for their own scripts. Tokens are shown
//! once; only their SHA-256 is kept.

use confab_core::id::*;
use confab_core::model::*;
use confab_core::permissions::{allows, WorkspaceAction};
use confab_core::{time, Error, Result};
use serde_json::json;

use crate::accounts::Caller;
use crate::commands::check_command;
use crate::tokens::hash_token;
use crate::PostMessage;
use crate::{validate, Services};

/// Most live personal tokens one person keeps in one workspace.
pub const MAX_USER_TOKENS: usize = 25;

/// How long a token's last use may be stale before it is recorded again.
const TOUCH_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);

/// What is needed to install an integration.
#[derive(Clone, Debug, Default)]
pub struct InstallRequest {
    pub integration_type: String,
    pub name: String,
    pub scopes: Vec<String>,
    /// The channel an incoming webhook posts to.
    pub channel: Option<ChannelId>,
    /// A slash command's name (`/deploy`); the URL a slash command or an
    /// outgoing webhook calls.
    pub command: Option<String>,
    pub url: Option<String>,
    /// The words an outgoing webhook listens for at the start of a message
    /// (none: every message).
    pub trigger_words: Vec<String>,
}

/// An integration just installed, with its secret shown this once.
pub struct Installed {
    pub integration: Integration,
    /// A bot's token (`xoxb-…`), an incoming webhook's URL secret
    /// (`/hooks/{id}/{secret}`), an outgoing webhook's verification token;
    /// empty for a slash command.
    pub secret: String,
    /// A bot's signing secret, which signs the events it is sent.
    pub signing_secret: Option<String>,
}

/// Why a token was refused, as Slack's clients tell these apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Not a token this server issued.
    Invalid,
    /// Revoked (or its integration removed).
    Revoked,
    /// Its user is deactivated, or no longer an active member.
    Inactive,
}

/// The text of a new token: its kind's prefix and 256 random bits.
fn new_api_token(kind: TokenKind) -> (String, String) {
    let prefix = match kind {
        TokenKind::Bot => "xoxb",
        TokenKind::User => "xoxp",
    };
    let (secret, _) = crate::tokens::new_token();
    let token = format!("{prefix}-{secret}");
    let hash = hash_token(&token);
    (token, hash)
}

/// A username for a bot named `name`: its letters, and a random suffix so
/// two workspaces may install bots of one name.
fn bot_username(name: &str) -> String {
    let base: String = name
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '_' | '-' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            ' ' | '.' => Some('-'),
            _ => None,
        })
        .take(24)
        .collect();
    let base = base.trim_matches('-');
    let suffix = &random_suffix()[..8];
    match base.is_empty() {
        true => format!("bot-{suffix}"),
        false => format!("{base}-{suffix}"),
    }
}

fn random_suffix() -> String {
    hex(&rand::random::<[u8; 8]>())
}

impl Services {
    /// The caller's membership if it may manage the workspace's integrations.
    pub(crate) async fn integration_manager(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
    ) -> Result<()> {
        let (_, me) = self.workspace_for(caller, workspace).await?;
        if !allows(me.role, WorkspaceAction::ManageIntegrations) {
            return Err(Error::Forbidden(
                "only workspace owners and admins manage integrations".into(),
            ));
        }
        Ok(())
    }

    /// Install an integration. Each has a bot user of its own and a
    /// workspace membership, written together with the integration and
    /// with what the kind needs: a bot its token (`xoxb-`) with the asked
    /// scopes; an incoming webhook its channel (the bot joins it) and the
    /// secret of its URL, of which only the SHA-256 is kept.
    pub async fn install_integration(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        request: InstallRequest,
    ) -> Result<Installed> {
        self.integration_manager(caller, workspace).await?;
        let kind: IntegrationType = request.integration_type.parse().map_err(|_| {
            Error::invalid(
                "type",
                "must be bot, incoming_webhook, outgoing_webhook or slash_command",
            )
        })?;
        let name = validate::text("name", &request.name, 1, 80)?;
        let now = time::now();
        let integration_id = IntegrationId::new();
        let user_id = UserId::new();
        let mut bot = NewBot {
            user: NewUser {
                id: user_id,
                email: format!("bot-{user_id}@bots.invalid"),
                username: bot_username(&name),
                display_name: name.clone(),
                password_hash: None,
                created_at: now,
            },
            member: NewWorkspaceMember {
                id: MemberId::new(),
                workspace_id: workspace,
                user_id,
                role: WorkspaceRole::Member,
                status: MemberStatus::Active,
                invited_by: Some(caller.user.id),
                invitation_token: None,
                joined_at: now,
            },
            integration: NewIntegration {
                id: integration_id,
                workspace_id: workspace,
                app_name: name.clone(),
                app_id: confab_core::slack::encode(
                    confab_core::slack::SlackKind::App,
                    integration_id.0,
                ),
                integration_type: kind.as_str().to_owned(),
                config: json!({ "bot_user_id": user_id }),
                credentials: None,
                scopes: Vec::new(),
                channel_id: None,
                installed_by: caller.user.id,
                created_at: now,
            },
            token: None,
            channel_member: None,
        };
        let mut joined = None;
        let mut signing_secret = None;
        let secret = match kind {
            IntegrationType::Bot => {
                let scopes = normalize_scopes(&request.scopes)?;
                let (signing, sealed) = self.new_signing_secret()?;
                signing_secret = Some(signing);
                bot.integration.credentials = Some(json!({ "signing_secret": sealed }));
                let (token, token_hash) = new_api_token(TokenKind::Bot);
                bot.integration.scopes = scopes.clone();
                bot.token = Some(NewApiToken {
                    id: IntegrationId::new(),
                    token_hash,
                    kind: TokenKind::Bot,
                    user_id,
                    workspace_id: workspace,
                    integration_id: Some(integration_id),
                    label: name,
                    scopes,
                    created_at: now,
                });
                token
            }
            IntegrationType::IncomingWebhook => {
                let channel = request
                    .channel
                    .ok_or_else(|| Error::invalid("channel_id", "name the channel it posts to"))?;
                let access = self.channel_access(caller, channel).await?;
                if access.channel.workspace_id != workspace {
                    return Err(Error::NotFound("channel"));
                }
                let (secret, secret_hash) = crate::tokens::new_token();
                bot.integration.channel_id = Some(channel);
                bot.integration.credentials = Some(json!({ "secret_sha256": secret_hash }));
                bot.channel_member = Some(NewChannelMember {
                    id: MembershipId::new(),
                    channel_id: channel,
                    user_id,
                    role: ChannelRole::Member,
                    invited_by: Some(caller.user.id),
                    joined_at: now,
                });
                joined = Some(access.channel);
                secret
            }
            IntegrationType::SlashCommand => {
                let command = check_command(request.command.as_deref().unwrap_or_default())?;
                self.require_free_command(workspace, &command).await?;
                let url = validate::url("url", request.url.as_deref().unwrap_or_default())?;
                let (signing, sealed) = self.new_signing_secret()?;
                signing_secret = Some(signing);
                bot.integration.credentials = Some(json!({ "signing_secret": sealed }));
                bot.integration.config["command"] = json!(command);
                bot.integration.config["url"] = json!(url);
                String::new()
            }
            IntegrationType::OutgoingWebhook => {
                let channel = request.channel.ok_or_else(|| {
                    Error::invalid("channel_id", "name the channel it listens to")
                })?;
                let access = self.channel_access(caller, channel).await?;
                if access.channel.workspace_id != workspace {
                    return Err(Error::NotFound("channel"));
                }
                let url = validate::url("url", request.url.as_deref().unwrap_or_default())?;
                let triggers = trigger_words(&request.trigger_words)?;
                let (token, _) = crate::tokens::new_token();
                let (signing, sealed) = self.new_signing_secret()?;
                signing_secret = Some(signing);
                bot.integration.channel_id = Some(channel);
                bot.integration.credentials = Some(json!({
                    "signing_secret": sealed,
                    "token": self.policy.secret_key.seal(&token)?,
                }));
                bot.integration.config["url"] = json!(url);
                bot.integration.config["trigger_words"] = json!(triggers);
                bot.channel_member = Some(NewChannelMember {
                    id: MembershipId::new(),
                    channel_id: channel,
                    user_id,
                    role: ChannelRole::Member,
                    invited_by: Some(caller.user.id),
                    joined_at: now,
                });
                joined = Some(access.channel);
                token
            }
        };
        let (_, integration) = self.stores.integrations.create_bot(&bot).await?;
        if let Some(channel) = &joined {
            self.after_membership_change(channel, user_id, true).await;
        }
        Ok(Installed {
            integration,
            secret,
            signing_secret,
        })
    }

    /// Post through an incoming webhook: `id` and `secret` are its URL's.
    /// An unknown, removed or mistyped hook is [`Error::NotFound`] on
    /// `service`, whatever the reason, so the URL tells nothing.
    pub async fn post_by_webhook(
        &self,
        id: IntegrationId,
        secret: &str,
        thread_ts: Option<i64>,
        mut post: PostMessage,
    ) -> Result<crate::Posted> {
        let gone = || Error::NotFound("service");
        let hook = self
            .stores
            .integrations
            .get_integration(id)
            .await?
            .filter(|i| {
                i.integration_type == IntegrationType::IncomingWebhook.as_str()
                    && i.status == "active"
            })
            .ok_or_else(gone)?;
        let expected = hook
            .credentials
            .as_ref()
            .and_then(|c| c["secret_sha256"].as_str())
            .ok_or_else(gone)?;
        let given = hash_token(secret);
        if !crate::mfa::same(&given, expected) {
            return Err(gone());
        }
        let channel = hook.channel_id.ok_or_else(gone)?;
        let caller = self.integration_bot(&hook).await.map_err(|_| gone())?;
        if let Some(ts) = thread_ts {
            let parent = self
                .message_at(&caller, channel, ts)
                .await
                .map_err(|e| match e {
                    Error::NotFound(_) => Error::NotFound("thread"),
                    other => other,
                })?;
            post.thread_id = Some(parent.thread_id.unwrap_or(parent.id));
        }
        let posted = self.post_message(&caller, channel, post).await?;
        let now = time::now();
        if hook
            .last_used_at
            .is_none_or(|at| now - at >= TOUCH_INTERVAL)
        {
            self.stores.integrations.touch_integration(id, now).await?;
        }
        Ok(posted)
    }

    /// The workspace's integrations (owners and admins).
    pub async fn integrations(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
    ) -> Result<Vec<Integration>> {
        self.integration_manager(caller, workspace).await?;
        self.stores.integrations.list_integrations(workspace).await
    }

    /// Remove an integration: its tokens stop working at once and its bot
    /// user is deactivated.
    pub async fn remove_integration(&self, caller: &Caller, id: IntegrationId) -> Result<()> {
        let integration = self.managed_integration(caller, id).await?;
        let now = time::now();
        self.stores
            .integrations
            .revoke_api_tokens(None, Some(id), now)
            .await?;
        self.stores
            .integrations
            .set_integration_status(id, "revoked", None)
            .await?;
        let bot_user = integration.config["bot_user_id"]
            .as_str()
            .and_then(|u| u.parse::<UserId>().ok());
        if let Some(bot) = bot_user {
            self.stores
                .users
                .set_user_status(bot, UserStatus::Deactivated)
                .await?;
        }
        Ok(())
    }

    /// Make a personal token (`xoxp-…`) acting as the caller in a workspace
    /// with the chosen scopes; the token is shown this once.
    pub async fn create_user_token(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        label: &str,
        scopes: &[String],
    ) -> Result<(ApiToken, String)> {
        if caller.token.is_some() {
            return Err(Error::Forbidden(
                "a token cannot make tokens: sign in to make one".into(),
            ));
        }
        self.workspace_for(caller, workspace).await?;
        let label = validate::text("label", label, 1, 100)?;
        let scopes = normalize_scopes(scopes)?;
        if scopes.is_empty() {
            return Err(Error::invalid("scopes", "name at least one scope"));
        }
        let live = self
            .stores
            .integrations
            .user_api_tokens(caller.user.id, workspace)
            .await?
            .into_iter()
            .filter(|t| t.revoked_at.is_none())
            .count();
        if live >= MAX_USER_TOKENS {
            return Err(Error::conflict(
                "tokens",
                format!("keep at most {MAX_USER_TOKENS} tokens per workspace: revoke one first"),
            ));
        }
        let (token, token_hash) = new_api_token(TokenKind::User);
        let stored = self
            .stores
            .integrations
            .create_api_token(&NewApiToken {
                id: IntegrationId::new(),
                token_hash,
                kind: TokenKind::User,
                user_id: caller.user.id,
                workspace_id: workspace,
                integration_id: None,
                label,
                scopes,
                created_at: time::now(),
            })
            .await?;
        Ok((stored, token))
    }

    /// The caller's personal tokens in a workspace (never their secrets).
    pub async fn user_tokens(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
    ) -> Result<Vec<ApiToken>> {
        self.workspace_for(caller, workspace).await?;
        self.stores
            .integrations
            .user_api_tokens(caller.user.id, workspace)
            .await
    }

    /// Revoke one of the caller's own tokens (or, through `auth.revoke`,
    /// the token the caller came with).
    pub async fn revoke_token(&self, caller: &Caller, id: IntegrationId) -> Result<bool> {
        let token = self
            .stores
            .integrations
            .get_api_token(id)
            .await?
            .filter(|t| t.user_id == caller.user.id)
            .ok_or(Error::NotFound("token"))?;
        let revoked = self
            .stores
            .integrations
            .revoke_api_tokens(Some(token.id), None, time::now())
            .await?;
        Ok(revoked > 0)
    }

    /// The caller behind an API token, or why it is refused.
    pub async fn authenticate_api_token(
        &self,
        token: &str,
    ) -> Result<std::result::Result<Caller, TokenRefusal>> {
        let shaped = ["xoxb-", "xoxp-"].iter().any(|p| {
            token
                .strip_prefix(p)
                .is_some_and(crate::tokens::looks_like_token)
        });
        if !shaped {
            return Ok(Err(TokenRefusal::Invalid));
        }
        let Some((stored, user)) = self
            .stores
            .integrations
            .token_with_user(&hash_token(token))
            .await?
        else {
            return Ok(Err(TokenRefusal::Invalid));
        };
        if stored.revoked_at.is_some() {
            return Ok(Err(TokenRefusal::Revoked));
        }
        let member = self
            .stores
            .workspaces
            .get_member(stored.workspace_id, user.id)
            .await?;
        let active = user.status == UserStatus::Active
            && member.is_some_and(|m| m.status == MemberStatus::Active);
        if !active {
            return Ok(Err(TokenRefusal::Inactive));
        }
        let now = time::now();
        if stored
            .last_used_at
            .is_none_or(|at| now - at >= TOUCH_INTERVAL)
        {
            self.stores
                .integrations
                .touch_api_token(&stored, now)
                .await?;
        }
        Ok(Ok(token_caller(user, stored)))
    }
}

/// A caller for a token: the session it stands in for lives as long as
/// the request and carries the token's scopes.
fn token_caller(user: User, token: ApiToken) -> Caller {
    let device = match token.kind {
        TokenKind::Bot => "bot",
        TokenKind::User => "api",
    };
    let mut caller = acting_caller(user, token.workspace_id, device);
    caller.session.id = format!("token:{}", token.id);
    caller.session.permissions = token.scopes.clone();
    caller.token = Some(token);
    caller
}

/// A caller acting for `user` in `workspace` without a login session (an
/// API token, an upload capability): the session it stands in for lives
/// as long as the request.
pub(crate) fn acting_caller(user: User, workspace: WorkspaceId, device: &str) -> Caller {
    let now = time::now();
    let session = Session {
        id: format!("acting:{}", user.id),
        user_id: user.id,
        workspace_id: Some(workspace),
        device_type: device.to_owned(),
        ip_address: None,
        user_agent: None,
        permissions: Vec::new(),
        created_at: now,
        last_activity_at: now,
        expires_at: now + chrono::Duration::hours(1),
        revoked_at: None,
    };
    Caller {
        user,
        session,
        renewed: false,
        token: None,
    }
}

/// An outgoing webhook's trigger words: at most 10, each 1 to 50
/// characters without spaces around.
fn trigger_words(words: &[String]) -> Result<Vec<String>> {
    let words: Vec<String> = words
        .iter()
        .map(|w| w.trim().to_owned())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() > 10 || words.iter().any(|w| w.chars().count() > 50) {
        return Err(Error::invalid(
            "trigger_words",
            "at most 10 words of at most 50 characters",
        ));
    }
    Ok(words)
}

/// Whether two hashes are equal, taking the same time wherever they differ.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_their_prefix_and_256_bits() {
        let (bot, hash) = new_api_token(TokenKind::Bot);
        assert!(bot.starts_with("xoxb-"));
        assert_eq!(bot.len(), 5 + 43);
        assert_eq!(hash_token(&bot), hash);
        let (user, _) = new_api_token(TokenKind::User);
        assert!(user.starts_with("xoxp-"));
        assert_ne!(new_api_token(TokenKind::User).0, user);
    }

    #[test]
    fn bot_usernames_are_clean_and_distinct() {
        let name = bot_username("Deploy Bot!");
        assert!(name.starts_with("deploy-bot-"), "{name}");
        assert_eq!(name.len(), "deploy-bot-".len() + 8);
        assert_ne!(bot_username("Deploy Bot!"), name);
        assert!(bot_username("☃").starts_with("bot-"));
    }
}
