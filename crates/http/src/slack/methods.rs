//! The Web API's methods. Each reads its arguments, calls one service
//! method (the rules live there) and shapes the answer as Slack does.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use confab_core::id::{ChannelId, MemberId, MessageId, UserId, WorkspaceId};
use confab_core::model::*;
use confab_core::slack::{format_ts, parse_ts};
use confab_service::{Caller, HistoryQuery, NewChannelRequest, PostMessage};
use serde_json::{json, Map, Value};
use std::collections::hash_map::Entry;
use std::collections::HashMap;

use super::objects::{self, channel_id, conversation, parse_channel, parse_user, team_id, user_id};
use super::{require_scope, Answer, Args, SlackError};
use crate::App;

/// How a method is called: whether `GET` may call it, and the scope it
/// needs whatever it is given (scopes that depend on the kind of
/// conversation are checked by the method).
pub(crate) struct Spec {
    pub read_only: bool,
    pub scope: Option<&'static str>,
}

const fn read(scope: Option<&'static str>) -> Spec {
    Spec {
        read_only: true,
        scope,
    }
}

const fn write(scope: Option<&'static str>) -> Spec {
    Spec {
        read_only: false,
        scope,
    }
}

/// Methods of Slack's API that this server answers with `not_implemented`
/// for now (the README lists them).
const NOT_YET: &[&str] = &[];

/// The method of that name.
pub(crate) fn find(method: &str) -> Option<Spec> {
    Some(match method {
        "api.test" | "auth.test" => read(None),
        "auth.revoke" => write(None),
        "chat.postMessage" | "chat.meMessage" | "chat.update" | "chat.delete"
        | "chat.postEphemeral" => write(Some("chat:write")),
        "chat.getPermalink" => read(None),
        "conversations.list"
        | "conversations.info"
        | "conversations.history"
        | "conversations.replies"
        | "conversations.members" => read(None),
        "conversations.join" => write(Some("channels:join")),
        "conversations.leave"
        | "conversations.create"
        | "conversations.invite"
        | "conversations.kick"
        | "conversations.archive"
        | "conversations.unarchive"
        | "conversations.rename"
        | "conversations.setTopic"
        | "conversations.setPurpose"
        | "conversations.mark"
        | "conversations.open" => write(None),
        "users.list" | "users.info" => read(Some("users:read")),
        "users.lookupByEmail" => read(Some("users:read.email")),
        "reactions.add" | "reactions.remove" => write(Some("reactions:write")),
        "reactions.get" | "reactions.list" => read(Some("reactions:read")),
        "pins.add" | "pins.remove" => write(Some("pins:write")),
        "pins.list" => read(Some("pins:read")),
        "team.info" => read(Some("team:read")),
        "users.getPresence" => read(Some("users:read")),
        "users.setPresence" => write(Some("users:write")),
        "users.profile.get" => read(Some("users.profile:read")),
        "users.profile.set" => write(Some("users.profile:write")),
        "files.getUploadURLExternal" | "files.completeUploadExternal" | "files.delete" => {
            write(Some("files:write"))
        }
        "files.info" | "files.list" => read(Some("files:read")),
        "search.messages" | "search.files" | "search.all" => read(Some("search:read")),
        "emoji.list" => read(Some("emoji:read")),
        other if NOT_YET.contains(&other) => read(None),
        _ => return None,
    })
}

/// `api.test`: answers with the arguments it was given.
pub(crate) fn api_test(args: &Args) -> Answer {
    if let Some(error) = args.text("error") {
        return Err(SlackError::new(&error));
    }
    let mut answer = Map::new();
    if !args.all().is_empty() {
        answer.insert("args".into(), Value::Object(args.all().clone()));
    }
    Ok(answer)
}

/// Run `method` for `caller`.
pub(crate) async fn run(
    app: &App,
    caller: &Caller,
    method: &str,
    args: &Args,
    base: &str,
) -> Answer {
    let call = Call {
        app,
        caller,
        args,
        base,
    };
    match method {
        "auth.test" => call.auth_test().await,
        "auth.revoke" => call.auth_revoke().await,
        "chat.postMessage" => call.post_message(false).await,
        "chat.meMessage" => call.post_message(true).await,
        "chat.postEphemeral" => call.post_ephemeral().await,
        "chat.update" => call.update_message().await,
        "chat.delete" => call.delete_message().await,
        "chat.getPermalink" => call.permalink().await,
        "conversations.list" => call.list_conversations().await,
        "conversations.info" => call.conversation_info().await,
        "conversations.history" => call.history().await,
        "conversations.replies" => call.replies().await,
        "conversations.members" => call.members().await,
        "conversations.join" => call.join().await,
        "conversations.leave" => call.leave().await,
        "conversations.create" => call.create().await,
        "conversations.invite" => call.invite(true).await,
        "conversations.kick" => call.invite(false).await,
        "conversations.archive" => call.archive(true).await,
        "conversations.unarchive" => call.archive(false).await,
        "conversations.rename" => call.rename().await,
        "conversations.setTopic" => call.set_text(true).await,
        "conversations.setPurpose" => call.set_text(false).await,
        "conversations.mark" => call.mark().await,
        "conversations.open" => call.open().await,
        "users.list" => call.users_list().await,
        "users.info" => call.user_info(false).await,
        "users.lookupByEmail" => call.user_info(true).await,
        "reactions.add" => call.react(true).await,
        "reactions.remove" => call.react(false).await,
        "reactions.get" => call.reactions().await,
        "reactions.list" => call.reactions_list().await,
        "pins.add" => call.pin(true).await,
        "pins.remove" => call.pin(false).await,
        "pins.list" => call.pins().await,
        "team.info" => call.team_info().await,
        "emoji.list" => Ok(answer(json!({"emoji": {}}))),
        "users.getPresence" => call.get_presence().await,
        "users.setPresence" => call.set_presence().await,
        "users.profile.get" => call.get_profile().await,
        "users.profile.set" => call.set_profile().await,
        "files.getUploadURLExternal" => call.upload_url().await,
        "files.completeUploadExternal" => call.complete_upload().await,
        "files.info" => call.file_info().await,
        "files.list" => call.list_files().await,
        "files.delete" => call.delete_file().await,
        "search.messages" => call.search(true, false).await,
        "search.files" => call.search(false, true).await,
        "search.all" => call.search(true, true).await,
        _ => Err(SlackError::new("not_implemented")),
    }
}

/// The fields of a JSON object.
pub(super) fn answer(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// What a conversation-scoped call needs: `channels:`, `groups:`, `im:` or
/// `mpim:` and the action.
fn conversation_scope(kind: ChannelType, action: &str) -> String {
    let family = match kind {
        ChannelType::Public => "channels",
        ChannelType::Private => "groups",
        ChannelType::Direct => "im",
        ChannelType::Group => "mpim",
    };
    let action = match (kind, action) {
        (ChannelType::Public, "write") => "manage",
        _ => action,
    };
    format!("{family}:{action}")
}

/// A cursor of a paged list: opaque text around a key.
fn cursor_of(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("next:{key}"))
}

fn key_of(cursor: Option<String>) -> Result<Option<String>, SlackError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("next:").map(str::to_owned))
        .map(Some)
        .ok_or_else(|| SlackError::new("invalid_cursor"))
}

/// A thread parent's `reply_users`, `reply_users_count` and
/// `latest_reply`, when it has replies.
fn describe_thread(object: &mut Value, summary: &ThreadSummary) {
    if let Some(latest) = summary.latest_ts {
        let people: Vec<String> = summary.repliers.iter().copied().map(user_id).collect();
        object["reply_users_count"] = json!(people.len());
        object["reply_users"] = json!(people);
        object["latest_reply"] = json!(format_ts(latest));
    }
}

/// The position `micros/message` a `reactions.list` cursor holds.
fn reacted_key(key: &str) -> Option<Reacted> {
    let (micros, message) = key.split_once('/')?;
    Some(Reacted {
        reacted_at: chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        message_id: message.parse().ok()?,
    })
}

fn metadata(next: Option<String>) -> Value {
    json!({"next_cursor": next.map(|k| cursor_of(&k)).unwrap_or_default()})
}

/// A `limit` clamped as Slack clamps it.
fn limit(args: &Args, default: u32, most: u32) -> Result<u32, SlackError> {
    Ok(match args.number("limit")? {
        None | Some(0) => default,
        Some(n) => n.clamp(1, i64::from(most)) as u32,
    })
}

/// One call of a method: the server, the caller, the arguments, and the
/// server's address as the caller reached it (for links).
pub(super) struct Call<'a> {
    pub app: &'a App,
    pub caller: &'a Caller,
    pub args: &'a Args,
    pub base: &'a str,
}

impl Call<'_> {
    pub(super) fn workspace(&self) -> WorkspaceId {
        self.caller
            .token
            .as_ref()
            .map(|t| t.workspace_id)
            .unwrap_or_default()
    }

    /// The conversation named by the `name` argument, with the scope its
    /// kind needs for `action` checked.
    async fn channel_for(&self, name: &str, action: &str) -> Result<Channel, SlackError> {
        let id = parse_channel(
            &self
                .args
                .required(name)
                .map_err(|_| SlackError::new("channel_not_found"))?,
        )?;
        let access = self.app.channel_access(self.caller, id).await?;
        require_scope(
            self.caller,
            &conversation_scope(access.channel.channel_type, action),
        )?;
        Ok(access.channel)
    }

    /// The message of `channel` at the stamp in argument `name`.
    /// The conversation the call names, as it named it (what Slack echoes
    /// back); read after the call checked it.
    fn channel_arg(&self) -> String {
        self.args
            .text("channel")
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    pub(super) async fn message_at(
        &self,
        channel: ChannelId,
        name: &str,
    ) -> Result<Message, SlackError> {
        let ts = self
            .args
            .text(name)
            .ok_or_else(|| SlackError::new("message_not_found"))?;
        let stamp = parse_ts(&ts).map_err(|_| SlackError::new("invalid_ts"))?;
        self.app
            .message_at(self.caller, channel, stamp)
            .await
            .map_err(|e| match e {
                confab_core::Error::NotFound(_) => SlackError::new("message_not_found"),
                other => other.into(),
            })
    }

    async fn auth_test(&self) -> Answer {
        let workspace = self.workspace();
        let (team, _) = self.app.workspace_for(self.caller, workspace).await?;
        let mut fields = answer(json!({
            "url": format!("{}/", self.base),
            "team": team.name,
            "user": self.caller.user.username,
            "team_id": team_id(workspace),
            "user_id": user_id(self.caller.user.id),
            "is_enterprise_install": false,
        }));
        if self.caller.user.is_bot {
            fields.insert("bot_id".into(), json!(objects::bot_id(self.caller.user.id)));
        }
        Ok(fields)
    }

    async fn auth_revoke(&self) -> Answer {
        if self.args.flag("test", false)? {
            return Ok(answer(json!({"revoked": false})));
        }
        let token = self.caller.token.as_ref().map(|t| t.id).unwrap_or_default();
        let revoked = self.app.revoke_token(self.caller, token).await?;
        Ok(answer(json!({"revoked": revoked})))
    }

    async fn post_message(&self, me_message: bool) -> Answer {
        // Posting needs chat:write alone, whatever the kind of conversation.
        let id = parse_channel(
            &self
                .args
                .required("channel")
                .map_err(|_| SlackError::new("channel_not_found"))?,
        )?;
        let channel = self.app.channel_access(self.caller, id).await?.channel;
        let mut formatted = Map::new();
        for key in ["blocks", "attachments", "metadata"] {
            if let Some(value) = self.args.json(key)? {
                formatted.insert(key.into(), value);
            }
        }
        let text = self.args.text("text").unwrap_or_default();
        let text = match (text.trim().is_empty(), fallback_text(&formatted)) {
            (true, Some(fallback)) => fallback,
            _ => text,
        };
        if text.trim().is_empty() {
            return Err(SlackError::new("no_text"));
        }
        let text = match me_message {
            true => format!("_{text}_"),
            false => text,
        };
        let parent = match self.args.text("thread_ts") {
            Some(_) if me_message => None,
            Some(_) => Some(
                self.message_at(channel.id, "thread_ts")
                    .await
                    .map_err(|e| match e.code.as_str() {
                        "message_not_found" => SlackError::new("thread_not_found"),
                        _ => e,
                    })?,
            ),
            None => None,
        };
        let post = PostMessage {
            content: text,
            formatted_content: (!formatted.is_empty()).then_some(Value::Object(formatted)),
            thread_id: parent.as_ref().map(|p| p.thread_id.unwrap_or(p.id)),
            broadcast: self.args.flag("reply_broadcast", false)?,
            client_msg_id: self.args.text("client_msg_id"),
            file_ids: Vec::new(),
        };
        let posted = self.app.post_message(self.caller, channel.id, post).await?;
        let message = &posted.inserted.message;
        let parent_ts = parent.map(|p| p.ts);
        Ok(answer(json!({
            "channel": channel_id(&channel),
            "ts": format_ts(message.ts),
            "message": objects::message(message, parent_ts),
        })))
    }

    /// A message object with the files `message` shares (`files`, and
    /// `upload: false` as Slack's).
    fn with_files(
        &self,
        mut object: Value,
        message: &Message,
        shared: &[(MessageFile, File)],
    ) -> Value {
        let files: Vec<Value> = shared
            .iter()
            .filter(|(link, _)| link.message_id == message.id)
            .map(|(_, file)| super::files::file_object(file, self.base))
            .collect();
        if !files.is_empty() {
            object["files"] = Value::Array(files);
            object["upload"] = json!(false);
        }
        object
    }

    async fn post_ephemeral(&self) -> Answer {
        let id = parse_channel(
            &self
                .args
                .required("channel")
                .map_err(|_| SlackError::new("channel_not_found"))?,
        )?;
        let to = parse_user(
            &self
                .args
                .required("user")
                .map_err(|_| SlackError::new("user_not_in_channel"))?,
        )
        .map_err(|_| SlackError::new("user_not_in_channel"))?;
        let mut formatted = Map::new();
        for key in ["blocks", "attachments"] {
            if let Some(value) = self.args.json(key)? {
                formatted.insert(key.into(), value);
            }
        }
        let text = self
            .args
            .text("text")
            .or_else(|| fallback_text(&formatted))
            .ok_or_else(|| SlackError::new("no_text"))?;
        let thread = match self.args.text("thread_ts") {
            Some(_) => {
                let parent = self.message_at(id, "thread_ts").await?;
                Some(parent.thread_id.unwrap_or(parent.id))
            }
            None => None,
        };
        let post = PostMessage {
            content: text,
            formatted_content: (!formatted.is_empty()).then_some(Value::Object(formatted)),
            thread_id: thread,
            ..Default::default()
        };
        self.app
            .post_ephemeral(self.caller, id, to, post)
            .await
            .map_err(|e| match e {
                confab_core::Error::NotFound("user_in_channel") => {
                    SlackError::new("user_not_in_channel")
                }
                other => other.into(),
            })?;
        let now = chrono::Utc::now().timestamp_micros();
        Ok(answer(json!({"message_ts": format_ts(now)})))
    }

    async fn update_message(&self) -> Answer {
        let id = parse_channel(&self.args.required("channel")?)?;
        let message = self.message_at(id, "ts").await?;
        let mut formatted = message
            .formatted_content
            .clone()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        for key in ["blocks", "attachments"] {
            if let Some(value) = self.args.json(key)? {
                formatted.insert(key.into(), value);
            }
        }
        let text = self
            .args
            .text("text")
            .or_else(|| fallback_text(&formatted))
            .ok_or_else(|| SlackError::new("no_text"))?;
        let edited = self
            .app
            .edit_message(
                self.caller,
                message.id,
                &text,
                (!formatted.is_empty()).then_some(Value::Object(formatted)),
            )
            .await
            .map_err(|e| match e {
                confab_core::Error::Forbidden(_) => SlackError::new("cant_update_message"),
                other => other.into(),
            })?;
        Ok(answer(json!({
            "channel": self.channel_arg(),
            "ts": format_ts(edited.ts),
            "text": edited.content,
            "message": objects::message(&edited, None),
        })))
    }

    async fn delete_message(&self) -> Answer {
        let id = parse_channel(&self.args.required("channel")?)?;
        let message = self.message_at(id, "ts").await?;
        self.app
            .delete_message(self.caller, message.id)
            .await
            .map_err(|e| match e {
                confab_core::Error::Forbidden(_) => SlackError::new("cant_delete_message"),
                other => other.into(),
            })?;
        Ok(answer(json!({
            "channel": self.channel_arg(),
            "ts": format_ts(message.ts),
        })))
    }

    async fn permalink(&self) -> Answer {
        let id = parse_channel(&self.args.required("channel")?)?;
        let message = self.message_at(id, "message_ts").await?;
        let link = match message.thread_id {
            Some(parent) => format!(
                "{}/w/{}/c/{}/t/{}",
                self.base, message.workspace_id, message.channel_id, parent
            ),
            None => format!(
                "{}/w/{}/c/{}/m/{}",
                self.base, message.workspace_id, message.channel_id, message.id
            ),
        };
        Ok(answer(json!({
            "channel": self.channel_arg(),
            "permalink": link,
        })))
    }

    async fn list_conversations(&self) -> Answer {
        let types = match self.args.list("types") {
            asked if asked.is_empty() => vec!["public_channel".to_owned()],
            asked => asked,
        };
        let mut kinds = Vec::new();
        for kind in &types {
            let (channel_type, scope) = match kind.as_str() {
                "public_channel" => (ChannelType::Public, "channels:read"),
                "private_channel" => (ChannelType::Private, "groups:read"),
                "im" => (ChannelType::Direct, "im:read"),
                "mpim" => (ChannelType::Group, "mpim:read"),
                _ => return Err(SlackError::new("invalid_types")),
            };
            require_scope(self.caller, scope)?;
            kinds.push(channel_type);
        }
        let exclude_archived = self.args.flag("exclude_archived", false)?;
        let after = key_of(self.args.text("cursor"))?;
        let limit = limit(self.args, 100, 1000)?;
        let workspace = self.workspace();
        let mut found: Vec<(Channel, bool)> = self
            .app
            .my_channels(self.caller, workspace)
            .await?
            .into_iter()
            .map(|(c, m)| (c, m.is_active))
            .collect();
        if kinds.contains(&ChannelType::Public) {
            let mut from: Option<String> = None;
            loop {
                let page = self
                    .app
                    .browse_channels(self.caller, workspace, from.as_deref(), 200)
                    .await?;
                for channel in page.items {
                    if !found.iter().any(|(c, _)| c.id == channel.id) {
                        found.push((channel, false));
                    }
                }
                match page.next {
                    Some(next) => from = Some(next),
                    None => break,
                }
            }
        }
        found.retain(|(c, _)| {
            kinds.contains(&c.channel_type) && !(exclude_archived && c.is_archived)
        });
        found.sort_by_key(|(c, _)| c.id);
        if let Some(after) = after {
            let after: ChannelId = after
                .parse()
                .map_err(|_| SlackError::new("invalid_cursor"))?;
            found.retain(|(c, _)| c.id > after);
        }
        let more = found.len() > limit as usize;
        found.truncate(limit as usize);
        let next = more
            .then(|| found.last().map(|(c, _)| c.id.to_string()))
            .flatten();
        let channels: Vec<Value> = found
            .iter()
            .map(|(c, member)| conversation(c, Some(*member)))
            .collect();
        Ok(answer(
            json!({"channels": channels, "response_metadata": metadata(next)}),
        ))
    }

    async fn conversation_info(&self) -> Answer {
        let channel = self.channel_for("channel", "read").await?;
        let member = self.app.is_channel_member(self.caller, channel.id).await?;
        Ok(answer(
            json!({"channel": conversation(&channel, Some(member))}),
        ))
    }

    async fn history(&self) -> Answer {
        let channel = self.channel_for("channel", "history").await?;
        let limit = limit(self.args, 100, 999)?.min(confab_core::page::MAX_PAGE_SIZE);
        let inclusive = self.args.flag("inclusive", false)?;
        let oldest = match self.args.text("oldest") {
            Some(text) => Some(parse_ts(&text).map_err(|_| SlackError::new("invalid_ts_oldest"))?),
            None => None,
        };
        let latest = match self.args.text("latest") {
            Some(text) => Some(parse_ts(&text).map_err(|_| SlackError::new("invalid_ts_latest"))?),
            None => None,
        };
        let cursor = key_of(self.args.text("cursor"))?;
        let query = match (&cursor, latest) {
            (Some(key), _) => HistoryQuery::Before(
                key.parse::<MessageId>()
                    .map_err(|_| SlackError::new("invalid_cursor"))?,
            ),
            // Just after the latest stamp, so a message at it can be kept.
            (None, Some(latest)) => HistoryQuery::Until(micros_to_time(latest + 1_000)),
            (None, None) => HistoryQuery::Latest,
        };
        let page = self
            .app
            .history(self.caller, channel.id, query, limit + 1)
            .await
            .map_err(|e| match e {
                confab_core::Error::Invalid { .. } => SlackError::new("invalid_cursor"),
                other => other.into(),
            })?;
        let shared = page.files;
        let mut messages: Vec<Message> = page
            .messages
            .into_iter()
            .filter(|m| match latest {
                Some(latest) if cursor.is_none() => m.ts < latest || (inclusive && m.ts == latest),
                _ => true,
            })
            .collect();
        let mut more = messages.len() > limit as usize;
        messages.truncate(limit as usize);
        if let Some(oldest) = oldest {
            let before = messages.len();
            messages.retain(|m| m.ts > oldest || (inclusive && m.ts == oldest));
            more &= messages.len() == before;
        }
        let next = more
            .then(|| messages.last().map(|m| m.id.to_string()))
            .flatten();
        let parents = self.broadcast_parents(&messages).await?;
        let threads = self
            .app
            .thread_summaries(self.caller, channel.id, &messages)
            .await?;
        let objects: Vec<Value> = messages
            .iter()
            .map(|m| {
                let parent = m.thread_id.and_then(|t| parents.get(&t));
                let mut object = objects::message(m, parent.map(|p| p.ts));
                if let Some(parent) = parent {
                    object["parent_user_id"] = json!(user_id(parent.user_id));
                }
                if let Some(summary) = threads.get(&m.id) {
                    describe_thread(&mut object, summary);
                }
                self.with_files(object, m, &shared)
            })
            .collect();
        Ok(answer(json!({
            "messages": objects,
            "has_more": more,
            "pin_count": 0,
            "response_metadata": metadata(next),
        })))
    }

    /// The thread parents of the replies also sent to the channel among
    /// `messages`, for their `thread_ts` (few: broadcasts are rare).
    async fn broadcast_parents(
        &self,
        messages: &[Message],
    ) -> Result<HashMap<MessageId, Message>, SlackError> {
        let mut parents: HashMap<MessageId, Message> = HashMap::new();
        for parent in messages.iter().filter_map(|m| m.thread_id) {
            if let Entry::Vacant(slot) = parents.entry(parent) {
                match self.app.message(self.caller, parent).await {
                    Ok(found) => {
                        slot.insert(found);
                    }
                    // A parent gone from view leaves the reply without one.
                    Err(confab_core::Error::NotFound(_)) => {}
                    Err(other) => return Err(other.into()),
                }
            }
        }
        Ok(parents)
    }

    async fn replies(&self) -> Answer {
        let channel = self.channel_for("channel", "history").await?;
        let parent =
            self.message_at(channel.id, "ts")
                .await
                .map_err(|e| match e.code.as_str() {
                    "message_not_found" => SlackError::new("thread_not_found"),
                    _ => e,
                })?;
        let parent = match parent.thread_id {
            Some(top) => self.app.message(self.caller, top).await?,
            None => parent,
        };
        let limit = limit(self.args, 1000, 1000)?.min(confab_core::page::MAX_PAGE_SIZE);
        let after = match key_of(self.args.text("cursor"))? {
            Some(key) => Some(
                key.parse::<MessageId>()
                    .map_err(|_| SlackError::new("invalid_cursor"))?,
            ),
            None => None,
        };
        // The parent leads the first page only.
        let room = if after.is_none() { limit - 1 } else { limit };
        let page = self
            .app
            .thread(self.caller, parent.id, after, room + 1)
            .await?;
        let shared = page.files;
        let mut replies = page.messages;
        let more = replies.len() > room as usize;
        replies.truncate(room as usize);
        let next = more
            .then(|| replies.last().map(|m| m.id.to_string()))
            .flatten();
        let mut objects: Vec<Value> = Vec::new();
        if after.is_none() {
            let mut head = objects::message(&parent, None);
            let summary = self.app.thread_summary(self.caller, parent.id).await?;
            describe_thread(&mut head, &summary);
            objects.push(head);
        }
        objects.extend(replies.iter().map(|m| {
            let mut object = self.with_files(objects::message(m, Some(parent.ts)), m, &shared);
            object["parent_user_id"] = json!(user_id(parent.user_id));
            object
        }));
        Ok(answer(json!({
            "messages": objects,
            "has_more": more,
            "response_metadata": metadata(next),
        })))
    }

    async fn members(&self) -> Answer {
        let channel = self.channel_for("channel", "read").await?;
        let after = match key_of(self.args.text("cursor"))? {
            Some(key) => Some(
                key.parse::<UserId>()
                    .map_err(|_| SlackError::new("invalid_cursor"))?,
            ),
            None => None,
        };
        let limit = limit(self.args, 100, 1000)?.min(confab_core::page::MAX_PAGE_SIZE);
        let page = self
            .app
            .channel_members(self.caller, channel.id, after, limit)
            .await?;
        let members: Vec<String> = page.items.iter().map(|(_, u)| user_id(u.id)).collect();
        let next = page.next.map(|u| u.to_string());
        Ok(answer(
            json!({"members": members, "response_metadata": metadata(next)}),
        ))
    }

    async fn join(&self) -> Answer {
        let id = parse_channel(&self.args.required("channel")?)?;
        let access = self.app.channel_access(self.caller, id).await?;
        let already = access.membership.as_ref().is_some_and(|m| m.is_active);
        self.app.join_channel(self.caller, id).await?;
        let mut fields = answer(json!({"channel": conversation(&access.channel, Some(true))}));
        if already {
            fields.insert("warning".into(), json!("already_in_channel"));
            fields.insert(
                "response_metadata".into(),
                json!({"warnings": ["already_in_channel"]}),
            );
        }
        Ok(fields)
    }

    async fn leave(&self) -> Answer {
        let channel = self.channel_for("channel", "write").await?;
        if !self.app.is_channel_member(self.caller, channel.id).await? {
            return Ok(answer(json!({"not_in_channel": true})));
        }
        self.app.leave_channel(self.caller, channel.id).await?;
        Ok(Map::new())
    }

    async fn create(&self) -> Answer {
        let private = self.args.flag("is_private", false)?;
        require_scope(
            self.caller,
            if private {
                "groups:write"
            } else {
                "channels:manage"
            },
        )?;
        let name = self
            .args
            .required("name")
            .map_err(|_| SlackError::new("invalid_name_required"))?;
        let request = NewChannelRequest {
            name,
            private,
            ..Default::default()
        };
        let channel = self
            .app
            .create_channel(self.caller, self.workspace(), request)
            .await?;
        Ok(answer(
            json!({"channel": conversation(&channel, Some(true))}),
        ))
    }

    async fn invite(&self, add: bool) -> Answer {
        let channel = self.channel_for("channel", "write").await?;
        let names = match add {
            true => self.args.list("users"),
            false => self.args.text("user").into_iter().collect(),
        };
        if names.is_empty() {
            return Err(SlackError::new(if add {
                "no_user"
            } else {
                "user_not_found"
            }));
        }
        for name in names {
            let user = parse_user(&name)?;
            let done = match add {
                true => self
                    .app
                    .add_to_channel(self.caller, channel.id, user)
                    .await
                    .map(drop),
                false => {
                    self.app
                        .remove_from_channel(self.caller, channel.id, user)
                        .await
                }
            };
            done.map_err(|e| match e {
                confab_core::Error::NotFound(_) => SlackError::new("user_not_found"),
                confab_core::Error::Conflict { .. } if add => SlackError::new("already_in_channel"),
                other => other.into(),
            })?;
        }
        let mut fields = Map::new();
        if add {
            fields.insert("channel".into(), conversation(&channel, Some(true)));
        }
        Ok(fields)
    }

    async fn archive(&self, archived: bool) -> Answer {
        let channel = self.channel_for("channel", "write").await?;
        if channel.is_archived == archived {
            return Err(SlackError::new(if archived {
                "already_archived"
            } else {
                "not_archived"
            }));
        }
        if channel.is_general {
            return Err(SlackError::new("cant_archive_general"));
        }
        self.app
            .set_channel_archived(self.caller, channel.id, archived)
            .await?;
        Ok(Map::new())
    }

    async fn rename(&self) -> Answer {
        let channel = self.channel_for("channel", "write").await?;
        let name = self
            .args
            .required("name")
            .map_err(|_| SlackError::new("invalid_name_required"))?;
        let update = ChannelUpdate {
            name: Some(name),
            ..Default::default()
        };
        let changed = self
            .app
            .update_channel(self.caller, channel.id, update)
            .await?;
        Ok(answer(
            json!({"channel": conversation(&changed, Some(true))}),
        ))
    }

    async fn set_text(&self, topic: bool) -> Answer {
        let channel = self.channel_for("channel", "write").await?;
        let name = if topic { "topic" } else { "purpose" };
        let text = self.args.text(name);
        let value = text.clone().filter(|t| !t.is_empty());
        let update = match topic {
            true => ChannelUpdate {
                topic: Some(value),
                ..Default::default()
            },
            false => ChannelUpdate {
                purpose: Some(value),
                ..Default::default()
            },
        };
        let changed = self
            .app
            .update_channel(self.caller, channel.id, update)
            .await
            .map_err(|e| match e {
                confab_core::Error::Invalid { .. } | confab_core::Error::TooLarge { .. } => {
                    SlackError::new("too_long")
                }
                other => other.into(),
            })?;
        Ok(answer(
            json!({"channel": conversation(&changed, Some(true))}),
        ))
    }

    async fn mark(&self) -> Answer {
        let channel = self.channel_for("channel", "write").await?;
        let message = self.message_at(channel.id, "ts").await?;
        self.app
            .mark_read(self.caller, channel.id, message.id)
            .await?;
        Ok(Map::new())
    }

    async fn open(&self) -> Answer {
        let mut others = Vec::new();
        for name in self.args.list("users") {
            others.push(parse_user(&name)?);
        }
        if others.is_empty() {
            return Err(SlackError::new("users_list_not_supplied"));
        }
        let kind = if others.len() > 1 {
            "mpim:write"
        } else {
            "im:write"
        };
        require_scope(self.caller, kind)?;
        let channel = self
            .app
            .open_conversation(self.caller, self.workspace(), &others)
            .await
            .map_err(|e| match e {
                confab_core::Error::NotFound(_) | confab_core::Error::Invalid { .. } => {
                    SlackError::new("users_not_found")
                }
                other => other.into(),
            })?;
        Ok(answer(
            json!({"channel": conversation(&channel, Some(true))}),
        ))
    }

    async fn users_list(&self) -> Answer {
        let after = match key_of(self.args.text("cursor"))? {
            Some(key) => Some(
                key.parse::<MemberId>()
                    .map_err(|_| SlackError::new("invalid_cursor"))?,
            ),
            None => None,
        };
        let limit = limit(self.args, 200, 1000)?.min(confab_core::page::MAX_PAGE_SIZE);
        let page = self
            .app
            .list_members(
                self.caller,
                self.workspace(),
                MemberFilter::default(),
                after,
                limit,
            )
            .await?;
        let with_email = self.caller.has_scope("users:read.email");
        let members: Vec<Value> = page
            .items
            .iter()
            .map(|(m, u)| objects::user(u, Some(m), with_email))
            .collect();
        let next = page.next.map(|m| m.to_string());
        Ok(answer(json!({
            "members": members,
            "cache_ts": chrono::Utc::now().timestamp(),
            "response_metadata": metadata(next),
        })))
    }

    async fn user_info(&self, by_email: bool) -> Answer {
        let (member, user) = match by_email {
            true => {
                let email = self
                    .args
                    .text("email")
                    .ok_or_else(|| SlackError::new("users_not_found"))?;
                self.app
                    .find_member(self.caller, self.workspace(), None, Some(&email))
                    .await
            }
            false => {
                let id = parse_user(&self.args.text("user").unwrap_or_default())?;
                self.app
                    .find_member(self.caller, self.workspace(), Some(id), None)
                    .await
            }
        }
        .map_err(|e| match e {
            confab_core::Error::NotFound(_) if by_email => SlackError::new("users_not_found"),
            other => other.into(),
        })?;
        let with_email = self.caller.has_scope("users:read.email");
        Ok(answer(
            json!({"user": objects::user(&user, Some(&member), with_email)}),
        ))
    }

    /// The message named by `channel` and `timestamp` (Slack's names in
    /// reactions and pins).
    async fn target(&self) -> Result<(Channel, Message), SlackError> {
        let id = parse_channel(&self.args.required("channel")?)?;
        let access = self.app.channel_access(self.caller, id).await?;
        let message = self.message_at(id, "timestamp").await?;
        Ok((access.channel, message))
    }

    async fn react(&self, add: bool) -> Answer {
        let (_, message) = self.target().await?;
        let name = self
            .args
            .required("name")
            .map_err(|_| SlackError::new("invalid_name"))?;
        let name = name.trim_matches(':').to_owned();
        let changed = self.app.react(self.caller, message.id, &name, add).await?;
        if !changed.changed {
            return Err(SlackError::new(if add {
                "already_reacted"
            } else {
                "no_reaction"
            }));
        }
        Ok(Map::new())
    }

    async fn reactions(&self) -> Answer {
        let (channel, message) = self.target().await?;
        Ok(answer(json!({
            "type": "message",
            "channel": channel_id(&channel),
            "message": objects::message(&message, None),
        })))
    }

    /// `reactions.list`: what a person (the caller by default) reacted to,
    /// latest reaction first, in the conversations the caller reads.
    async fn reactions_list(&self) -> Answer {
        let user = match self.args.text("user") {
            Some(text) => parse_user(&text)?,
            None => self.caller.user.id,
        };
        let limit = limit(self.args, 100, 1000)?;
        let before = match key_of(self.args.text("cursor"))? {
            Some(key) => Some(reacted_key(&key).ok_or_else(|| SlackError::new("invalid_cursor"))?),
            None => None,
        };
        let page = self
            .app
            .reacted_by(self.caller, self.workspace(), user, before, limit)
            .await?;
        let items: Vec<Value> = page
            .items
            .iter()
            .filter(|(_, _, channel)| {
                self.caller
                    .has_scope(&conversation_scope(channel.channel_type, "history"))
            })
            .map(|(_, message, channel)| {
                json!({
                    "type": "message",
                    "channel": channel_id(channel),
                    "message": objects::message(message, None),
                })
            })
            .collect();
        let next = page
            .last
            .map(|last| format!("{}/{}", last.reacted_at.timestamp_micros(), last.message_id));
        Ok(answer(json!({
            "items": items,
            "response_metadata": metadata(next),
        })))
    }

    async fn pin(&self, pinned: bool) -> Answer {
        let (_, message) = self.target().await?;
        if message.is_pinned == pinned {
            return Err(SlackError::new(if pinned {
                "already_pinned"
            } else {
                "no_pin"
            }));
        }
        let changed = self.app.pin(self.caller, message.id, pinned).await?;
        if !changed.changed {
            return Err(SlackError::new(if pinned {
                "already_pinned"
            } else {
                "no_pin"
            }));
        }
        Ok(Map::new())
    }

    async fn pins(&self) -> Answer {
        let id = parse_channel(&self.args.required("channel")?)?;
        let pinned = self.app.pins(self.caller, id).await?;
        let channel = self.channel_arg();
        let items: Vec<Value> = pinned
            .iter()
            .map(|m| {
                json!({
                    "type": "message",
                    "channel": channel,
                    "created": m.pinned_at.map(|at| at.timestamp()),
                    "created_by": m.pinned_by.map(user_id),
                    "message": objects::message(m, None),
                })
            })
            .collect();
        Ok(answer(json!({"items": items})))
    }

    async fn get_presence(&self) -> Answer {
        let user = match self.args.text("user") {
            Some(text) => parse_user(&text)?,
            None => self.caller.user.id,
        };
        let found = self
            .app
            .presence(self.caller, self.workspace(), &[user])
            .await?;
        let presence = found.into_iter().next().flatten();
        let online = presence
            .as_ref()
            .is_some_and(|p| p.status == confab_core::realtime::PresenceStatus::Online);
        let away = presence
            .as_ref()
            .is_some_and(|p| p.status == confab_core::realtime::PresenceStatus::Away);
        Ok(answer(json!({
            "presence": if online { "active" } else { "away" },
            "online": online,
            "auto_away": false,
            "manual_away": away,
            "last_activity": presence.map(|p| p.last_seen.timestamp()),
        })))
    }

    async fn set_presence(&self) -> Answer {
        use confab_core::realtime::PresenceStatus;
        let status = match self.args.required("presence")?.as_str() {
            "auto" => PresenceStatus::Online,
            "away" => PresenceStatus::Away,
            _ => return Err(SlackError::new("invalid_presence")),
        };
        let update = confab_service::PresenceUpdate {
            status: Some(status),
            custom_status: None,
        };
        self.app
            .set_presence(self.caller, self.workspace(), update)
            .await?;
        Ok(Map::new())
    }

    async fn get_profile(&self) -> Answer {
        let user = match self.args.text("user") {
            Some(text) => parse_user(&text)?,
            None => self.caller.user.id,
        };
        let (member, account) = self
            .app
            .find_member(self.caller, self.workspace(), Some(user), None)
            .await?;
        let with_email = self.caller.has_scope("users:read.email") || user == self.caller.user.id;
        let object = objects::user(&account, Some(&member), with_email);
        Ok(answer(json!({"profile": object["profile"]})))
    }

    async fn set_profile(&self) -> Answer {
        if self.caller.user.is_bot {
            return Err(SlackError::new("not_allowed_token_type"));
        }
        let mut fields = match self.args.json("profile")? {
            Some(Value::Object(fields)) => fields,
            Some(_) => return Err(SlackError::new("invalid_profile")),
            None => Map::new(),
        };
        if let (Some(name), Some(value)) = (self.args.text("name"), self.args.text("value")) {
            fields.insert(name, Value::String(value));
        }
        let text = |key: &str| fields.get(key).and_then(Value::as_str).map(str::to_owned);
        let optional = |key: &str| text(key).map(|v| Some(v).filter(|v| !v.is_empty()));
        let update = ProfileUpdate {
            display_name: text("display_name").or_else(|| text("real_name")),
            title: optional("title"),
            phone: optional("phone"),
            pronouns: optional("pronouns"),
            ..Default::default()
        };
        let changed = self
            .app
            .update_profile(self.caller, update)
            .await
            .map_err(|e| match e {
                confab_core::Error::Invalid { .. } => SlackError::new("invalid_profile"),
                other => other.into(),
            })?;
        let member = self
            .app
            .find_member(self.caller, self.workspace(), Some(changed.id), None)
            .await?
            .0;
        let object = objects::user(&changed, Some(&member), true);
        Ok(answer(json!({"profile": object["profile"]})))
    }

    async fn team_info(&self) -> Answer {
        let (team, _) = self
            .app
            .workspace_for(self.caller, self.workspace())
            .await?;
        Ok(answer(json!({
            "team": {
                "id": team_id(team.id),
                "name": team.name,
                "domain": team.domain.unwrap_or_default(),
                "email_domain": "",
                "icon": {"image_132": team.avatar_url.unwrap_or_default(), "image_default": true},
            }
        })))
    }
}

/// The text Slack shows for a message given only blocks or attachments:
/// their `text` fields, in order.
pub(super) fn fallback_text(formatted: &Map<String, Value>) -> Option<String> {
    fn texts(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("text" | "fallback", Value::String(s)) if !s.trim().is_empty() => {
                            found.push(s.clone())
                        }
                        _ => texts(inner, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| texts(i, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for key in ["blocks", "attachments"] {
        if let Some(value) = formatted.get(key) {
            texts(value, &mut found);
        }
    }
    let text: String = found
        .join("\n")
        .chars()
        .take(confab_service::MAX_MESSAGE_CHARS)
        .collect();
    (!text.trim().is_empty()).then_some(text)
}

fn micros_to_time(micros: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default()
}
