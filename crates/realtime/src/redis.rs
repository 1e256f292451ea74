//! The scale-out shape: the data model's Redis keys, and one pub/sub
//! subscriber per node.
//!
//! Keys, value shapes and lifetimes follow the data model exactly. Additions,
//! each under its own key: `user_connections:{user}` (a set of connection ids,
//! to tell when a user's last socket closed), `node:{node}` (renewed while a
//! node lives), `nodes` and `node_connections:{node}` (sets, so the sockets of
//! a dead node can be forgotten), `{key}:fill` (a claim to rebuild a missing
//! cache entry), a `node_id` field in `connection:` values, and a `_filled`
//! field in `unread_counts:` hashes so an empty rebuild is still cached.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::id::{ChannelId, MessageId, UserId, WorkspaceId};
use confab_core::model::{Message, ReadState};
use confab_core::ports::{fixed_window, BusItem, BusStream, EphemeralState, EventBus, RateLimiter};
use confab_core::realtime::*;
use confab_core::{Error, Result};
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::{new_fill_token, BUS_BUFFER};

/// How to reach Redis.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    pub url: String,
    /// Prepended to every key and to the pub/sub channel (empty in production;
    /// tests give each case its own).
    pub prefix: String,
    /// Longest wait for a connection or a reply before a command fails.
    pub timeout: Duration,
}

impl RedisOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: String::new(),
            timeout: Duration::from_millis(1_000),
        }
    }
}

/// After a failed command, Redis is skipped for this long, so that requests
/// degrade at once instead of each waiting out a timeout.
const BACKOFF_MS: i64 = 1_000;

/// A shared connection with a short-circuit while Redis is down.
#[derive(Clone)]
struct Conn {
    manager: ConnectionManager,
    down_until_ms: Arc<AtomicI64>,
    prefix: Arc<str>,
}

impl Conn {
    async fn open(options: &RedisOptions) -> Result<(redis::Client, Self)> {
        let client = redis::Client::open(options.url.as_str()).map_err(|e| Error::Invalid {
            field: "redis.url".into(),
            message: e.to_string(),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(Some(options.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let manager = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(unavailable)?;
        let conn = Self {
            manager,
            down_until_ms: Arc::new(AtomicI64::new(0)),
            prefix: options.prefix.as_str().into(),
        };
        Ok((client, conn))
    }

    fn key(&self, key: impl std::fmt::Display) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Run `f` on the connection unless Redis is known to be down.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let now = now_ms();
        if now < self.down_until_ms.load(Ordering::Relaxed) {
            return Err(Error::Unavailable("redis is unreachable".into()));
        }
        f(self.manager.clone()).await.map_err(|e| {
            if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
                let was = self
                    .down_until_ms
                    .swap(now_ms() + BACKOFF_MS, Ordering::Relaxed);
                if was < now - BACKOFF_MS {
                    // Once per outage, not once per skipped command.
                    tracing::warn!(error = %e, "redis is unreachable; serving from the database");
                }
            } else {
                // Redis answered with an error: a fault to look into.
                tracing::warn!(error = %e, "redis command failed");
            }
            unavailable(e)
        })
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn unavailable(e: redis::RedisError) -> Error {
    Error::Unavailable(format!("redis: {e}"))
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::Internal(format!("encoding a cache value: {e}")))
}

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Internal(format!("decoding a cache value: {e}")))
}

fn seconds(d: Duration) -> u64 {
    d.as_secs().max(1)
}

/// Events between nodes over Redis pub/sub: every node publishes to one
/// channel and holds one subscriber connection to it.
pub struct RedisBus {
    conn: Conn,
    channel: String,
    local: broadcast::Sender<BusItem>,
    subscriber: tokio::task::JoinHandle<()>,
    /// The cursor of the first event this node could not publish, until
    /// every node has been told to catch up from it.
    missed: Arc<std::sync::Mutex<Option<i64>>>,
    announcer: tokio::task::JoinHandle<()>,
}

/// How a node tells the others that events from a cursor on may never
/// have reached them (an envelope's JSON never starts like this).
const MISSED_MARKER: &str = "missed:";

/// How often a node that could not publish tries to say so.
const ANNOUNCE_EVERY: Duration = Duration::from_millis(500);

impl RedisBus {
    /// Connect, and start this node's subscriber.
    pub async fn connect(options: &RedisOptions) -> Result<Self> {
        let (client, conn) = Conn::open(options).await?;
        let channel = conn.key("events");
        let local = broadcast::channel(BUS_BUFFER).0;
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        let subscriber = tokio::spawn(subscribe_forever(
            client,
            channel.clone(),
            local.clone(),
            ready_tx,
        ));
        // Publishing before the subscription is in place would lose events.
        if tokio::time::timeout(options.timeout * 5, ready)
            .await
            .is_err()
        {
            subscriber.abort();
            return Err(Error::Unavailable(
                "redis: cannot subscribe to the event bus".into(),
            ));
        }
        let missed = Arc::new(std::sync::Mutex::new(None));
        let announcer = tokio::spawn(announce_forever(
            conn.clone(),
            channel.clone(),
            missed.clone(),
        ));
        Ok(Self {
            conn,
            channel,
            local,
            subscriber,
            missed,
            announcer,
        })
    }
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        self.subscriber.abort();
        self.announcer.abort();
    }
}

/// Publish `payload` on the bus channel.
async fn publish_raw(conn: &Conn, channel: &str, payload: String) -> Result<()> {
    let channel = channel.to_owned();
    conn.run(|mut c| async move { c.publish::<_, _, i64>(channel, payload).await })
        .await?;
    Ok(())
}

/// If this node failed to publish, tell every node to catch up from the
/// first event it lost; forget it once said (unless more were lost since).
async fn announce_missed(
    conn: &Conn,
    channel: &str,
    missed: &std::sync::Mutex<Option<i64>>,
) -> Result<()> {
    let pending = *missed.lock().unwrap_or_else(|e| e.into_inner());
    let Some(since) = pending else {
        return Ok(());
    };
    publish_raw(conn, channel, format!("{MISSED_MARKER}{since}")).await?;
    let mut missed = missed.lock().unwrap_or_else(|e| e.into_inner());
    if *missed == Some(since) {
        *missed = None;
    }
    Ok(())
}

/// Announce lost events even when nothing else is published for a while.
async fn announce_forever(conn: Conn, channel: String, missed: Arc<std::sync::Mutex<Option<i64>>>) {
    loop {
        tokio::time::sleep(ANNOUNCE_EVERY).await;
        let _ = announce_missed(&conn, &channel, &missed).await;
    }
}

/// Keep one subscription to `channel` open, forwarding what arrives; after a
/// lost connection, reconnect and tell local subscribers about the gap (once,
/// when the subscription is back: catching up earlier would miss the rest).
async fn subscribe_forever(
    client: redis::Client,
    channel: String,
    local: broadcast::Sender<BusItem>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut failures: u32 = 0;
    loop {
        match subscribe_once(&client, &channel, &local, failures > 0, &mut ready).await {
            Ok(()) => {
                tracing::warn!("event bus subscription lost");
                failures = 1;
            }
            Err(err) => {
                if failures == 0 {
                    tracing::warn!(error = %err, "cannot reach redis for the event bus");
                }
                failures += 1;
            }
        }
        let delay = Duration::from_millis(100 * u64::from(failures.clamp(1, 10)));
        tokio::time::sleep(delay).await;
    }
}

/// Subscribe and forward events until the connection ends; a subscription
/// that follows a lost one starts with a gap.
async fn subscribe_once(
    client: &redis::Client,
    channel: &str,
    local: &broadcast::Sender<BusItem>,
    after_loss: bool,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> redis::RedisResult<()> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    if after_loss {
        tracing::info!("event bus subscription restored");
        let _ = local.send(BusItem::Gap { since: None });
    }
    if let Some(ready) = ready.take() {
        let _ = ready.send(());
    }
    let mut messages = pubsub.into_on_message();
    while let Some(message) = messages.next().await {
        let payload = message.get_payload_bytes();
        if let Some(since) = payload.strip_prefix(MISSED_MARKER.as_bytes()) {
            match std::str::from_utf8(since).ok().and_then(|s| s.parse().ok()) {
                Some(since) => {
                    let _ = local.send(BusItem::Gap { since: Some(since) });
                }
                None => tracing::warn!("dropping a malformed missed-events marker"),
            }
            continue;
        }
        match serde_json::from_slice::<Envelope>(payload) {
            Ok(envelope) => {
                let _ = local.send(BusItem::Event(Box::new(envelope)));
            }
            Err(err) => tracing::warn!(error = %err, "dropping a malformed event"),
        }
    }
    Ok(())
}

#[async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, envelope: &Envelope) -> Result<()> {
        let payload = to_json(envelope)?;
        // Lost events are announced before anything newer, so no socket
        // moves its cursor past them first.
        let published = match announce_missed(&self.conn, &self.channel, &self.missed).await {
            Ok(()) => publish_raw(&self.conn, &self.channel, payload).await,
            Err(err) => Err(err),
        };
        if published.is_err() {
            let mut missed = self.missed.lock().unwrap_or_else(|e| e.into_inner());
            *missed = Some(missed.map_or(envelope.cursor, |m| m.min(envelope.cursor)));
        }
        published
    }

    fn subscribe(&self) -> BusStream {
        crate::broadcast_stream(self.local.subscribe(), |item| item)
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}

/// The ephemeral state in Redis.
#[derive(Clone)]
pub struct RedisState {
    conn: Conn,
    scripts: Arc<Scripts>,
}

/// Which cache a rebuild fills.
#[derive(Clone, Copy)]
enum Fill {
    Members,
    Recent,
    Unread,
}

struct Scripts {
    fill_value: Script,
    push_recent: Script,
    fill_recent: Script,
    fill_unread: Script,
    add_unread: Script,
    remove_connection: Script,
    count_connections: Script,
    reap_dead_nodes: Script,
}

/// A Lua function for the scripts that count a user's open sockets: the
/// members of the set `set` whose `connection:` key (under `prefix`) still
/// exists; the others are dropped from the set.
const LIVE_CONNECTIONS: &str = r"
local function live_connections(set, prefix)
  local left = 0
  for _, id in ipairs(redis.call('SMEMBERS', set)) do
    if redis.call('EXISTS', prefix .. 'connection:' .. id) == 1 then
      left = left + 1
    else
      redis.call('SREM', set, id)
    end
  end
  return left
end";

/// Put a message (ARGV[1], its id ARGV[3]) into a cached `recent_messages:`
/// list (KEYS[1]) in id order, newest first, unless it is there already, and
/// keep ARGV[2] + 1 entries; when the list is not cached, spoil a pending
/// fill (KEYS[2]). Entries begin with their `message_id` (the first field of
/// a message), and canonical UUIDv7 text sorts as the ids do. A message
/// newer than the head, the usual case, is one LPUSH.
const RECENT_PUSH: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  return 0
end
local function id_of(entry) return string.match(entry, '^{"message_id":"([^"]+)"') or '' end
local id, keep = ARGV[3], tonumber(ARGV[2])
local head = redis.call('LINDEX', KEYS[1], 0)
if id > id_of(head) then
  redis.call('LPUSH', KEYS[1], ARGV[1])
else
  local placed = false
  for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
    local other = id_of(entry)
    if other == id then return 0 end
    if other < id then
      redis.call('LINSERT', KEYS[1], 'BEFORE', entry, ARGV[1])
      placed = true
      break
    end
  end
  if not placed then redis.call('RPUSH', KEYS[1], ARGV[1]) end
end
redis.call('LTRIM', KEYS[1], 0, keep)
return 1
"#;

impl Scripts {
    fn new() -> Self {
        Self {
            fill_value: Script::new(
                r"if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
                  redis.call('DEL', KEYS[2])
                  redis.call('SET', KEYS[1], ARGV[3], 'EX', tonumber(ARGV[2]))
                  return 1",
            ),
            push_recent: Script::new(RECENT_PUSH),
            fill_recent: Script::new(
                r"if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
                  redis.call('DEL', KEYS[2], KEYS[1])
                  if #ARGV < 3 then return 0 end
                  for i = 3, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
                  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
                  return 1",
            ),
            fill_unread: Script::new(
                r"if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
                  redis.call('DEL', KEYS[2], KEYS[1])
                  for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
                  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
                  return 1",
            ),
            add_unread: Script::new(
                r"for i = 1, #KEYS, 2 do
                    if redis.call('EXISTS', KEYS[i]) == 1 then
                      redis.call('HINCRBY', KEYS[i], ARGV[1], ARGV[i + 1])
                      redis.call('HINCRBY', KEYS[i], ARGV[1] .. ':mentions', ARGV[i + 2])
                    else
                      redis.call('DEL', KEYS[i + 1])
                    end
                  end
                  return 1",
            ),
            remove_connection: Script::new(&format!(
                r"{LIVE_CONNECTIONS}
                  redis.call('DEL', KEYS[1])
                  redis.call('SREM', KEYS[2], ARGV[1])
                  redis.call('SREM', KEYS[3], ARGV[1])
                  return live_connections(KEYS[2], ARGV[2])"
            )),
            count_connections: Script::new(&format!(
                r"{LIVE_CONNECTIONS}
                  return live_connections(KEYS[1], ARGV[1])"
            )),
            reap_dead_nodes: Script::new(&format!(
                r"{LIVE_CONNECTIONS}
                  local users = {{}}
                  for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
                    if redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 0 then
                      redis.call('SREM', KEYS[1], node)
                      local set = ARGV[1] .. 'node_connections:' .. node
                      for _, id in ipairs(redis.call('SMEMBERS', set)) do
                        local key = ARGV[1] .. 'connection:' .. id
                        local value = redis.call('GET', key)
                        if value then
                          users[cjson.decode(value)['user_id']] = true
                          redis.call('DEL', key)
                        end
                      end
                      redis.call('DEL', set)
                    end
                  end
                  local alone = {{}}
                  for user, _ in pairs(users) do
                    local set = ARGV[1] .. 'user_connections:' .. user
                    if live_connections(set, ARGV[1]) == 0 then
                      table.insert(alone, user)
                    end
                  end
                  return alone"
            )),
        }
    }
}

/// How far a node's clock is from Redis's, as of its last renewal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeClock {
    pub node: String,
    /// Milliseconds ahead of Redis's clock (negative: behind).
    pub offset_ms: i64,
}

impl RedisState {
    /// This machine's clock against Redis's (milliseconds ahead), and that
    /// of every live node as of its last renewal.
    pub async fn clocks(&self) -> Result<(i64, Vec<NodeClock>)> {
        let asked = now_ms();
        let (seconds, micros): (i64, i64) = self
            .conn
            .run(|mut c| async move { redis::cmd("TIME").query_async(&mut c).await })
            .await?;
        let answered = now_ms();
        let redis_now = seconds * 1000 + micros / 1000;
        let local_offset = (asked + answered) / 2 - redis_now;
        let nodes_key = self.conn.key("nodes");
        let nodes: Vec<String> = self
            .conn
            .run(|mut c| async move { c.smembers(nodes_key).await })
            .await?;
        let mut clocks = Vec::new();
        for node in nodes {
            let key = self.conn.key(format!("node:{node}"));
            let (value, left): (Option<String>, i64) =
                self.conn
                    .run(|mut c| async move {
                        redis::pipe().get(&key).pttl(&key).query_async(&mut c).await
                    })
                    .await?;
            let renewal = value
                .as_deref()
                .and_then(|v| v.split_once(':'))
                .and_then(|(at, ttl)| Some((at.parse::<i64>().ok()?, ttl.parse::<i64>().ok()?)));
            // Gone, or renewed by a version that did not say its clock.
            let Some((written, lifetime)) = renewal.filter(|_| left >= 0) else {
                continue;
            };
            let renewed_by_redis = redis_now - (lifetime - left);
            clocks.push(NodeClock {
                node,
                offset_ms: written - renewed_by_redis,
            });
        }
        Ok((local_offset, clocks))
    }

    /// Connect (fails if Redis cannot be reached now; later outages only
    /// degrade).
    pub async fn connect(options: &RedisOptions) -> Result<Self> {
        let (_, conn) = Conn::open(options).await?;
        Ok(Self {
            conn,
            scripts: Arc::new(Scripts::new()),
        })
    }

    async fn set_json<T: Serialize>(&self, key: String, value: &T, ttl: Duration) -> Result<()> {
        let payload = to_json(value)?;
        self.conn
            .run(|mut c| async move { c.set_ex::<_, _, ()>(key, payload, seconds(ttl)).await })
            .await
    }

    async fn get_json<T: DeserializeOwned>(&self, key: String) -> Result<Option<T>> {
        let text: Option<String> = self
            .conn
            .run(|mut c| async move { c.get(key).await })
            .await?;
        text.as_deref().map(from_json).transpose()
    }

    /// The values of `keys`, in order; one round trip.
    async fn mget(&self, keys: Vec<String>) -> Result<Vec<Option<String>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.conn
            .run(|mut c| async move { redis::cmd("MGET").arg(keys).query_async(&mut c).await })
            .await
    }

    async fn del(&self, keys: Vec<String>) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.conn
            .run(|mut c| async move { c.del::<_, ()>(keys).await })
            .await
    }

    async fn claim(&self, key: String) -> Result<FillToken> {
        let token = new_fill_token();
        let value = token.0.clone();
        self.conn
            .run(|mut c| async move {
                c.set_ex::<_, _, ()>(key, value, seconds(ttl::FILL_CLAIM))
                    .await
            })
            .await?;
        Ok(token)
    }

    /// Store a rebuilt entry under `key` for `ttl`, if `token` still holds
    /// the claim on it; whether it was stored.
    async fn fill(
        &self,
        which: Fill,
        key: String,
        token: &FillToken,
        ttl: Duration,
        args: Vec<String>,
    ) -> Result<bool> {
        let claim = fill_key(&key);
        let scripts = self.scripts.clone();
        let token = token.0.clone();
        let stored: i64 = self
            .conn
            .run(|mut c| async move {
                let script = match which {
                    Fill::Members => &scripts.fill_value,
                    Fill::Recent => &scripts.fill_recent,
                    Fill::Unread => &scripts.fill_unread,
                };
                script
                    .key(key)
                    .key(claim)
                    .arg(token)
                    .arg(seconds(ttl))
                    .arg(args)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(stored == 1)
    }

    fn members_key(&self, channel: ChannelId) -> String {
        self.conn.key(format!("channel_members:{channel}"))
    }

    fn recent_key(&self, channel: ChannelId) -> String {
        self.conn.key(format!("recent_messages:{channel}"))
    }

    fn unread_key(&self, user: UserId, workspace: WorkspaceId) -> String {
        self.conn.key(format!("unread_counts:{user}:{workspace}"))
    }
}

fn fill_key(key: &str) -> String {
    format!("{key}:fill")
}

/// The `unread_counts:` hash as read states, by channel.
fn parse_unread(hash: BTreeMap<String, String>) -> Vec<ReadState> {
    let mut states: BTreeMap<ChannelId, ReadState> = BTreeMap::new();
    for (field, value) in hash {
        let (channel, part) = match field.split_once(':') {
            Some((channel, part)) => (channel, part),
            None => (field.as_str(), ""),
        };
        let Ok(channel) = channel.parse::<ChannelId>() else {
            continue; // the `_filled` marker
        };
        let state = states.entry(channel).or_insert_with(|| ReadState {
            channel_id: channel,
            last_read_message_id: None,
            unread: 0,
            mentions: 0,
        });
        match part {
            "" => state.unread = value.parse().unwrap_or(0),
            "mentions" => state.mentions = value.parse().unwrap_or(0),
            "read" => state.last_read_message_id = value.parse::<MessageId>().ok(),
            _ => {}
        }
    }
    states.into_values().collect()
}

#[async_trait]
impl RateLimiter for RedisState {
    async fn hit(
        &self,
        key: &str,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<(u64, Duration)> {
        let (index, left) = fixed_window(window, now);
        let key = self.conn.key(format!("{key}:{index}"));
        let expire = seconds(window) as i64;
        let (count,): (u64,) = self
            .conn
            .run(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .incr(&key, 1)
                    .expire(&key, expire)
                    .ignore()
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok((count, left))
    }
}

#[async_trait]
impl EphemeralState for RedisState {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<()> {
        self.conn
            .run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(drop)
    }

    async fn put_session(&self, id: &str, session: &SessionSnapshot) -> Result<()> {
        self.set_json(
            self.conn.key(format!("session:{id}")),
            session,
            ttl::SESSION,
        )
        .await
    }

    async fn get_session(&self, id: &str) -> Result<Option<SessionSnapshot>> {
        self.get_json(self.conn.key(format!("session:{id}"))).await
    }

    async fn remove_sessions(&self, ids: &[String]) -> Result<()> {
        self.del(
            ids.iter()
                .map(|id| self.conn.key(format!("session:{id}")))
                .collect(),
        )
        .await
    }

    async fn set_presence(
        &self,
        user: UserId,
        workspace: WorkspaceId,
        presence: &Presence,
    ) -> Result<()> {
        let key = self.conn.key(format!("presence:{user}:{workspace}"));
        self.set_json(key, presence, ttl::PRESENCE).await
    }

    async fn get_presence(
        &self,
        workspace: WorkspaceId,
        users: &[UserId],
    ) -> Result<Vec<Option<Presence>>> {
        let keys: Vec<String> = users
            .iter()
            .map(|u| self.conn.key(format!("presence:{u}:{workspace}")))
            .collect();
        self.mget(keys)
            .await?
            .into_iter()
            .map(|v| v.as_deref().map(from_json).transpose())
            .collect()
    }

    async fn put_connection(&self, id: &str, info: &ConnectionInfo) -> Result<()> {
        let key = self.conn.key(format!("connection:{id}"));
        let user_set = self.conn.key(format!("user_connections:{}", info.user_id));
        let node_set = self.conn.key(format!("node_connections:{}", info.node_id));
        let payload = to_json(info)?;
        let id = id.to_owned();
        let ttl = seconds(ttl::CONNECTION);
        self.conn
            .run(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .set_ex(&key, payload, ttl)
                    .ignore()
                    .sadd(&user_set, &id)
                    .ignore()
                    .expire(&user_set, ttl as i64)
                    .ignore()
                    .sadd(&node_set, &id)
                    .ignore()
                    .expire(&node_set, ttl as i64)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }

    async fn get_connection(&self, id: &str) -> Result<Option<ConnectionInfo>> {
        self.get_json(self.conn.key(format!("connection:{id}")))
            .await
    }

    async fn remove_connection(&self, id: &str, user: UserId, node: &str) -> Result<usize> {
        let key = self.conn.key(format!("connection:{id}"));
        let user_set = self.conn.key(format!("user_connections:{user}"));
        let node_set = self.conn.key(format!("node_connections:{node}"));
        let prefix = self.conn.key("");
        let script = self.scripts.clone();
        let id = id.to_owned();
        self.conn
            .run(|mut c| async move {
                script
                    .remove_connection
                    .key(key)
                    .key(user_set)
                    .key(node_set)
                    .arg(id)
                    .arg(prefix)
                    .invoke_async(&mut c)
                    .await
            })
            .await
    }

    async fn count_connections(&self, user: UserId) -> Result<usize> {
        let user_set = self.conn.key(format!("user_connections:{user}"));
        let prefix = self.conn.key("");
        let script = self.scripts.clone();
        self.conn
            .run(|mut c| async move {
                script
                    .count_connections
                    .key(user_set)
                    .arg(prefix)
                    .invoke_async(&mut c)
                    .await
            })
            .await
    }

    async fn renew_node(&self, node: &str, ttl: Duration) -> Result<()> {
        let key = self.conn.key(format!("node:{node}"));
        let nodes = self.conn.key("nodes");
        let node = node.to_owned();
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.conn
            .run(|mut c| async move {
                // The node's clock and the key's lifetime at the renewal,
                // from which `clocks` tells how far the node's clock is off.
                redis::pipe()
                    .atomic()
                    .pset_ex(&key, format!("{}:{millis}", now_ms()), millis)
                    .ignore()
                    .sadd(&nodes, node)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }

    async fn reap_dead_nodes(&self) -> Result<Vec<UserId>> {
        let nodes = self.conn.key("nodes");
        let prefix = self.conn.key("");
        let script = self.scripts.clone();
        let users: Vec<String> = self
            .conn
            .run(|mut c| async move {
                script
                    .reap_dead_nodes
                    .key(nodes)
                    .arg(prefix)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        let mut users = users
            .iter()
            .map(|u| u.parse().map_err(Error::internal))
            .collect::<Result<Vec<UserId>>>()?;
        users.sort();
        Ok(users)
    }

    async fn get_channel_members(
        &self,
        channel: ChannelId,
    ) -> Result<Option<ChannelMembersSnapshot>> {
        self.get_json(self.members_key(channel)).await
    }

    async fn claim_channel_members_fill(&self, channel: ChannelId) -> Result<FillToken> {
        self.claim(fill_key(&self.members_key(channel))).await
    }

    async fn fill_channel_members(
        &self,
        channel: ChannelId,
        token: &FillToken,
        members: &ChannelMembersSnapshot,
    ) -> Result<bool> {
        let value = vec![to_json(members)?];
        let key = self.members_key(channel);
        self.fill(Fill::Members, key, token, ttl::CHANNEL_MEMBERS, value)
            .await
    }

    async fn forget_channel_members(&self, channel: ChannelId) -> Result<()> {
        let key = self.members_key(channel);
        self.del(vec![fill_key(&key), key]).await
    }

    async fn set_typing(&self, channel: ChannelId, user: UserId) -> Result<()> {
        let key = self.conn.key(format!("typing:{channel}:{user}"));
        self.conn
            .run(|mut c| async move { c.set_ex::<_, _, ()>(key, "1", seconds(ttl::TYPING)).await })
            .await
    }

    async fn typing(&self, channel: ChannelId, candidates: &[UserId]) -> Result<Vec<UserId>> {
        let keys: Vec<String> = candidates
            .iter()
            .map(|u| self.conn.key(format!("typing:{channel}:{u}")))
            .collect();
        let values = self.mget(keys).await?;
        Ok(candidates
            .iter()
            .zip(values)
            .filter(|(_, v)| v.is_some())
            .map(|(u, _)| *u)
            .collect())
    }

    async fn recent_messages(
        &self,
        channel: ChannelId,
        limit: usize,
    ) -> Result<Option<Vec<Message>>> {
        if limit == 0 {
            return Ok(Some(Vec::new()));
        }
        let key = self.recent_key(channel);
        let items: Vec<String> = self
            .conn
            .run(|mut c| async move { c.lrange(key, 0, limit as isize - 1).await })
            .await?;
        if items.is_empty() {
            return Ok(None);
        }
        items
            .iter()
            .map(|item| from_json(item))
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    async fn claim_recent_fill(&self, channel: ChannelId) -> Result<FillToken> {
        self.claim(fill_key(&self.recent_key(channel))).await
    }

    async fn fill_recent_messages(
        &self,
        channel: ChannelId,
        token: &FillToken,
        newest_first: &[Message],
    ) -> Result<bool> {
        let items = newest_first
            .iter()
            .take(RECENT_MESSAGES_KEPT)
            .map(to_json)
            .collect::<Result<Vec<_>>>()?;
        let key = self.recent_key(channel);
        self.fill(Fill::Recent, key, token, ttl::RECENT_MESSAGES, items)
            .await
    }

    async fn push_recent_message(&self, message: &Message) -> Result<()> {
        let key = self.recent_key(message.channel_id);
        let claim = fill_key(&key);
        let item = to_json(message)?;
        let id = message.id.to_string();
        let script = self.scripts.clone();
        self.conn
            .run(|mut c| async move {
                script
                    .push_recent
                    .key(key)
                    .key(claim)
                    .arg(item)
                    .arg(RECENT_MESSAGES_KEPT - 1)
                    .arg(id)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await
            .map(drop)
    }

    async fn forget_recent_messages(&self, channel: ChannelId) -> Result<()> {
        let key = self.recent_key(channel);
        self.del(vec![fill_key(&key), key]).await
    }

    async fn unread_counts(
        &self,
        user: UserId,
        workspace: WorkspaceId,
    ) -> Result<Option<Vec<ReadState>>> {
        let key = self.unread_key(user, workspace);
        let hash: BTreeMap<String, String> = self
            .conn
            .run(|mut c| async move { c.hgetall(key).await })
            .await?;
        if hash.is_empty() {
            return Ok(None);
        }
        Ok(Some(parse_unread(hash)))
    }

    async fn claim_unread_fill(&self, user: UserId, workspace: WorkspaceId) -> Result<FillToken> {
        self.claim(fill_key(&self.unread_key(user, workspace)))
            .await
    }

    async fn fill_unread_counts(
        &self,
        user: UserId,
        workspace: WorkspaceId,
        token: &FillToken,
        states: &[ReadState],
    ) -> Result<bool> {
        let key = self.unread_key(user, workspace);
        let mut fields: Vec<String> = vec!["_filled".into(), "1".into()];
        for state in states {
            let channel = state.channel_id;
            fields.extend([channel.to_string(), state.unread.to_string()]);
            fields.extend([format!("{channel}:mentions"), state.mentions.to_string()]);
            if let Some(read) = state.last_read_message_id {
                fields.extend([format!("{channel}:read"), read.to_string()]);
            }
        }
        self.fill(Fill::Unread, key, token, ttl::UNREAD_COUNTS, fields)
            .await
    }

    async fn add_unread(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        deltas: &[(UserId, i64, i64)],
    ) -> Result<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        let script = self.scripts.clone();
        let mut keys = Vec::with_capacity(deltas.len() * 2);
        let mut args = Vec::with_capacity(deltas.len() * 2 + 1);
        args.push(channel.to_string());
        for (user, unread, mentions) in deltas {
            let key = self.unread_key(*user, workspace);
            keys.push(fill_key(&key));
            keys.insert(keys.len() - 1, key);
            args.extend([unread.to_string(), mentions.to_string()]);
        }
        self.conn
            .run(|mut c| async move {
                let mut invocation = script.add_unread.prepare_invoke();
                for key in keys {
                    invocation.key(key);
                }
                for arg in args {
                    invocation.arg(arg);
                }
                invocation.invoke_async::<i64>(&mut c).await
            })
            .await
            .map(drop)
    }

    async fn forget_unread_counts(&self, workspace: WorkspaceId, users: &[UserId]) -> Result<()> {
        let keys = users
            .iter()
            .flat_map(|u| {
                let key = self.unread_key(*u, workspace);
                [fill_key(&key), key]
            })
            .collect();
        self.del(keys).await
    }
}
