//! Confab's domain values in the shapes Slack's clients read: ids with
//! their prefix letters, `ts` stamps, message, conversation and user objects.

use confab_core::id::{ChannelId, UserId};
use confab_core::model::*;
pub(crate) use confab_core::slack::{
    bot_id, conversation_id as channel_id, message, team_id, user_id,
};
use confab_core::slack::{decode_as, SlackKind};
use serde_json::{json, Value};

use super::SlackError;

/// A conversation id (`C…`, `D…`, `G…`); anything else is not found.
pub(crate) fn parse_channel(text: &str) -> Result<ChannelId, SlackError> {
    decode_as(
        text.trim(),
        &[SlackKind::Channel, SlackKind::Direct, SlackKind::Group],
    )
    .map(ChannelId)
    .ok_or_else(|| SlackError::new("channel_not_found"))
}

/// A user id (`U…`, or a bot's `B…`); anything else is not found.
pub(crate) fn parse_user(text: &str) -> Result<UserId, SlackError> {
    decode_as(text.trim(), &[SlackKind::User, SlackKind::Bot])
        .map(UserId)
        .ok_or_else(|| SlackError::new("user_not_found"))
}

/// Seconds since the epoch, as Slack's `created` fields.
fn unix(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp()
}

/// A conversation object; `is_member` from the caller's membership.
pub(crate) fn conversation(c: &Channel, is_member: Option<bool>) -> Value {
    let kind = c.channel_type;
    let name = match kind {
        ChannelType::Direct | ChannelType::Group => c.display_name.clone().unwrap_or_default(),
        _ => c.name.clone(),
    };
    let mut object = json!({
        "id": channel_id(c),
        "name": name,
        "name_normalized": name,
        "is_channel": matches!(kind, ChannelType::Public | ChannelType::Private),
        "is_group": false,
        "is_im": kind == ChannelType::Direct,
        "is_mpim": kind == ChannelType::Group,
        "is_private": kind != ChannelType::Public,
        "is_archived": c.is_archived,
        "is_general": c.is_general,
        "created": unix(c.created_at),
        "creator": user_id(c.created_by),
        "context_team_id": team_id(c.workspace_id),
        "topic": {"value": c.topic.clone().unwrap_or_default(), "creator": "", "last_set": 0},
        "purpose": {"value": c.purpose.clone().unwrap_or_default(), "creator": "", "last_set": 0},
    });
    if let Some(member) = is_member {
        object["is_member"] = json!(member);
    }
    object
}

/// A user object; the address only where the caller may read it.
pub(crate) fn user(u: &User, member: Option<&WorkspaceMember>, with_email: bool) -> Value {
    let role = member.map(|m| m.role);
    let mut profile = json!({
        "real_name": u.display_name,
        "display_name": u.display_name,
        "real_name_normalized": u.display_name,
        "display_name_normalized": u.display_name,
        "title": member.and_then(|m| m.title.clone()).or_else(|| u.title.clone()).unwrap_or_default(),
        "phone": u.phone.clone().unwrap_or_default(),
        "image_72": u.avatar_url.clone().unwrap_or_default(),
        "image_192": u.avatar_url.clone().unwrap_or_default(),
        "status_text": "",
        "status_emoji": "",
    });
    if with_email && !u.is_bot {
        profile["email"] = json!(u.email);
    }
    if u.is_bot {
        profile["bot_id"] = json!(bot_id(u.id));
    }
    json!({
        "id": user_id(u.id),
        "team_id": member.map(|m| team_id(m.workspace_id)),
        "name": u.username,
        "real_name": u.display_name,
        "deleted": u.status != UserStatus::Active
            || member.is_some_and(|m| m.status != MemberStatus::Active),
        "is_bot": u.is_bot,
        "is_app_user": false,
        "is_admin": matches!(role, Some(WorkspaceRole::Admin | WorkspaceRole::Owner)),
        "is_owner": role == Some(WorkspaceRole::Owner),
        "is_primary_owner": false,
        "is_restricted": role == Some(WorkspaceRole::Guest),
        "is_ultra_restricted": false,
        "tz": member.and_then(|m| m.timezone.clone()).unwrap_or_else(|| u.timezone.clone()),
        "updated": unix(u.updated_at),
        "profile": profile,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_core::slack::encode;

    #[test]
    fn ids_of_each_kind_parse_back_only_as_their_kind() {
        let channel = ChannelId::new();
        let text = encode(SlackKind::Direct, channel.0);
        assert_eq!(parse_channel(&text).unwrap(), channel);
        assert_eq!(parse_user(&text).unwrap_err().code, "user_not_found");
        assert_eq!(
            parse_channel("C024BE91L").unwrap_err().code,
            "channel_not_found"
        );
        let user = UserId::new();
        assert_eq!(parse_user(&user_id(user)).unwrap(), user);
        assert_eq!(parse_user(&bot_id(user)).unwrap(), user);
    }
}
