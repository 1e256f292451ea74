//! Real time: events published after each committed change, the caches that
//! sit in front of the database, presence and typing, and what a socket may
//! subscribe to and catch up on.
//!
//! The ephemeral state is never the only copy of anything: every cache read
//! falls back to the database, and a failing cache or bus is logged and
//! skipped, so requests keep working while Redis is away.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use confab_core::id::*;
use confab_core::model::*;
use confab_core::realtime::*;
use confab_core::{time, Error, Result};

use crate::accounts::Caller;
use crate::{validate, HistoryPage, Services};

/// Typing signals one user may send per minute (clients send one every few
/// seconds while typing); more are refused rather than fanned out.
pub const MAX_TYPING_SIGNALS_PER_MINUTE: u64 = 120;
/// Presence changes one user may make per minute; each is sent to every
/// member of the workspace.
pub const MAX_PRESENCE_CHANGES_PER_MINUTE: u64 = 30;
/// Longest custom status, in characters.
pub const MAX_CUSTOM_STATUS_CHARS: usize = 100;
/// Most changes replayed to a reconnecting socket; past this it is told to
/// reload instead.
pub const MAX_REPLAYED_CHANGES: u32 = 1_000;
/// Replays start this long before the client's cursor, because changes are
/// stamped a little before they commit (at most
/// [`COMMIT_WINDOW`](confab_core::time::COMMIT_WINDOW): stores refuse later
/// commits) and nodes' clocks differ a little (the rest of the overlap).
/// Clients deduplicate by message id and `updated_at`.
pub const REPLAY_OVERLAP: chrono::Duration = chrono::Duration::seconds(5);
const _: () = assert!(
    (confab_core::time::COMMIT_WINDOW.as_secs() as i64) < REPLAY_OVERLAP.num_seconds(),
    "a late commit must fall inside the replay overlap"
);
/// How often a node renews its liveness and looks for dead nodes; a third
/// of [`ttl::NODE`], so one late renewal does not make a node look dead.
pub const NODE_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// What one socket may receive: its workspaces (with the user's role there)
/// and the channels it is a member of.
#[derive(Clone, Debug, Default)]
pub struct Subscriptions {
    pub workspaces: HashMap<WorkspaceId, WorkspaceRole>,
    pub channels: HashSet<ChannelId>,
    /// For each workspace where the user is a guest, the people they share
    /// a channel with: the only presence they receive there.
    pub guest_peers: HashMap<WorkspaceId, HashSet<UserId>>,
    /// Workspaces the user belongs to but may not see until they enroll in
    /// MFA: their topic is heard only for `access_changed`.
    pub locked: HashSet<WorkspaceId>,
}

impl Subscriptions {
    /// Every topic of these subscriptions, the user's own included.
    pub fn topics(&self, user: UserId) -> Vec<Topic> {
        let mut topics = vec![Topic::User(user)];
        topics.extend(self.workspaces.keys().map(|w| Topic::Workspace(*w)));
        topics.extend(self.locked.iter().map(|w| Topic::Workspace(*w)));
        topics.extend(self.channels.iter().map(|c| Topic::Channel(*c)));
        topics
    }
}

/// Events a reconnecting socket missed, read from the database.
#[derive(Clone, Debug)]
pub struct Replay {
    pub envelopes: Vec<Envelope>,
    /// False when more changed than [`MAX_REPLAYED_CHANGES`]: the client
    /// should reload what it shows.
    pub complete: bool,
}

/// A change of presence asked for by the user.
#[derive(Clone, Debug, Default)]
pub struct PresenceUpdate {
    /// `online` or `away`; offline is what closing every socket means.
    pub status: Option<PresenceStatus>,
    /// `Some(None)` clears it.
    pub custom_status: Option<Option<String>>,
}

/// Carry on without a failed cache or bus call. The state backend reports
/// an outage itself, once; each skipped call is only a debug line.
/// A file as events carry it: without its extracted text, which can be
/// long and is for search only.
pub(crate) fn file_for_event(file: &File) -> File {
    File {
        extracted_text: None,
        ..file.clone()
    }
}

fn degrade<T>(result: Result<T>, what: &str) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(err) => {
            tracing::debug!(error = %err, "{what} skipped");
            None
        }
    }
}

impl Services {
    /// Count one hit on `key` in fixed windows of `window`, refused (with
    /// the time left in the window) once the count passes `limit`. Counted
    /// in the shared state or, while it is unreachable, on this node.
    pub(crate) async fn enforce_rate(
        &self,
        key: &str,
        window: std::time::Duration,
        limit: u64,
    ) -> Result<()> {
        let now = time::now();
        let (count, left) = match self.realtime.state.hit(key, window, now).await {
            Ok(hit) => hit,
            Err(err) => {
                tracing::debug!(error = %err, "shared rate limits unreachable; counting on this node");
                self.realtime.fallback_limiter.hit(key, window, now).await?
            }
        };
        if count > limit {
            return Err(Error::RateLimited { retry_after: left });
        }
        Ok(())
    }

    /// Publish an event on `topic`. Called after the commit; a failure only
    /// costs real time (sockets catch up from the database).
    pub(crate) async fn publish(&self, topic: Topic, at: DateTime<Utc>, event: Event) {
        let envelope = Envelope::new(topic, at, event);
        degrade(
            self.realtime.bus.publish(&envelope).await,
            "publishing an event",
        );
        // Bots hear of a channel's events once, from the channel's topic
        // (or the workspace's, for a new channel).
        let for_bots = matches!(
            (&envelope.topic, &envelope.event),
            (Topic::Channel(_), _) | (Topic::Workspace(_), Event::ChannelCreated { .. })
        );
        if for_bots {
            self.queue_bot_events(&envelope.event).await;
        }
    }

    /// Tell each channel a file was shared into, and its uploader, of a
    /// change to the file: `event` is given the channel (none for the
    /// uploader's own topic).
    pub(crate) async fn announce_file(
        &self,
        file: &File,
        event: impl Fn(Option<ChannelId>) -> Event,
    ) {
        let channels = degrade(
            self.stores.files.file_channels(file.id).await,
            "file channels",
        );
        let at = time::now();
        for channel in channels.unwrap_or_default() {
            self.publish(Topic::Channel(channel), at, event(Some(channel)))
                .await;
        }
        self.publish(Topic::User(file.uploader_id), at, event(None))
            .await;
    }

    /// Tell a channel the files a message of it shares.
    pub(crate) async fn announce_shared(&self, channel: ChannelId, files: &[(MessageFile, File)]) {
        for (link, file) in files {
            let event = Event::FileShared {
                channel_id: channel,
                message_id: link.message_id,
                file: file_for_event(file),
            };
            self.publish(Topic::Channel(channel), link.attached_at, event)
                .await;
        }
    }

    /// The active members of a channel, read from the database.
    async fn stored_member_ids(&self, channel: ChannelId) -> Result<Vec<UserId>> {
        let mut members = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .stores
                .channels
                .list_channel_members(channel, after, 1_000)
                .await?;
            members.extend(page.items.iter().map(|m| m.user_id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(members)
    }

    /// The active members of a channel, from `channel_members:` or, on a miss,
    /// from the database (and then cached).
    pub(crate) async fn channel_member_ids(&self, channel: ChannelId) -> Result<Vec<UserId>> {
        let state = &self.realtime.state;
        if let Some(Some(cached)) =
            degrade(state.get_channel_members(channel).await, "member cache")
        {
            return Ok(cached.members);
        }
        let token = degrade(
            state.claim_channel_members_fill(channel).await,
            "member cache",
        );
        let members = self.stored_member_ids(channel).await?;
        let snapshot = ChannelMembersSnapshot {
            member_count: members.len(),
            members: members.clone(),
            last_updated: time::now(),
        };
        if let Some(token) = token {
            degrade(
                state.fill_channel_members(channel, &token, &snapshot).await,
                "member cache",
            );
        }
        Ok(members)
    }

    /// After a message was posted: the recent list, unread counts of the
    /// other members, and the event.
    pub(crate) async fn after_post(&self, inserted: &Inserted, mentions: &[String]) {
        self.changed_for_search();
        let state = &self.realtime.state;
        let message = &inserted.message;
        let event = match message.thread_id {
            None => {
                degrade(state.push_recent_message(message).await, "recent messages");
                Event::MessageCreated {
                    message: message.clone(),
                }
            }
            Some(parent_id) => {
                // The parent's reply count changed.
                degrade(
                    state.forget_recent_messages(message.channel_id).await,
                    "recent messages",
                );
                Event::ThreadReply {
                    message: message.clone(),
                    parent_id,
                    reply_count: inserted.parent_reply_count.unwrap_or_default(),
                }
            }
        };
        self.count_unread(message, mentions).await;
        self.publish(
            Topic::Channel(message.channel_id),
            message.updated_at,
            event,
        )
        .await;
    }

    /// Add a new message to the cached unread counts of the channel's other
    /// members: top-level messages count as unread, mentions as mentions.
    async fn count_unread(&self, message: &Message, mentions: &[String]) {
        let Some(members) = degrade(
            self.channel_member_ids(message.channel_id).await,
            "unread counts",
        ) else {
            return;
        };
        let everyone = mentions
            .iter()
            .any(|m| m == MENTION_CHANNEL || m == MENTION_HERE);
        let unread =
            i64::from(message.in_channel_history() && message.message_type != MessageType::System);
        let deltas: Vec<(UserId, i64, i64)> = members
            .into_iter()
            .filter(|u| *u != message.user_id)
            .map(|u| {
                let mentioned = everyone || mentions.iter().any(|m| *m == u.to_string());
                (u, unread, i64::from(mentioned))
            })
            .filter(|(_, unread, mentions)| *unread + *mentions > 0)
            .collect();
        degrade(
            self.realtime
                .state
                .add_unread(message.workspace_id, message.channel_id, &deltas)
                .await,
            "unread counts",
        );
    }

    /// After a message changed in place (edit, reaction, pin): drop the
    /// cached page and publish.
    pub(crate) async fn after_message_change(&self, message: &Message, event: Event) {
        self.changed_for_search();
        degrade(
            self.realtime
                .state
                .forget_recent_messages(message.channel_id)
                .await,
            "recent messages",
        );
        self.publish(
            Topic::Channel(message.channel_id),
            message.updated_at,
            event,
        )
        .await;
    }

    /// The counts of the channel's members are rebuilt (a delete or an edit
    /// of mentions may change them).
    async fn forget_members_unread(&self, message: &Message) {
        if let Some(members) = degrade(
            self.channel_member_ids(message.channel_id).await,
            "unread counts",
        ) {
            degrade(
                self.realtime
                    .state
                    .forget_unread_counts(message.workspace_id, &members)
                    .await,
                "unread counts",
            );
        }
    }

    /// After an edit: its mentions were parsed again.
    pub(crate) async fn after_edit(&self, message: &Message) {
        self.forget_members_unread(message).await;
        let event = Event::MessageEdited {
            message: message.clone(),
        };
        self.after_message_change(message, event).await;
    }

    /// After a delete.
    pub(crate) async fn after_delete(&self, message: &Message) {
        self.forget_members_unread(message).await;
        let event = Event::MessageDeleted {
            channel_id: message.channel_id,
            message_id: message.id,
            thread_id: message.thread_id,
        };
        self.after_message_change(message, event).await;
    }

    /// After `user` joined or left `channel`: the event first, to the channel
    /// and to the user's own sockets (which subscribe or unsubscribe, so a
    /// removal takes effect before anything slower), then the caches.
    pub(crate) async fn after_membership_change(
        &self,
        channel: &Channel,
        user: UserId,
        joined: bool,
    ) {
        let event = if joined {
            Event::MemberJoined {
                channel_id: channel.id,
                user_id: user,
            }
        } else {
            Event::MemberLeft {
                channel_id: channel.id,
                user_id: user,
            }
        };
        let now = time::now();
        self.publish(Topic::Channel(channel.id), now, event.clone())
            .await;
        self.publish(Topic::User(user), now, event).await;
        let notice = match joined {
            true => ChannelNotice::Joined,
            false => ChannelNotice::Left,
        };
        self.post_notice(channel, user, notice).await;
        let state = &self.realtime.state;
        degrade(
            state.forget_channel_members(channel.id).await,
            "member cache",
        );
        degrade(
            state
                .forget_unread_counts(channel.workspace_id, &[user])
                .await,
            "unread counts",
        );
    }

    /// Write what happened in a channel (a join, a new topic) as a message
    /// of `user`'s, in channels (not direct conversations). After the
    /// change it tells of committed: a failure costs the notice alone.
    pub(crate) async fn post_notice(&self, channel: &Channel, user: UserId, notice: ChannelNotice) {
        let in_a_channel = matches!(
            channel.channel_type,
            ChannelType::Public | ChannelType::Private
        );
        if !in_a_channel || channel.is_archived {
            return;
        }
        let new = NewMessage {
            id: MessageId::new(),
            workspace_id: channel.workspace_id,
            channel_id: channel.id,
            user_id: user,
            content: notice.text(),
            message_type: MessageType::System,
            formatted_content: Some(notice.formatted()),
            thread_id: None,
            broadcast: false,
            client_msg_id: None,
            mentions: Vec::new(),
        };
        match self.stores.messages.insert_message(&new).await {
            Ok(inserted) => self.after_post(&inserted, &[]).await,
            Err(err) => {
                tracing::warn!(error = %err, channel = %channel.id, "a channel notice was not written")
            }
        }
    }

    /// After a channel was created with `members`.
    pub(crate) async fn after_channel_created(&self, channel: &Channel, members: &[UserId]) {
        // The members' cached counts lack the new channel.
        degrade(
            self.realtime
                .state
                .forget_unread_counts(channel.workspace_id, members)
                .await,
            "unread counts",
        );
        let now = time::now();
        if channel.channel_type == ChannelType::Public {
            let event = Event::ChannelCreated {
                channel: channel.clone(),
            };
            self.publish(Topic::Workspace(channel.workspace_id), now, event)
                .await;
        }
        for user in members {
            let event = Event::MemberJoined {
                channel_id: channel.id,
                user_id: *user,
            };
            self.publish(Topic::User(*user), now, event).await;
        }
    }

    /// Revoke the session `only`, or every session of `user` but `except`;
    /// their mirrors go and their open sockets close. How many were revoked.
    pub(crate) async fn revoke_sessions(
        &self,
        user: UserId,
        only: Option<&str>,
        except: Option<&str>,
    ) -> Result<u64> {
        let now = time::now();
        let mirrors: Vec<String> = match only {
            Some(id) => vec![id.to_owned()],
            None => self
                .stores
                .auth
                .list_user_sessions(user, now)
                .await?
                .into_iter()
                .map(|s| s.id)
                .filter(|id| except != Some(id.as_str()))
                .collect(),
        };
        let revoked = match only {
            Some(id) => u64::from(self.stores.auth.revoke_session(id, now).await?),
            None => {
                self.stores
                    .auth
                    .revoke_user_sessions(user, except, now)
                    .await?
            }
        };
        degrade(
            self.realtime.state.remove_sessions(&mirrors).await,
            "session mirror",
        );
        let event = Event::SessionsRevoked {
            only: only.map(str::to_owned),
            except: except.map(str::to_owned),
        };
        self.publish(Topic::User(user), now, event).await;
        Ok(revoked)
    }

    /// After `user`'s membership of a workspace changed: their sockets
    /// re-read what they may see, then the caches are dropped.
    pub(crate) async fn after_access_changed(&self, workspace: WorkspaceId, user: UserId) {
        let event = Event::AccessChanged {
            workspace_id: workspace,
        };
        self.publish(Topic::User(user), time::now(), event).await;
        let state = &self.realtime.state;
        degrade(
            state.forget_unread_counts(workspace, &[user]).await,
            "unread counts",
        );
        // Joining a workspace joins its general channel in the store.
        let channels = self
            .stores
            .channels
            .list_channels_for_user(workspace, user)
            .await;
        if let Some(channels) = degrade(channels, "member cache") {
            for (channel, _) in channels {
                degrade(
                    state.forget_channel_members(channel.id).await,
                    "member cache",
                );
            }
        }
    }

    /// After a workspace began or stopped requiring 2FA: its members' open
    /// sockets re-read what they may see, so members without MFA lose or
    /// gain it at once.
    pub(crate) async fn after_2fa_rule_changed(&self, workspace: WorkspaceId) {
        let event = Event::AccessChanged {
            workspace_id: workspace,
        };
        self.publish(Topic::Workspace(workspace), time::now(), event)
            .await;
    }

    /// After `user` turned MFA on or off: their sockets re-read the
    /// workspaces that require it.
    pub(crate) async fn after_mfa_changed(&self, user: UserId) {
        let workspaces = degrade(
            self.stores.workspaces.list_workspaces_for_user(user).await,
            "access change",
        );
        let requiring = workspaces
            .into_iter()
            .flatten()
            .filter(|(workspace, member)| {
                workspace.require_2fa && member.status == MemberStatus::Active
            });
        for (workspace, _) in requiring {
            let event = Event::AccessChanged {
                workspace_id: workspace.id,
            };
            self.publish(Topic::User(user), time::now(), event).await;
        }
    }

    /// Mirror a session under `session:{id}`.
    pub(crate) async fn mirror_session(&self, session: &Session) {
        let snapshot = SessionSnapshot {
            user_id: session.user_id,
            workspace_id: session.workspace_id,
            device_type: session.device_type.clone(),
            ip_address: session.ip_address.clone(),
            user_agent: session.user_agent.clone(),
            created_at: session.created_at,
            last_activity: session.last_activity_at,
            permissions: session.permissions.clone(),
        };
        degrade(
            self.realtime
                .state
                .put_session(&session.id, &snapshot)
                .await,
            "session mirror",
        );
    }

    /// The newest page of a channel: from `recent_messages:` when it holds
    /// enough, otherwise from the database with the seed's one-query join
    /// (and then cached).
    pub(crate) async fn latest_page(&self, channel: ChannelId, limit: u32) -> Result<HistoryPage> {
        let state = &self.realtime.state;
        let wanted = limit as usize;
        if wanted <= RECENT_MESSAGES_KEPT {
            if let Some(Some(cached)) = degrade(
                state.recent_messages(channel, wanted).await,
                "recent messages",
            ) {
                // A list shorter than the cap is the channel's whole history.
                if cached.len() >= wanted || cached.len() < RECENT_MESSAGES_KEPT {
                    return self.with_authors(cached).await;
                }
            }
        }
        let token = degrade(state.claim_recent_fill(channel).await, "recent messages");
        let fill = limit.max(RECENT_MESSAGES_KEPT as u32);
        let (mut messages, mut authors): (Vec<Message>, Vec<Author>) = self
            .stores
            .messages
            .latest_with_authors(channel, fill)
            .await?
            .into_iter()
            .unzip();
        if let Some(token) = token {
            degrade(
                state.fill_recent_messages(channel, &token, &messages).await,
                "recent messages",
            );
        }
        messages.truncate(wanted);
        authors.truncate(wanted);
        authors.sort_by_key(|a| a.user_id);
        authors.dedup_by_key(|a| a.user_id);
        Ok(HistoryPage {
            messages,
            authors,
            files: Vec::new(),
        })
    }

    /// After the caller's read marker moved: their counts are rebuilt, and
    /// their other devices told.
    pub(crate) async fn after_read_marker(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        channel: ChannelId,
        message: MessageId,
    ) {
        degrade(
            self.realtime
                .state
                .forget_unread_counts(workspace, &[caller.user.id])
                .await,
            "unread counts",
        );
        let event = Event::ReadMarker {
            channel_id: channel,
            message_id: message,
        };
        self.publish(Topic::User(caller.user.id), time::now(), event)
            .await;
    }

    /// The caller's unread state in a workspace, from `unread_counts:` or,
    /// on a miss, rebuilt from the durable read markers.
    pub(crate) async fn unread_states(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
    ) -> Result<Vec<ReadState>> {
        let state = &self.realtime.state;
        let user = caller.user.id;
        if let Some(Some(cached)) =
            degrade(state.unread_counts(user, workspace).await, "unread counts")
        {
            return Ok(cached.into_iter().map(cap_unread).collect());
        }
        let token = degrade(
            state.claim_unread_fill(user, workspace).await,
            "unread counts",
        );
        let mut states = self
            .stores
            .channels
            .read_states(workspace, user, None)
            .await?;
        states.sort_by_key(|s| s.channel_id);
        if let Some(token) = token {
            degrade(
                state
                    .fill_unread_counts(user, workspace, &token, &states)
                    .await,
                "unread counts",
            );
        }
        Ok(states)
    }

    /// Note that the caller is typing in a channel they are a member of.
    pub async fn typing(&self, caller: &Caller, channel: ChannelId) -> Result<()> {
        // The limit first: refused signals cost no database read.
        self.limit_per_minute(caller, "typing", MAX_TYPING_SIGNALS_PER_MINUTE)
            .await?;
        let access = self.channel_access(caller, channel).await?;
        access.require_member()?;
        if access.channel.is_archived {
            return Err(Error::conflict("channel", "the channel is archived"));
        }
        // Typing is a hint: without the shared state it is simply not shown.
        degrade(
            self.realtime
                .state
                .set_typing(channel, caller.user.id)
                .await,
            "typing",
        );
        let event = Event::Typing {
            channel_id: channel,
            user_id: caller.user.id,
        };
        self.publish(Topic::Channel(channel), time::now(), event)
            .await;
        Ok(())
    }

    /// Who is typing in a channel the caller may read (the caller excluded).
    pub async fn who_is_typing(&self, caller: &Caller, channel: ChannelId) -> Result<Vec<UserId>> {
        self.channel_access(caller, channel).await?;
        let members: Vec<UserId> = self
            .channel_member_ids(channel)
            .await?
            .into_iter()
            .filter(|u| *u != caller.user.id)
            .collect();
        self.realtime.state.typing(channel, &members).await
    }

    /// Count one `action` of the caller against a limit per minute.
    async fn limit_per_minute(&self, caller: &Caller, action: &str, limit: u64) -> Result<()> {
        let key = format!("rate_limit:{}:{action}", caller.user.id);
        self.enforce_rate(&key, std::time::Duration::from_secs(60), limit)
            .await
    }

    /// Count one `action` of the caller against a limit per hour.
    pub(crate) async fn limit_per_hour(
        &self,
        caller: &Caller,
        action: &str,
        limit: u64,
    ) -> Result<()> {
        let key = format!("rate_limit:{}:{action}", caller.user.id);
        self.enforce_rate(&key, std::time::Duration::from_secs(3600), limit)
            .await
    }

    /// Change the caller's presence in a workspace and tell its members.
    pub async fn set_presence(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        update: PresenceUpdate,
    ) -> Result<Presence> {
        // The limit first: refused changes cost no database read.
        self.limit_per_minute(caller, "presence", MAX_PRESENCE_CHANGES_PER_MINUTE)
            .await?;
        self.workspace_for(caller, workspace).await?;
        if update.status == Some(PresenceStatus::Offline) {
            return Err(Error::invalid(
                "status",
                "must be online or away; offline follows from closing every connection",
            ));
        }
        let custom_status = match update.custom_status {
            None => None,
            Some(text) => Some(validate::optional_text(
                "custom_status",
                text.as_deref(),
                MAX_CUSTOM_STATUS_CHARS,
            )?),
        };
        let current = self.current_presence(caller, workspace).await?;
        let presence = Presence {
            status: update.status.unwrap_or(match current.status {
                PresenceStatus::Offline => PresenceStatus::Online,
                other => other,
            }),
            custom_status: custom_status.unwrap_or(current.custom_status),
            last_seen: time::now(),
            device_type: caller.session.device_type.clone(),
            timezone: caller.user.timezone.clone(),
        };
        self.store_presence(caller.user.id, workspace, presence)
            .await
    }

    async fn current_presence(&self, caller: &Caller, workspace: WorkspaceId) -> Result<Presence> {
        let stored = self
            .realtime
            .state
            .get_presence(workspace, &[caller.user.id])
            .await?
            .pop()
            .flatten();
        Ok(stored.unwrap_or_else(|| Presence {
            status: PresenceStatus::Offline,
            custom_status: None,
            last_seen: time::now(),
            device_type: caller.session.device_type.clone(),
            timezone: caller.user.timezone.clone(),
        }))
    }

    async fn store_presence(
        &self,
        user: UserId,
        workspace: WorkspaceId,
        presence: Presence,
    ) -> Result<Presence> {
        self.realtime
            .state
            .set_presence(user, workspace, &presence)
            .await?;
        let event = Event::Presence {
            workspace_id: workspace,
            user_id: user,
            presence: presence.clone(),
        };
        self.publish(Topic::Workspace(workspace), presence.last_seen, event)
            .await;
        Ok(presence)
    }

    /// The presence of each of `users` in a workspace the caller belongs
    /// to, in order; `None` for users with none stored (or not in the
    /// workspace).
    pub async fn presence(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        users: &[UserId],
    ) -> Result<Vec<Option<Presence>>> {
        let (_, member) = self.workspace_for(caller, workspace).await?;
        let mut presence = self.realtime.state.get_presence(workspace, users).await?;
        if member.role == WorkspaceRole::Guest {
            let peers = self.guest_peers(caller.user.id, workspace).await?;
            for (user, seen) in users.iter().zip(presence.iter_mut()) {
                if !peers.contains(user) {
                    *seen = None;
                }
            }
        }
        Ok(presence)
    }

    /// The people a guest shares a channel with in `workspace`, the guest
    /// included: the only ones whose presence a guest learns.
    pub(crate) async fn guest_peers(
        &self,
        guest: UserId,
        workspace: WorkspaceId,
    ) -> Result<HashSet<UserId>> {
        let channels: Vec<ChannelId> = self
            .stores
            .channels
            .list_channels_for_user(workspace, guest)
            .await?
            .into_iter()
            .map(|(c, _)| c.id)
            .collect();
        self.peers_in(guest, &channels).await
    }

    /// `user` and the members of `channels`, read from the database: the
    /// member cache is dropped only after a membership event goes out, and a
    /// socket re-reads peers on that event.
    async fn peers_in(&self, user: UserId, channels: &[ChannelId]) -> Result<HashSet<UserId>> {
        let mut peers = HashSet::from([user]);
        for channel in channels {
            peers.extend(self.stored_member_ids(*channel).await?);
        }
        Ok(peers)
    }

    /// What a socket of the caller may receive, read from the database.
    pub async fn subscriptions(&self, caller: &Caller) -> Result<Subscriptions> {
        let mut subscriptions = Subscriptions::default();
        for (workspace, member) in self.my_workspaces(caller).await? {
            if workspace.require_2fa && !caller.user.mfa_enabled {
                subscriptions.locked.insert(workspace.id);
                continue;
            }
            subscriptions.workspaces.insert(workspace.id, member.role);
            let channels: Vec<ChannelId> = self
                .stores
                .channels
                .list_channels_for_user(workspace.id, caller.user.id)
                .await?
                .into_iter()
                .map(|(c, _)| c.id)
                .collect();
            if member.role == WorkspaceRole::Guest {
                let peers = self.peers_in(caller.user.id, &channels).await?;
                subscriptions.guest_peers.insert(workspace.id, peers);
            }
            subscriptions.channels.extend(channels);
        }
        Ok(subscriptions)
    }

    /// Whether the caller is now an active member of `channel`.
    pub async fn is_channel_member(&self, caller: &Caller, channel: ChannelId) -> Result<bool> {
        match self.channel_access(caller, channel).await {
            Ok(access) => Ok(access.membership.is_some_and(|m| m.is_active)),
            Err(Error::NotFound(_)) | Err(Error::Forbidden(_)) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The changes to messages of `channels` after `cursor` (microseconds),
    /// from the database, as events.
    pub async fn replay(&self, channels: &[ChannelId], cursor: i64) -> Result<Replay> {
        let since = DateTime::<Utc>::from_timestamp_micros(cursor)
            .ok_or_else(|| Error::invalid("cursor", "is not a valid time"))?
            - REPLAY_OVERLAP;
        let mut changed = self
            .stores
            .messages
            .changed_since(channels, since, MAX_REPLAYED_CHANGES + 1)
            .await?;
        let complete = changed.len() <= MAX_REPLAYED_CHANGES as usize;
        changed.truncate(MAX_REPLAYED_CHANGES as usize);
        // A new reply bumps its parent, so the parent is replayed too and
        // gives the reply count.
        let reply_counts: HashMap<MessageId, i32> =
            changed.iter().map(|m| (m.id, m.reply_count)).collect();
        let sharing: Vec<MessageId> = changed
            .iter()
            .filter(|m| m.message_type == MessageType::File && !m.is_deleted)
            .map(|m| m.id)
            .collect();
        let files = match sharing.is_empty() {
            true => Vec::new(),
            false => self.stores.files.files_for_messages(&sharing).await?,
        };
        let mut envelopes: Vec<Envelope> = changed
            .into_iter()
            .map(|message| {
                let topic = Topic::Channel(message.channel_id);
                let at = message.updated_at;
                // New to the client if created after its cursor (the
                // overlap may resend some; clients upsert by id).
                let is_new = message.created_at.timestamp_micros() > cursor;
                let event = match message.thread_id {
                    Some(parent_id) if is_new => Event::ThreadReply {
                        reply_count: reply_counts.get(&parent_id).copied().unwrap_or(0),
                        parent_id,
                        message,
                    },
                    _ if is_new => Event::MessageCreated { message },
                    _ => Event::MessageUpdated { message },
                };
                Envelope::new(topic, at, event)
            })
            .collect();
        // The files of replayed messages follow them, as they did live.
        envelopes.extend(files.into_iter().filter_map(|(link, file)| {
            let channel_id = link.channel_id?;
            let event = Event::FileShared {
                channel_id,
                message_id: link.message_id,
                file: file_for_event(&file),
            };
            Some(Envelope::new(
                Topic::Channel(channel_id),
                link.attached_at,
                event,
            ))
        }));
        Ok(Replay {
            envelopes,
            complete,
        })
    }

    /// A socket opened, or sent a heartbeat: (re)register it for its
    /// lifetime and mark the user online in its workspaces.
    pub async fn socket_opened(
        &self,
        caller: &Caller,
        connection: &str,
        subscriptions: &Subscriptions,
        connected_at: DateTime<Utc>,
    ) {
        let info = ConnectionInfo {
            user_id: caller.user.id,
            workspace_id: caller.session.workspace_id,
            channels: subscriptions.channels.iter().copied().collect(),
            connected_at,
            node_id: self.node_id.to_string(),
        };
        degrade(
            self.realtime.state.put_connection(connection, &info).await,
            "connection registry",
        );
        self.refresh_presence(caller, subscriptions).await;
    }

    async fn refresh_presence(&self, caller: &Caller, subscriptions: &Subscriptions) {
        for workspace in subscriptions.workspaces.keys() {
            let Some(mut presence) =
                degrade(self.current_presence(caller, *workspace).await, "presence")
            else {
                continue;
            };
            let was = presence.status;
            if was == PresenceStatus::Offline {
                presence.status = PresenceStatus::Online;
            }
            presence.last_seen = time::now();
            presence.device_type = caller.session.device_type.clone();
            if was == PresenceStatus::Offline {
                degrade(
                    self.store_presence(caller.user.id, *workspace, presence)
                        .await,
                    "presence",
                );
            } else {
                // Still there: extend the key quietly.
                degrade(
                    self.realtime
                        .state
                        .set_presence(caller.user.id, *workspace, &presence)
                        .await,
                    "presence",
                );
            }
        }
    }

    /// A socket closed: when it was the user's last, they go offline.
    pub async fn socket_closed(
        &self,
        caller: &Caller,
        connection: &str,
        subscriptions: &Subscriptions,
    ) {
        let left = degrade(
            self.realtime
                .state
                .remove_connection(connection, caller.user.id, &self.node_id)
                .await,
            "connection registry",
        );
        if left != Some(0) {
            return;
        }
        for workspace in subscriptions.workspaces.keys() {
            if let Some(presence) =
                degrade(self.current_presence(caller, *workspace).await, "presence")
            {
                self.go_offline(caller.user.id, *workspace, presence).await;
            }
        }
    }

    /// How many sockets the caller holds open on every node; `None` while
    /// the shared state is unreachable.
    pub async fn open_sockets(&self, caller: &Caller) -> Option<usize> {
        degrade(
            self.realtime.state.count_connections(caller.user.id).await,
            "connection registry",
        )
    }

    /// Renew this node's liveness; every node runs this every
    /// [`NODE_UPKEEP`], apart from anything slower.
    pub async fn renew_node(&self) {
        degrade(
            self.realtime
                .state
                .renew_node(&self.node_id, ttl::NODE)
                .await,
            "node liveness",
        );
    }

    /// Forget the sockets of nodes that stopped renewing (they died without
    /// closing them); their users with no socket left anywhere go offline
    /// where their presence is stored.
    pub async fn reap_dead_nodes(&self) {
        let Some(users) = degrade(self.realtime.state.reap_dead_nodes().await, "node liveness")
        else {
            return;
        };
        for user in users {
            let Some(workspaces) = degrade(
                self.stores.workspaces.list_workspaces_for_user(user).await,
                "presence",
            ) else {
                continue;
            };
            let active = workspaces
                .into_iter()
                .filter(|(_, member)| member.status == MemberStatus::Active);
            for (workspace, _) in active {
                let stored = degrade(
                    self.realtime
                        .state
                        .get_presence(workspace.id, &[user])
                        .await,
                    "presence",
                );
                if let Some(presence) = stored.and_then(|mut found| found.pop().flatten()) {
                    self.go_offline(user, workspace.id, presence).await;
                }
            }
        }
    }

    /// Store `presence` as offline now, and tell the workspace's members.
    async fn go_offline(&self, user: UserId, workspace: WorkspaceId, mut presence: Presence) {
        presence.status = PresenceStatus::Offline;
        presence.last_seen = time::now();
        degrade(
            self.store_presence(user, workspace, presence).await,
            "presence",
        );
    }
}

fn cap_unread(mut state: ReadState) -> ReadState {
    state.unread = state.unread.min(MAX_COUNTED_UNREAD);
    state
}
