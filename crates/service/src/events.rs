//! The Events API: bots subscribe a request URL to events; each event of a
//! channel the bot is in is queued in the database for it and delivered in
//! Slack's `event_callback` envelope, signed with the bot's signing secret
//! (`X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")`),
//! retried with backoff (`X-Slack-Retry-Num`, `X-Slack-Retry-Reason`), and
//! turned off after repeated failures. An event is queued after the change
//! it tells of commits.

use std::sync::Arc;
use std::time::Duration;

use confab_core::id::*;
use confab_core::model::*;
use confab_core::ports::{Outbound, OutboundHttp};
use confab_core::realtime::Event;
use confab_core::slack::{conversation_id, encode, format_ts, user_id, SlackKind};
use confab_core::{time, Error, Result};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::{watch, Notify};

use crate::accounts::Caller;
use crate::Services;

/// The events a bot can subscribe to.
pub const EVENT_TYPES: &[&str] = &[
    "message",
    "app_mention",
    "reaction_added",
    "reaction_removed",
    "member_joined_channel",
    "channel_created",
];

/// Whether `integration` is an active outgoing webhook on `channel`.
fn listens_in(integration: &Integration, channel: ChannelId) -> bool {
    integration.integration_type == IntegrationType::OutgoingWebhook.as_str()
        && integration.status == "active"
        && integration.channel_id == Some(channel)
}

/// Deliveries claimed at once.
const DELIVERY_BATCH: u32 = 50;
/// Beyond a batch's sends, before another node may take its deliveries.
const DELIVERY_LEASE_MARGIN: Duration = Duration::from_secs(30);

/// How events go out, and where to.
#[derive(Clone)]
pub(crate) struct EventsPart {
    pub outbound: Arc<dyn OutboundHttp>,
    pub wake: Arc<Notify>,
}

/// The Events API's timing rules.
#[derive(Clone, Debug)]
pub struct EventPolicy {
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// The waits before each retry; after the last, a delivery has failed.
    pub retry_delays: Vec<Duration>,
    /// Deliveries that fail for good in a row before a bot's events are
    /// turned off.
    pub failures_to_disable: i64,
}

impl Default for EventPolicy {
    /// Slack's: three seconds to answer, retries nearly at once, after a
    /// minute and after five.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            retry_delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(60),
                Duration::from_secs(300),
            ],
            failures_to_disable: 10,
        }
    }
}

/// `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}` under `secret`:
/// Slack's request signature.
pub fn slack_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex(&mac.finalize().into_bytes()))
}

/// A new Slack-shaped event id.
fn new_event_id() -> String {
    format!("Ev{}", &encode(SlackKind::Team, uuid_now())[1..])
}

fn uuid_now() -> uuid::Uuid {
    IntegrationId::new().0
}

/// `channel_type` of a message event.
fn channel_type(channel: &Channel) -> &'static str {
    match channel.channel_type {
        ChannelType::Public => "channel",
        ChannelType::Private => "group",
        ChannelType::Direct => "im",
        ChannelType::Group => "mpim",
    }
}

/// The `app_mention` a message event `body` also is for `bot`, when the
/// message names the bot and is not its own.
fn app_mention(event: &Event, body: &Value, bot: UserId) -> Option<Value> {
    let (Event::MessageCreated { message } | Event::ThreadReply { message, .. }) = event else {
        return None;
    };
    let named = message.content.contains(&format!("<@{}>", user_id(bot)));
    if !named || message.user_id == bot {
        return None;
    }
    let mut mention = body.clone();
    mention["type"] = json!("app_mention");
    if let Some(fields) = mention.as_object_mut() {
        fields.remove("channel_type");
        fields.remove("subtype");
    }
    Some(mention)
}

/// A bot subscribed to events: its integration, user and request URL.
struct Subscriber {
    integration: Integration,
    bot_user: UserId,
    events: Vec<String>,
}

impl Subscriber {
    fn of(integration: Integration) -> Option<Self> {
        let config = &integration.config;
        config["event_url"].as_str()?;
        let bot_user = config["bot_user_id"].as_str()?.parse().ok()?;
        let events = config["events"]
            .as_array()?
            .iter()
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect();
        (integration.status == "active").then_some(Self {
            integration,
            bot_user,
            events,
        })
    }

    fn wants(&self, kind: &str) -> bool {
        self.events.iter().any(|e| e == kind)
    }
}

impl Services {
    /// These services, sending events out through `outbound`.
    pub fn with_outbound(mut self, outbound: Arc<dyn OutboundHttp>) -> Self {
        self.events = Some(EventsPart {
            outbound,
            wake: Arc::new(Notify::new()),
        });
        self
    }

    fn events_part(&self) -> Result<&EventsPart> {
        self.events
            .as_ref()
            .ok_or_else(|| Error::Unavailable("events are not sent from this server".into()))
    }

    /// The bot's signing secret, opened.
    fn signing_secret(&self, integration: &Integration) -> Result<String> {
        let sealed = integration
            .credentials
            .as_ref()
            .and_then(|c| c["signing_secret"].as_str())
            .ok_or_else(|| Error::Internal("a bot without a signing secret".into()))?;
        self.policy.secret_key.open(sealed)
    }

    /// A new signing secret, and its sealed form for the credentials.
    pub(crate) fn new_signing_secret(&self) -> Result<(String, String)> {
        let secret = hex(&rand::random::<[u8; 32]>());
        let sealed = self.policy.secret_key.seal(&secret)?;
        Ok((secret, sealed))
    }

    /// Subscribe a bot to `events` at `url`, or (`url` None) stop its
    /// events. The URL must pass Slack's check: it is sent a signed
    /// `url_verification` and must answer with its challenge.
    pub async fn subscribe_bot_events(
        &self,
        caller: &Caller,
        id: IntegrationId,
        url: Option<&str>,
        events: &[String],
    ) -> Result<Integration> {
        let integration = self.managed_integration(caller, id).await?;
        if integration.integration_type != IntegrationType::Bot.as_str() {
            return Err(Error::invalid("integration", "only bots receive events"));
        }
        if integration.status == "revoked" {
            return Err(Error::NotFound("integration"));
        }
        let mut config = integration.config.clone();
        let Some(url) = url else {
            config["event_url"] = Value::Null;
            return self
                .stores
                .integrations
                .update_integration(id, &config, "active", None)
                .await;
        };
        for kind in events {
            if !EVENT_TYPES.contains(&kind.as_str()) {
                return Err(Error::invalid("events", format!("unknown event {kind:?}")));
            }
        }
        let url = crate::validate::url("url", url)?;
        self.verify_event_url(&integration, &url).await?;
        config["event_url"] = json!(url);
        config["events"] = json!(events);
        config["failures_in_a_row"] = json!(0);
        self.stores
            .integrations
            .update_integration(id, &config, "active", None)
            .await
    }

    /// Slack's URL check: a signed `url_verification` whose challenge the
    /// URL must send back (as `{"challenge": …}` or as the whole body).
    async fn verify_event_url(&self, integration: &Integration, url: &str) -> Result<()> {
        let part = self.events_part()?;
        let challenge = hex(&rand::random::<[u8; 24]>());
        let body = json!({
            "token": integration.app_id,
            "challenge": challenge,
            "type": "url_verification",
        });
        let outcome = self.send_signed(part, integration, url, &body, &[]).await?;
        let answered = match outcome {
            Outbound::Answered { status: 200, body } => {
                let echoed = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|v| v["challenge"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| body.trim().to_owned());
                echoed == challenge
            }
            Outbound::Refused(why) => {
                return Err(Error::invalid("url", format!("may not be called: {why}")))
            }
            _ => false,
        };
        if !answered {
            return Err(Error::invalid(
                "url",
                "did not answer the url_verification request with its challenge",
            ));
        }
        Ok(())
    }

    /// POST `body` as JSON to `url`, signed with the bot's secret.
    async fn send_signed(
        &self,
        part: &EventsPart,
        integration: &Integration,
        url: &str,
        body: &Value,
        extra: &[(String, String)],
    ) -> Result<Outbound> {
        let bytes = serde_json::to_vec(body).map_err(Error::internal)?;
        self.send_signed_bytes(part, integration, url, bytes, "application/json", extra)
            .await
    }

    /// POST a form to `url`, signed with the integration's secret (a slash
    /// command's call).
    pub(crate) async fn send_signed_form(
        &self,
        integration: &Integration,
        url: &str,
        body: Vec<u8>,
    ) -> Result<Outbound> {
        let part = self.events_part()?.clone();
        self.send_signed_bytes(
            &part,
            integration,
            url,
            body,
            "application/x-www-form-urlencoded",
            &[],
        )
        .await
    }

    async fn send_signed_bytes(
        &self,
        part: &EventsPart,
        integration: &Integration,
        url: &str,
        bytes: Vec<u8>,
        content_type: &str,
        extra: &[(String, String)],
    ) -> Result<Outbound> {
        let secret = self.signing_secret(integration)?;
        let timestamp = time::now().timestamp();
        let mut headers = vec![
            ("content-type".to_owned(), content_type.to_owned()),
            (
                "x-slack-request-timestamp".to_owned(),
                timestamp.to_string(),
            ),
            (
                "x-slack-signature".to_owned(),
                slack_signature(&secret, timestamp, &bytes),
            ),
        ];
        headers.extend_from_slice(extra);
        Ok(part
            .outbound
            .post(url, &headers, bytes, self.policy.events.timeout)
            .await)
    }

    /// An integration the caller may manage.
    pub(crate) async fn managed_integration(
        &self,
        caller: &Caller,
        id: IntegrationId,
    ) -> Result<Integration> {
        let integration = self
            .stores
            .integrations
            .get_integration(id)
            .await?
            .ok_or(Error::NotFound("integration"))?;
        self.integration_manager(caller, integration.workspace_id)
            .await
            .map_err(|e| match e {
                Error::NotFound(_) => Error::NotFound("integration"),
                other => other,
            })?;
        Ok(integration)
    }

    /// Queue `event` for the bots subscribed to it. Called after the change
    /// committed; a failure here is logged, never the caller's.
    pub(crate) async fn queue_bot_events(&self, event: &Event) {
        let Some(part) = &self.events else {
            return;
        };
        match self.bot_deliveries(event).await {
            Ok(deliveries) if deliveries.is_empty() => {}
            Ok(deliveries) => {
                match self
                    .stores
                    .integrations
                    .enqueue_deliveries(&deliveries)
                    .await
                {
                    Ok(()) => part.wake.notify_one(),
                    Err(e) => tracing::warn!(error = %e, "queueing events for bots failed"),
                }
            }
            Err(e) => tracing::warn!(error = %e, "finding the bots an event goes to failed"),
        }
    }

    /// The deliveries `event` makes: one per subscribed bot that may see it.
    async fn bot_deliveries(&self, event: &Event) -> Result<Vec<NewEventDelivery>> {
        let (channel_id, kind) = match event {
            Event::MessageCreated { message } | Event::ThreadReply { message, .. } => {
                (message.channel_id, "message")
            }
            Event::ReactionAdded { channel_id, .. } => (*channel_id, "reaction_added"),
            Event::ReactionRemoved { channel_id, .. } => (*channel_id, "reaction_removed"),
            Event::MemberJoined { channel_id, .. } => (*channel_id, "member_joined_channel"),
            Event::ChannelCreated { channel } => (channel.id, "channel_created"),
            _ => return Ok(Vec::new()),
        };
        // Most workspaces have no bot listening: ask that first, by the
        // workspace the event names when it names one.
        let known_workspace = match event {
            Event::MessageCreated { message } | Event::ThreadReply { message, .. } => {
                Some(message.workspace_id)
            }
            Event::ChannelCreated { channel } => Some(channel.workspace_id),
            _ => None,
        };
        let channel = match known_workspace {
            Some(_) => None,
            None => match self.stores.channels.get_channel(channel_id).await? {
                Some(channel) => Some(channel),
                None => return Ok(Vec::new()),
            },
        };
        let workspace = known_workspace
            .or(channel.as_ref().map(|c| c.workspace_id))
            .unwrap_or_default();
        let integrations = self
            .stores
            .integrations
            .list_integrations(workspace)
            .await?;
        let subscribers: Vec<Subscriber> = integrations
            .iter()
            .cloned()
            .filter_map(Subscriber::of)
            .collect();
        let hooks_listen = matches!(event, Event::MessageCreated { .. })
            && integrations.iter().any(|i| listens_in(i, channel_id));
        if subscribers.is_empty() && !hooks_listen {
            return Ok(Vec::new());
        }
        let channel = match channel {
            Some(channel) => channel,
            None => match self.stores.channels.get_channel(channel_id).await? {
                Some(channel) => channel,
                None => return Ok(Vec::new()),
            },
        };
        let mut deliveries = Vec::new();
        if let Event::MessageCreated { message } = event {
            deliveries.extend(self.outgoing_webhook_calls(message, &channel, &integrations));
        }
        // The events are the same for every bot: read and built once.
        let mut bodies: Option<Vec<Value>> = None;
        for bot in subscribers {
            let sees = match kind {
                // A new public channel is news to every bot that asked.
                "channel_created" => channel.channel_type == ChannelType::Public,
                _ => self
                    .stores
                    .channels
                    .get_channel_member(channel.id, bot.bot_user)
                    .await?
                    .is_some_and(|m| m.is_active),
            };
            if !sees {
                continue;
            }
            if bodies.is_none() {
                bodies = Some(self.event_bodies(event, &channel).await?);
            }
            for inner in bodies.iter().flatten() {
                let mention = app_mention(event, inner, bot.bot_user);
                for inner in std::iter::once(inner.clone()).chain(mention) {
                    let kind = inner["type"].as_str().unwrap_or_default().to_owned();
                    if bot.wants(&kind) {
                        deliveries.push(self.envelope(&bot, &channel, inner));
                    }
                }
            }
        }
        Ok(deliveries)
    }

    /// Slack's inner events for `event`, the same for every bot.
    async fn event_bodies(&self, event: &Event, channel: &Channel) -> Result<Vec<Value>> {
        let now = time::now();
        let event_ts = format_ts(now.timestamp_micros());
        let conversation = conversation_id(channel);
        Ok(match event {
            Event::MessageCreated { message } | Event::ThreadReply { message, .. } => {
                let parent = match message.thread_id {
                    Some(parent) => self.stores.messages.get_message(parent).await?,
                    None => None,
                };
                let mut body = confab_core::slack::message(message, parent.as_ref().map(|p| p.ts));
                body["channel"] = json!(conversation);
                body["event_ts"] = json!(format_ts(message.ts));
                body["channel_type"] = json!(channel_type(channel));
                if let Some(parent) = &parent {
                    body["parent_user_id"] = json!(user_id(parent.user_id));
                }
                vec![body]
            }
            Event::ReactionAdded {
                message_id,
                user_id: who,
                emoji,
                ..
            }
            | Event::ReactionRemoved {
                message_id,
                user_id: who,
                emoji,
                ..
            } => {
                let Some(message) = self.stores.messages.get_message(*message_id).await? else {
                    return Ok(Vec::new());
                };
                let kind = match event {
                    Event::ReactionAdded { .. } => "reaction_added",
                    _ => "reaction_removed",
                };
                vec![json!({
                    "type": kind,
                    "user": user_id(*who),
                    "reaction": emoji,
                    "item_user": user_id(message.user_id),
                    "item": {"type": "message", "channel": conversation, "ts": format_ts(message.ts)},
                    "event_ts": event_ts,
                })]
            }
            Event::MemberJoined { user_id: who, .. } => vec![json!({
                "type": "member_joined_channel",
                "user": user_id(*who),
                "channel": conversation,
                "channel_type": if channel.channel_type == ChannelType::Public { "C" } else { "G" },
                "team": confab_core::slack::team_id(channel.workspace_id),
                "event_ts": event_ts,
            })],
            Event::ChannelCreated { channel } => vec![json!({
                "type": "channel_created",
                "channel": {
                    "id": conversation,
                    "name": channel.name,
                    "created": channel.created_at.timestamp(),
                    "creator": user_id(channel.created_by),
                },
                "event_ts": event_ts,
            })],
            _ => Vec::new(),
        })
    }

    /// The `event_callback` envelope of `inner` for `bot`.
    fn envelope(&self, bot: &Subscriber, channel: &Channel, inner: Value) -> NewEventDelivery {
        let now = time::now();
        let event_id = new_event_id();
        let team = confab_core::slack::team_id(channel.workspace_id);
        let payload = json!({
            "token": bot.integration.app_id,
            "team_id": team,
            "api_app_id": bot.integration.app_id,
            "event": inner,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": now.timestamp(),
            "authorizations": [{
                "enterprise_id": null,
                "team_id": team,
                "user_id": user_id(bot.bot_user),
                "is_bot": true,
                "is_enterprise_install": false,
            }],
            "is_ext_shared_channel": false,
        });
        NewEventDelivery {
            id: IntegrationId::new(),
            integration_id: bot.integration.id,
            event_id,
            payload,
            created_at: now,
        }
    }

    /// The calls a new top-level message makes to the outgoing webhooks of
    /// its channel: those with no trigger words, or one the text starts
    /// with. Bots' messages call none (no loops between hooks), nor do the
    /// notices Confab writes.
    fn outgoing_webhook_calls(
        &self,
        message: &Message,
        channel: &Channel,
        integrations: &[Integration],
    ) -> Vec<NewEventDelivery> {
        if matches!(message.message_type, MessageType::Bot | MessageType::System) {
            return Vec::new();
        }
        let mut calls = Vec::new();
        for hook in integrations.iter().filter(|i| listens_in(i, channel.id)) {
            let triggers: Vec<&str> = hook.config["trigger_words"]
                .as_array()
                .map(|words| words.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let trigger = match triggers.is_empty() {
                true => Some(""),
                false => triggers
                    .iter()
                    .copied()
                    .find(|word| message.content.starts_with(word)),
            };
            let Some(trigger) = trigger else {
                continue;
            };
            let token = hook
                .credentials
                .as_ref()
                .and_then(|c| c["token"].as_str())
                .and_then(|sealed| self.policy.secret_key.open(sealed).ok())
                .unwrap_or_default();
            let form = json!({
                "token": token,
                "team_id": confab_core::slack::team_id(channel.workspace_id),
                "channel_id": conversation_id(channel),
                "channel_name": channel.name,
                "timestamp": format_ts(message.ts),
                "user_id": user_id(message.user_id),
                "text": message.content,
                "trigger_word": trigger,
            });
            calls.push(NewEventDelivery {
                id: IntegrationId::new(),
                integration_id: hook.id,
                event_id: new_event_id(),
                payload: json!({ "outgoing_webhook": form }),
                created_at: time::now(),
            });
        }
        calls
    }

    /// Post an outgoing webhook's answer (`{"text": …}`) in its channel, as
    /// its bot. A failure is logged: the call itself was delivered.
    async fn answer_outgoing_webhook(&self, hook: &Integration, body: &str) {
        let Ok(Value::Object(answer)) = serde_json::from_str::<Value>(body) else {
            return;
        };
        let text = answer
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if text.trim().is_empty() {
            return;
        }
        let posted = async {
            let channel_id = hook.channel_id.ok_or(Error::NotFound("channel"))?;
            let channel = self
                .stores
                .channels
                .get_channel(channel_id)
                .await?
                .ok_or(Error::NotFound("channel"))?;
            let bot = self.integration_bot(hook).await?;
            let post = crate::PostMessage {
                content: text.to_owned(),
                ..Default::default()
            };
            self.post_into(&bot, &channel, post).await
        }
        .await;
        if let Err(e) = posted {
            tracing::warn!(error = %e, "posting an outgoing webhook's answer failed");
        }
    }

    /// Deliver queued events until `stop`: due deliveries are claimed in
    /// batches, oldest first, and sent one by one.
    pub async fn run_event_delivery(&self, mut stop: watch::Receiver<bool>) {
        let Some(part) = self.events.clone() else {
            return;
        };
        loop {
            let delivered = self.deliver_due_events().await;
            crate::count_job_run("event_delivery", &delivered);
            let sent = match delivered {
                Ok(sent) => sent,
                Err(e) => {
                    tracing::warn!(error = %e, "delivering events failed; trying again");
                    0
                }
            };
            if sent > 0 {
                continue;
            }
            tokio::select! {
                _ = stop.changed() => return,
                () = part.wake.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// Send the deliveries due now; how many were tried.
    pub async fn deliver_due_events(&self) -> Result<usize> {
        let part = self.events_part()?.clone();
        let now = time::now();
        // A batch is sent one after another (in order): the lease lasts
        // until the last could have timed out, so no other node sends a
        // delivery of it again meanwhile.
        let sends = self.policy.events.timeout * DELIVERY_BATCH;
        let lease = now + crate::chrono_duration(sends + DELIVERY_LEASE_MARGIN);
        let due = self
            .stores
            .integrations
            .claim_deliveries(now, lease, DELIVERY_BATCH)
            .await?;
        for delivery in &due {
            self.deliver(&part, delivery).await?;
        }
        Ok(due.len())
    }

    /// One attempt at one delivery, and what follows from its outcome.
    async fn deliver(&self, part: &EventsPart, delivery: &EventDelivery) -> Result<()> {
        let integration = self
            .stores
            .integrations
            .get_integration(delivery.integration_id)
            .await?;
        // A bot's events go to its request URL, an outgoing webhook's
        // messages to its URL.
        let target = integration.as_ref().and_then(|i| {
            let key = match i.integration_type == IntegrationType::OutgoingWebhook.as_str() {
                true => "url",
                false => "event_url",
            };
            let url = i.config[key].as_str()?.to_owned();
            (i.status == "active").then_some(url)
        });
        let (Some(integration), Some(url)) = (integration, target) else {
            return self
                .finish(delivery, "failed", Some("the bot's events are off".into()))
                .await;
        };
        let mut extra = Vec::new();
        if delivery.attempts > 0 {
            let reason = delivery
                .last_error
                .as_deref()
                .and_then(|e| e.split(':').next())
                .unwrap_or("http_error");
            extra.push((
                "x-slack-retry-num".to_owned(),
                delivery.attempts.to_string(),
            ));
            extra.push(("x-slack-retry-reason".to_owned(), reason.to_owned()));
        }
        let outcome = match delivery.payload.get("outgoing_webhook") {
            Some(form) => {
                let body = crate::commands::form_body(form);
                self.send_signed_form(&integration, &url, body).await?
            }
            None => {
                self.send_signed(part, &integration, &url, &delivery.payload, &extra)
                    .await?
            }
        };
        if let (Outbound::Answered { status: 200, body }, Some(_)) =
            (&outcome, delivery.payload.get("outgoing_webhook"))
        {
            self.answer_outgoing_webhook(&integration, body).await;
        }
        let failure = match outcome {
            Outbound::Answered { status, .. } if (200..300).contains(&status) => None,
            Outbound::Answered { status, .. } => {
                Some(format!("http_error: the URL answered {status}"))
            }
            Outbound::TimedOut => Some("http_timeout: no answer in time".to_owned()),
            Outbound::Refused(why) => Some(format!("refused: {why}")),
            Outbound::Failed(why) => Some(format!("connection_failed: {why}")),
        };
        let Some(error) = failure else {
            self.finish(delivery, "delivered", None).await?;
            return self.count_failure(&integration, None).await;
        };
        let attempts = delivery.attempts + 1;
        let delays = &self.policy.events.retry_delays;
        match delays.get(delivery.attempts as usize) {
            Some(wait) => {
                let update = DeliveryUpdate {
                    status: "pending".into(),
                    attempts,
                    next_attempt_at: time::now() + crate::chrono_duration(*wait),
                    last_error: Some(error),
                    delivered_at: None,
                };
                self.stores
                    .integrations
                    .finish_delivery(delivery.id, &update)
                    .await
            }
            None => {
                self.finish(delivery, "failed", Some(error.clone())).await?;
                self.count_failure(&integration, Some(&error)).await
            }
        }
    }

    async fn finish(
        &self,
        delivery: &EventDelivery,
        status: &str,
        error: Option<String>,
    ) -> Result<()> {
        let now = time::now();
        let update = DeliveryUpdate {
            status: status.into(),
            attempts: delivery.attempts + 1,
            next_attempt_at: now,
            last_error: error,
            delivered_at: (status == "delivered").then_some(now),
        };
        self.stores
            .integrations
            .finish_delivery(delivery.id, &update)
            .await
    }

    /// Count a delivery that failed for good (`error`), or clear the count
    /// after one that arrived; past the policy's limit the bot's events are
    /// turned off, with the last error kept on the integration.
    async fn count_failure(&self, integration: &Integration, error: Option<&str>) -> Result<()> {
        let before = integration.config["failures_in_a_row"]
            .as_i64()
            .unwrap_or(0);
        let after = if error.is_some() { before + 1 } else { 0 };
        if after == before {
            return Ok(());
        }
        let mut config = integration.config.clone();
        config["failures_in_a_row"] = json!(after);
        let off = after >= self.policy.events.failures_to_disable;
        let status = if off { "events_disabled" } else { "active" };
        let last_error = error.or(integration.last_error.as_deref());
        self.stores
            .integrations
            .update_integration(integration.id, &config, status, last_error)
            .await?;
        Ok(())
    }

    /// The latest deliveries of a bot (its managers).
    pub async fn event_deliveries(
        &self,
        caller: &Caller,
        id: IntegrationId,
    ) -> Result<Vec<EventDelivery>> {
        self.managed_integration(caller, id).await?;
        self.stores.integrations.recent_deliveries(id, 100).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_slacks() {
        // The example of Slack's documentation on verifying requests.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            slack_signature("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }

    #[test]
    fn event_ids_look_like_slacks() {
        let id = new_event_id();
        assert!(id.starts_with("Ev") && id.len() == 28, "{id}");
        assert_ne!(new_event_id(), id);
    }
}
