//! The socket side of real time: one [`Hub`] per node turns the node's single
//! bus subscription into bounded per-socket feeds, and a [`Socket`] decides
//! what its user may receive as memberships change.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use chrono::{DateTime, Utc};
use confab_core::id::*;
use confab_core::model::*;
use confab_core::ports::BusItem;
use confab_core::realtime::*;
use confab_core::{time, Error, Result};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::accounts::Caller;
use crate::realtime::{PresenceUpdate, Subscriptions, NODE_UPKEEP};
use crate::Services;

/// Events queued for one socket before it counts as a slow consumer.
pub const SOCKET_QUEUE: usize = 1_024;
/// Client pings closer together than this refresh nothing (a ping costs a
/// few writes to the shared state).
pub const MIN_HEARTBEAT_GAP: std::time::Duration = std::time::Duration::from_secs(5);
/// Sockets one user may hold open (tabs, devices, bots), on all nodes.
pub const MAX_SOCKETS_PER_USER: usize = 50;

/// An event on its way to sockets. Its wire form is rendered once, by the
/// first socket that sends it, and shared by the others.
#[derive(Debug)]
pub struct Outgoing {
    envelope: Envelope,
    wire: OnceLock<String>,
}

impl Outgoing {
    pub fn new(envelope: Envelope) -> Arc<Self> {
        Arc::new(Self {
            envelope,
            wire: OnceLock::new(),
        })
    }

    /// The event as sent, rendered by `render` the first time it is asked.
    pub fn wire(&self, render: impl FnOnce(&Envelope) -> String) -> &str {
        self.wire.get_or_init(|| render(&self.envelope))
    }
}

impl std::ops::Deref for Outgoing {
    type Target = Envelope;

    fn deref(&self) -> &Envelope {
        &self.envelope
    }
}

/// What the hub hands a socket.
#[derive(Clone, Debug)]
pub enum Delivery {
    Event(Arc<Outgoing>),
    /// The node may have missed events: catch up from the database, from
    /// this cursor if it is earlier than what the socket saw last.
    Gap(Option<i64>),
    /// The node is shutting down.
    Shutdown,
}

#[derive(Clone)]
struct Slot {
    sender: mpsc::Sender<Delivery>,
    overflowed: Arc<AtomicBool>,
}

impl Slot {
    /// Queue `delivery`; a full queue marks the socket as too slow.
    fn offer(&self, delivery: Delivery) {
        if self.sender.try_send(delivery).is_err() {
            self.overflowed.store(true, Ordering::Relaxed);
        }
    }
}

#[derive(Default)]
struct Registry {
    by_topic: HashMap<Topic, HashMap<u64, Slot>>,
    all: HashMap<u64, Slot>,
}

/// Sockets of one node catching up from the database at once. A gap (or a
/// workspace's 2FA rule changing) reaches many sockets of the node together;
/// unbounded, their reads would queue past the database pool's timeout.
pub const MAX_CONCURRENT_CATCH_UPS: usize = 8;

/// The fan-out of one node: topics to the sockets subscribed to them.
pub struct Hub {
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    closing: AtomicBool,
    catch_ups: tokio::sync::Semaphore,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            registry: Mutex::default(),
            next_id: AtomicU64::default(),
            closing: AtomicBool::default(),
            catch_ups: tokio::sync::Semaphore::new(MAX_CONCURRENT_CATCH_UPS),
        }
    }
}

impl Hub {
    /// A hub fed by the node's bus subscription (taken here, once), which
    /// also keeps the node's liveness while it lives.
    pub fn start(services: &Services) -> Arc<Self> {
        let hub = Arc::new(Self::default());
        let mut events = services.subscribe_events();
        let weak = Arc::downgrade(&hub);
        tokio::spawn(async move {
            while let Some(item) = events.next().await {
                let Some(hub) = weak.upgrade() else { return };
                hub.dispatch(item);
            }
        });
        // Renewal runs apart from reaping, which may be slow, so a node
        // never lapses because it was busy reaping another.
        hub.every(
            NODE_UPKEEP,
            services,
            |s| async move { s.renew_node().await },
        );
        hub.every(NODE_UPKEEP, services, |s| async move {
            s.reap_dead_nodes().await
        });
        hub
    }

    /// Run `job` every `period` while the hub lives.
    fn every<F, Fut>(self: &Arc<Self>, period: std::time::Duration, services: &Services, job: F)
    where
        F: Fn(Services) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let weak = Arc::downgrade(self);
        let services = services.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if weak.strong_count() == 0 {
                    return;
                }
                job(services.clone()).await;
            }
        });
    }

    /// Refuse a socket to a user who holds [`MAX_SOCKETS_PER_USER`] on
    /// all nodes together (on this node alone while the shared state is
    /// unreachable).
    pub async fn admit(&self, services: &Services, caller: &Caller) -> Result<()> {
        let here = self.sockets_of(caller.user.id);
        let everywhere = services.open_sockets(caller).await.unwrap_or(0);
        if here.max(everywhere) >= MAX_SOCKETS_PER_USER {
            return Err(Error::RateLimited {
                retry_after: std::time::Duration::from_secs(10),
            });
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn dispatch(&self, item: BusItem) {
        if let BusItem::Event(envelope) = &item {
            record_bus_lag(envelope.cursor);
        }
        let registry = self.lock();
        match item {
            BusItem::Event(envelope) => {
                if let Some(slots) = registry.by_topic.get(&envelope.topic) {
                    metrics::counter!("confab_events_fanned_out_total")
                        .increment(slots.len() as u64);
                    let outgoing = Outgoing::new(*envelope);
                    for slot in slots.values() {
                        slot.offer(Delivery::Event(outgoing.clone()));
                    }
                }
            }
            BusItem::Gap { since } => {
                for slot in registry.all.values() {
                    slot.offer(Delivery::Gap(since));
                }
            }
        }
    }

    /// Sockets connected to this node.
    pub fn sockets(&self) -> usize {
        self.lock().all.len()
    }

    /// Sockets of `user` on this node (each listens to its user's topic).
    pub fn sockets_of(&self, user: UserId) -> usize {
        self.lock()
            .by_topic
            .get(&Topic::User(user))
            .map_or(0, HashMap::len)
    }

    /// Ask every socket of this node to close (the node is stopping);
    /// clients reconnect elsewhere and resume from their cursor.
    pub fn shut_down(&self) {
        self.closing.store(true, Ordering::Relaxed);
        for slot in self.lock().all.values() {
            let _ = slot.sender.try_send(Delivery::Shutdown);
        }
    }

    /// Wait until every socket has closed, or `limit` has passed.
    pub async fn drained(&self, limit: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.sockets() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    fn register(self: &Arc<Self>, topics: &[Topic]) -> Feed {
        let (sender, receiver) = mpsc::channel(SOCKET_QUEUE);
        let slot = Slot {
            sender,
            overflowed: Arc::new(AtomicBool::new(false)),
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut feed = Feed {
            hub: self.clone(),
            id,
            slot: slot.clone(),
            receiver,
            topics: HashSet::new(),
        };
        self.lock().all.insert(id, slot);
        for topic in topics {
            feed.subscribe(*topic);
        }
        feed
    }
}

/// One socket's queue and the topics it listens to.
struct Feed {
    hub: Arc<Hub>,
    id: u64,
    slot: Slot,
    receiver: mpsc::Receiver<Delivery>,
    topics: HashSet<Topic>,
}

impl Feed {
    fn subscribe(&mut self, topic: Topic) {
        if self.topics.insert(topic) {
            let mut registry = self.hub.lock();
            registry
                .by_topic
                .entry(topic)
                .or_default()
                .insert(self.id, self.slot.clone());
        }
    }

    fn unsubscribe(&mut self, topic: Topic) {
        if self.topics.remove(&topic) {
            let mut registry = self.hub.lock();
            if let Some(slots) = registry.by_topic.get_mut(&topic) {
                slots.remove(&self.id);
                if slots.is_empty() {
                    registry.by_topic.remove(&topic);
                }
            }
        }
    }

    fn overflowed(&self) -> bool {
        self.slot.overflowed.load(Ordering::Relaxed)
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        let mut registry = self.hub.lock();
        registry.all.remove(&self.id);
        for topic in &self.topics {
            if let Some(slots) = registry.by_topic.get_mut(topic) {
                slots.remove(&self.id);
                if slots.is_empty() {
                    registry.by_topic.remove(topic);
                }
            }
        }
    }
}

/// Why the server closes a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The session was revoked or expired, or the account deactivated.
    SessionEnded,
    /// The socket did not keep up with its events.
    SlowConsumer,
    /// The node is shutting down.
    GoingAway,
    /// What the socket may see could not be checked again (the database
    /// did not answer): the client should reconnect shortly.
    Unavailable,
}

/// What a socket should do next.
#[derive(Debug)]
pub enum SocketStep {
    Send(Arc<Outgoing>),
    Close(CloseReason),
}

/// What a client may send over its socket.
#[derive(Clone, Debug)]
pub enum ClientCommand {
    Ping,
    Typing {
        channel_id: ChannelId,
    },
    Presence {
        workspace_id: WorkspaceId,
        update: PresenceUpdate,
    },
}

/// One open socket: who it is for, what it may see, and its feed.
pub struct Socket {
    services: Services,
    caller: Caller,
    token: String,
    connection_id: String,
    opened_at: DateTime<Utc>,
    /// When the connection was last recorded alive, in milliseconds.
    recorded_alive: AtomicI64,
    subscriptions: Subscriptions,
    feed: Feed,
}

impl Socket {
    /// Open a socket for an authenticated caller: register with the hub
    /// before anything is read, so nothing published meanwhile is missed.
    pub async fn open(
        services: &Services,
        hub: &Arc<Hub>,
        caller: Caller,
        token: String,
    ) -> Result<Self> {
        let mut feed = hub.register(&[Topic::User(caller.user.id)]);
        let subscriptions = services.subscriptions(&caller).await?;
        for topic in subscriptions.topics(caller.user.id) {
            feed.subscribe(topic);
        }
        let connection_id = random_hex_id();
        let opened_at = time::now();
        services
            .socket_opened(&caller, &connection_id, &subscriptions, opened_at)
            .await;
        Ok(Self {
            services: services.clone(),
            caller,
            token,
            connection_id,
            opened_at,
            recorded_alive: AtomicI64::new(opened_at.timestamp_millis()),
            subscriptions,
            feed,
        })
    }

    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }

    pub fn user_id(&self) -> UserId {
        self.caller.user.id
    }

    pub fn subscriptions(&self) -> &Subscriptions {
        &self.subscriptions
    }

    /// What changed in the socket's channels after `cursor`, read from the
    /// database, as steps; `resync_required` ends them if not all fit (or the
    /// database could not be read).
    pub async fn replay(&self, cursor: i64) -> Vec<SocketStep> {
        let channels: Vec<ChannelId> = self.subscriptions.channels.iter().copied().collect();
        self.replay_channels(&channels, cursor).await
    }

    async fn replay_channels(&self, channels: &[ChannelId], cursor: i64) -> Vec<SocketStep> {
        if channels.is_empty() {
            return Vec::new();
        }
        match self.services.replay(channels, cursor).await {
            Ok(replay) => {
                let mut steps: Vec<SocketStep> = replay
                    .envelopes
                    .into_iter()
                    .map(|e| SocketStep::Send(Outgoing::new(e)))
                    .collect();
                if !replay.complete {
                    steps.push(resync(self.caller.user.id));
                }
                steps
            }
            Err(err) => {
                tracing::warn!(error = %err, "replaying missed events failed");
                vec![resync(self.caller.user.id)]
            }
        }
    }

    /// The next delivery for this socket; `None` once it fell too far
    /// behind. Cancel-safe: nothing is lost if the wait is abandoned.
    pub async fn recv(&mut self) -> Option<Delivery> {
        if self.feed.hub.closing.load(Ordering::Relaxed) {
            return Some(Delivery::Shutdown);
        }
        if self.feed.overflowed() {
            return None;
        }
        let delivery = self.feed.receiver.recv().await;
        if self.feed.overflowed() {
            return None;
        }
        delivery
    }

    /// Decide what to do with a delivery (`None`: the socket fell behind).
    /// `last_cursor` is the newest cursor the client was sent.
    pub async fn process(
        &mut self,
        delivery: Option<Delivery>,
        last_cursor: i64,
    ) -> Vec<SocketStep> {
        match delivery {
            None => vec![SocketStep::Close(CloseReason::SlowConsumer)],
            Some(Delivery::Event(envelope)) => self.admit(envelope).await,
            Some(Delivery::Gap(since)) => {
                let from = match since {
                    Some(since) if last_cursor > 0 => since.min(last_cursor),
                    _ => last_cursor,
                };
                self.catch_up(from).await
            }
            Some(Delivery::Shutdown) => vec![SocketStep::Close(CloseReason::GoingAway)],
        }
    }

    /// After a gap in the bus: what the database says changed, in what the
    /// socket may see now (the gap may have swallowed a removal).
    async fn catch_up(&mut self, last_cursor: i64) -> Vec<SocketStep> {
        let hub = self.feed.hub.clone();
        let _turn = hub.catch_ups.acquire().await;
        if let Err(reason) = self.resubscribe().await {
            return vec![SocketStep::Close(reason)];
        }
        let cursor = if last_cursor > 0 {
            last_cursor
        } else {
            time::now().timestamp_micros()
        };
        self.replay(cursor).await
    }

    /// Whether a membership event in one of the socket's channels may change
    /// whom a guest shares a channel with: someone joining who is not yet a
    /// peer everywhere, or someone leaving who is a peer somewhere.
    fn changes_guest_peers(&self, event: &Event) -> bool {
        let mut peers = self.subscriptions.guest_peers.values();
        match event {
            Event::MemberJoined { user_id, .. } => peers.any(|p| !p.contains(user_id)),
            Event::MemberLeft { user_id, .. } => peers.any(|p| p.contains(user_id)),
            _ => false,
        }
    }

    /// Where the user is a guest, whose presence they may see follows the
    /// channels they share: re-read it after a membership change.
    async fn refresh_guest_peers(&mut self) {
        let workspaces: Vec<WorkspaceId> = self.subscriptions.guest_peers.keys().copied().collect();
        for workspace in workspaces {
            match self
                .services
                .guest_peers(self.caller.user.id, workspace)
                .await
            {
                Ok(peers) => {
                    self.subscriptions.guest_peers.insert(workspace, peers);
                }
                Err(err) => {
                    // Seeing less is the safe side of a failed read.
                    tracing::warn!(error = %err, "re-reading a guest's peers failed");
                    self.subscriptions
                        .guest_peers
                        .insert(workspace, HashSet::from([self.caller.user.id]));
                }
            }
        }
    }

    /// Apply the delivery rules to one event.
    async fn admit(&mut self, envelope: Arc<Outgoing>) -> Vec<SocketStep> {
        let me = self.caller.user.id;
        let deliver = vec![SocketStep::Send(envelope.clone())];
        match (&envelope.topic, &envelope.event) {
            (Topic::Channel(channel), event) => {
                if !self.subscriptions.channels.contains(channel) {
                    return Vec::new();
                }
                if matches!(event, Event::MemberLeft { user_id, .. } if *user_id == me) {
                    self.drop_channel(*channel);
                }
                if self.changes_guest_peers(event) {
                    self.refresh_guest_peers().await;
                }
                deliver
            }
            (Topic::Workspace(workspace), Event::AccessChanged { .. }) => {
                let mine = self.subscriptions.workspaces.contains_key(workspace)
                    || self.subscriptions.locked.contains(workspace);
                if !mine {
                    return Vec::new();
                }
                // The workspace's 2FA rule changed: it changes nothing for
                // a user with MFA (their own MFA changes come on their topic).
                if self.caller.user.mfa_enabled {
                    return deliver;
                }
                // Every member's socket hears this at once: take turns.
                let hub = self.feed.hub.clone();
                let _turn = hub.catch_ups.acquire().await;
                self.refreshed(envelope.cursor, deliver).await
            }
            (Topic::Workspace(workspace), event) => {
                match (self.subscriptions.workspaces.get(workspace), event) {
                    (None, _) => Vec::new(),
                    (Some(WorkspaceRole::Guest), Event::ChannelCreated { .. }) => Vec::new(),
                    (Some(WorkspaceRole::Guest), Event::Presence { user_id, .. }) => {
                        let peer = self
                            .subscriptions
                            .guest_peers
                            .get(workspace)
                            .is_some_and(|peers| peers.contains(user_id));
                        if peer {
                            deliver
                        } else {
                            Vec::new()
                        }
                    }
                    (Some(_), _) => deliver,
                }
            }
            (Topic::User(_), Event::SessionsRevoked { .. }) => {
                if envelope.event.revokes(&self.caller.session.id) {
                    vec![SocketStep::Close(CloseReason::SessionEnded)]
                } else {
                    Vec::new()
                }
            }
            (Topic::User(_), Event::MemberJoined { channel_id, .. }) => {
                if self.subscriptions.channels.contains(channel_id) {
                    return Vec::new(); // already seen on the channel itself
                }
                match self
                    .services
                    .is_channel_member(&self.caller, *channel_id)
                    .await
                {
                    Ok(true) => {
                        self.subscriptions.channels.insert(*channel_id);
                        self.feed.subscribe(Topic::Channel(*channel_id));
                        // What the channel published before the subscription.
                        let mut steps = deliver;
                        steps.extend(self.replay_channels(&[*channel_id], envelope.cursor).await);
                        steps
                    }
                    Ok(false) => Vec::new(),
                    Err(err) => {
                        tracing::warn!(error = %err, "checking a new membership failed");
                        Vec::new()
                    }
                }
            }
            (Topic::User(_), Event::MemberLeft { channel_id, .. }) => {
                if self.subscriptions.channels.contains(channel_id) {
                    self.drop_channel(*channel_id);
                    deliver
                } else {
                    Vec::new() // already seen on the channel itself
                }
            }
            (Topic::User(_), Event::AccessChanged { .. }) => {
                self.refreshed(envelope.cursor, deliver).await
            }
            (Topic::User(_), _) => deliver,
        }
    }

    fn drop_channel(&mut self, channel: ChannelId) {
        self.subscriptions.channels.remove(&channel);
        self.feed.unsubscribe(Topic::Channel(channel));
    }

    /// `steps` after a refresh, or the close the refresh calls for.
    async fn refreshed(&mut self, since: i64, mut steps: Vec<SocketStep>) -> Vec<SocketStep> {
        match self.refresh(since).await {
            Ok(replayed) => {
                steps.extend(replayed);
                steps
            }
            Err(reason) => vec![SocketStep::Close(reason)],
        }
    }

    /// Re-check the session and re-read what the socket may see; what the
    /// channels it gained changed after `since` (their earlier events were
    /// not sent to it). The error is why the socket must close.
    pub async fn refresh(
        &mut self,
        since: i64,
    ) -> std::result::Result<Vec<SocketStep>, CloseReason> {
        let gained = self.resubscribe().await?;
        Ok(self.replay_channels(&gained, since).await)
    }

    /// Re-check the session and re-read the subscriptions; the channels
    /// gained.
    async fn resubscribe(&mut self) -> std::result::Result<Vec<ChannelId>, CloseReason> {
        let checked = async {
            let caller = self.services.authenticate(&self.token).await?;
            let fresh = self.services.subscriptions(&caller).await?;
            Ok::<_, Error>((caller, fresh))
        };
        let (caller, fresh) = checked.await.map_err(|err| match err {
            Error::Unauthenticated => CloseReason::SessionEnded,
            other => {
                tracing::warn!(error = %other, "checking what a socket may see failed");
                CloseReason::Unavailable
            }
        })?;
        self.caller = caller;
        let me = self.caller.user.id;
        let old: HashSet<Topic> = self.subscriptions.topics(me).into_iter().collect();
        let new: HashSet<Topic> = fresh.topics(me).into_iter().collect();
        for gone in old.difference(&new) {
            self.feed.unsubscribe(*gone);
        }
        let mut gained = Vec::new();
        for added in new.difference(&old) {
            self.feed.subscribe(*added);
            if let Topic::Channel(channel) = added {
                gained.push(*channel);
            }
        }
        self.subscriptions = fresh;
        Ok(gained)
    }

    /// A heartbeat: the connection and presence stay alive. Heartbeats
    /// closer together than [`MIN_HEARTBEAT_GAP`] are not recorded again.
    pub async fn alive(&self) {
        let now = time::now().timestamp_millis();
        let last = self.recorded_alive.load(Ordering::Relaxed);
        if now - last < MIN_HEARTBEAT_GAP.as_millis() as i64 {
            return;
        }
        self.recorded_alive.store(now, Ordering::Relaxed);
        self.services
            .socket_opened(
                &self.caller,
                &self.connection_id,
                &self.subscriptions,
                self.opened_at,
            )
            .await;
    }

    /// Carry out something the client asked for.
    pub async fn command(&self, command: ClientCommand) -> Result<()> {
        match command {
            ClientCommand::Ping => {
                self.alive().await;
                Ok(())
            }
            ClientCommand::Typing { channel_id } => {
                self.services.typing(&self.caller, channel_id).await
            }
            ClientCommand::Presence {
                workspace_id,
                update,
            } => self
                .services
                .set_presence(&self.caller, workspace_id, update)
                .await
                .map(drop),
        }
    }

    /// The socket closed: forget it, and mark the user offline if it was
    /// their last.
    pub async fn close(self) {
        self.services
            .socket_closed(&self.caller, &self.connection_id, &self.subscriptions)
            .await;
    }
}

fn resync(user: UserId) -> SocketStep {
    SocketStep::Send(Outgoing::new(Envelope::new(
        Topic::User(user),
        time::now(),
        Event::ResyncRequired,
    )))
}

/// How long an event took from its change to this node's hub (the bus's
/// lag, plus any clock difference between nodes).
fn record_bus_lag(cursor: i64) {
    let lag_micros = confab_core::time::now().timestamp_micros() - cursor;
    metrics::histogram!("confab_bus_lag_seconds").record(lag_micros.max(0) as f64 / 1e6);
}
