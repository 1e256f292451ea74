//! Confab's domain values in the shapes Slack's clients read: ids with
//! their prefix letters, `ts` stamps, message, conversation and user objects.

use confab_core::id::{ChannelId, UserId, WorkspaceId};
use confab_core::model::*;
pub(crate) use confab_core::slack::{conversation_id as channel_id, user_id};
use confab_core::slack::{decode_as, encode, format_ts, SlackKind};
use serde_json::{json, Value};

use super::SlackError;

pub(crate) fn team_id(id: WorkspaceId) -> String {
    encode(SlackKind::Team, id.0)
}

/// The id of a bot as `bot_id`: its user, with the bot letter.
pub(crate) fn bot_id(user: UserId) -> String {
    encode(SlackKind::Bot, user.0)
}

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

/// A message object. `thread_ts` is the parent's stamp for a reply (the
/// caller knows it), the message's own for a parent with replies.
pub(crate) fn message(m: &Message, parent_ts: Option<i64>) -> Value {
    let mut object = json!({
        "type": "message",
        "user": user_id(m.user_id),
        "text": m.content,
        "ts": format_ts(m.ts),
        "team": team_id(m.workspace_id),
    });
    let fields = object.as_object_mut().expect("an object");
    match m.message_type {
        MessageType::Bot => {
            fields.insert("subtype".into(), json!("bot_message"));
            fields.insert("bot_id".into(), json!(bot_id(m.user_id)));
        }
        MessageType::File => {
            fields.insert("subtype".into(), json!("file_share"));
        }
        MessageType::Text | MessageType::System => {}
    }
    let thread_ts = match (m.thread_id, parent_ts) {
        (Some(_), Some(parent)) => Some(parent),
        (None, _) if m.reply_count > 0 => Some(m.ts),
        _ => None,
    };
    if let Some(thread) = thread_ts {
        fields.insert("thread_ts".into(), json!(format_ts(thread)));
    }
    if m.thread_id.is_none() && m.reply_count > 0 {
        fields.insert("reply_count".into(), json!(m.reply_count));
    }
    if let Some(edited) = m.edited_at {
        fields.insert(
            "edited".into(),
            json!({"user": user_id(m.user_id), "ts": format_ts(edited.timestamp_micros())}),
        );
    }
    if m.is_pinned {
        fields.insert(
            "pinned_to".into(),
            json!([encode(SlackKind::Channel, m.channel_id.0)]),
        );
    }
    if !m.reactions.0.is_empty() {
        let reactions: Vec<Value> = m
            .reactions
            .0
            .iter()
            .map(|(name, users)| {
                json!({
                    "name": name,
                    "users": users.iter().map(|u| user_id(*u)).collect::<Vec<_>>(),
                    "count": users.len(),
                })
            })
            .collect();
        fields.insert("reactions".into(), Value::Array(reactions));
    }
    if let Some(Value::Object(formatted)) = &m.formatted_content {
        for key in ["blocks", "attachments", "metadata", "username"] {
            if let Some(value) = formatted.get(key) {
                fields.insert(key.into(), value.clone());
            }
        }
        let mut icons = serde_json::Map::new();
        if let Some(emoji) = formatted.get("icon_emoji") {
            icons.insert("emoji".into(), emoji.clone());
        }
        if let Some(url) = formatted.get("icon_url") {
            icons.insert("image_48".into(), url.clone());
        }
        if !icons.is_empty() {
            fields.insert("icons".into(), Value::Object(icons));
        }
    }
    object
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
