//! Messages: posting, history, threads, edits, deletes, reactions, pins and
//! read markers, each checked against what the caller may see and do.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::time::Duration;

use confab_core::id::*;
use confab_core::model::*;
use confab_core::realtime::Event;
use confab_core::{time, Error, Result};
use serde_json::Value;

use crate::accounts::Caller;
use crate::channels::ChannelAccess;
use crate::{validate, Services};

/// Longest message text, in characters.
pub const MAX_MESSAGE_CHARS: usize = 40_000;
/// Largest `formatted_content`, in bytes of JSON.
pub const MAX_FORMATTED_BYTES: usize = 64 * 1024;

/// Which part of a channel's history to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryQuery {
    /// The newest messages.
    Latest,
    /// Messages older than this one.
    Before(MessageId),
    /// Messages newer than this one.
    After(MessageId),
    /// This message with those just before and after it.
    Around(MessageId),
    /// The first messages at or after this time (jump to date).
    Since(chrono::DateTime<chrono::Utc>),
    /// The last messages before this time.
    Until(chrono::DateTime<chrono::Utc>),
}

/// A page of history with the authors of its messages.
#[derive(Clone, Debug)]
pub struct HistoryPage {
    pub messages: Vec<Message>,
    pub authors: Vec<Author>,
    /// The live files the messages carry.
    pub files: Vec<(MessageFile, File)>,
}

/// A message to post.
#[derive(Clone, Debug, Default)]
pub struct PostMessage {
    pub content: String,
    pub formatted_content: Option<Value>,
    pub thread_id: Option<MessageId>,
    /// A reply also sent to the channel.
    pub broadcast: bool,
    pub client_msg_id: Option<String>,
    /// Files to share with the message (uploaded by anyone, readable by
    /// the poster); the text may then be empty.
    pub file_ids: Vec<FileId>,
}

/// A page of what someone reacted to: each reaction's message and channel,
/// and where the next page starts (none at the end).
#[derive(Clone, Debug)]
pub struct ReactedPage {
    pub items: Vec<(Reacted, Message, Channel)>,
    pub last: Option<Reacted>,
}

/// A posted message and the files it carries.
#[derive(Clone, Debug)]
pub struct Posted {
    pub inserted: Inserted,
    pub files: Vec<(MessageFile, File)>,
}

pub(crate) fn check_content(content: &str) -> Result<String> {
    if content.trim().is_empty() {
        return Err(Error::invalid("content", "must not be empty"));
    }
    if content.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Error::TooLarge {
            what: "content".into(),
            limit: MAX_MESSAGE_CHARS as u64,
        });
    }
    if content
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return Err(Error::invalid(
            "content",
            "must not contain control characters",
        ));
    }
    Ok(content.to_owned())
}

/// Most distinct mentions recorded for one message.
const MAX_MENTIONS: usize = 50;

/// `@channel`, `@everyone` and `@here`: everyone, not a username.
fn is_broadcast(token: &str) -> bool {
    ["channel", "everyone", "here"]
        .iter()
        .any(|b| b.eq_ignore_ascii_case(token))
}

/// The `@name` tokens of a text: `@channel`, `@everyone` and `@here` as
/// themselves, anything else as a username to look up.
fn mention_tokens(content: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let bytes = content.as_bytes();
    for (at, _) in content.match_indices('@') {
        let preceded_by_word = at > 0
            && (bytes[at - 1].is_ascii_alphanumeric()
                || matches!(bytes[at - 1], b'.' | b'_' | b'-' | b'+' | b'%'));
        if preceded_by_word {
            continue; // an e-mail address, not a mention
        }
        let name: String = content[at + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .collect();
        let name = name.trim_end_matches(['.', '-']).to_owned();
        if name.len() >= 2 && !found.iter().any(|f| f.eq_ignore_ascii_case(&name)) {
            found.push(name);
        }
        if found.len() == MAX_MENTIONS {
            break;
        }
    }
    found
}

pub(crate) fn check_formatted(value: Option<Value>) -> Result<Option<Value>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v @ (Value::Object(_) | Value::Array(_))) => {
            if v.to_string().len() > MAX_FORMATTED_BYTES {
                return Err(Error::invalid(
                    "formatted_content",
                    format!("must be at most {MAX_FORMATTED_BYTES} bytes"),
                ));
            }
            Ok(Some(v))
        }
        Some(_) => Err(Error::invalid(
            "formatted_content",
            "must be a JSON object or array",
        )),
    }
}

/// An emoji name as in `:thumbsup:`, without the colons.
pub fn check_emoji(name: &str) -> Result<String> {
    let name = name.trim_matches(':');
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'+')
        });
    if ok {
        Ok(name.to_owned())
    } else {
        Err(Error::invalid(
            "emoji",
            "must be 1 to 64 lowercase letters, digits, '_', '-' or '+'",
        ))
    }
}

impl ChannelAccess {
    pub(crate) fn require_member(&self) -> Result<()> {
        if self.membership.as_ref().is_some_and(|m| m.is_active) {
            Ok(())
        } else {
            Err(Error::Forbidden("join the channel first".into()))
        }
    }
}

impl Services {
    /// The channel if the caller may read its messages: as
    /// [`Services::channel_access`], except that a bot reads only the
    /// channels it was added to.
    pub(crate) async fn readable_channel(
        &self,
        caller: &Caller,
        channel: ChannelId,
    ) -> Result<ChannelAccess> {
        let access = self.channel_access(caller, channel).await?;
        if caller.user.is_bot {
            access.require_member()?;
        }
        Ok(access)
    }

    /// The message and its channel, if the caller may see the channel.
    async fn message_access(
        &self,
        caller: &Caller,
        id: MessageId,
    ) -> Result<(Message, ChannelAccess)> {
        let message = self
            .stores
            .messages
            .get_message(id)
            .await?
            .ok_or(Error::NotFound("message"))?;
        let access = self
            .readable_channel(caller, message.channel_id)
            .await
            .map_err(|e| match e {
                Error::NotFound(_) => Error::NotFound("message"),
                other => other,
            })?;
        Ok((message, access))
    }

    /// The message `id` of `channel`; refused as invalid `field` otherwise.
    async fn require_in_channel(
        &self,
        id: MessageId,
        channel: ChannelId,
        field: &str,
    ) -> Result<Message> {
        self.stores
            .messages
            .get_message(id)
            .await?
            .filter(|m| m.channel_id == channel)
            .ok_or_else(|| Error::invalid(field, "is not a message of this channel"))
    }

    async fn check_message_rate(&self, caller: &Caller, channel: ChannelId) -> Result<()> {
        let key = format!("message_rate:{}:{}", caller.user.id, channel);
        self.enforce_rate(
            &key,
            Duration::from_secs(60),
            self.policy.messages_per_minute,
        )
        .await
    }

    /// Post a message (or a thread reply) as the caller. A retry with the
    /// same `client_msg_id` returns the first message.
    pub async fn post_message(
        &self,
        caller: &Caller,
        channel: ChannelId,
        post: PostMessage,
    ) -> Result<Posted> {
        let access = self.channel_access(caller, channel).await?;
        access.require_member()?;
        self.post_into(caller, &access.channel, post).await
    }

    /// Post into `channel` as the caller, whose right to post there was
    /// checked (membership, or an integration answering a member).
    pub(crate) async fn post_into(
        &self,
        caller: &Caller,
        channel_row: &Channel,
        post: PostMessage,
    ) -> Result<Posted> {
        let channel = channel_row.id;
        if channel_row.is_archived {
            return Err(Error::conflict("channel", "the channel is archived"));
        }
        let shared = self
            .files_to_share(caller, channel_row.workspace_id, &post.file_ids)
            .await?;
        let content = match shared.is_empty() || !post.content.trim().is_empty() {
            true => check_content(&post.content)?,
            false => String::new(),
        };
        let formatted_content = check_formatted(post.formatted_content)?;
        let client_msg_id =
            validate::optional_text("client_msg_id", post.client_msg_id.as_deref(), 100)?;
        if post.thread_id.is_some() && !channel_row.allow_threads {
            return Err(Error::invalid(
                "thread_id",
                "threads are turned off in this channel",
            ));
        }
        if let Some(client_id) = &client_msg_id {
            // A retry is answered with the first message, and is not a new
            // post: it does not count against the limit. Its files are
            // attached again in case the first attempt stopped halfway.
            let earlier = self
                .stores
                .messages
                .find_client_message(channel, caller.user.id, client_id)
                .await?;
            if let Some(message) = earlier {
                let files = self.attach_files(message.id, &shared).await?;
                self.announce_shared(channel, &files).await;
                let inserted = Inserted {
                    message,
                    created: false,
                    parent_reply_count: None,
                };
                return Ok(Posted { inserted, files });
            }
        }
        self.check_message_rate(caller, channel).await?;
        let mentions = self.resolve_mentions(&content).await?;
        let new = NewMessage {
            id: MessageId::new(),
            workspace_id: channel_row.workspace_id,
            channel_id: channel,
            user_id: caller.user.id,
            content,
            message_type: match (shared.is_empty(), caller.user.is_bot) {
                (false, _) => MessageType::File,
                (true, true) => MessageType::Bot,
                (true, false) => MessageType::Text,
            },
            formatted_content,
            thread_id: post.thread_id,
            broadcast: post.broadcast && post.thread_id.is_some(),
            client_msg_id,
            mentions,
        };
        let inserted = self.stores.messages.insert_message(&new).await?;
        let files = self.attach_files(inserted.message.id, &shared).await?;
        if inserted.created {
            self.after_post(&inserted, &new.mentions).await;
        }
        self.announce_shared(channel, &files).await;
        Ok(Posted { inserted, files })
    }

    async fn attach_files(
        &self,
        message: MessageId,
        files: &[File],
    ) -> Result<Vec<(MessageFile, File)>> {
        let mut attached = Vec::with_capacity(files.len());
        for file in files {
            let link = self
                .stores
                .files
                .attach_file(message, file.id, None, time::now())
                .await?;
            attached.push((link, file.clone()));
        }
        Ok(attached)
    }

    /// Mention targets of a text: user ids of the named users who exist, and
    /// `channel` / `here` for the broadcast mentions, in the order written.
    /// At most [`MAX_MENTIONS`] names are looked up, in one query.
    async fn resolve_mentions(&self, content: &str) -> Result<Vec<String>> {
        let mut targets = self.slack_mentions(content).await?;
        for target in self.named_mentions(content).await? {
            if !targets.contains(&target) && targets.len() < MAX_MENTIONS {
                targets.push(target);
            }
        }
        Ok(targets)
    }

    /// Mentions written as Slack's clients write them: `<@U…>` (a user id,
    /// kept if the user exists), `<!here>`, `<!channel>`, `<!everyone>`.
    async fn slack_mentions(&self, content: &str) -> Result<Vec<String>> {
        let mut targets: Vec<String> = Vec::new();
        let mut users: Vec<UserId> = Vec::new();
        // One pass: each `<…>` is read once (a text of many `<` and one
        // `>` at its end must not be scanned again for every `<`).
        let mut rest = content;
        while let Some(open) = rest.find('<') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('>') else {
                break;
            };
            rest = &after[close + 1..];
            // Of `<a <@U…>`, the tag is the part after the last `<`.
            let inner = after[..close].rsplit('<').next().unwrap_or_default();
            let inner = inner.split('|').next().unwrap_or_default();
            let target = match inner {
                "!here" => Some(MENTION_HERE.to_owned()),
                "!channel" | "!everyone" => Some(MENTION_CHANNEL.to_owned()),
                _ => inner
                    .strip_prefix('@')
                    .and_then(|id| {
                        confab_core::slack::decode_as(id, &[confab_core::slack::SlackKind::User])
                    })
                    .map(|uuid| {
                        users.push(UserId(uuid));
                        uuid.to_string()
                    }),
            };
            if let Some(target) = target.filter(|t| !targets.contains(t)) {
                targets.push(target);
            }
            if targets.len() == MAX_MENTIONS {
                break;
            }
        }
        if !users.is_empty() {
            let known: Vec<String> = self
                .stores
                .users
                .get_users(&users)
                .await?
                .iter()
                .map(|u| u.id.to_string())
                .collect();
            targets.retain(|t| !users.iter().any(|u| u.to_string() == *t) || known.contains(t));
        }
        Ok(targets)
    }

    /// Mentions written `@username`, `@channel`, `@here`.
    async fn named_mentions(&self, content: &str) -> Result<Vec<String>> {
        let tokens = mention_tokens(content);
        let names: Vec<String> = tokens
            .iter()
            .filter(|t| !is_broadcast(t))
            .cloned()
            .collect();
        let users = self.stores.users.find_users_by_usernames(&names).await?;
        let mut targets: Vec<String> = Vec::new();
        for token in &tokens {
            let target = match token.to_ascii_lowercase().as_str() {
                "channel" | "everyone" => Some(MENTION_CHANNEL.to_owned()),
                "here" => Some(MENTION_HERE.to_owned()),
                _ => users
                    .iter()
                    .find(|u| u.username.eq_ignore_ascii_case(token))
                    .map(|u| u.id.to_string()),
            };
            if let Some(target) = target.filter(|t| !targets.contains(t)) {
                targets.push(target);
            }
        }
        Ok(targets)
    }

    /// Unread and mention counts of the caller in a workspace, or in one channel.
    pub async fn read_states(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
    ) -> Result<Vec<ReadState>> {
        self.workspace_for(caller, workspace).await?;
        self.unread_states(caller, workspace).await
    }

    /// Unread and mention counts of the caller in one channel.
    pub async fn channel_read_state(
        &self,
        caller: &Caller,
        channel: ChannelId,
    ) -> Result<ReadState> {
        let access = self.channel_access(caller, channel).await?;
        access.require_member()?;
        // Access is proven: the workspace's counts need no second check.
        self.unread_states(caller, access.channel.workspace_id)
            .await?
            .into_iter()
            .find(|s| s.channel_id == channel)
            .ok_or(Error::NotFound("channel"))
    }

    /// One message.
    /// The message of a channel by its stamp (Slack's `ts`), if the caller
    /// may read the channel.
    pub async fn message_at(
        &self,
        caller: &Caller,
        channel: ChannelId,
        ts: i64,
    ) -> Result<Message> {
        self.readable_channel(caller, channel).await?;
        self.stores
            .messages
            .message_by_ts(channel, ts)
            .await?
            .filter(|m| !m.is_deleted)
            .ok_or(Error::NotFound("message"))
    }

    pub async fn message(&self, caller: &Caller, id: MessageId) -> Result<Message> {
        Ok(self.message_access(caller, id).await?.0)
    }

    /// A page of a channel's history, newest first. A cursor message must
    /// belong to this channel.
    pub async fn history(
        &self,
        caller: &Caller,
        channel: ChannelId,
        query: HistoryQuery,
        limit: u32,
    ) -> Result<HistoryPage> {
        self.readable_channel(caller, channel).await?;
        let mut page = match query {
            HistoryQuery::Latest => self.latest_page(channel, limit).await?,
            _ => {
                let messages = self.history_messages(channel, query, limit).await?;
                self.with_authors(messages).await?
            }
        };
        let ids: Vec<MessageId> = page.messages.iter().map(|m| m.id).collect();
        page.files = self.stores.files.files_for_messages(&ids).await?;
        Ok(page)
    }

    /// A page with the authors of its messages, read by id.
    pub(crate) async fn with_authors(&self, messages: Vec<Message>) -> Result<HistoryPage> {
        let mut ids: Vec<UserId> = messages.iter().map(|m| m.user_id).collect();
        ids.sort();
        ids.dedup();
        let authors = self
            .stores
            .users
            .get_users(&ids)
            .await?
            .into_iter()
            .map(|u| Author {
                user_id: u.id,
                display_name: u.display_name,
                avatar_url: u.avatar_url,
            })
            .collect();
        Ok(HistoryPage {
            messages,
            authors,
            files: Vec::new(),
        })
    }

    async fn history_messages(
        &self,
        channel: ChannelId,
        query: HistoryQuery,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let messages = &self.stores.messages;
        match query {
            HistoryQuery::Latest => messages.history(channel, HistoryRange::Latest, limit).await,
            HistoryQuery::Before(id) => {
                self.require_in_channel(id, channel, "cursor").await?;
                messages
                    .history(channel, HistoryRange::Before(id), limit)
                    .await
            }
            HistoryQuery::After(id) => {
                self.require_in_channel(id, channel, "cursor").await?;
                messages
                    .history(channel, HistoryRange::After(id), limit)
                    .await
            }
            HistoryQuery::Around(id) => {
                let centre = self.require_in_channel(id, channel, "around").await?;
                let half = (limit / 2).max(1);
                let mut page = messages
                    .history(channel, HistoryRange::After(id), half)
                    .await?;
                if !centre.is_deleted {
                    page.push(centre);
                }
                let older = limit.saturating_sub(page.len() as u32).max(1);
                page.extend(
                    messages
                        .history(channel, HistoryRange::Before(id), older)
                        .await?,
                );
                Ok(page)
            }
            HistoryQuery::Since(at) => {
                // The bound has no random bits, so no real message equals it.
                let range = HistoryRange::After(MessageId::lowest_at(at));
                messages.history(channel, range, limit).await
            }
            HistoryQuery::Until(at) => {
                messages
                    .history(
                        channel,
                        HistoryRange::Before(MessageId::lowest_at(at)),
                        limit,
                    )
                    .await
            }
        }
    }

    /// The kept earlier versions of a message the caller may see, oldest
    /// first (a deleted message keeps none).
    pub async fn edit_history(&self, caller: &Caller, id: MessageId) -> Result<Vec<EditRecord>> {
        self.message_access(caller, id).await?;
        Ok(self
            .stores
            .messages
            .get_message_with_history(id)
            .await?
            .ok_or(Error::NotFound("message"))?
            .edit_history)
    }

    /// The undeleted messages of `ids`, by id (no access check: the caller
    /// checks what it shows).
    pub(crate) async fn live_messages(
        &self,
        ids: &[MessageId],
    ) -> Result<HashMap<MessageId, Message>> {
        Ok(self
            .stores
            .messages
            .get_messages(ids)
            .await?
            .into_iter()
            .filter(|m| !m.is_deleted)
            .map(|m| (m.id, m))
            .collect())
    }

    /// Who replied in a thread and when it last moved, if the caller may
    /// read it.
    pub async fn thread_summary(
        &self,
        caller: &Caller,
        parent: MessageId,
    ) -> Result<ThreadSummary> {
        self.message_access(caller, parent).await?;
        self.stores.messages.thread_summary(parent).await
    }

    /// The summaries of the threads of `parents`, messages of `channel`
    /// (a page of its history): those without replies are left out. The
    /// queries run together.
    pub async fn thread_summaries(
        &self,
        caller: &Caller,
        channel: ChannelId,
        parents: &[Message],
    ) -> Result<HashMap<MessageId, ThreadSummary>> {
        self.readable_channel(caller, channel).await?;
        let threads: Vec<MessageId> = parents
            .iter()
            .filter(|m| m.channel_id == channel && m.thread_id.is_none() && m.reply_count > 0)
            .map(|m| m.id)
            .collect();
        let summaries = futures_util::future::try_join_all(
            threads
                .iter()
                .map(|id| self.stores.messages.thread_summary(*id)),
        )
        .await?;
        Ok(threads.into_iter().zip(summaries).collect())
    }

    /// Replies of a thread, oldest first, with the files they carry.
    pub async fn thread(
        &self,
        caller: &Caller,
        parent: MessageId,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<HistoryPage> {
        self.message_access(caller, parent).await?;
        let messages = self
            .stores
            .messages
            .thread_replies(parent, after, limit)
            .await?;
        let ids: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
        let files = self.stores.files.files_for_messages(&ids).await?;
        Ok(HistoryPage {
            messages,
            authors: Vec::new(),
            files,
        })
    }

    /// Edit the caller's own message.
    pub async fn edit_message(
        &self,
        caller: &Caller,
        id: MessageId,
        content: &str,
        formatted_content: Option<Value>,
    ) -> Result<Message> {
        let (message, access) = self.message_access(caller, id).await?;
        if message.user_id != caller.user.id {
            return Err(Error::Forbidden(
                "only the author may edit a message".into(),
            ));
        }
        if message.message_type == MessageType::System {
            return Err(Error::Forbidden(
                "a message Confab wrote cannot be edited".into(),
            ));
        }
        if access.channel.is_archived {
            return Err(Error::conflict("channel", "the channel is archived"));
        }
        let content = check_content(content)?;
        let formatted_content = check_formatted(formatted_content)?;
        // Edits count against the post limit: each rewrites the row.
        self.check_message_rate(caller, message.channel_id).await?;
        let mentions = self.resolve_mentions(&content).await?;
        let edited = self
            .stores
            .messages
            .edit_message(
                id,
                &content,
                formatted_content.as_ref(),
                &mentions,
                time::now(),
            )
            .await?;
        self.after_edit(&edited).await;
        Ok(edited)
    }

    /// Delete a message: its author, or a channel or workspace admin.
    pub async fn delete_message(&self, caller: &Caller, id: MessageId) -> Result<Changed> {
        let (message, access) = self.message_access(caller, id).await?;
        if message.user_id != caller.user.id && !access.can_manage() {
            return Err(Error::Forbidden(
                "only the author or an admin may delete a message".into(),
            ));
        }
        let deleted = self.stores.messages.delete_message(id, time::now()).await?;
        if deleted.changed {
            self.after_delete(&deleted.message).await;
        }
        Ok(deleted)
    }

    /// Add (`add`) or remove the caller's reaction.
    pub async fn react(
        &self,
        caller: &Caller,
        id: MessageId,
        emoji: &str,
        add: bool,
    ) -> Result<Changed> {
        let emoji = check_emoji(emoji)?;
        let (_, access) = self.message_access(caller, id).await?;
        access.require_member()?;
        if access.channel.is_archived {
            return Err(Error::conflict("channel", "the channel is archived"));
        }
        let messages = &self.stores.messages;
        let changed = if add {
            messages.add_reaction(id, caller.user.id, &emoji).await?
        } else {
            messages.remove_reaction(id, caller.user.id, &emoji).await?
        };
        if changed.changed {
            let (channel_id, message_id, user_id) =
                (changed.message.channel_id, id, caller.user.id);
            let event = if add {
                Event::ReactionAdded {
                    channel_id,
                    message_id,
                    user_id,
                    emoji,
                }
            } else {
                Event::ReactionRemoved {
                    channel_id,
                    message_id,
                    user_id,
                    emoji,
                }
            };
            self.after_message_change(&changed.message, event).await;
        }
        Ok(changed)
    }

    /// Pin or unpin a message; any member of its channel.
    pub async fn pin(&self, caller: &Caller, id: MessageId, pinned: bool) -> Result<Changed> {
        let (_, access) = self.message_access(caller, id).await?;
        access.require_member()?;
        if access.channel.is_archived {
            return Err(Error::conflict("channel", "the channel is archived"));
        }
        let by = pinned.then_some(caller.user.id);
        let changed = self.stores.messages.set_pinned(id, by, time::now()).await?;
        if changed.changed {
            let (channel_id, message_id, user_id) =
                (changed.message.channel_id, id, caller.user.id);
            let event = if pinned {
                Event::MessagePinned {
                    channel_id,
                    message_id,
                    user_id,
                }
            } else {
                Event::MessageUnpinned {
                    channel_id,
                    message_id,
                    user_id,
                }
            };
            self.after_message_change(&changed.message, event).await;
        }
        Ok(changed)
    }

    /// The pinned messages of a channel.
    pub async fn pins(&self, caller: &Caller, channel: ChannelId) -> Result<Vec<Message>> {
        self.readable_channel(caller, channel).await?;
        self.stores.messages.list_pinned(channel).await
    }

    /// What `user` reacted to in `workspace`, by their latest reaction,
    /// newest first, after `before`: each message with its channel. Only
    /// the channels the caller is an active member of are looked in, so
    /// nobody learns of a message through someone else's reaction.
    pub async fn reacted_by(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        user: UserId,
        before: Option<Reacted>,
        limit: u32,
    ) -> Result<ReactedPage> {
        self.workspace_for(caller, workspace).await?;
        let limit = limit.clamp(1, confab_core::page::MAX_PAGE_SIZE);
        let reacted = self
            .stores
            .messages
            .reacted_by(workspace, user, caller.user.id, before, limit)
            .await?;
        let last = (reacted.len() == limit as usize)
            .then(|| reacted.last().copied())
            .flatten();
        let ids: Vec<MessageId> = reacted.iter().map(|r| r.message_id).collect();
        let mut messages = self.live_messages(&ids).await?;
        let mut channels: HashMap<ChannelId, Option<Channel>> = HashMap::new();
        let mut items = Vec::with_capacity(reacted.len());
        for r in reacted {
            let Some(message) = messages.remove(&r.message_id) else {
                continue;
            };
            let channel = match channels.entry(message.channel_id) {
                Entry::Occupied(known) => known.get().clone(),
                Entry::Vacant(slot) => {
                    // A token may lack the scope for a kind of channel.
                    let access = match self.readable_channel(caller, message.channel_id).await {
                        Ok(access) => Some(access.channel),
                        Err(Error::NotFound(_) | Error::Forbidden(_)) => None,
                        Err(other) => return Err(other),
                    };
                    slot.insert(access).clone()
                }
            };
            if let Some(channel) = channel {
                items.push((r, message, channel));
            }
        }
        Ok(ReactedPage { items, last })
    }

    /// Move the caller's read marker in a channel forward to `message`.
    pub async fn mark_read(
        &self,
        caller: &Caller,
        channel: ChannelId,
        message: MessageId,
    ) -> Result<bool> {
        let access = self.channel_access(caller, channel).await?;
        access.require_member()?;
        self.require_in_channel(message, channel, "message_id")
            .await?;
        let moved = self
            .stores
            .channels
            .mark_read(channel, caller.user.id, message, time::now())
            .await?;
        if moved {
            self.after_read_marker(caller, access.channel.workspace_id, channel, message)
                .await;
        }
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_inputs() {
        assert!(check_content("  ").is_err());
        assert!(matches!(
            check_content(&"x".repeat(MAX_MESSAGE_CHARS + 1)),
            Err(Error::TooLarge { .. })
        ));
        assert!(check_content(&"é".repeat(MAX_MESSAGE_CHARS)).is_ok());
        assert!(check_formatted(Some(serde_json::json!("text"))).is_err());
        assert!(check_formatted(Some(serde_json::json!({"blocks": []}))).is_ok());
        assert_eq!(check_emoji(":thumbsup:").unwrap(), "thumbsup");
        assert!(check_emoji("thumbs up").is_err());
        assert!(check_emoji("").is_err());
    }

    #[test]
    fn mentions_are_found_once_and_emails_are_not_mentions() {
        assert_eq!(
            mention_tokens("hi @Ann and @bob.smith, cc @ann @channel; mail me at x@y.com @here."),
            ["Ann", "bob.smith", "channel", "here"]
        );
        assert!(mention_tokens("@ alone, @x").is_empty());
        assert!(mention_tokens("mail a_b@c.io, a-b@c.io or a+b@c.io").is_empty());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A username as sign-up accepts them, without a trailing `.` or
        /// `-` (which read as punctuation after a mention).
        fn username() -> impl Strategy<Value = String> {
            "[A-Za-z0-9][A-Za-z0-9._-]{0,20}[A-Za-z0-9_]"
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// Any text at all: no panic, and what comes back is a short
            /// list of distinct names that each follow an `@` in the text.
            #[test]
            fn any_text_gives_well_formed_mentions(content in any::<String>()) {
                let found = mention_tokens(&content);
                prop_assert!(found.len() <= MAX_MENTIONS);
                for (i, name) in found.iter().enumerate() {
                    prop_assert!(name.len() >= 2);
                    prop_assert!(name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
                    prop_assert!(!name.ends_with(['.', '-']));
                    let written = format!("@{name}");
                    prop_assert!(content.contains(&written));
                    prop_assert!(found[..i].iter().all(|f| !f.eq_ignore_ascii_case(name)));
                }
            }

            /// Names mentioned among words, or inside Markdown emphasis,
            /// code, quotes, lists and links, are all found, in order.
            #[test]
            fn mentions_in_markdown_are_found(
                names in proptest::collection::vec(username(), 1..8),
                wrappers in proptest::collection::vec(
                    prop::sample::select(vec![
                        ("", ""), ("*", "*"), ("**", "**"), ("~~", "~~"), ("`", "`"),
                        ("> ", ""), ("- ", ""), ("1. ", ""), ("(", ")"), ("[", "](https://x.test)"),
                        ("", ","), ("", "!"), ("", "?"), ("", ":"),
                    ]),
                    8,
                ),
            ) {
                let content = names
                    .iter()
                    .zip(&wrappers)
                    .map(|(name, (open, close))| format!("{open}@{name}{close}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                let mut expected: Vec<String> = Vec::new();
                for name in &names {
                    if !expected.iter().any(|e| e.eq_ignore_ascii_case(name)) {
                        expected.push(name.clone());
                    }
                }
                prop_assert_eq!(mention_tokens(&content), expected);
            }

            /// An address is never a mention.
            #[test]
            fn email_addresses_are_not_mentions(local in username(), domain in "[a-z]{2,10}\\.[a-z]{2,4}") {
                let content = format!("write to {local}@{domain} please");
                prop_assert!(mention_tokens(&content).is_empty());
            }

            /// Content is accepted exactly when it has text, fits, and holds
            /// no control characters but line breaks and tabs.
            #[test]
            fn content_checks_never_panic(content in any::<String>()) {
                if let Ok(accepted) = check_content(&content) {
                    prop_assert!(accepted.chars().count() <= MAX_MESSAGE_CHARS);
                    prop_assert!(!accepted.trim().is_empty());
                    prop_assert!(accepted
                        .chars()
                        .all(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r')));
                }
            }
        }
    }
}
