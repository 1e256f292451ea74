//! The conformance suite of the realtime ports ([`EphemeralState`] and
//! [`EventBus`]): every implementation must pass every case. Where the state
//! lives in Redis, cases also check the data model's keys, value shapes and
//! lifetimes in Redis itself.
//!
//! [`EphemeralState`]: confab_core::ports::EphemeralState
//! [`EventBus`]: confab_core::ports::EventBus

use std::time::Duration;

use chrono::TimeZone;
use confab_core::id::*;
use confab_core::model::*;
use confab_core::ports::BusItem;
use confab_core::realtime::*;
use futures::StreamExt;
use serde_json::Value;

use crate::realtime_harness::{RealtimeFixture, RedisProbe};

/// Expands to one `#[tokio::test]` per case, each run through `$harness` (a
/// function taking a closure over a [`RealtimeFixture`]).
#[macro_export]
macro_rules! realtime_conformance {
    ($harness:path $(, #[$attr:meta])*) => {
        $crate::__conformance_cases!(realtime_suite, 2, $harness, [$(#[$attr])*],
            rate_limits_count_in_fixed_windows,
            sessions_are_mirrored_and_removed,
            presence_is_kept_per_user_and_workspace,
            connections_are_counted_per_user,
            the_sockets_of_a_dead_node_are_reaped_once,
            channel_member_lists_are_cached_and_forgotten,
            typing_is_reported_for_candidates,
            recent_messages_are_filled_pushed_trimmed_and_forgotten,
            a_recent_fill_loses_to_a_post_or_an_invalidation,
            recent_messages_stay_in_id_order_whatever_order_posts_finish,
            unread_counts_are_filled_incremented_and_forgotten,
            an_unread_fill_loses_to_an_increment,
            the_bus_delivers_to_every_node_in_order,
            a_subscriber_that_falls_behind_is_told_of_a_gap,
            a_subscription_starts_with_what_follows_it,
        );
    };
}

/// A message as the cache holds it.
pub fn sample_message(channel: ChannelId, user: UserId, content: &str) -> Message {
    let id = MessageId::new();
    let at = id.created_at();
    Message {
        id,
        workspace_id: WorkspaceId::new(),
        channel_id: channel,
        user_id: user,
        content: content.to_owned(),
        message_type: MessageType::Text,
        formatted_content: None,
        thread_id: None,
        broadcast: false,
        reply_count: 0,
        is_pinned: false,
        pinned_by: None,
        pinned_at: None,
        is_deleted: false,
        deleted_at: None,
        reactions: Reactions::default(),
        edited_at: None,
        edit_count: 0,
        edit_history: Vec::new(),
        client_msg_id: None,
        created_at: at,
        updated_at: at,
        ts: at.timestamp_micros(),
    }
}

/// Assert that `key` lives at most `ttl` and has at most a few seconds less.
async fn assert_ttl(probe: &RedisProbe, key: &str, ttl: Duration) {
    let left = probe.ttl(key).await;
    let ttl = ttl.as_secs() as i64;
    assert!(
        left <= ttl && left >= ttl - 5,
        "{key} should live {ttl} s, has {left} s left"
    );
}

fn assert_fields(value: &Value, fields: &[&str]) {
    let object = value.as_object().expect("a JSON object");
    for field in fields {
        assert!(object.contains_key(*field), "{field} missing from {value}");
    }
}

pub async fn rate_limits_count_in_fixed_windows(fx: RealtimeFixture) {
    let user = UserId::new();
    let key = format!("rate_limit:{user}:login");
    let now = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 10).unwrap();
    let minute = Duration::from_secs(60);
    for expected in 1..=3 {
        let (count, left) = fx.state.hit(&key, minute, now).await.unwrap();
        assert_eq!(count, expected);
        assert_eq!(left, Duration::from_secs(50));
    }
    let other = format!("message_rate:{user}:{}", ChannelId::new());
    assert_eq!(fx.state.hit(&other, minute, now).await.unwrap().0, 1);
    let next = now + chrono::Duration::seconds(60);
    assert_eq!(fx.state.hit(&key, minute, next).await.unwrap().0, 1);
    if let Some(probe) = &fx.redis {
        let (index, _) = confab_core::ports::fixed_window(minute, now);
        let stored = format!("{key}:{index}");
        assert_eq!(probe.get(&stored).await.as_deref(), Some("3"));
        assert_ttl(probe, &stored, minute).await;
        let hour = Duration::from_secs(3600);
        fx.state.hit("rate_limit:x:api", hour, now).await.unwrap();
        let (index, _) = confab_core::ports::fixed_window(hour, now);
        assert_ttl(probe, &format!("rate_limit:x:api:{index}"), hour).await;
    }
}

fn sample_session(user: UserId) -> SessionSnapshot {
    let at = confab_core::time::now();
    SessionSnapshot {
        user_id: user,
        workspace_id: Some(WorkspaceId::new()),
        device_type: "desktop".into(),
        ip_address: Some("192.0.2.1".into()),
        user_agent: Some("Mozilla/5.0".into()),
        created_at: at,
        last_activity: at,
        permissions: vec!["read".into(), "write".into()],
    }
}

pub async fn sessions_are_mirrored_and_removed(fx: RealtimeFixture) {
    let snapshot = sample_session(UserId::new());
    assert_eq!(fx.state.get_session("s1").await.unwrap(), None);
    fx.state.put_session("s1", &snapshot).await.unwrap();
    fx.state.put_session("s2", &snapshot).await.unwrap();
    assert_eq!(
        fx.state.get_session("s1").await.unwrap(),
        Some(snapshot.clone())
    );
    if let Some(probe) = &fx.redis {
        assert_ttl(probe, "session:s1", ttl::SESSION).await;
        let value = probe.get_json("session:s1").await;
        assert_fields(
            &value,
            &[
                "user_id",
                "workspace_id",
                "device_type",
                "ip_address",
                "user_agent",
                "created_at",
                "last_activity",
                "permissions",
            ],
        );
    }
    fx.state
        .remove_sessions(&["s1".into(), "s2".into()])
        .await
        .unwrap();
    assert_eq!(fx.state.get_session("s1").await.unwrap(), None);
    assert_eq!(fx.state.get_session("s2").await.unwrap(), None);
}

pub async fn presence_is_kept_per_user_and_workspace(fx: RealtimeFixture) {
    let (alice, bob) = (UserId::new(), UserId::new());
    let (w1, w2) = (WorkspaceId::new(), WorkspaceId::new());
    let presence = Presence {
        status: PresenceStatus::Online,
        custom_status: Some("In a meeting".into()),
        last_seen: confab_core::time::now(),
        device_type: "desktop".into(),
        timezone: "America/New_York".into(),
    };
    fx.state.set_presence(alice, w1, &presence).await.unwrap();
    let got = fx.state.get_presence(w1, &[bob, alice]).await.unwrap();
    assert_eq!(got, vec![None, Some(presence.clone())]);
    assert_eq!(
        fx.state.get_presence(w2, &[alice]).await.unwrap(),
        vec![None]
    );
    assert!(fx.state.get_presence(w1, &[]).await.unwrap().is_empty());
    if let Some(probe) = &fx.redis {
        let key = format!("presence:{alice}:{w1}");
        assert_ttl(probe, &key, ttl::PRESENCE).await;
        let value = probe.get_json(&key).await;
        assert_fields(
            &value,
            &[
                "status",
                "custom_status",
                "last_seen",
                "device_type",
                "timezone",
            ],
        );
        assert_eq!(value["status"], "online");
    }
}

fn connection(user: UserId, node: &str) -> ConnectionInfo {
    ConnectionInfo {
        user_id: user,
        workspace_id: Some(WorkspaceId::new()),
        channels: vec![ChannelId::new(), ChannelId::new()],
        connected_at: confab_core::time::now(),
        node_id: node.to_owned(),
    }
}

pub async fn connections_are_counted_per_user(fx: RealtimeFixture) {
    let user = UserId::new();
    let info = connection(user, "n1");
    fx.state.put_connection("c1", &info).await.unwrap();
    fx.state.put_connection("c2", &info).await.unwrap();
    fx.state
        .put_connection("c3", &connection(UserId::new(), "n1"))
        .await
        .unwrap();
    assert_eq!(
        fx.state.get_connection("c1").await.unwrap(),
        Some(info.clone())
    );
    assert_eq!(fx.state.count_connections(user).await.unwrap(), 2);
    if let Some(probe) = &fx.redis {
        assert_ttl(probe, "connection:c1", ttl::CONNECTION).await;
        let value = probe.get_json("connection:c1").await;
        assert_fields(
            &value,
            &["user_id", "workspace_id", "channels", "connected_at"],
        );
        assert_eq!(value["channels"].as_array().unwrap().len(), 2);
        assert_eq!(
            probe.key_type(&format!("user_connections:{user}")).await,
            "set"
        );
        assert_eq!(probe.key_type("node_connections:n1").await, "set");
    }
    assert_eq!(
        fx.state.remove_connection("c1", user, "n1").await.unwrap(),
        1
    );
    assert_eq!(fx.state.get_connection("c1").await.unwrap(), None);
    assert_eq!(fx.state.count_connections(user).await.unwrap(), 1);
    assert_eq!(
        fx.state.remove_connection("c2", user, "n1").await.unwrap(),
        0
    );
    assert_eq!(
        fx.state.remove_connection("c2", user, "n1").await.unwrap(),
        0
    );
    assert_eq!(fx.state.count_connections(user).await.unwrap(), 0);
    assert_eq!(fx.state.count_connections(UserId::new()).await.unwrap(), 0);
}

pub async fn the_sockets_of_a_dead_node_are_reaped_once(fx: RealtimeFixture) {
    let (alone, elsewhere, closed) = (UserId::new(), UserId::new(), UserId::new());
    for node in ["short", "long"] {
        fx.state
            .renew_node(node, Duration::from_secs(60))
            .await
            .unwrap();
    }
    for (id, user, node) in [
        ("a1", alone, "short"),
        ("a2", alone, "short"),
        ("e1", elsewhere, "short"),
        ("e2", elsewhere, "long"),
        ("x1", closed, "short"),
        // A node that never renewed is not known, so never reaped.
        ("n1", closed, "unregistered"),
    ] {
        fx.state
            .put_connection(id, &connection(user, node))
            .await
            .unwrap();
    }
    fx.state
        .remove_connection("x1", closed, "short")
        .await
        .unwrap();
    if let Some(probe) = &fx.redis {
        let left = probe.ttl("node:long").await;
        assert!((55..=60).contains(&left), "node:long has {left} s left");
        assert_eq!(probe.key_type("nodes").await, "set");
    }
    // Both nodes live: nothing to reap.
    assert_eq!(
        fx.state.reap_dead_nodes().await.unwrap(),
        Vec::<UserId>::new()
    );
    assert_eq!(fx.state.count_connections(alone).await.unwrap(), 2);

    // "short" renews one last time, briefly, and dies.
    fx.state
        .renew_node("short", Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Two reapers at once: only one of them gets the users.
    let (first, second) = tokio::join!(fx.state.reap_dead_nodes(), fx.state.reap_dead_nodes());
    let mut reaped = [first.unwrap(), second.unwrap()];
    reaped.sort_by_key(Vec::len);
    assert_eq!(reaped[0], Vec::<UserId>::new());
    assert_eq!(reaped[1], vec![alone]);
    assert_eq!(fx.state.count_connections(alone).await.unwrap(), 0);
    assert_eq!(fx.state.count_connections(elsewhere).await.unwrap(), 1);
    assert_eq!(fx.state.get_connection("a1").await.unwrap(), None);
    assert!(fx.state.get_connection("e2").await.unwrap().is_some());
    assert!(fx.state.get_connection("n1").await.unwrap().is_some());
    assert_eq!(
        fx.state.reap_dead_nodes().await.unwrap(),
        Vec::<UserId>::new()
    );
    if let Some(probe) = &fx.redis {
        assert_eq!(probe.key_type("node_connections:short").await, "none");
        assert_eq!(probe.key_type("node:short").await, "none");
    }
}

pub async fn channel_member_lists_are_cached_and_forgotten(fx: RealtimeFixture) {
    let channel = ChannelId::new();
    let members = vec![UserId::new(), UserId::new(), UserId::new()];
    let snapshot = ChannelMembersSnapshot {
        member_count: members.len(),
        members,
        last_updated: confab_core::time::now(),
    };
    assert_eq!(fx.state.get_channel_members(channel).await.unwrap(), None);
    let token = fx.state.claim_channel_members_fill(channel).await.unwrap();
    assert!(fx
        .state
        .fill_channel_members(channel, &token, &snapshot)
        .await
        .unwrap());
    assert!(!fx
        .state
        .fill_channel_members(channel, &token, &snapshot)
        .await
        .unwrap());
    assert_eq!(
        fx.state.get_channel_members(channel).await.unwrap(),
        Some(snapshot.clone())
    );
    if let Some(probe) = &fx.redis {
        let key = format!("channel_members:{channel}");
        assert_ttl(probe, &key, ttl::CHANNEL_MEMBERS).await;
        let value = probe.get_json(&key).await;
        assert_fields(&value, &["members", "member_count", "last_updated"]);
        assert_eq!(value["member_count"], 3);
    }
    fx.state.forget_channel_members(channel).await.unwrap();
    assert_eq!(fx.state.get_channel_members(channel).await.unwrap(), None);
    // A list read before a membership change is not stored after it.
    let token = fx.state.claim_channel_members_fill(channel).await.unwrap();
    fx.state.forget_channel_members(channel).await.unwrap();
    assert!(!fx
        .state
        .fill_channel_members(channel, &token, &snapshot)
        .await
        .unwrap());
    assert_eq!(fx.state.get_channel_members(channel).await.unwrap(), None);
}

pub async fn typing_is_reported_for_candidates(fx: RealtimeFixture) {
    let channel = ChannelId::new();
    let (alice, bob, carol) = (UserId::new(), UserId::new(), UserId::new());
    fx.state.set_typing(channel, alice).await.unwrap();
    fx.state.set_typing(channel, carol).await.unwrap();
    fx.state.set_typing(ChannelId::new(), bob).await.unwrap();
    let typing = fx
        .state
        .typing(channel, &[alice, bob, carol])
        .await
        .unwrap();
    assert_eq!(typing, vec![alice, carol]);
    if let Some(probe) = &fx.redis {
        let key = format!("typing:{channel}:{alice}");
        assert_eq!(probe.get(&key).await.as_deref(), Some("1"));
        assert_ttl(probe, &key, ttl::TYPING).await;
    }
    assert!(fx.state.typing(channel, &[]).await.unwrap().is_empty());
}

pub async fn recent_messages_are_filled_pushed_trimmed_and_forgotten(fx: RealtimeFixture) {
    let channel = ChannelId::new();
    let user = UserId::new();
    assert_eq!(fx.state.recent_messages(channel, 50).await.unwrap(), None);
    let mut newest_first: Vec<Message> = (0..3)
        .map(|i| sample_message(channel, user, &format!("m{i}")))
        .collect();
    newest_first.reverse();
    let token = fx.state.claim_recent_fill(channel).await.unwrap();
    assert!(fx
        .state
        .fill_recent_messages(channel, &token, &newest_first)
        .await
        .unwrap());
    // A claim is used once.
    assert!(!fx
        .state
        .fill_recent_messages(channel, &token, &newest_first)
        .await
        .unwrap());
    assert_eq!(
        fx.state.recent_messages(channel, 50).await.unwrap(),
        Some(newest_first.clone())
    );
    assert_eq!(
        fx.state
            .recent_messages(channel, 2)
            .await
            .unwrap()
            .unwrap()
            .len(),
        2
    );

    let newer = sample_message(channel, user, "newer");
    fx.state.push_recent_message(&newer).await.unwrap();
    let cached = fx
        .state
        .recent_messages(channel, 50)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cached.len(), 4);
    assert_eq!(cached[0], newer);
    if let Some(probe) = &fx.redis {
        let key = format!("recent_messages:{channel}");
        assert_eq!(probe.key_type(&key).await, "list");
        let head: Value = serde_json::from_str(&probe.list(&key).await[0]).unwrap();
        assert_fields(
            &head,
            &[
                "message_id",
                "user_id",
                "content",
                "created_at",
                "message_type",
            ],
        );
        assert_eq!(head["message_id"], newer.id.to_string());
        assert_ttl(probe, &key, ttl::RECENT_MESSAGES).await;
    }
    for i in 0..RECENT_MESSAGES_KEPT {
        let message = sample_message(channel, user, &format!("flood {i}"));
        fx.state.push_recent_message(&message).await.unwrap();
    }
    let cached = fx
        .state
        .recent_messages(channel, 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cached.len(), RECENT_MESSAGES_KEPT);
    assert_eq!(
        cached[0].content,
        format!("flood {}", RECENT_MESSAGES_KEPT - 1)
    );

    fx.state.forget_recent_messages(channel).await.unwrap();
    assert_eq!(fx.state.recent_messages(channel, 50).await.unwrap(), None);
    // A push to a channel that is not cached does not create a partial list.
    fx.state
        .push_recent_message(&sample_message(channel, user, "x"))
        .await
        .unwrap();
    assert_eq!(fx.state.recent_messages(channel, 50).await.unwrap(), None);
}

/// `count` messages of `channel`, oldest first by id.
fn messages_in_id_order(
    channel: ChannelId,
    user: UserId,
    prefix: &str,
    count: usize,
) -> Vec<Message> {
    let mut messages: Vec<Message> = (0..count)
        .map(|i| sample_message(channel, user, &format!("{prefix} {i}")))
        .collect();
    messages.sort_by_key(|m| m.id);
    messages
}

pub async fn recent_messages_stay_in_id_order_whatever_order_posts_finish(fx: RealtimeFixture) {
    let channel = ChannelId::new();
    let user = UserId::new();
    let filled = messages_in_id_order(channel, user, "filled", 3);
    let posted = messages_in_id_order(channel, user, "posted", 5);
    let newest_first = |messages: &[Message]| -> Vec<MessageId> {
        let mut ids: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
        ids.sort_by(|a, b| b.cmp(a));
        ids
    };
    let cached_ids = || async {
        fx.state
            .recent_messages(channel, 1_000)
            .await
            .unwrap()
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>()
    };
    let token = fx.state.claim_recent_fill(channel).await.unwrap();
    let fill: Vec<Message> = filled.iter().rev().cloned().collect();
    assert!(fx
        .state
        .fill_recent_messages(channel, &token, &fill)
        .await
        .unwrap());
    // Posts finish out of id order; a fill's message is pushed again by its
    // own post; one post is pushed twice.
    for i in [2, 0, 4, 1, 3] {
        fx.state.push_recent_message(&posted[i]).await.unwrap();
    }
    fx.state.push_recent_message(&filled[1]).await.unwrap();
    fx.state.push_recent_message(&posted[2]).await.unwrap();
    let all: Vec<Message> = filled.iter().chain(&posted).cloned().collect();
    assert_eq!(cached_ids().await, newest_first(&all));

    // Past the cap the oldest go, and a late post older than every cached
    // message is not kept: the list is always the newest messages.
    let flood = messages_in_id_order(channel, user, "flood", RECENT_MESSAGES_KEPT);
    for message in flood.iter().rev() {
        fx.state.push_recent_message(message).await.unwrap();
    }
    fx.state.push_recent_message(&posted[0]).await.unwrap();
    assert_eq!(cached_ids().await, newest_first(&flood));
}

pub async fn a_recent_fill_loses_to_a_post_or_an_invalidation(fx: RealtimeFixture) {
    let channel = ChannelId::new();
    let user = UserId::new();
    let stale = vec![sample_message(channel, user, "read before the post")];

    let token = fx.state.claim_recent_fill(channel).await.unwrap();
    fx.state
        .push_recent_message(&sample_message(channel, user, "posted meanwhile"))
        .await
        .unwrap();
    assert!(!fx
        .state
        .fill_recent_messages(channel, &token, &stale)
        .await
        .unwrap());
    assert_eq!(fx.state.recent_messages(channel, 50).await.unwrap(), None);

    let token = fx.state.claim_recent_fill(channel).await.unwrap();
    fx.state.forget_recent_messages(channel).await.unwrap();
    assert!(!fx
        .state
        .fill_recent_messages(channel, &token, &stale)
        .await
        .unwrap());

    let first = fx.state.claim_recent_fill(channel).await.unwrap();
    let second = fx.state.claim_recent_fill(channel).await.unwrap();
    assert!(!fx
        .state
        .fill_recent_messages(channel, &first, &stale)
        .await
        .unwrap());
    assert!(fx
        .state
        .fill_recent_messages(channel, &second, &stale)
        .await
        .unwrap());
}

fn state(channel: ChannelId, read: Option<MessageId>, unread: i64, mentions: i64) -> ReadState {
    ReadState {
        channel_id: channel,
        last_read_message_id: read,
        unread,
        mentions,
    }
}

pub async fn unread_counts_are_filled_incremented_and_forgotten(fx: RealtimeFixture) {
    let workspace = WorkspaceId::new();
    let (alice, bob) = (UserId::new(), UserId::new());
    let mut channels = [ChannelId::new(), ChannelId::new()];
    channels.sort();
    let [c1, c2] = channels;
    let read = MessageId::new();
    assert_eq!(
        fx.state.unread_counts(alice, workspace).await.unwrap(),
        None
    );

    let token = fx.state.claim_unread_fill(alice, workspace).await.unwrap();
    let states = vec![state(c1, Some(read), 4, 1), state(c2, None, 0, 0)];
    assert!(fx
        .state
        .fill_unread_counts(alice, workspace, &token, &states)
        .await
        .unwrap());
    assert_eq!(
        fx.state.unread_counts(alice, workspace).await.unwrap(),
        Some(states)
    );
    if let Some(probe) = &fx.redis {
        let key = format!("unread_counts:{alice}:{workspace}");
        assert_eq!(probe.key_type(&key).await, "hash");
        let hash = probe.hash(&key).await;
        assert_eq!(hash.get(&c1.to_string()).map(String::as_str), Some("4"));
        assert_eq!(hash.get(&c2.to_string()).map(String::as_str), Some("0"));
        assert_ttl(probe, &key, ttl::UNREAD_COUNTS).await;
    }

    fx.state
        .add_unread(workspace, c2, &[(alice, 1, 1), (bob, 1, 0)])
        .await
        .unwrap();
    fx.state
        .add_unread(workspace, c2, &[(alice, 1, 0)])
        .await
        .unwrap();
    let counts = fx
        .state
        .unread_counts(alice, workspace)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        counts,
        vec![state(c1, Some(read), 4, 1), state(c2, None, 2, 1)]
    );
    // Counts that were not cached are not started from an increment.
    assert_eq!(fx.state.unread_counts(bob, workspace).await.unwrap(), None);

    // A user in no channel is cached as such.
    let token = fx.state.claim_unread_fill(bob, workspace).await.unwrap();
    assert!(fx
        .state
        .fill_unread_counts(bob, workspace, &token, &[])
        .await
        .unwrap());
    assert_eq!(
        fx.state.unread_counts(bob, workspace).await.unwrap(),
        Some(vec![])
    );

    fx.state
        .forget_unread_counts(workspace, &[alice, bob])
        .await
        .unwrap();
    assert_eq!(
        fx.state.unread_counts(alice, workspace).await.unwrap(),
        None
    );
    assert_eq!(fx.state.unread_counts(bob, workspace).await.unwrap(), None);
}

pub async fn an_unread_fill_loses_to_an_increment(fx: RealtimeFixture) {
    let workspace = WorkspaceId::new();
    let user = UserId::new();
    let channel = ChannelId::new();
    let token = fx.state.claim_unread_fill(user, workspace).await.unwrap();
    fx.state
        .add_unread(workspace, channel, &[(user, 1, 0)])
        .await
        .unwrap();
    let stale = [state(channel, None, 0, 0)];
    assert!(!fx
        .state
        .fill_unread_counts(user, workspace, &token, &stale)
        .await
        .unwrap());
    let token = fx.state.claim_unread_fill(user, workspace).await.unwrap();
    fx.state
        .forget_unread_counts(workspace, &[user])
        .await
        .unwrap();
    assert!(!fx
        .state
        .fill_unread_counts(user, workspace, &token, &stale)
        .await
        .unwrap());
    assert_eq!(fx.state.unread_counts(user, workspace).await.unwrap(), None);
}

pub async fn the_bus_delivers_to_every_node_in_order(fx: RealtimeFixture) {
    let mut on_a = fx.bus_a.subscribe();
    let mut on_b = fx.bus_b.subscribe();
    let channel = ChannelId::new();
    let sent: Vec<Envelope> = (0..100)
        .map(|i| {
            let message = sample_message(channel, UserId::new(), &format!("event {i}"));
            Envelope::new(
                Topic::Channel(channel),
                message.created_at,
                Event::MessageCreated { message },
            )
        })
        .collect();
    for envelope in &sent {
        fx.bus_a.publish(envelope).await.unwrap();
    }
    for stream in [&mut on_a, &mut on_b] {
        for expected in &sent {
            let item = tokio::time::timeout(Duration::from_secs(5), stream.next())
                .await
                .expect("an event within 5 s")
                .expect("the bus is open");
            assert_eq!(item, BusItem::Event(Box::new(expected.clone())));
        }
    }
}

fn typing_event(channel: ChannelId, user: UserId) -> Envelope {
    let event = Event::Typing {
        channel_id: channel,
        user_id: user,
    };
    Envelope::new(Topic::Channel(channel), confab_core::time::now(), event)
}

async fn next_item(stream: &mut confab_core::ports::BusStream) -> BusItem {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an item within 10 s")
        .expect("the bus is open")
}

/// Read `stream` until `wanted` arrives; whether a gap was reported first.
async fn read_until(stream: &mut confab_core::ports::BusStream, wanted: &Envelope) -> bool {
    let mut saw_gap = false;
    loop {
        match next_item(stream).await {
            BusItem::Gap { .. } => saw_gap = true,
            BusItem::Event(envelope) if *envelope == *wanted => return saw_gap,
            BusItem::Event(_) => {}
        }
    }
}

pub async fn a_subscriber_that_falls_behind_is_told_of_a_gap(fx: RealtimeFixture) {
    let mut slow = fx.bus_b.subscribe();
    let mut attentive = fx.bus_b.subscribe();
    let channel = ChannelId::new();
    let user = UserId::new();
    for _ in 0..confab_realtime::BUS_BUFFER + 100 {
        fx.bus_a
            .publish(&typing_event(channel, user))
            .await
            .unwrap();
    }
    let last = typing_event(channel, UserId::new());
    fx.bus_a.publish(&last).await.unwrap();
    // Once the last event reached the node, the slow subscriber has missed
    // some: it hears of the gap, then reads on to the newest.
    read_until(&mut attentive, &last).await;
    assert!(
        read_until(&mut slow, &last).await,
        "a subscriber that lost events is told so"
    );
}

pub async fn a_subscription_starts_with_what_follows_it(fx: RealtimeFixture) {
    let channel = ChannelId::new();
    let mut early = fx.bus_b.subscribe();
    let before = typing_event(channel, UserId::new());
    fx.bus_a.publish(&before).await.unwrap();
    assert!(!read_until(&mut early, &before).await);
    let mut late = fx.bus_b.subscribe();
    let after = typing_event(channel, UserId::new());
    fx.bus_a.publish(&after).await.unwrap();
    assert_eq!(next_item(&mut late).await, BusItem::Event(Box::new(after)));
}
