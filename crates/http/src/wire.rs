//! Wire types: what the API sends. Secrets (password hashes, TOTP secrets,
//! token hashes) never appear here.

use chrono::{DateTime, Utc};
use confab_core::id::*;
use confab_core::model::*;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Distinguish a missing field (`None`) from an explicit `null` (`Some(None)`).
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A user's account as its owner sees it.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    pub email: String,
    pub username: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub timezone: String,
    pub status: UserStatus,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub bio: Option<String>,
    pub pronouns: Option<String>,
    #[schema(value_type = Object)]
    pub notification_settings: Value,
    #[schema(value_type = Object)]
    pub theme_preferences: Value,
    pub language: String,
    pub mfa_enabled: bool,
    /// Whether the account proved it receives mail at `email`.
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            username: u.username,
            display_name: u.display_name,
            avatar_url: u.avatar_url,
            timezone: u.timezone,
            status: u.status,
            title: u.title,
            phone: u.phone,
            bio: u.bio,
            pronouns: u.pronouns,
            notification_settings: u.notification_settings,
            theme_preferences: u.theme_preferences,
            language: u.language,
            mfa_enabled: u.mfa_enabled,
            email_verified: u.email_verified_at.is_some(),
            created_at: u.created_at,
            updated_at: u.updated_at,
            last_login_at: u.last_login_at,
        }
    }
}

/// A session, without its token.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// Names the session to revoke it (`DELETE /me/sessions/{id}`).
    pub id: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub workspace_id: Option<WorkspaceId>,
    pub device_type: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub permissions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Whether this is the session making the request.
    pub current: bool,
}

impl SessionView {
    pub fn new(s: Session, current_id: &str) -> Self {
        Self {
            id: confab_service::session_handle(&s.id),
            current: s.id == current_id,
            workspace_id: s.workspace_id,
            device_type: s.device_type,
            ip_address: s.ip_address,
            user_agent: s.user_agent,
            permissions: s.permissions,
            created_at: s.created_at,
            last_activity: s.last_activity_at,
            expires_at: s.expires_at,
        }
    }
}

/// A workspace as its members see it.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceView {
    #[schema(value_type = String, format = Uuid)]
    pub id: WorkspaceId,
    pub name: String,
    pub domain: Option<String>,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    #[schema(value_type = Object)]
    pub settings: Value,
    pub plan_type: String,
    pub max_members: i32,
    pub billing_email: Option<String>,
    pub subscription_status: String,
    pub sso_enabled: bool,
    #[schema(value_type = Option<Object>)]
    pub sso_config: Option<Value>,
    pub require_2fa: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WorkspaceView {
    /// Billing and SSO details are shown to owners and admins only.
    pub fn for_role(w: Workspace, role: WorkspaceRole) -> Self {
        let privileged = matches!(role, WorkspaceRole::Owner | WorkspaceRole::Admin);
        Self {
            id: w.id,
            name: w.name,
            domain: w.domain,
            description: w.description,
            avatar_url: w.avatar_url,
            settings: w.settings,
            plan_type: w.plan_type,
            max_members: w.max_members,
            billing_email: w.billing_email.filter(|_| privileged),
            subscription_status: w.subscription_status,
            sso_enabled: w.sso_enabled,
            sso_config: w.sso_config.filter(|_| privileged),
            require_2fa: w.require_2fa,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// A workspace membership.
#[derive(Serialize, ToSchema)]
pub struct MemberView {
    #[schema(value_type = String, format = Uuid)]
    pub member_id: MemberId,
    #[schema(value_type = String, format = Uuid)]
    pub workspace_id: WorkspaceId,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    pub role: WorkspaceRole,
    pub title: Option<String>,
    pub department: Option<String>,
    pub status: MemberStatus,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub invited_by: Option<UserId>,
    #[schema(value_type = Object)]
    pub permissions: Value,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub timezone: Option<String>,
    pub joined_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<WorkspaceMember> for MemberView {
    fn from(m: WorkspaceMember) -> Self {
        Self {
            member_id: m.id,
            workspace_id: m.workspace_id,
            user_id: m.user_id,
            role: m.role,
            title: m.title,
            department: m.department,
            status: m.status,
            invited_by: m.invited_by,
            permissions: m.permissions,
            last_seen_at: m.last_seen_at,
            timezone: m.timezone,
            joined_at: m.joined_at,
            updated_at: m.updated_at,
        }
    }
}

/// An invitation, without its token.
#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    #[schema(value_type = String, format = Uuid)]
    pub id: InvitationId,
    #[schema(value_type = String, format = Uuid)]
    pub workspace_id: WorkspaceId,
    pub email: Option<String>,
    pub role: WorkspaceRole,
    pub max_uses: Option<i32>,
    pub use_count: i32,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    #[schema(value_type = String, format = Uuid)]
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
}

impl From<Invitation> for InvitationView {
    fn from(i: Invitation) -> Self {
        Self {
            id: i.id,
            workspace_id: i.workspace_id,
            email: i.email,
            role: i.role,
            max_uses: i.max_uses,
            use_count: i.use_count,
            expires_at: i.expires_at,
            revoked_at: i.revoked_at,
            created_by: i.created_by,
            created_at: i.created_at,
        }
    }
}

/// A channel.
#[derive(Serialize, ToSchema)]
pub struct ChannelView {
    #[schema(value_type = String, format = Uuid)]
    pub id: ChannelId,
    #[schema(value_type = String, format = Uuid)]
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// `public`, `private`, `direct` or `group`.
    pub channel_type: ChannelType,
    pub is_archived: bool,
    pub is_general: bool,
    pub topic: Option<String>,
    pub purpose: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub retention_policy: Option<Value>,
    pub allow_threads: bool,
    pub allow_file_upload: bool,
    pub allow_external_sharing: bool,
    #[schema(value_type = String, format = Uuid)]
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

impl From<Channel> for ChannelView {
    fn from(c: Channel) -> Self {
        Self {
            id: c.id,
            workspace_id: c.workspace_id,
            name: c.name,
            display_name: c.display_name,
            description: c.description,
            channel_type: c.channel_type,
            is_archived: c.is_archived,
            is_general: c.is_general,
            topic: c.topic,
            purpose: c.purpose,
            retention_policy: c.retention_policy,
            allow_threads: c.allow_threads,
            allow_file_upload: c.allow_file_upload,
            allow_external_sharing: c.allow_external_sharing,
            created_by: c.created_by,
            created_at: c.created_at,
            updated_at: c.updated_at,
            archived_at: c.archived_at,
        }
    }
}

/// The public part of a member's account, shown beside a membership.
#[derive(Serialize, ToSchema)]
pub struct PersonView {
    pub display_name: String,
    pub username: String,
    pub avatar_url: Option<String>,
}

impl From<User> for PersonView {
    fn from(u: User) -> Self {
        Self {
            display_name: u.display_name,
            username: u.username,
            avatar_url: u.avatar_url,
        }
    }
}

/// A membership with the member's [`PersonView`].
#[derive(Serialize, ToSchema)]
pub struct WithPerson<T> {
    #[serde(flatten)]
    pub member: T,
    #[serde(flatten)]
    pub person: PersonView,
}

impl<T> WithPerson<T> {
    pub fn new(member: impl Into<T>, user: User) -> Self {
        Self {
            member: member.into(),
            person: user.into(),
        }
    }
}

/// One person's membership of a channel.
#[derive(Serialize, ToSchema)]
pub struct ChannelMemberView {
    #[schema(value_type = String, format = Uuid)]
    pub channel_id: ChannelId,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    /// `admin` or `member`.
    pub role: ChannelRole,
    /// `all`, `mentions` or `none`.
    pub notification_level: NotificationLevel,
    pub joined_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub invited_by: Option<UserId>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub last_read_message_id: Option<MessageId>,
}

impl From<ChannelMember> for ChannelMemberView {
    fn from(m: ChannelMember) -> Self {
        Self {
            channel_id: m.channel_id,
            user_id: m.user_id,
            role: m.role,
            notification_level: m.notification_level,
            joined_at: m.joined_at,
            invited_by: m.invited_by,
            last_read_message_id: m.last_read_message_id,
        }
    }
}

/// The author of messages on a page.
#[derive(Serialize, ToSchema)]
pub struct AuthorView {
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    pub display_name: String,
    pub avatar_url: Option<String>,
}

impl From<Author> for AuthorView {
    fn from(a: Author) -> Self {
        Self {
            user_id: a.user_id,
            display_name: a.display_name,
            avatar_url: a.avatar_url,
        }
    }
}

/// One emoji's reactions on a message.
#[derive(Serialize, ToSchema)]
pub struct ReactionView {
    pub name: String,
    pub count: usize,
    #[schema(value_type = Vec<String>)]
    pub users: Vec<UserId>,
}

/// A message. A deleted message keeps its place but carries no content.
#[derive(Serialize, ToSchema)]
pub struct MessageView {
    #[schema(value_type = String, format = Uuid)]
    pub id: MessageId,
    #[schema(value_type = String, format = Uuid)]
    pub channel_id: ChannelId,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    pub content: String,
    /// `text`, `system`, `bot` or `file`.
    pub message_type: MessageType,
    #[schema(value_type = Option<Object>)]
    pub formatted_content: Option<Value>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub thread_id: Option<MessageId>,
    /// A reply also shown in the channel.
    pub broadcast: bool,
    pub reply_count: i32,
    pub is_pinned: bool,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub pinned_by: Option<UserId>,
    pub pinned_at: Option<DateTime<Utc>>,
    pub is_deleted: bool,
    pub deleted_at: Option<DateTime<Utc>>,
    pub reactions: Vec<ReactionView>,
    pub edited_at: Option<DateTime<Utc>>,
    /// How many times the message was edited.
    pub edit_count: usize,
    pub client_msg_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The files the message shares, where the answer includes them
    /// (history pages and posting); absent elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileView>>,
}

impl MessageView {
    /// The message with the files among `attached` that belong to it.
    pub fn with_files(message: Message, attached: &[(MessageFile, File)]) -> Self {
        let files = attached
            .iter()
            .filter(|(link, _)| link.message_id == message.id)
            .map(|(_, file)| FileView::from(file.clone()))
            .collect();
        Self {
            files: Some(files),
            ..Self::from(message)
        }
    }
}

/// A file. Its bytes are at `url_private` (with the caller's credentials).
#[derive(Serialize, ToSchema)]
pub struct FileView {
    #[schema(value_type = String, format = Uuid)]
    pub id: FileId,
    #[schema(value_type = String, format = Uuid)]
    pub workspace_id: WorkspaceId,
    #[schema(value_type = String, format = Uuid)]
    pub uploader_id: UserId,
    /// The name to show: the client's, without paths, control or
    /// direction-changing characters.
    pub name: String,
    pub size: i64,
    /// The type sniffed from the bytes.
    pub mime_type: String,
    /// SHA-256 of the bytes, hex.
    pub sha256: Option<String>,
    /// `pending`, `processing`, `done` or `failed`.
    pub processing_status: String,
    /// `pending`, `clean`, `infected`, `skipped` or `failed`.
    pub virus_scan_status: String,
    pub download_count: i32,
    pub created_at: DateTime<Utc>,
    /// Where to download the bytes.
    pub url_private: String,
    /// Thumbnails of an image, once processed.
    pub thumbnails: Vec<ThumbnailView>,
}

/// A thumbnail of an image file.
#[derive(Serialize, ToSchema)]
pub struct ThumbnailView {
    /// The bound it was made for (longer side, pixels).
    pub size: u32,
    pub width: u32,
    pub height: u32,
    pub mime_type: String,
    pub url: String,
}

fn thumbnail_views(file: &File) -> Vec<ThumbnailView> {
    file.thumbnail_list()
        .into_iter()
        .map(|t| ThumbnailView {
            url: format!("/api/v1/files/{}/thumbnail?size={}", file.id, t.size),
            size: t.size,
            width: t.width,
            height: t.height,
            mime_type: t.mime_type,
        })
        .collect()
}

impl From<File> for FileView {
    fn from(f: File) -> Self {
        Self {
            url_private: format!("/api/v1/files/{}/content", f.id),
            thumbnails: thumbnail_views(&f),
            id: f.id,
            workspace_id: f.workspace_id,
            uploader_id: f.uploader_id,
            name: f.filename,
            size: f.file_size,
            mime_type: f.mime_type,
            sha256: f.file_hash,
            processing_status: f.processing_status,
            virus_scan_status: f.virus_scan_status,
            download_count: f.download_count,
            created_at: f.created_at,
        }
    }
}

impl From<Message> for MessageView {
    fn from(m: Message) -> Self {
        Self {
            id: m.id,
            channel_id: m.channel_id,
            user_id: m.user_id,
            content: m.content,
            message_type: m.message_type,
            formatted_content: m.formatted_content,
            thread_id: m.thread_id,
            broadcast: m.broadcast,
            reply_count: m.reply_count,
            is_pinned: m.is_pinned,
            pinned_by: m.pinned_by,
            pinned_at: m.pinned_at,
            is_deleted: m.is_deleted,
            deleted_at: m.deleted_at,
            reactions: m
                .reactions
                .0
                .into_iter()
                .map(|(name, users)| ReactionView {
                    count: users.len(),
                    name,
                    users,
                })
                .collect(),
            edited_at: m.edited_at,
            edit_count: m.edit_count,
            client_msg_id: m.client_msg_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
            files: None,
        }
    }
}

/// Unread state of one channel for the caller.
#[derive(Serialize, ToSchema)]
pub struct ReadStateView {
    #[schema(value_type = String, format = Uuid)]
    pub channel_id: ChannelId,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub last_read_message_id: Option<MessageId>,
    /// Top-level messages by others after the read marker (counted up to 10,000).
    pub unread: i64,
    /// Messages after the marker that mention the caller, `@channel` or `@here`.
    pub mentions: i64,
}

impl From<ReadState> for ReadStateView {
    fn from(r: ReadState) -> Self {
        Self {
            channel_id: r.channel_id,
            last_read_message_id: r.last_read_message_id,
            unread: r.unread,
            mentions: r.mentions,
        }
    }
}

/// A channel, briefly.
#[derive(Serialize, ToSchema)]
pub struct ChannelBrief {
    #[schema(value_type = String, format = Uuid)]
    pub id: ChannelId,
    pub name: String,
    pub channel_type: ChannelType,
    pub is_general: bool,
}

impl From<Channel> for ChannelBrief {
    fn from(c: Channel) -> Self {
        Self {
            id: c.id,
            name: c.name,
            channel_type: c.channel_type,
            is_general: c.is_general,
        }
    }
}

/// The shape of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `not_found`, `forbidden`, `unauthenticated`, `conflict`, `invalid`,
    /// `rate_limited`, `too_large`, `unavailable` or `internal`.
    pub code: String,
    pub message: String,
    /// The request field at fault, for `invalid` and `conflict`.
    pub field: Option<String>,
    /// Present on 5xx answers: quote it when reporting a problem.
    pub request_id: Option<String>,
}

/// Opaque keyset cursors: the key, base64url-encoded.
pub mod cursor {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use confab_core::{Error, Result};

    pub fn encode(key: &str) -> String {
        URL_SAFE_NO_PAD.encode(key)
    }

    pub fn decode<T: std::str::FromStr>(cursor: &str) -> Result<T> {
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| Error::invalid("cursor", "is not a cursor this list handed out"))
    }

    /// A cursor after the row of time `at` and id `id` (keyset pages by
    /// time, then id).
    pub fn encode_time_id(at: chrono::DateTime<chrono::Utc>, id: impl std::fmt::Display) -> String {
        encode(&format!("{}_{id}", at.timestamp_micros()))
    }

    /// The time and id of a cursor made by [`encode_time_id`].
    pub fn decode_time_id<T: std::str::FromStr>(
        cursor: &str,
    ) -> Result<(chrono::DateTime<chrono::Utc>, T)> {
        let raw: String = decode(cursor)?;
        let bad = || Error::invalid("cursor", "is not a cursor this list handed out");
        let (micros, id) = raw.split_once('_').ok_or_else(bad)?;
        let at = micros
            .parse::<i64>()
            .ok()
            .and_then(chrono::DateTime::from_timestamp_micros)
            .ok_or_else(bad)?;
        Ok((at, id.parse().map_err(|_| bad())?))
    }

    #[cfg(test)]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// Every cursor handed out reads back as the key it was made from.
            #[test]
            fn cursors_round_trip(key in any::<String>()) {
                prop_assert_eq!(decode::<String>(&encode(&key)).unwrap(), key);
            }

            /// Any text sent as a cursor is refused cleanly or read as a key.
            #[test]
            fn any_cursor_text_is_answered(text in any::<String>()) {
                match decode::<uuid::Uuid>(&text) {
                    Ok(id) => prop_assert_eq!(encode(&id.to_string()), text),
                    Err(err) => {
                        let refused = matches!(err, Error::Invalid { .. });
                        prop_assert!(refused);
                    }
                }
            }
        }
    }
}
