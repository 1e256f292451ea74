//! The embedded shape: bus and ephemeral state in process memory, with the
//! same behaviour (and lifetimes) as the Redis implementation.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::id::{ChannelId, UserId, WorkspaceId};
use confab_core::model::{Message, ReadState};
use confab_core::ports::{fixed_window, BusItem, BusStream, EphemeralState, EventBus, RateLimiter};
use confab_core::realtime::*;
use confab_core::Result;
use tokio::sync::broadcast;

use crate::ttl_map::TtlMap;
use crate::{new_fill_token, BUS_BUFFER};

/// Events between the tasks of one process.
pub struct MemoryBus {
    sender: broadcast::Sender<Envelope>,
}

impl MemoryBus {
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(BUS_BUFFER).0,
        }
    }
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, envelope: &Envelope) -> Result<()> {
        // No receiver is not an error: nobody is listening yet.
        let _ = self.sender.send(envelope.clone());
        Ok(())
    }

    fn subscribe(&self) -> BusStream {
        crate::broadcast_stream(self.sender.subscribe(), |e| BusItem::Event(Box::new(e)))
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

/// Rate-limit counters kept at most: a flood of distinct keys (addresses,
/// accounts) is refused once this many are live, so memory stays bounded.
pub const MAX_COUNTERS: usize = 200_000;

/// Ephemeral state in process memory.
#[derive(Default)]
pub struct MemoryState {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    counters: TtlMap<String, u64>,
    sessions: TtlMap<String, SessionSnapshot>,
    presence: TtlMap<(UserId, WorkspaceId), Presence>,
    connections: TtlMap<String, ConnectionInfo>,
    user_connections: TtlMap<UserId, HashSet<String>>,
    /// Nodes that renewed their liveness lately.
    live_nodes: TtlMap<String, ()>,
    /// Every node that renewed and has not been reaped (`nodes`).
    known_nodes: HashSet<String>,
    /// The sockets of each node (`node_connections:{node}`).
    node_connections: HashMap<String, HashSet<String>>,
    channel_members: TtlMap<ChannelId, ChannelMembersSnapshot>,
    member_claims: TtlMap<ChannelId, String>,
    typing: TtlMap<(ChannelId, UserId), ()>,
    recent: TtlMap<ChannelId, VecDeque<Message>>,
    recent_claims: TtlMap<ChannelId, String>,
    unread: TtlMap<(UserId, WorkspaceId), BTreeMap<ChannelId, ReadState>>,
    unread_claims: TtlMap<(UserId, WorkspaceId), String>,
}

impl Inner {
    /// Sockets `user` still has open, forgetting those that expired.
    fn live_connections(&mut self, user: UserId) -> usize {
        let Some(mut ids) = self.user_connections.remove(&user) else {
            return 0;
        };
        ids.retain(|id| self.connections.get(id).is_some());
        let left = ids.len();
        if left > 0 {
            self.user_connections
                .insert(user, ids, Some(ttl::CONNECTION));
        }
        left
    }
}

impl MemoryState {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl RateLimiter for MemoryState {
    async fn hit(
        &self,
        key: &str,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<(u64, Duration)> {
        let (index, left) = fixed_window(window, now);
        let key = format!("{key}:{index}");
        let mut inner = self.lock();
        if inner.counters.get(&key).is_none() && inner.counters.len() >= MAX_COUNTERS {
            inner.counters.sweep();
            if inner.counters.len() >= MAX_COUNTERS {
                // Full of live counters: refuse rather than grow or forget.
                return Ok((u64::MAX, left));
            }
        }
        let count = inner.counters.get_or_insert_with(key, Some(left), || 0);
        *count += 1;
        Ok((*count, left))
    }
}

/// Whether `token` still holds the claim under `key`, using it up if so.
fn take_claim<K: Eq + std::hash::Hash>(
    claims: &mut TtlMap<K, String>,
    key: &K,
    token: &FillToken,
) -> bool {
    let held = claims.get(key).is_some_and(|held| *held == token.0);
    if held {
        claims.remove(key);
    }
    held
}

#[async_trait]
impl EphemeralState for MemoryState {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    async fn put_session(&self, id: &str, session: &SessionSnapshot) -> Result<()> {
        self.lock()
            .sessions
            .insert(id.to_owned(), session.clone(), Some(ttl::SESSION));
        Ok(())
    }

    async fn get_session(&self, id: &str) -> Result<Option<SessionSnapshot>> {
        Ok(self.lock().sessions.get(&id.to_owned()).cloned())
    }

    async fn remove_sessions(&self, ids: &[String]) -> Result<()> {
        let mut inner = self.lock();
        for id in ids {
            inner.sessions.remove(id);
        }
        Ok(())
    }

    async fn set_presence(
        &self,
        user: UserId,
        workspace: WorkspaceId,
        presence: &Presence,
    ) -> Result<()> {
        self.lock()
            .presence
            .insert((user, workspace), presence.clone(), Some(ttl::PRESENCE));
        Ok(())
    }

    async fn get_presence(
        &self,
        workspace: WorkspaceId,
        users: &[UserId],
    ) -> Result<Vec<Option<Presence>>> {
        let inner = self.lock();
        Ok(users
            .iter()
            .map(|u| inner.presence.get(&(*u, workspace)).cloned())
            .collect())
    }

    async fn put_connection(&self, id: &str, info: &ConnectionInfo) -> Result<()> {
        let mut inner = self.lock();
        inner
            .connections
            .insert(id.to_owned(), info.clone(), Some(ttl::CONNECTION));
        let mut ids = inner
            .user_connections
            .remove(&info.user_id)
            .unwrap_or_default();
        ids.insert(id.to_owned());
        inner
            .user_connections
            .insert(info.user_id, ids, Some(ttl::CONNECTION));
        inner
            .node_connections
            .entry(info.node_id.clone())
            .or_default()
            .insert(id.to_owned());
        Ok(())
    }

    async fn get_connection(&self, id: &str) -> Result<Option<ConnectionInfo>> {
        Ok(self.lock().connections.get(&id.to_owned()).cloned())
    }

    async fn remove_connection(&self, id: &str, user: UserId, node: &str) -> Result<usize> {
        let mut inner = self.lock();
        inner.connections.remove(&id.to_owned());
        if let Some(ids) = inner.node_connections.get_mut(node) {
            ids.remove(id);
        }
        Ok(inner.live_connections(user))
    }

    async fn count_connections(&self, user: UserId) -> Result<usize> {
        Ok(self.lock().live_connections(user))
    }

    async fn renew_node(&self, node: &str, ttl: Duration) -> Result<()> {
        let mut inner = self.lock();
        inner.live_nodes.insert(node.to_owned(), (), Some(ttl));
        inner.known_nodes.insert(node.to_owned());
        Ok(())
    }

    async fn reap_dead_nodes(&self) -> Result<Vec<UserId>> {
        let mut inner = self.lock();
        let dead: Vec<String> = inner
            .known_nodes
            .iter()
            .filter(|node| inner.live_nodes.get(node).is_none())
            .cloned()
            .collect();
        let mut users = HashSet::new();
        for node in dead {
            inner.known_nodes.remove(&node);
            for id in inner.node_connections.remove(&node).unwrap_or_default() {
                if let Some(info) = inner.connections.remove(&id) {
                    users.insert(info.user_id);
                }
            }
        }
        let mut alone: Vec<UserId> = users
            .into_iter()
            .filter(|user| inner.live_connections(*user) == 0)
            .collect();
        alone.sort();
        Ok(alone)
    }

    async fn claim_channel_members_fill(&self, channel: ChannelId) -> Result<FillToken> {
        let token = new_fill_token();
        self.lock()
            .member_claims
            .insert(channel, token.0.clone(), Some(ttl::FILL_CLAIM));
        Ok(token)
    }

    async fn fill_channel_members(
        &self,
        channel: ChannelId,
        token: &FillToken,
        members: &ChannelMembersSnapshot,
    ) -> Result<bool> {
        let mut inner = self.lock();
        if !take_claim(&mut inner.member_claims, &channel, token) {
            return Ok(false);
        }
        inner
            .channel_members
            .insert(channel, members.clone(), Some(ttl::CHANNEL_MEMBERS));
        Ok(true)
    }

    async fn get_channel_members(
        &self,
        channel: ChannelId,
    ) -> Result<Option<ChannelMembersSnapshot>> {
        Ok(self.lock().channel_members.get(&channel).cloned())
    }

    async fn forget_channel_members(&self, channel: ChannelId) -> Result<()> {
        let mut inner = self.lock();
        inner.channel_members.remove(&channel);
        inner.member_claims.remove(&channel);
        Ok(())
    }

    async fn set_typing(&self, channel: ChannelId, user: UserId) -> Result<()> {
        self.lock()
            .typing
            .insert((channel, user), (), Some(ttl::TYPING));
        Ok(())
    }

    async fn typing(&self, channel: ChannelId, candidates: &[UserId]) -> Result<Vec<UserId>> {
        let inner = self.lock();
        Ok(candidates
            .iter()
            .copied()
            .filter(|u| inner.typing.get(&(channel, *u)).is_some())
            .collect())
    }

    async fn recent_messages(
        &self,
        channel: ChannelId,
        limit: usize,
    ) -> Result<Option<Vec<Message>>> {
        Ok(self
            .lock()
            .recent
            .get(&channel)
            .map(|list| list.iter().take(limit).cloned().collect()))
    }

    async fn claim_recent_fill(&self, channel: ChannelId) -> Result<FillToken> {
        let token = new_fill_token();
        self.lock()
            .recent_claims
            .insert(channel, token.0.clone(), Some(ttl::FILL_CLAIM));
        Ok(token)
    }

    async fn fill_recent_messages(
        &self,
        channel: ChannelId,
        token: &FillToken,
        newest_first: &[Message],
    ) -> Result<bool> {
        let mut inner = self.lock();
        if !take_claim(&mut inner.recent_claims, &channel, token) || newest_first.is_empty() {
            return Ok(false);
        }
        let list = newest_first
            .iter()
            .take(RECENT_MESSAGES_KEPT)
            .cloned()
            .collect();
        inner
            .recent
            .insert(channel, list, Some(ttl::RECENT_MESSAGES));
        Ok(true)
    }

    async fn push_recent_message(&self, message: &Message) -> Result<()> {
        let mut inner = self.lock();
        match inner.recent.get_mut(&message.channel_id) {
            Some(list) => {
                // Newest first by id: the place of the first older message.
                let at = list.partition_point(|m| m.id > message.id);
                if list.get(at).is_some_and(|m| m.id == message.id) {
                    return Ok(()); // a fill already read it
                }
                list.insert(at, message.clone());
                list.truncate(RECENT_MESSAGES_KEPT);
            }
            None => {
                inner.recent_claims.remove(&message.channel_id);
            }
        }
        Ok(())
    }

    async fn forget_recent_messages(&self, channel: ChannelId) -> Result<()> {
        let mut inner = self.lock();
        inner.recent.remove(&channel);
        inner.recent_claims.remove(&channel);
        Ok(())
    }

    async fn unread_counts(
        &self,
        user: UserId,
        workspace: WorkspaceId,
    ) -> Result<Option<Vec<ReadState>>> {
        Ok(self
            .lock()
            .unread
            .get(&(user, workspace))
            .map(|states| states.values().cloned().collect()))
    }

    async fn claim_unread_fill(&self, user: UserId, workspace: WorkspaceId) -> Result<FillToken> {
        let token = new_fill_token();
        self.lock()
            .unread_claims
            .insert((user, workspace), token.0.clone(), Some(ttl::FILL_CLAIM));
        Ok(token)
    }

    async fn fill_unread_counts(
        &self,
        user: UserId,
        workspace: WorkspaceId,
        token: &FillToken,
        states: &[ReadState],
    ) -> Result<bool> {
        let mut inner = self.lock();
        if !take_claim(&mut inner.unread_claims, &(user, workspace), token) {
            return Ok(false);
        }
        let states = states.iter().map(|s| (s.channel_id, s.clone())).collect();
        inner
            .unread
            .insert((user, workspace), states, Some(ttl::UNREAD_COUNTS));
        Ok(true)
    }

    async fn add_unread(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        deltas: &[(UserId, i64, i64)],
    ) -> Result<()> {
        let mut inner = self.lock();
        for (user, unread, mentions) in deltas {
            let key = (*user, workspace);
            match inner.unread.get_mut(&key) {
                Some(states) => {
                    let state = states.entry(channel).or_insert_with(|| ReadState {
                        channel_id: channel,
                        last_read_message_id: None,
                        unread: 0,
                        mentions: 0,
                    });
                    state.unread += unread;
                    state.mentions += mentions;
                }
                None => {
                    inner.unread_claims.remove(&key);
                }
            }
        }
        Ok(())
    }

    async fn forget_unread_counts(&self, workspace: WorkspaceId, users: &[UserId]) -> Result<()> {
        let mut inner = self.lock();
        for user in users {
            inner.unread.remove(&(*user, workspace));
            inner.unread_claims.remove(&(*user, workspace));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn advance(seconds: u64) {
        tokio::time::advance(Duration::from_secs(seconds)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn keys_lapse_after_the_data_models_lifetimes() {
        let state = MemoryState::new();
        let (channel, user, workspace) = (ChannelId::new(), UserId::new(), WorkspaceId::new());
        state.set_typing(channel, user).await.unwrap();
        let presence = Presence {
            status: PresenceStatus::Online,
            custom_status: None,
            last_seen: confab_core::time::now(),
            device_type: "web".into(),
            timezone: "UTC".into(),
        };
        state
            .set_presence(user, workspace, &presence)
            .await
            .unwrap();
        assert_eq!(state.lock().typing.ttl(&(channel, user)), Some(ttl::TYPING));
        advance(9).await;
        assert_eq!(state.typing(channel, &[user]).await.unwrap(), vec![user]);
        advance(2).await;
        assert!(state.typing(channel, &[user]).await.unwrap().is_empty());
        assert!(state.get_presence(workspace, &[user]).await.unwrap()[0].is_some());
        advance(300).await;
        assert!(state.get_presence(workspace, &[user]).await.unwrap()[0].is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_fill_claim_lapses() {
        let state = MemoryState::new();
        let channel = ChannelId::new();
        let token = state.claim_recent_fill(channel).await.unwrap();
        advance(ttl::FILL_CLAIM.as_secs() + 1).await;
        assert!(!state
            .fill_recent_messages(channel, &token, &[])
            .await
            .unwrap());
    }
}
