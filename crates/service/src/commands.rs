//! Slash commands: `/command text` typed in a channel is sent to the
//! command's URL as Slack's signed form, and its answer is shown to the
//! person who typed it (`ephemeral`) or posted in the channel as the
//! command's bot (`in_channel`). Its `response_url` takes more answers for
//! 30 minutes. Also `chat.postEphemeral`.

use confab_core::id::*;
use confab_core::model::*;
use confab_core::ports::Outbound;
use confab_core::realtime::{Event, Topic};
use confab_core::slack::{conversation_id, user_id};
use confab_core::{time, Error, Result};
use serde_json::Value;

use crate::accounts::Caller;
use crate::integrations::acting_caller;
use crate::{PostMessage, Posted, Services};

/// How long a command's `response_url` takes answers.
pub const RESPONSE_URL_LIFETIME: chrono::Duration = chrono::Duration::minutes(30);

/// What a command answered.
#[derive(Clone, Debug)]
pub enum CommandOutcome {
    /// Shown to the person who typed it alone (not kept).
    Ephemeral {
        text: String,
        formatted_content: Option<Value>,
    },
    /// Posted in the channel as the command's bot.
    InChannel(Box<Posted>),
    /// The URL acknowledged it and said nothing (more may come through
    /// `response_url`).
    Acknowledged,
    /// The URL failed; why, to show the person.
    Failed(String),
}

/// A command's answer, as its URL or `response_url` sends it.
struct Answer {
    in_channel: bool,
    text: String,
    formatted_content: Option<Value>,
}

impl Answer {
    /// Slack's answer shapes: JSON with `text`/`blocks`/`attachments` and
    /// `response_type`, or plain text (ephemeral).
    fn parse(body: &str) -> Option<Self> {
        let body = body.trim();
        if body.is_empty() {
            return None;
        }
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(body) else {
            return Some(Self {
                in_channel: false,
                text: body.to_owned(),
                formatted_content: None,
            });
        };
        let mut formatted = serde_json::Map::new();
        for key in ["blocks", "attachments"] {
            if let Some(value) = fields.get(key).filter(|v| !v.is_null()) {
                formatted.insert(key.into(), value.clone());
            }
        }
        Some(Self {
            in_channel: fields.get("response_type").and_then(Value::as_str) == Some("in_channel"),
            text: fields
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            formatted_content: (!formatted.is_empty()).then_some(Value::Object(formatted)),
        })
    }
}

/// What a `response_url` token holds (sealed).
#[derive(serde::Serialize, serde::Deserialize)]
struct ResponseTicket {
    kind: String,
    integration: IntegrationId,
    channel: ChannelId,
    user: UserId,
    until: chrono::DateTime<chrono::Utc>,
}

const RESPONSE_KIND: &str = "command-response";

/// Whether `text` is a command name: `/`, then 1 to 31 lowercase letters,
/// digits, `-` or `_`.
pub fn check_command(text: &str) -> Result<String> {
    let name = text.trim().to_ascii_lowercase();
    let valid = name.strip_prefix('/').is_some_and(|rest| {
        (1..=31).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    });
    if !valid {
        return Err(Error::invalid(
            "command",
            "must be / and 1 to 31 lowercase letters, digits, - or _",
        ));
    }
    Ok(name)
}

impl Services {
    /// The active slash command `name` of a workspace.
    async fn find_command(
        &self,
        workspace: WorkspaceId,
        name: &str,
    ) -> Result<Option<Integration>> {
        Ok(self
            .stores
            .integrations
            .list_integrations(workspace)
            .await?
            .into_iter()
            .find(|i| {
                i.integration_type == IntegrationType::SlashCommand.as_str()
                    && i.status == "active"
                    && i.config["command"].as_str() == Some(name)
            }))
    }

    /// Refuse a second active command of the same name in a workspace.
    pub(crate) async fn require_free_command(
        &self,
        workspace: WorkspaceId,
        name: &str,
    ) -> Result<()> {
        if self.find_command(workspace, name).await?.is_some() {
            return Err(Error::conflict(
                "command",
                format!("{name} is taken in this workspace"),
            ));
        }
        Ok(())
    }

    /// Run `/command text` typed by the caller in `channel`; `base` is the
    /// server's address for the `response_url`.
    pub async fn run_command(
        &self,
        caller: &Caller,
        channel: ChannelId,
        command: &str,
        text: &str,
        base: &str,
    ) -> Result<CommandOutcome> {
        let name = check_command(command)?;
        let access = self.channel_access(caller, channel).await?;
        access.require_member()?;
        let workspace = &access.workspace_member;
        let integration = self
            .find_command(workspace.workspace_id, &name)
            .await?
            .ok_or(Error::NotFound("command"))?;
        let url = integration.config["url"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let ticket = ResponseTicket {
            kind: RESPONSE_KIND.into(),
            integration: integration.id,
            channel,
            user: caller.user.id,
            until: time::now() + RESPONSE_URL_LIFETIME,
        };
        let sealed = self
            .policy
            .secret_key
            .seal_token(&serde_json::to_string(&ticket).map_err(Error::internal)?)?;
        let team = confab_core::slack::team_id(workspace.workspace_id);
        let channel_name = access.channel.name.clone();
        let conversation = conversation_id(&access.channel);
        let fields = [
            ("token", integration.app_id.clone()),
            ("team_id", team),
            ("team_domain", String::new()),
            ("channel_id", conversation),
            ("channel_name", channel_name),
            ("user_id", user_id(caller.user.id)),
            ("user_name", caller.user.username.clone()),
            ("command", name.clone()),
            ("text", text.to_owned()),
            ("api_app_id", integration.app_id.clone()),
            ("is_enterprise_install", "false".into()),
            ("response_url", format!("{base}/commands/respond/{sealed}")),
            ("trigger_id", hex(&rand::random::<[u8; 16]>())),
        ];
        let form: serde_json::Map<String, Value> = fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v)))
            .collect();
        let outcome = self
            .send_signed_form(&integration, &url, form_body(&Value::Object(form)))
            .await?;
        let answer = match outcome {
            Outbound::Answered { status: 200, body } => Answer::parse(&body),
            Outbound::Answered { status, .. } => {
                return Ok(CommandOutcome::Failed(format!(
                    "{name} failed: its URL answered {status}"
                )))
            }
            Outbound::TimedOut => {
                return Ok(CommandOutcome::Failed(format!(
                    "{name} failed: operation_timeout"
                )))
            }
            Outbound::Refused(why) | Outbound::Failed(why) => {
                return Ok(CommandOutcome::Failed(format!("{name} failed: {why}")))
            }
        };
        let Some(answer) = answer else {
            return Ok(CommandOutcome::Acknowledged);
        };
        // The caller's client shows this answer from the response itself.
        self.answer_command(&integration, &access.channel, caller.user.id, answer, false)
            .await
    }

    /// Post a command's answer, or (ephemeral) send it to `user`'s sockets
    /// when `tell` says so.
    async fn answer_command(
        &self,
        integration: &Integration,
        channel: &Channel,
        user: UserId,
        answer: Answer,
        tell: bool,
    ) -> Result<CommandOutcome> {
        let bot = self.integration_bot(integration).await?;
        if answer.in_channel {
            let post = PostMessage {
                content: answer.text,
                formatted_content: answer.formatted_content,
                ..Default::default()
            };
            let posted = self.post_into(&bot, channel, post).await?;
            return Ok(CommandOutcome::InChannel(Box::new(posted)));
        }
        if tell {
            let formatted = answer.formatted_content.clone();
            self.send_ephemeral(channel.id, bot.user.id, user, &answer.text, formatted, None)
                .await?;
        }
        Ok(CommandOutcome::Ephemeral {
            text: answer.text,
            formatted_content: answer.formatted_content,
        })
    }

    /// The caller acting as an integration's bot user, while it is active.
    pub(crate) async fn integration_bot(&self, integration: &Integration) -> Result<Caller> {
        let gone = || Error::NotFound("integration");
        let id: UserId = integration.config["bot_user_id"]
            .as_str()
            .and_then(|u| u.parse().ok())
            .ok_or_else(gone)?;
        let user = self
            .stores
            .users
            .get_user(id)
            .await?
            .filter(|u| u.status == UserStatus::Active)
            .ok_or_else(gone)?;
        Ok(acting_caller(user, integration.workspace_id, "bot"))
    }

    /// An answer through a command's `response_url`: JSON as the first
    /// answer, for 30 minutes. Unknown, expired and removed are NotFound.
    pub async fn respond_to_command(&self, token: &str, body: &str) -> Result<CommandOutcome> {
        let gone = || Error::NotFound("response_url");
        let ticket: ResponseTicket = self
            .policy
            .secret_key
            .open_token(token)
            .and_then(|plain| serde_json::from_str(&plain).ok())
            .filter(|t: &ResponseTicket| t.kind == RESPONSE_KIND && t.until > time::now())
            .ok_or_else(gone)?;
        let integration = self
            .stores
            .integrations
            .get_integration(ticket.integration)
            .await?
            .filter(|i| i.status == "active")
            .ok_or_else(gone)?;
        let channel = self
            .stores
            .channels
            .get_channel(ticket.channel)
            .await?
            .ok_or_else(gone)?;
        let answer = Answer::parse(body)
            .filter(|a| !a.text.trim().is_empty() || a.formatted_content.is_some())
            .ok_or_else(|| Error::invalid("body", "send text or blocks"))?;
        self.answer_command(&integration, &channel, ticket.user, answer, true)
            .await
    }

    /// Tell `to` alone of a message in `channel` from `from`; not kept.
    /// Held to the limits of a post (length, characters, blocks' size).
    pub(crate) async fn send_ephemeral(
        &self,
        channel: ChannelId,
        from: UserId,
        to: UserId,
        text: &str,
        formatted_content: Option<Value>,
        thread_id: Option<MessageId>,
    ) -> Result<()> {
        let text = match text.trim().is_empty() {
            true => String::new(),
            false => crate::messages::check_content(text)?,
        };
        let event = Event::Ephemeral {
            channel_id: channel,
            user_id: from,
            text,
            formatted_content: crate::messages::check_formatted(formatted_content)?,
            thread_id,
        };
        self.publish(Topic::User(to), time::now(), event).await;
        Ok(())
    }

    /// `chat.postEphemeral`: a message in `channel` that `to`, a member,
    /// alone sees, now (not kept).
    pub async fn post_ephemeral(
        &self,
        caller: &Caller,
        channel: ChannelId,
        to: UserId,
        post: PostMessage,
    ) -> Result<()> {
        let access = self.channel_access(caller, channel).await?;
        access.require_member()?;
        let member = self
            .stores
            .channels
            .get_channel_member(channel, to)
            .await?
            .filter(|m| m.is_active);
        if member.is_none() {
            return Err(Error::NotFound("user_in_channel"));
        }
        if post.content.trim().is_empty() && post.formatted_content.is_none() {
            return Err(Error::invalid("content", "must not be empty"));
        }
        self.send_ephemeral(
            channel,
            caller.user.id,
            to,
            &post.content,
            post.formatted_content,
            post.thread_id,
        )
        .await
    }
}

/// A JSON object of text fields as an `application/x-www-form-urlencoded`
/// body, in the object's order.
pub(crate) fn form_body(fields: &Value) -> Vec<u8> {
    let mut body = form_urlencoded::Serializer::new(String::new());
    if let Some(fields) = fields.as_object() {
        for (name, value) in fields {
            body.append_pair(name, value.as_str().unwrap_or_default());
        }
    }
    body.finish().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names_are_checked() {
        assert_eq!(check_command("/Deploy").unwrap(), "/deploy");
        for bad in [
            "deploy",
            "/",
            "/with space",
            "/ünï",
            &format!("/{}", "x".repeat(32)),
        ] {
            assert!(check_command(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_are_read_as_slack_sends_them() {
        let a = Answer::parse(r#"{"response_type": "in_channel", "text": "done"}"#).unwrap();
        assert!(a.in_channel && a.text == "done");
        let a = Answer::parse("just text").unwrap();
        assert!(!a.in_channel && a.text == "just text");
        assert!(Answer::parse("  ").is_none());
        let form = form_body(&serde_json::json!({"text": "a b&c=/é", "user": "U1"}));
        assert_eq!(form, b"text=a+b%26c%3D%2F%C3%A9&user=U1");
    }
}
