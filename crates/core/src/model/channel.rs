use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::text_enum;
use crate::id::{ChannelId, MembershipId, MessageId, UserId, WorkspaceId};

text_enum!(
    /// The kind of conversation a channel is.
    ChannelType {
        Public = "public",
        Private = "private",
        /// A one-to-one direct message.
        Direct = "direct",
        /// A direct message among more than two people.
        Group = "group",
    }
);

/// A channel (the `channels` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    pub id: ChannelId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub channel_type: ChannelType,
    pub is_archived: bool,
    pub is_general: bool,
    pub topic: Option<String>,
    pub purpose: Option<String>,
    pub retention_policy: Option<Value>,
    pub allow_threads: bool,
    pub allow_file_upload: bool,
    pub allow_external_sharing: bool,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

/// What is needed to create a channel.
#[derive(Clone, Debug)]
pub struct NewChannel {
    pub id: ChannelId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub channel_type: ChannelType,
    pub is_general: bool,
    pub topic: Option<String>,
    pub purpose: Option<String>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
}

/// A partial update of a channel. `None` leaves a field unchanged;
/// `Some(None)` clears an optional field.
#[derive(Clone, Debug, Default)]
pub struct ChannelUpdate {
    pub name: Option<String>,
    pub display_name: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub topic: Option<Option<String>>,
    pub purpose: Option<Option<String>>,
    pub retention_policy: Option<Option<Value>>,
    pub allow_threads: Option<bool>,
    pub allow_file_upload: Option<bool>,
    pub allow_external_sharing: Option<bool>,
}

text_enum!(
    /// A member's role in a channel.
    ChannelRole {
        Admin = "admin",
        Member = "member",
    }
);

text_enum!(
    /// Which messages of a channel notify the member.
    NotificationLevel {
        All = "all",
        Mentions = "mentions",
        Nothing = "none",
    }
);

/// One user's membership of one channel (the `channel_members` table), with
/// the durable read marker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelMember {
    pub id: MembershipId,
    pub channel_id: ChannelId,
    pub user_id: UserId,
    pub role: ChannelRole,
    pub notification_level: NotificationLevel,
    pub joined_at: DateTime<Utc>,
    pub left_at: Option<DateTime<Utc>>,
    pub invited_by: Option<UserId>,
    pub is_active: bool,
    /// The newest message the member has read, if any.
    pub last_read_message_id: Option<MessageId>,
    /// When the read marker last moved.
    pub last_read_at: Option<DateTime<Utc>>,
}

/// What is needed to add a user to a channel.
#[derive(Clone, Debug)]
pub struct NewChannelMember {
    pub id: MembershipId,
    pub channel_id: ChannelId,
    pub user_id: UserId,
    pub role: ChannelRole,
    pub invited_by: Option<UserId>,
    pub joined_at: DateTime<Utc>,
}

/// A channel with its workspace and one user's memberships of both: what a
/// check of that user's access reads, in one query.
#[derive(Clone, Debug)]
pub struct ChannelContext {
    pub channel: Channel,
    pub workspace: super::Workspace,
    pub workspace_member: Option<super::WorkspaceMember>,
    pub channel_member: Option<ChannelMember>,
}

/// A partial update of a channel membership.
#[derive(Clone, Debug, Default)]
pub struct ChannelMemberUpdate {
    pub role: Option<ChannelRole>,
    pub notification_level: Option<NotificationLevel>,
}

/// Pair each channel with its membership, keeping the order of `channels`; a
/// channel without a matching membership is left out.
pub fn pair_channels(
    channels: Vec<Channel>,
    members: Vec<ChannelMember>,
) -> Vec<(Channel, ChannelMember)> {
    let mut by_channel: std::collections::HashMap<ChannelId, ChannelMember> =
        members.into_iter().map(|m| (m.channel_id, m)).collect();
    channels
        .into_iter()
        .filter_map(|c| by_channel.remove(&c.id).map(|m| (c, m)))
        .collect()
}
