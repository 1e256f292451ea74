//! Real-time vocabulary: topics, events and the ephemeral records kept in the
//! cache (presence, connections, the cached member list of a channel).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{ChannelId, FileId, MessageId, UserId, WorkspaceId};
use crate::model::{text_enum, Channel, File, Message};

/// Who an event is for. Sockets subscribe to the topics their user may read:
/// each channel they are in, their own user, each workspace they belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Topic {
    Channel(ChannelId),
    User(UserId),
    Workspace(WorkspaceId),
}

/// Something that happened, as sockets receive it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A message for one person only, not kept (a slash command's answer,
    /// `chat.postEphemeral`): sent on that person's topic.
    Ephemeral {
        channel_id: ChannelId,
        /// Who it is from (a bot).
        user_id: UserId,
        text: String,
        /// Blocks or attachments, as given.
        formatted_content: Option<serde_json::Value>,
        /// The thread it belongs to, if any.
        thread_id: Option<MessageId>,
    },
    /// A top-level message was posted.
    MessageCreated {
        message: Message,
    },
    /// A reply was posted in a thread; `reply_count` is the parent's new count.
    ThreadReply {
        message: Message,
        parent_id: MessageId,
        reply_count: i32,
    },
    MessageEdited {
        message: Message,
    },
    /// The current state of a message that changed while a socket was away
    /// (sent when catching up; replaces what the client holds).
    MessageUpdated {
        message: Message,
    },
    MessageDeleted {
        channel_id: ChannelId,
        message_id: MessageId,
        thread_id: Option<MessageId>,
    },
    ReactionAdded {
        channel_id: ChannelId,
        message_id: MessageId,
        user_id: UserId,
        emoji: String,
    },
    ReactionRemoved {
        channel_id: ChannelId,
        message_id: MessageId,
        user_id: UserId,
        emoji: String,
    },
    MessagePinned {
        channel_id: ChannelId,
        message_id: MessageId,
        user_id: UserId,
    },
    MessageUnpinned {
        channel_id: ChannelId,
        message_id: MessageId,
        user_id: UserId,
    },
    /// A file was shared into a channel with a message (one event per file;
    /// also replayed for messages that carry files).
    FileShared {
        channel_id: ChannelId,
        message_id: MessageId,
        file: File,
    },
    /// A file was deleted: sent to each channel it was shared into (with
    /// that channel) and to its uploader (without one).
    FileDeleted {
        file_id: FileId,
        channel_id: Option<ChannelId>,
    },
    /// A file's processing finished: its status and thumbnails changed.
    /// Sent where `FileDeleted` would be.
    FileProcessed {
        file: File,
    },
    /// A member started typing; it lapses after the typing TTL.
    Typing {
        channel_id: ChannelId,
        user_id: UserId,
    },
    Presence {
        workspace_id: WorkspaceId,
        user_id: UserId,
        presence: Presence,
    },
    ChannelCreated {
        channel: Channel,
    },
    ChannelUpdated {
        channel: Channel,
    },
    ChannelArchived {
        channel: Channel,
    },
    ChannelUnarchived {
        channel: Channel,
    },
    MemberJoined {
        channel_id: ChannelId,
        user_id: UserId,
    },
    MemberLeft {
        channel_id: ChannelId,
        user_id: UserId,
    },
    /// The user's read marker moved (sent to their other devices).
    ReadMarker {
        channel_id: ChannelId,
        message_id: MessageId,
    },
    /// The user's membership of a workspace changed (joined, left,
    /// deactivated, reactivated, new role): sockets re-read what they may see.
    AccessChanged {
        workspace_id: WorkspaceId,
    },
    /// Sessions of the user were revoked: the one session `only`, or else
    /// every session but `except`. Open sockets of those sessions close.
    SessionsRevoked {
        only: Option<String>,
        except: Option<String>,
    },
    /// Too much changed while the socket was away to send it all: reload.
    ResyncRequired,
}

impl Event {
    /// Whether this event revokes `session`.
    pub fn revokes(&self, session: &str) -> bool {
        match self {
            Event::SessionsRevoked { only: Some(id), .. } => id == session,
            Event::SessionsRevoked { only: None, except } => except.as_deref() != Some(session),
            _ => false,
        }
    }
}

/// An event on its way to the sockets of a topic. `cursor` is the time of the
/// change in microseconds since the Unix epoch; a client that reconnects with
/// the last cursor it saw is sent what changed since.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub topic: Topic,
    pub cursor: i64,
    pub event: Event,
}

impl Envelope {
    /// An envelope for `event` on `topic`, stamped with `at`.
    pub fn new(topic: Topic, at: DateTime<Utc>, event: Event) -> Self {
        Self {
            topic,
            cursor: at.timestamp_micros(),
            event,
        }
    }
}

text_enum!(
    /// Whether a user is around.
    PresenceStatus {
        Online = "online",
        Away = "away",
        Offline = "offline",
    }
);

/// A user's presence in one workspace (the `presence:{user}:{workspace}` value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub status: PresenceStatus,
    pub custom_status: Option<String>,
    pub last_seen: DateTime<Utc>,
    pub device_type: String,
    pub timezone: String,
}

/// One open WebSocket (the `connection:{id}` value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    pub user_id: UserId,
    pub workspace_id: Option<WorkspaceId>,
    pub channels: Vec<ChannelId>,
    pub connected_at: DateTime<Utc>,
    /// Not in the data model: the node holding the socket, so that the
    /// sockets of a node that died can be told apart and forgotten.
    pub node_id: String,
}

/// The cached member list of a channel (the `channel_members:{channel}` value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelMembersSnapshot {
    pub members: Vec<UserId>,
    pub member_count: usize,
    pub last_updated: DateTime<Utc>,
}

/// The cached session (the `session:{id}` value): a mirror of the database
/// row for tools and the connection registry, never the authority.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSnapshot {
    pub user_id: UserId,
    pub workspace_id: Option<WorkspaceId>,
    pub device_type: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
    pub permissions: Vec<String>,
}

/// A claim to rebuild a missing cache entry. A rebuild is stored only if
/// nothing changed the entry between the claim and the store, so a rebuild
/// read from the database can never overwrite a newer change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FillToken(pub String);

/// Time-to-live of each ephemeral key, as the data model gives them.
pub mod ttl {
    use std::time::Duration;

    pub const SESSION: Duration = Duration::from_secs(86_400);
    pub const PRESENCE: Duration = Duration::from_secs(300);
    pub const CONNECTION: Duration = Duration::from_secs(7_200);
    pub const CHANNEL_MEMBERS: Duration = Duration::from_secs(1_800);
    pub const TYPING: Duration = Duration::from_secs(10);
    /// Not in the data model: bounds how long a missed invalidation can last.
    pub const RECENT_MESSAGES: Duration = Duration::from_secs(300);
    /// Not in the data model: bounds how long a missed increment can last.
    pub const UNREAD_COUNTS: Duration = Duration::from_secs(3_600);
    /// How long a claim to rebuild an entry stays valid.
    pub const FILL_CLAIM: Duration = Duration::from_secs(10);
    /// Not in the data model: a node that has not renewed its `node:` key
    /// for this long counts as dead, and its sockets are forgotten.
    pub const NODE: Duration = Duration::from_secs(15);
}

/// Most entries kept in `recent_messages:{channel}` (LTRIM 0 99).
pub const RECENT_MESSAGES_KEPT: usize = 100;
