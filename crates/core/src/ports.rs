//! Port traits. Each storage backend implements every store trait; the service
//! layer sees them only as `Arc<dyn ...>`. Methods are sized to one use case
//! so that each backend owns its transaction.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::id::*;
use crate::model::*;
use crate::page::Page;
use crate::realtime::*;
use crate::Result;

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Create a user. Conflict on `email` or `username` (compared case-insensitively).
    async fn create_user(&self, user: &NewUser) -> Result<User>;
    async fn get_user(&self, id: UserId) -> Result<Option<User>>;
    /// Several users at once, in no particular order; unknown ids are skipped.
    async fn get_users(&self, ids: &[UserId]) -> Result<Vec<User>>;
    /// Up to `limit` accounts in id order, after `after`: a rebuild of the
    /// people index reads them.
    async fn scan_users(&self, after: Option<UserId>, limit: u32) -> Result<Vec<User>>;
    /// Accounts in all.
    async fn count_users(&self) -> Result<u64>;
    /// Case-insensitive lookup.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// Case-insensitive lookup.
    async fn find_user_by_username(&self, username: &str) -> Result<Option<User>>;
    /// The users with any of `usernames` (case-insensitive), in one query.
    async fn find_users_by_usernames(&self, usernames: &[String]) -> Result<Vec<User>>;
    async fn update_profile(&self, id: UserId, update: &ProfileUpdate) -> Result<User>;
    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<()>;
    /// Set the TOTP secret and whether MFA is in force. A secret with
    /// `enabled` false is an enrollment waiting for its first code.
    async fn set_mfa(&self, id: UserId, enabled: bool, secret: Option<&str>) -> Result<()>;
    async fn set_user_status(&self, id: UserId, status: UserStatus) -> Result<()>;
    async fn record_login(&self, id: UserId, at: DateTime<Utc>) -> Result<()>;
    /// Keep a token (its hash) that proves the address of `user` once
    /// used before `expires_at`.
    async fn create_email_verification(
        &self,
        user: UserId,
        token_hash: &str,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Use a verification token: it is gone afterwards whatever happens; if
    /// it was live, the user's address is verified (at `at`, unless it was
    /// already) and every other token of theirs is gone too. The user, or
    /// `None` for an unknown or expired token.
    async fn use_email_verification(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<User>>;
    /// Keep a token (its hash) that lets whoever holds it set the password
    /// of `user` once, before `expires_at`.
    async fn create_password_reset(
        &self,
        user: UserId,
        token_hash: &str,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Use a reset token: it is gone afterwards whatever happens; if it was
    /// live, the user's password hash becomes `password_hash` and every
    /// other reset token of theirs is gone, in one transaction. The user, or
    /// `None` for an unknown or expired token.
    async fn use_password_reset(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
        password_hash: &str,
    ) -> Result<Option<User>>;
}

/// Workspaces and their members.
#[async_trait]
pub trait WorkspaceStore: Send + Sync {
    /// Create a workspace with `owner` as its first member (role owner) and its
    /// general channel, which the owner joins, all in one transaction.
    async fn create_workspace(
        &self,
        workspace: &NewWorkspace,
        owner: &NewWorkspaceMember,
        general: &NewChannel,
    ) -> Result<(Workspace, Channel)>;
    async fn get_workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>>;
    /// Up to `limit` workspaces in id order, after `after`.
    async fn scan_workspaces(
        &self,
        after: Option<WorkspaceId>,
        limit: u32,
    ) -> Result<Vec<Workspace>>;
    /// Conflict on `domain`.
    async fn update_workspace(
        &self,
        id: WorkspaceId,
        update: &WorkspaceUpdate,
    ) -> Result<Workspace>;
    /// The workspaces `user` has any membership of (any status), with that membership.
    async fn list_workspaces_for_user(
        &self,
        user: UserId,
    ) -> Result<Vec<(Workspace, WorkspaceMember)>>;
    /// Every membership (in any state) of `users`: what the people index
    /// holds of them.
    async fn memberships_of(&self, users: &[UserId]) -> Result<Vec<WorkspaceMember>>;
    /// Add a member. Conflict on `user_id` if already a member, and on
    /// `max_members` when the workspace's active and invited members are
    /// already at its limit (checked in the same transaction).
    async fn add_member(&self, member: &NewWorkspaceMember) -> Result<WorkspaceMember>;
    async fn get_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
    ) -> Result<Option<WorkspaceMember>>;
    /// Active members whose name, username, title or department (or, with
    /// `by_email`, address) matches `text` as a person search does (see
    /// [`crate::columns::member_search_sql`]), by display name.
    async fn search_members(
        &self,
        workspace: WorkspaceId,
        text: &str,
        by_email: bool,
        limit: u32,
    ) -> Result<Vec<UserId>>;
    /// Members ordered by member id, after the `after` cursor.
    async fn list_members(
        &self,
        workspace: WorkspaceId,
        filter: &MemberFilter,
        after: Option<MemberId>,
        limit: u32,
    ) -> Result<Page<WorkspaceMember, MemberId>>;
    /// Change a membership. Conflict on `role` (and no change) if the
    /// workspace would be left without an active owner; checked atomically.
    async fn update_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        update: &MemberUpdate,
    ) -> Result<WorkspaceMember>;
    /// How many active members hold `role`.
    async fn count_active_members(
        &self,
        workspace: WorkspaceId,
        role: Option<WorkspaceRole>,
    ) -> Result<i64>;
    /// Store a new invitation, unless the workspace already has
    /// [`MAX_PENDING_INVITATIONS`](crate::model::MAX_PENDING_INVITATIONS)
    /// pending (checked in the same transaction).
    async fn create_invitation(&self, invitation: &Invitation) -> Result<Invitation>;
    async fn get_invitation_by_token(&self, token_hash: &str) -> Result<Option<Invitation>>;
    /// Invitations of a workspace, newest first, older than `before`.
    async fn list_invitations(
        &self,
        workspace: WorkspaceId,
        before: Option<InvitationId>,
        limit: u32,
    ) -> Result<Page<Invitation, InvitationId>>;
    /// Revoke an invitation of `workspace`; NotFound for another workspace's.
    async fn revoke_invitation(
        &self,
        workspace: WorkspaceId,
        id: InvitationId,
        at: DateTime<Utc>,
    ) -> Result<Invitation>;
    /// Use an invitation to add `member` (whose workspace and role come from
    /// the invitation), in one transaction; a new member who is not a guest
    /// also joins the workspace's general channel. NotFound if the invitation is
    /// unknown, Conflict on `invitation` if it is revoked, expired or used up,
    /// on `user_id` if already a member, on `max_members` if full.
    async fn accept_invitation(
        &self,
        token_hash: &str,
        member: &NewWorkspaceMember,
        at: DateTime<Utc>,
    ) -> Result<(Invitation, WorkspaceMember)>;
}

/// Channels and channel membership, including read markers.
#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// Create a channel and add `members` to it (the first as channel admin),
    /// in one transaction. Conflict on `name` within the workspace.
    async fn create_channel(
        &self,
        channel: &NewChannel,
        members: &[NewChannelMember],
    ) -> Result<Channel>;
    async fn get_channel(&self, id: ChannelId) -> Result<Option<Channel>>;
    async fn find_channel_by_name(
        &self,
        workspace: WorkspaceId,
        name: &str,
    ) -> Result<Option<Channel>>;
    /// Conflict on `name`.
    async fn update_channel(&self, id: ChannelId, update: &ChannelUpdate) -> Result<Channel>;
    async fn set_archived(
        &self,
        id: ChannelId,
        archived: bool,
        at: DateTime<Utc>,
    ) -> Result<Channel>;
    /// Channels of `workspace` that `user` is an active member of, with the membership.
    async fn list_channels_for_user(
        &self,
        workspace: WorkspaceId,
        user: UserId,
    ) -> Result<Vec<(Channel, ChannelMember)>>;
    /// Public channels of a workspace ordered by name, after the `after` cursor.
    async fn list_public_channels(
        &self,
        workspace: WorkspaceId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Channel, String>>;
    /// Add a member, or reactivate one who left. The id of `member` is used only
    /// for a first join.
    async fn add_channel_member(&self, member: &NewChannelMember) -> Result<ChannelMember>;
    /// Mark a membership inactive. False if the user was not an active member.
    async fn remove_channel_member(
        &self,
        channel: ChannelId,
        user: UserId,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// The channel, its workspace, and `user`'s memberships of both (active
    /// or not), read together.
    async fn channel_context(
        &self,
        channel: ChannelId,
        user: UserId,
    ) -> Result<Option<ChannelContext>>;
    /// The membership, active or not.
    async fn get_channel_member(
        &self,
        channel: ChannelId,
        user: UserId,
    ) -> Result<Option<ChannelMember>>;
    /// Active members ordered by user id, after the `after` cursor.
    async fn list_channel_members(
        &self,
        channel: ChannelId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Page<ChannelMember, UserId>>;
    async fn update_channel_member(
        &self,
        channel: ChannelId,
        user: UserId,
        update: &ChannelMemberUpdate,
    ) -> Result<ChannelMember>;
    /// Unread and mention counts of `user` for the active memberships in
    /// `workspace`, or only for `channel`.
    async fn read_states(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        channel: Option<ChannelId>,
    ) -> Result<Vec<ReadState>>;
    /// Move the read marker forward to `message`. It never moves back: false
    /// (and no change) if the marker is already at or past `message`.
    async fn mark_read(
        &self,
        channel: ChannelId,
        user: UserId,
        message: MessageId,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// Every channel of `workspace` (conversations and archived ones too)
    /// with its `retention_policy`.
    async fn retention_policies(
        &self,
        workspace: WorkspaceId,
    ) -> Result<Vec<(ChannelId, Option<serde_json::Value>)>>;
}

/// Messages, threads, reactions, edits and pins.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Insert a message. With a `client_msg_id` already used by the same user
    /// in the same channel, return the original message instead (`created`
    /// false). A reply increments its parent's `reply_count` in the same
    /// transaction; the parent must be a live top-level message of the same
    /// channel, else NotFound on `thread_id`.
    async fn insert_message(&self, message: &NewMessage) -> Result<Inserted>;
    /// The message `user` already posted in `channel` with this
    /// `client_msg_id`, if any (a retry answered without a new insert).
    async fn find_client_message(
        &self,
        channel: ChannelId,
        user: UserId,
        client_msg_id: &str,
    ) -> Result<Option<Message>>;
    /// A message, deleted or not (deleted ones have empty content), without
    /// its edit history (`edit_count` says how long it is).
    async fn get_message(&self, id: MessageId) -> Result<Option<Message>>;
    /// The message of `channel` whose stamp is `ts` (microseconds).
    async fn message_by_ts(&self, channel: ChannelId, ts: i64) -> Result<Option<Message>>;
    /// Several messages at once (without edit history), in no particular
    /// order; unknown ids are skipped.
    async fn get_messages(&self, ids: &[MessageId]) -> Result<Vec<Message>>;
    /// Every message (deleted ones too) in id order (which is time order),
    /// after `after`: the whole table in keyset pages, for rebuilding a
    /// search index.
    async fn scan_messages(&self, after: Option<MessageId>, limit: u32) -> Result<Vec<Message>>;
    /// How many messages there are (deleted ones too).
    async fn count_messages(&self) -> Result<u64>;
    /// A message with its edit history.
    async fn get_message_with_history(&self, id: MessageId) -> Result<Option<Message>>;
    /// A page of top-level, undeleted messages, newest first.
    async fn history(
        &self,
        channel: ChannelId,
        range: HistoryRange,
        limit: u32,
    ) -> Result<Vec<Message>>;
    /// The newest top-level, undeleted messages of a channel with each
    /// author's display name and avatar, in one query (the hot path of
    /// opening a channel).
    async fn latest_with_authors(
        &self,
        channel: ChannelId,
        limit: u32,
    ) -> Result<Vec<(Message, Author)>>;
    /// Undeleted replies of a thread, oldest first, after the `after` cursor.
    async fn thread_replies(
        &self,
        parent: MessageId,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<Message>>;
    /// Who replied in a thread (undeleted replies), in the order of their
    /// first reply, at most [`MAX_THREAD_REPLIERS`]; and the stamp of the
    /// latest reply.
    async fn thread_summary(&self, parent: MessageId) -> Result<ThreadSummary>;
    /// Replace the content, appending the previous version to `edit_history`.
    /// NotFound for a deleted message.
    /// `mentions` replace the message's mentions (as for [`NewMessage`]).
    async fn edit_message(
        &self,
        id: MessageId,
        content: &str,
        formatted_content: Option<&serde_json::Value>,
        mentions: &[String],
        at: DateTime<Utc>,
    ) -> Result<Message>;
    /// Soft-delete: clear the content and history, keep the row. Decrements
    /// the parent's `reply_count` for a reply. Deleting twice changes nothing.
    async fn delete_message(&self, id: MessageId, at: DateTime<Utc>) -> Result<Changed>;
    /// One reaction per user per emoji; atomic under concurrency.
    async fn add_reaction(&self, id: MessageId, user: UserId, emoji: &str) -> Result<Changed>;
    async fn remove_reaction(&self, id: MessageId, user: UserId, emoji: &str) -> Result<Changed>;
    /// The messages `user` reacted to in `workspace`, in the channels
    /// `viewer` is an active member of, by `user`'s latest reaction on each,
    /// newest first, after `before` (the last of the page before).
    async fn reacted_by(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        viewer: UserId,
        before: Option<Reacted>,
        limit: u32,
    ) -> Result<Vec<Reacted>>;
    /// Pin the message as `pinned_by`, or unpin it with `None`.
    async fn set_pinned(
        &self,
        id: MessageId,
        pinned_by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> Result<Changed>;
    /// Pinned, undeleted messages of a channel, most recently pinned first.
    async fn list_pinned(&self, channel: ChannelId) -> Result<Vec<Message>>;
    /// Messages of `channels`, replies included, whose row changed after
    /// `since` (posted, edited, deleted, reacted to, pinned, replied to),
    /// oldest change first. What a reconnecting socket missed.
    async fn changed_since(
        &self,
        channels: &[ChannelId],
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Message>>;
    /// Up to `limit` threads of `channel` whose parent and latest reply are
    /// older than `before`, oldest first: their parents' ids (see
    /// [`crate::retention`]).
    async fn archivable_threads(
        &self,
        channel: ChannelId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<MessageId>>;
    /// How many threads of `channel` are older than `before` in all, and how
    /// many messages they hold.
    async fn count_archivable(
        &self,
        channel: ChannelId,
        before: DateTime<Utc>,
    ) -> Result<(u64, u64)>;
    /// Move the threads of `parents` (every reply with its parent) into the
    /// archive, in one transaction; how many messages moved. Threads
    /// already moved are skipped.
    async fn archive_threads(&self, parents: &[MessageId], at: DateTime<Utc>) -> Result<u64>;
    /// A page of the archive of `channel`, newest first, continuing before
    /// `before` (the time and id of the last message of the previous page).
    async fn archived_messages(
        &self,
        channel: ChannelId,
        before: Option<(DateTime<Utc>, MessageId)>,
        limit: u32,
    ) -> Result<Vec<Message>>;
}

/// File records and their links to messages.
#[async_trait]
pub trait FileStore: Send + Sync {
    /// Note that bytes are being uploaded under `key`: unless a file takes
    /// them ([`FileStore::create_file`]) before `expires`, they are due for
    /// removal ([`FileStore::due_blob_cleanups`]).
    async fn begin_upload(&self, key: &str, expires: DateTime<Utc>) -> Result<()>;
    /// Record a file whose bytes were uploaded under `file.storage_key`, in
    /// one transaction: when the workspace holds the same bytes already,
    /// the file uses them (one more reference) and the upload is due for
    /// removal; otherwise the upload becomes the stored copy. `TooLarge` on
    /// `quota` when the uploader's live files would pass `quota_bytes`;
    /// `NotFound("upload")` when the upload was not begun or has been
    /// swept. Either way nothing is recorded.
    async fn create_file(&self, file: &NewFile) -> Result<File>;
    /// A file, deleted or not.
    async fn get_file(&self, id: FileId) -> Result<Option<File>>;
    async fn update_file_processing(
        &self,
        id: FileId,
        update: &FileProcessingUpdate,
    ) -> Result<File>;
    /// Soft-delete a file and revoke its public link, releasing its
    /// reference to its bytes (due for removal with the last one) and
    /// making `derived` keys (its thumbnails) due for removal, in one
    /// transaction. True when this call deleted it; deleting twice changes
    /// nothing.
    async fn delete_file(&self, id: FileId, at: DateTime<Utc>, derived: &[String]) -> Result<bool>;
    /// Claim up to `limit` files to process (thumbnails, text), oldest
    /// first: pending ones and those whose processing began before `stale`.
    /// Each is marked `processing` as of `now`.
    async fn claim_files_to_process(
        &self,
        now: DateTime<Utc>,
        stale: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<File>>;
    /// Attach a file to a message; both must exist and the file must not
    /// be deleted. Attaching twice changes nothing.
    async fn attach_file(
        &self,
        message: MessageId,
        file: FileId,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<MessageFile>;
    /// Files attached to a message, in attachment order.
    async fn files_for_message(&self, message: MessageId) -> Result<Vec<(MessageFile, File)>>;
    /// Live files attached to any of `messages`, in attachment order.
    async fn files_for_messages(&self, messages: &[MessageId]) -> Result<Vec<(MessageFile, File)>>;
    /// The channels a file is shared in: those of its undeleted messages.
    async fn file_channels(&self, id: FileId) -> Result<Vec<ChannelId>>;
    /// Files of `ids` (deleted ones too), each with the channels it is
    /// shared in: what the search index holds of them.
    async fn files_for_search(&self, ids: &[FileId]) -> Result<Vec<(File, Vec<ChannelId>)>>;
    /// Up to `limit` files (deleted ones too) in id order, after `after`,
    /// each with its channels: a rebuild of the search index reads them.
    async fn scan_files(
        &self,
        after: Option<FileId>,
        limit: u32,
    ) -> Result<Vec<(File, Vec<ChannelId>)>>;
    /// Live files in all.
    async fn count_files(&self) -> Result<u64>;
    /// Live files, newest first, as the filter says.
    async fn list_files(&self, filter: &FileFilter) -> Result<Vec<File>>;
    /// Bytes of the live files `user` uploaded to `workspace`.
    async fn used_bytes(&self, workspace: WorkspaceId, user: UserId) -> Result<i64>;
    /// Give a live file a public link (the hash of its token, and when it
    /// stops working), or take it away with `None`. False for a file that
    /// is missing or deleted.
    async fn set_share_link(
        &self,
        id: FileId,
        token_hash: Option<&str>,
        expires: Option<DateTime<Utc>>,
    ) -> Result<bool>;
    /// The live file whose public link has this token hash, unless the
    /// link expired by `now`.
    async fn find_shared_file(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<File>>;
    /// Live files whose `expires_at` has passed by `now`.
    async fn expired_files(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<FileId>>;
    /// Add counted downloads and move `last_accessed_at` forward.
    async fn record_downloads(&self, downloads: &[FileDownloads]) -> Result<()>;
    /// Blob keys whose bytes are due for removal at `now`: released by
    /// their last file, or uploads never completed.
    async fn due_blob_cleanups(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<String>>;
    /// Forget a key whose bytes were removed.
    async fn finish_blob_cleanup(&self, key: &str) -> Result<()>;
    /// Up to `limit` live files above tier `to` unread since before
    /// `before`, whose bytes no live file has read since, least recently
    /// used first (several files may name the same bytes).
    async fn files_to_tier(
        &self,
        to: StorageClass,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TierCandidate>>;
    /// Record that the bytes under `key` are in `class`, on every file
    /// using them.
    async fn set_storage_class(&self, key: &str, class: StorageClass) -> Result<()>;
}

/// Installed integrations.
#[async_trait]
pub trait IntegrationStore: Send + Sync {
    async fn create_integration(&self, integration: &NewIntegration) -> Result<Integration>;
    async fn get_integration(&self, id: IntegrationId) -> Result<Option<Integration>>;
    async fn list_integrations(&self, workspace: WorkspaceId) -> Result<Vec<Integration>>;
    async fn set_integration_status(
        &self,
        id: IntegrationId,
        status: &str,
        last_error: Option<&str>,
    ) -> Result<Integration>;
    async fn touch_integration(&self, id: IntegrationId, at: DateTime<Utc>) -> Result<()>;
    /// Install a bot: its user (`is_bot`), its workspace membership, its
    /// integration and its token, in one transaction.
    async fn create_bot(&self, bot: &NewBot) -> Result<(User, Integration)>;
    async fn create_api_token(&self, token: &NewApiToken) -> Result<ApiToken>;
    async fn get_api_token(&self, id: IntegrationId) -> Result<Option<ApiToken>>;
    /// The token whose text hashes to `hash`, with the user it acts as.
    async fn token_with_user(&self, hash: &str) -> Result<Option<(ApiToken, User)>>;
    /// A person's own tokens (`xoxp-`) in a workspace, newest first.
    async fn user_api_tokens(&self, user: UserId, workspace: WorkspaceId) -> Result<Vec<ApiToken>>;
    /// Revoke a token (`id`), or every token of an integration
    /// (`integration`); how many were live.
    async fn revoke_api_tokens(
        &self,
        id: Option<IntegrationId>,
        integration: Option<IntegrationId>,
        at: DateTime<Utc>,
    ) -> Result<u64>;
    /// Record a use of a token (and of its integration).
    async fn touch_api_token(&self, token: &ApiToken, at: DateTime<Utc>) -> Result<()>;
    /// Replace an integration's configuration, status and last error.
    async fn update_integration(
        &self,
        id: IntegrationId,
        config: &serde_json::Value,
        status: &str,
        last_error: Option<&str>,
    ) -> Result<Integration>;
    /// Queue events for bots.
    async fn enqueue_deliveries(&self, deliveries: &[NewEventDelivery]) -> Result<()>;
    /// Claim up to `limit` pending deliveries due at `now`, oldest first,
    /// until `lease_until`: no other node takes them meanwhile.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EventDelivery>>;
    /// Record the outcome of an attempt (and end the claim).
    async fn finish_delivery(&self, id: IntegrationId, update: &DeliveryUpdate) -> Result<()>;
    /// The latest deliveries of an integration, newest first.
    async fn recent_deliveries(
        &self,
        integration: IntegrationId,
        limit: u32,
    ) -> Result<Vec<EventDelivery>>;
}

/// Sends an event to a URL outside: the Events API's deliveries, URL
/// verification, slash commands. Refuses addresses it may not reach.
#[async_trait]
pub trait OutboundHttp: Send + Sync {
    /// POST `body` with `headers` to `url`, waiting at most `timeout`.
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        timeout: std::time::Duration,
    ) -> Outbound;
}

/// What became of an outbound request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outbound {
    /// The receiver answered with this status and (the start of) this body.
    Answered { status: u16, body: String },
    /// No answer within the time allowed.
    TimedOut,
    /// The address may not be reached (loopback, private, link-local,
    /// metadata …, unless allowed), or the URL is not http(s).
    Refused(String),
    /// The connection failed.
    Failed(String),
}

/// Durable security state: sessions, pending MFA logins, used TOTP steps and
/// failure counters. The database is the source of truth for all of it.
#[async_trait]
pub trait AuthStore: Send + Sync {
    async fn create_session(&self, session: &Session) -> Result<()>;
    /// The session, live or not.
    async fn get_session(&self, id: &str) -> Result<Option<Session>>;
    /// The session, live or not, with its user, read together.
    async fn get_session_with_user(&self, id: &str) -> Result<Option<(Session, User)>>;
    /// Record activity and slide the expiry, if the session is still live at
    /// `at`. False if it is revoked or expired.
    async fn touch_session(
        &self,
        id: &str,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        workspace: Option<WorkspaceId>,
    ) -> Result<bool>;
    /// Revoke one session. False if it was not live.
    async fn revoke_session(&self, id: &str, at: DateTime<Utc>) -> Result<bool>;
    /// Revoke every live session of `user` but `keep`; how many were revoked.
    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<u64>;
    /// Live sessions of `user`, newest first.
    async fn list_user_sessions(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<Session>>;
    async fn create_login_challenge(&self, challenge: &LoginChallenge) -> Result<()>;
    async fn get_login_challenge(&self, id: &str) -> Result<Option<LoginChallenge>>;
    async fn delete_login_challenge(&self, id: &str) -> Result<()>;
    /// Delete every pending login challenge of `user`.
    async fn delete_user_challenges(&self, user: UserId) -> Result<()>;
    /// Mark a TOTP time step as used by `user`. False if it was used before,
    /// so each code is accepted once.
    async fn use_totp_step(&self, user: UserId, step: i64, at: DateTime<Utc>) -> Result<bool>;
    /// Take one attempt for `subject` before it is evaluated, in one
    /// conditional update: refused (`None`) while `subject` is locked;
    /// otherwise counted, and when the count reaches `rules.max_attempts`
    /// the subject is locked until `rules.lock_until`. A count whose window
    /// started before `rules.window_start`, or whose lock has lapsed,
    /// restarts at one. Parallel attempts can therefore never evaluate more
    /// than `max_attempts` codes. Returns the new count.
    async fn take_attempt(
        &self,
        subject: &str,
        rules: &AttemptRules,
    ) -> Result<Option<FailureCount>>;
    async fn get_failures(&self, subject: &str) -> Result<Option<FailureCount>>;
    async fn clear_failures(&self, subject: &str) -> Result<()>;
    /// Delete sessions, challenges and single-use tokens that expired
    /// before `before`.
    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// Counters for rate limits, in fixed windows (the `rate_limit:` and
/// `message_rate:` keys). Ephemeral: losing them only forgets recent hits.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Count one hit on `key` in the current fixed window of `window`
    /// (windows are aligned to the Unix epoch) and return the hits counted in
    /// that window so far, this one included, and the time left in it.
    async fn hit(
        &self,
        key: &str,
        window: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<(u64, std::time::Duration)>;
}

/// The fixed window of `window` that contains `now`: its number and the time
/// left in it.
pub fn fixed_window(window: std::time::Duration, now: DateTime<Utc>) -> (i64, std::time::Duration) {
    let size = window.as_millis().max(1) as i64;
    let ms = now.timestamp_millis();
    let index = ms.div_euclid(size);
    let left = (index + 1) * size - ms;
    (index, std::time::Duration::from_millis(left as u64))
}

/// What a maintenance run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Partitions created (PostgreSQL only).
    pub partitions_created: Vec<String>,
}

/// Operations on the database as a whole.
#[async_trait]
pub trait StoreAdmin: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Check that the database answers.
    async fn ping(&self) -> Result<()>;
    /// Apply pending migrations.
    async fn migrate(&self) -> Result<()>;
    /// Periodic upkeep: create partitions ahead of time, move rows out of the
    /// default partition. Safe to run concurrently from several nodes.
    async fn maintain(&self, now: DateTime<Utc>) -> Result<MaintenanceReport>;
    /// Take the run of the periodic `job` unless one started at or after
    /// `since` (on any node): whether this caller runs it.
    async fn claim_job_run(
        &self,
        job: &str,
        since: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// How many connections are open and how many of those are idle.
    fn pool_usage(&self) -> PoolUsage;
    /// Release connections.
    async fn close(&self);
}

/// The connections of a store's pools together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections open now.
    pub open: u32,
    /// Of those, the ones not in use.
    pub idle: u32,
    /// The most the pools may open.
    pub max: u32,
}

/// What the search index must look at again: an entity changed (written in
/// the transaction of the change, so no change is ever missed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchWork {
    /// Order of the entries; names one for [`SearchQueue::finish_search_work`].
    pub seq: i64,
    pub kind: SearchKind,
    pub entity_id: uuid::Uuid,
}

crate::model::text_enum!(
    /// The kind of entity a [`SearchWork`] entry names.
    SearchKind {
        Message = "message",
        File = "file",
        User = "user",
    }
);

/// The search outbox: entries written with each change of a searchable
/// entity, drained by the indexer.
#[async_trait]
pub trait SearchQueue: Send + Sync {
    /// Take up to `limit` entries, oldest first, that no other indexer holds
    /// (none, or its hold ended before `now`), holding them until
    /// `hold_until`. Entries of the same entity may come together.
    async fn claim_search_work(
        &self,
        limit: u32,
        now: DateTime<Utc>,
        hold_until: DateTime<Utc>,
    ) -> Result<Vec<SearchWork>>;
    /// Remove entries the index has taken in.
    async fn finish_search_work(&self, seqs: &[i64]) -> Result<()>;
    /// How many entries wait.
    async fn search_backlog(&self) -> Result<u64>;
}

/// A search engine holding messages, files and people.
#[async_trait]
pub trait SearchIndex: Send + Sync {
    /// `tantivy`, `postgres` or `elasticsearch`.
    fn backend(&self) -> &'static str;
    /// Put `upserts` in (replacing documents of the same id) and take
    /// `deletes` out; durable when it returns. Idempotent.
    async fn index_messages(
        &self,
        upserts: &[crate::search::MessageDocument],
        deletes: &[MessageId],
    ) -> Result<()>;
    /// One page of messages matching `search`, best or newest first.
    async fn search_messages(
        &self,
        search: &crate::search::MessageSearch,
    ) -> Result<crate::search::MessageHits>;
    /// As [`SearchIndex::index_messages`], for files.
    async fn index_files(
        &self,
        upserts: &[crate::search::FileDocument],
        deletes: &[FileId],
    ) -> Result<()>;
    /// One page of files matching `search`, best or newest first.
    async fn search_files(
        &self,
        search: &crate::search::FileSearch,
    ) -> Result<crate::search::FileHits>;
    /// Replace every document of `users` by `documents` (theirs: one per
    /// active membership). Idempotent.
    async fn index_people(
        &self,
        users: &[UserId],
        documents: &[crate::search::PersonDocument],
    ) -> Result<()>;
    /// People matching `search`, by display name (lowercased), at most its
    /// limit.
    async fn search_people(&self, search: &crate::search::PeopleSearch) -> Result<Vec<UserId>>;
}

/// Every store a backend provides.
pub trait Backend:
    UserStore
    + WorkspaceStore
    + ChannelStore
    + MessageStore
    + FileStore
    + IntegrationStore
    + AuthStore
    + SearchQueue
    + StoreAdmin
    + 'static
{
}

impl<T> Backend for T where
    T: UserStore
        + WorkspaceStore
        + ChannelStore
        + MessageStore
        + FileStore
        + IntegrationStore
        + AuthStore
        + SearchQueue
        + StoreAdmin
        + 'static
{
}

/// The stores of one backend, as trait objects.
#[derive(Clone)]
pub struct Stores {
    pub users: Arc<dyn UserStore>,
    pub workspaces: Arc<dyn WorkspaceStore>,
    pub channels: Arc<dyn ChannelStore>,
    pub messages: Arc<dyn MessageStore>,
    pub files: Arc<dyn FileStore>,
    pub integrations: Arc<dyn IntegrationStore>,
    pub auth: Arc<dyn AuthStore>,
    pub search_queue: Arc<dyn SearchQueue>,
    pub admin: Arc<dyn StoreAdmin>,
}

/// The real-time ports: the bus between nodes and the ephemeral state.
#[derive(Clone)]
pub struct Realtime {
    pub bus: Arc<dyn EventBus>,
    pub state: Arc<dyn EphemeralState>,
    /// Counts rate limits on this node alone while `state` is unreachable,
    /// so limits hold (per node) instead of failing every request.
    pub fallback_limiter: Arc<dyn RateLimiter>,
}

impl Stores {
    /// Wrap one backend that implements every store.
    pub fn new<B: Backend>(backend: Arc<B>) -> Self {
        Self {
            users: backend.clone(),
            workspaces: backend.clone(),
            channels: backend.clone(),
            messages: backend.clone(),
            files: backend.clone(),
            integrations: backend.clone(),
            auth: backend.clone(),
            search_queue: backend.clone(),
            admin: backend,
        }
    }
}

/// What a node's bus subscription yields.
#[derive(Clone, Debug, PartialEq)]
pub enum BusItem {
    /// An event published by some node (this one included).
    Event(Box<Envelope>),
    /// Events may have been lost: subscribers should catch up from the
    /// database. `since` is `None` when this node's own subscription
    /// dropped (catch up from what each socket saw last), or the cursor of
    /// the first event some node could not publish (catch up from there,
    /// if that is earlier).
    Gap { since: Option<i64> },
}

/// The stream of one node's bus subscription.
pub type BusStream = std::pin::Pin<Box<dyn futures_core::Stream<Item = BusItem> + Send>>;

/// Carries events between nodes. Events are published only after the
/// database commit of the change they describe.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Deliver `envelope` to the subscription of every node.
    async fn publish(&self, envelope: &Envelope) -> Result<()>;
    /// This node's subscription: every envelope published from now on. A node
    /// subscribes once and fans out to its sockets itself.
    fn subscribe(&self) -> BusStream;
    /// `memory` or `redis`.
    fn backend(&self) -> &'static str;
}

/// Ephemeral state shared by the nodes: the cache and real-time keys of the
/// data model. Everything here can be lost, or rebuilt from the database;
/// callers treat errors as a miss and carry on.
#[async_trait]
pub trait EphemeralState: RateLimiter {
    /// `memory` or `redis`.
    fn backend(&self) -> &'static str;
    /// Whether the state backend answers.
    async fn ping(&self) -> Result<()>;

    /// Mirror a session under `session:{id}` for [`crate::realtime::ttl::SESSION`].
    async fn put_session(&self, id: &str, session: &SessionSnapshot) -> Result<()>;
    async fn get_session(&self, id: &str) -> Result<Option<SessionSnapshot>>;
    async fn remove_sessions(&self, ids: &[String]) -> Result<()>;

    /// Store a user's presence in a workspace for [`crate::realtime::ttl::PRESENCE`].
    async fn set_presence(
        &self,
        user: UserId,
        workspace: WorkspaceId,
        presence: &Presence,
    ) -> Result<()>;
    /// The presence of each of `users` (in order); `None` where none is stored.
    async fn get_presence(
        &self,
        workspace: WorkspaceId,
        users: &[UserId],
    ) -> Result<Vec<Option<Presence>>>;

    /// Register an open socket for [`crate::realtime::ttl::CONNECTION`] (also
    /// refreshes it).
    async fn put_connection(&self, id: &str, info: &ConnectionInfo) -> Result<()>;
    async fn get_connection(&self, id: &str) -> Result<Option<ConnectionInfo>>;
    /// Forget a socket of `user` held by `node`; returns how many sockets
    /// `user` still has open.
    async fn remove_connection(&self, id: &str, user: UserId, node: &str) -> Result<usize>;
    /// How many sockets `user` has open, on every node.
    async fn count_connections(&self, user: UserId) -> Result<usize>;
    /// Mark `node` alive for `ttl`; a node that stops renewing is dead.
    async fn renew_node(&self, node: &str, ttl: std::time::Duration) -> Result<()>;
    /// Forget the sockets of every node that stopped renewing. Each dead
    /// node is reaped by one caller only, which gets the users of its
    /// sockets that have no socket left anywhere.
    async fn reap_dead_nodes(&self) -> Result<Vec<UserId>>;

    async fn get_channel_members(
        &self,
        channel: ChannelId,
    ) -> Result<Option<ChannelMembersSnapshot>>;
    /// Claim the right to fill a missing `channel_members:{channel}`.
    async fn claim_channel_members_fill(&self, channel: ChannelId) -> Result<FillToken>;
    /// Cache a member list read from the database for
    /// [`crate::realtime::ttl::CHANNEL_MEMBERS`], unless it was invalidated
    /// since `token` was claimed. Returns whether it was stored.
    async fn fill_channel_members(
        &self,
        channel: ChannelId,
        token: &FillToken,
        members: &ChannelMembersSnapshot,
    ) -> Result<bool>;
    /// Drop the cached list and spoil any pending fill.
    async fn forget_channel_members(&self, channel: ChannelId) -> Result<()>;

    /// Note that `user` is typing in `channel`, for [`crate::realtime::ttl::TYPING`].
    async fn set_typing(&self, channel: ChannelId, user: UserId) -> Result<()>;
    /// Which of `candidates` are typing in `channel` now.
    async fn typing(&self, channel: ChannelId, candidates: &[UserId]) -> Result<Vec<UserId>>;

    /// Up to `limit` newest top-level messages of `channel`, newest first, or
    /// `None` if the channel is not cached.
    async fn recent_messages(
        &self,
        channel: ChannelId,
        limit: usize,
    ) -> Result<Option<Vec<Message>>>;
    /// Claim the right to fill a missing `recent_messages:{channel}`.
    async fn claim_recent_fill(&self, channel: ChannelId) -> Result<FillToken>;
    /// Store the newest messages read from the database (newest first), unless
    /// a message was posted or the list invalidated since `token` was claimed.
    /// Returns whether the list was stored.
    async fn fill_recent_messages(
        &self,
        channel: ChannelId,
        token: &FillToken,
        newest_first: &[Message],
    ) -> Result<bool>;
    /// Add a new top-level message to the list if the list is cached,
    /// otherwise spoil any pending fill. The list stays in id order, newest
    /// first, whatever order posts finish in: the message goes to its place
    /// (LPUSH when it is the newest, as it nearly always is), is skipped when
    /// a fill already holds it, and the oldest beyond the cap are dropped, so
    /// the list is always the channel's newest messages.
    async fn push_recent_message(&self, message: &Message) -> Result<()>;
    /// Drop the list and spoil any pending fill (after an edit, a delete, a
    /// reaction, a pin or a new reply count).
    async fn forget_recent_messages(&self, channel: ChannelId) -> Result<()>;

    /// The cached unread state of every channel of `user` in `workspace`, or
    /// `None` if it is not cached.
    async fn unread_counts(
        &self,
        user: UserId,
        workspace: WorkspaceId,
    ) -> Result<Option<Vec<ReadState>>>;
    /// Claim the right to fill a missing `unread_counts:{user}:{workspace}`.
    async fn claim_unread_fill(&self, user: UserId, workspace: WorkspaceId) -> Result<FillToken>;
    /// Store unread state rebuilt from the database, unless it changed since
    /// `token` was claimed. Returns whether it was stored.
    async fn fill_unread_counts(
        &self,
        user: UserId,
        workspace: WorkspaceId,
        token: &FillToken,
        states: &[ReadState],
    ) -> Result<bool>;
    /// Add `(unread, mentions)` to `channel` for each user whose counts are
    /// cached; spoil pending fills of the others.
    async fn add_unread(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        deltas: &[(UserId, i64, i64)],
    ) -> Result<()>;
    /// Drop the cached counts of `users` and spoil their pending fills.
    async fn forget_unread_counts(&self, workspace: WorkspaceId, users: &[UserId]) -> Result<()>;
}

/// One e-mail to send: plain text to one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Sends mail out: to an SMTP server, or into a directory on the embedded
/// shape.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Hand `mail` over; an error means it was not.
    async fn send(&self, mail: &Mail) -> Result<()>;
    /// `directory` or `smtp`.
    fn backend(&self) -> &'static str;
}
