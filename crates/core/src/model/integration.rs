use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::{ChannelId, IntegrationId, UserId, WorkspaceId};

/// An installed integration (the `integrations` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    pub id: IntegrationId,
    pub workspace_id: WorkspaceId,
    pub app_name: String,
    pub app_id: String,
    pub integration_type: String,
    pub config: Value,
    pub credentials: Option<Value>,
    pub scopes: Vec<String>,
    pub channel_id: Option<ChannelId>,
    pub status: String,
    pub last_error: Option<String>,
    pub installed_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What is needed to install an integration.
#[derive(Clone, Debug)]
pub struct NewIntegration {
    pub id: IntegrationId,
    pub workspace_id: WorkspaceId,
    pub app_name: String,
    pub app_id: String,
    pub integration_type: String,
    pub config: Value,
    pub credentials: Option<Value>,
    pub scopes: Vec<String>,
    pub channel_id: Option<ChannelId>,
    pub installed_by: UserId,
    pub created_at: DateTime<Utc>,
}

super::text_enum!(
    /// What an API token acts as.
    TokenKind {
        /// `xoxb-`: an integration's bot user.
        Bot = "bot",
        /// `xoxp-`: a person, for their own scripts.
        User = "user",
    }
);

super::text_enum!(
    /// The kinds of integration a workspace admin installs.
    IntegrationType {
        /// A bot user with a bot token, optionally receiving events.
        Bot = "bot",
        /// A capability URL that posts into one channel.
        IncomingWebhook = "incoming_webhook",
        /// Messages of a channel sent to a URL.
        OutgoingWebhook = "outgoing_webhook",
        /// A `/command` that calls a URL.
        SlashCommand = "slash_command",
    }
);

/// Every scope a token can carry (Slack's names).
pub const SCOPES: &[&str] = &[
    "chat:write",
    "channels:read",
    "channels:history",
    "channels:manage",
    "channels:join",
    "groups:read",
    "groups:history",
    "groups:write",
    "im:read",
    "im:history",
    "im:write",
    "mpim:read",
    "mpim:history",
    "mpim:write",
    "users:read",
    "users:read.email",
    "users:write",
    "users.profile:read",
    "users.profile:write",
    "reactions:read",
    "reactions:write",
    "pins:read",
    "pins:write",
    "files:read",
    "files:write",
    "search:read",
    "team:read",
    "emoji:read",
];

/// The scopes of a request, each known and listed once, in a stable order.
/// `groups:*` stands for every `groups:` scope (so for `im:*`, `mpim:*`…).
pub fn normalize_scopes(asked: &[String]) -> crate::Result<Vec<String>> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in asked.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let matching: Vec<&str> = match scope.strip_suffix('*') {
            Some(prefix) if prefix.ends_with(':') => SCOPES
                .iter()
                .copied()
                .filter(|s| s.starts_with(prefix))
                .collect(),
            _ => SCOPES.iter().copied().filter(|s| *s == scope).collect(),
        };
        if matching.is_empty() {
            return Err(crate::Error::invalid(
                "scopes",
                format!("unknown scope {scope:?}"),
            ));
        }
        scopes.extend(matching.into_iter().map(str::to_owned));
    }
    scopes.sort_by_key(|s| SCOPES.iter().position(|k| k == s));
    scopes.dedup();
    Ok(scopes)
}

/// An API token. Only the SHA-256 of the secret is stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: IntegrationId,
    /// SHA-256 (hex) of the whole token text.
    pub token_hash: String,
    pub kind: TokenKind,
    /// Who the token acts as: the bot user, or the person.
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
    /// The integration a bot token belongs to.
    pub integration_id: Option<IntegrationId>,
    pub label: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token to store.
#[derive(Clone, Debug)]
pub struct NewApiToken {
    pub id: IntegrationId,
    pub token_hash: String,
    pub kind: TokenKind,
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
    pub integration_id: Option<IntegrationId>,
    pub label: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// A bot to install: its user, its membership, its integration, and its
/// token (a bot) or its channel (an incoming webhook), written together.
#[derive(Clone, Debug)]
pub struct NewBot {
    pub user: crate::model::NewUser,
    pub member: crate::model::NewWorkspaceMember,
    pub integration: NewIntegration,
    pub token: Option<NewApiToken>,
    pub channel_member: Option<crate::model::NewChannelMember>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_checked_expanded_and_ordered() {
        let asked = ["users:read", "groups:*", "chat:write", "users:read"].map(String::from);
        assert_eq!(
            normalize_scopes(&asked).unwrap(),
            [
                "chat:write",
                "groups:read",
                "groups:history",
                "groups:write",
                "users:read"
            ]
        );
        assert!(normalize_scopes(&["admin".into()]).is_err());
        assert!(normalize_scopes(&["nothing:*".into()]).is_err());
        assert!(normalize_scopes(&[]).unwrap().is_empty());
    }
}

/// An event on its way to a bot's request URL (the `event_deliveries`
/// table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventDelivery {
    pub id: IntegrationId,
    pub integration_id: IntegrationId,
    /// Slack's `event_id`: the receiver's key for "seen this already".
    pub event_id: String,
    /// The whole `event_callback` envelope, as sent.
    pub payload: Value,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// An event to queue for one bot.
#[derive(Clone, Debug)]
pub struct NewEventDelivery {
    pub id: IntegrationId,
    pub integration_id: IntegrationId,
    pub event_id: String,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

/// What became of one attempt at a delivery.
#[derive(Clone, Debug)]
pub struct DeliveryUpdate {
    /// `pending` (to try again at `next_attempt_at`), `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}
