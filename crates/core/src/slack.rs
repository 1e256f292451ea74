//! Identifiers in the shape Slack's clients expect. Every Slack id is a
//! prefix letter and the Confab UUID in Crockford base32 (26 uppercase
//! letters and digits), so the mapping goes both ways with no lookup table.
//! A message's `ts` is its per-channel stamp in microseconds, written as
//! `"seconds.micros"`.

use uuid::Uuid;

use serde_json::{json, Value};

use crate::id::{UserId, WorkspaceId};
use crate::model::{Channel, ChannelType, Message, MessageType};
use crate::{Error, Result};

/// What a Slack id names: its prefix letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlackKind {
    /// `T`: a workspace ("team").
    Team,
    /// `U`: a user (people and bots alike).
    User,
    /// `B`: a bot, named by its integration.
    Bot,
    /// `C`: a public or private channel.
    Channel,
    /// `D`: a direct conversation.
    Direct,
    /// `G`: a group conversation.
    Group,
    /// `F`: a file.
    File,
    /// `A`: an app (an integration, as `api_app_id`).
    App,
}

impl SlackKind {
    /// The prefix letter.
    pub fn letter(self) -> char {
        match self {
            Self::Team => 'T',
            Self::User => 'U',
            Self::Bot => 'B',
            Self::Channel => 'C',
            Self::Direct => 'D',
            Self::Group => 'G',
            Self::File => 'F',
            Self::App => 'A',
        }
    }

    fn of(letter: char) -> Option<Self> {
        Some(match letter {
            'T' => Self::Team,
            'U' | 'W' => Self::User,
            'B' => Self::Bot,
            'C' => Self::Channel,
            'D' => Self::Direct,
            'G' => Self::Group,
            'F' => Self::File,
            'A' => Self::App,
            _ => return None,
        })
    }

    /// Whether an id of this kind names a conversation.
    pub fn is_conversation(self) -> bool {
        matches!(self, Self::Channel | Self::Direct | Self::Group)
    }
}

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DIGITS: usize = 26;

/// The Slack id of `uuid` as a `kind`.
pub fn encode(kind: SlackKind, uuid: Uuid) -> String {
    let mut value = uuid.as_u128();
    let mut digits = [0u8; DIGITS];
    for digit in digits.iter_mut().rev() {
        *digit = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    let mut id = String::with_capacity(DIGITS + 1);
    id.push(kind.letter());
    id.extend(digits.iter().map(|&b| b as char));
    id
}

/// The kind and UUID a Slack id names; `None` for anything Confab did not
/// issue.
pub fn decode(id: &str) -> Option<(SlackKind, Uuid)> {
    let mut chars = id.chars();
    let kind = SlackKind::of(chars.next()?)?;
    let rest = chars.as_str();
    if rest.len() != DIGITS {
        return None;
    }
    let mut value: u128 = 0;
    for (i, b) in rest.bytes().enumerate() {
        let digit = ALPHABET.iter().position(|&a| a == b)? as u128;
        // The first digit carries only the top three bits.
        if i == 0 && digit > 7 {
            return None;
        }
        value = (value << 5) | digit;
    }
    Some((kind, Uuid::from_u128(value)))
}

/// The UUID of a Slack id that must be one of `kinds`.
pub fn decode_as(id: &str, kinds: &[SlackKind]) -> Option<Uuid> {
    decode(id)
        .filter(|(kind, _)| kinds.contains(kind))
        .map(|(_, uuid)| uuid)
}

/// The Slack id of a user (people and bots alike).
pub fn user_id(id: UserId) -> String {
    encode(SlackKind::User, id.0)
}

/// The Slack id of a conversation: `C` for channels, public or private,
/// `D` for a direct conversation, `G` for a group.
pub fn conversation_id(channel: &Channel) -> String {
    let kind = match channel.channel_type {
        ChannelType::Public | ChannelType::Private => SlackKind::Channel,
        ChannelType::Direct => SlackKind::Direct,
        ChannelType::Group => SlackKind::Group,
    };
    encode(kind, channel.id.0)
}

/// A message stamp (microseconds) as Slack writes it: `"1700000000.000100"`.
pub fn format_ts(micros: i64) -> String {
    format!(
        "{}.{:06}",
        micros.div_euclid(1_000_000),
        micros.rem_euclid(1_000_000)
    )
}

/// The microseconds of a Slack `ts`. Fewer than six decimals are read as
/// Slack reads them (`"1700000000.5"` is half a second); more, a sign, or
/// anything but digits is refused.
pub fn parse_ts(text: &str) -> Result<i64> {
    let bad = || Error::invalid("ts", format!("{text:?} is not a message timestamp"));
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(secs) || (!frac.is_empty() && !digits(frac)) || frac.len() > 6 || secs.len() > 11 {
        return Err(bad());
    }
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().map_err(|_| bad())?
    };
    Ok(secs * 1_000_000 + frac)
}

/// A workspace id as `team`.
pub fn team_id(id: WorkspaceId) -> String {
    encode(SlackKind::Team, id.0)
}

/// The id of a bot as `bot_id`: its user, with the bot letter.
pub fn bot_id(user: UserId) -> String {
    encode(SlackKind::Bot, user.0)
}

/// A message object. `thread_ts` is the parent's stamp for a reply (the
/// caller knows it), the message's own for a parent with replies.
pub fn message(m: &Message, parent_ts: Option<i64>) -> Value {
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
        MessageType::System => {
            // A notice reads after its author's name, as Slack writes it.
            let subtype = m
                .formatted_content
                .as_ref()
                .and_then(|f| f["subtype"].as_str());
            fields.insert("subtype".into(), json!(subtype.unwrap_or("channel_join")));
            fields.insert(
                "text".into(),
                json!(format!("<@{}> {}", user_id(m.user_id), m.content)),
            );
            for key in ["topic", "purpose"] {
                if let Some(value) = m.formatted_content.as_ref().and_then(|f| f.get(key)) {
                    fields.insert(key.into(), value.clone());
                }
            }
        }
        MessageType::Text => {}
    }
    if m.broadcast {
        fields.insert("subtype".into(), json!("thread_broadcast"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_look_like_slack_ids() {
        for _ in 0..200 {
            let uuid = Uuid::now_v7();
            let id = encode(SlackKind::Channel, uuid);
            assert_eq!(id.len(), 27);
            assert!(id.starts_with('C'));
            assert!(id[1..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
            assert_eq!(decode(&id), Some((SlackKind::Channel, uuid)));
        }
        let max = encode(SlackKind::User, Uuid::max());
        assert_eq!(decode(&max), Some((SlackKind::User, Uuid::max())));
        assert_eq!(decode_as(&max, &[SlackKind::Channel]), None);
    }

    #[test]
    fn foreign_ids_are_refused() {
        let good = encode(SlackKind::User, Uuid::now_v7());
        assert_eq!(decode("C024BE91L"), None, "a real Slack id is not ours");
        assert_eq!(decode(""), None);
        assert_eq!(decode(&good.to_lowercase()), None);
        assert_eq!(decode(&format!("X{}", &good[1..])), None);
        assert_eq!(decode(&format!("U9{}", &good[2..])), None, "overflow");
        assert_eq!(decode(&format!("{good}0")), None);
        assert_eq!(decode("UÉÉÉÉÉÉÉÉÉÉÉÉÉ"), None);
    }

    #[test]
    fn timestamps_round_trip_and_refuse_junk() {
        assert_eq!(format_ts(1_700_000_000_000_100), "1700000000.000100");
        assert_eq!(
            parse_ts("1700000000.000100").unwrap(),
            1_700_000_000_000_100
        );
        assert_eq!(parse_ts("1700000000.5").unwrap(), 1_700_000_000_500_000);
        assert_eq!(parse_ts("1700000000").unwrap(), 1_700_000_000_000_000);
        for junk in [
            "",
            ".",
            "abc",
            "-1.0",
            "1.0000001",
            "1.2.3",
            "1e9",
            " 1.0",
            "99999999999999.0",
        ] {
            assert!(parse_ts(junk).is_err(), "{junk:?}");
        }
    }
}
