//! Several `confab serve` processes sharing PostgreSQL and Redis act as one
//! server, and a node rides out a Redis outage. These run when
//! `CONFAB_TEST_POSTGRES_URL` and `CONFAB_TEST_REDIS_URL` are set.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{confab, terminate, Server};
use confab_core::ports::Stores;
use confab_service::MAX_SOCKETS_PER_USER;
use confab_store_postgres::{PostgresOptions, PostgresStore};
use confab_testkit::app::TestApp;
use confab_testkit::harness::PgTestDb;
use confab_testkit::ledger::{posts_are_all_paged_back, LedgerRun, Poster};
use confab_testkit::realtime_harness::{redis_url, test_prefix, RedisProbe};
use confab_testkit::ws_client::{gateway_url, WsClient};
use reqwest::Method;
use serde_json::json;

/// A node on the test database and the Redis at `redis`, keys under `prefix`.
fn node(dir: &std::path::Path, db: &PgTestDb, redis: &str, prefix: &str) -> Server {
    Server::start(node_command(dir, db, redis, prefix))
}

/// The command of [`node`], for settings of a test's own.
fn node_command(dir: &std::path::Path, db: &PgTestDb, redis: &str, prefix: &str) -> Command {
    let mut cmd = confab(dir);
    cmd.env("CONFAB_DATABASE__URL", &db.url)
        .env("CONFAB_REDIS__URL", redis)
        .env("CONFAB_REDIS__KEY_PREFIX", prefix)
        .env("CONFAB_SECRETS__KEY", SHARED_KEY);
    cmd
}

/// The secret key every node of a test shares (32 bytes of base64).
const SHARED_KEY: &str = "c2hhcmVkLWJ5LWV2ZXJ5LW5vZGUtb2YtdGhpcy10ZXM=";

async fn stores_of(db: &PgTestDb) -> Stores {
    let store = PostgresStore::open(&PostgresOptions::new(db.url.clone()))
        .await
        .expect("open the test database");
    Stores::new(Arc::new(store))
}

/// Two people in one workspace, made through `app`: (owner token, member
/// token, workspace id, general channel id).
async fn team(app: &TestApp) -> (String, String, String, String) {
    let owner = app.user("alice").await;
    let workspace = app.workspace(&owner, "Nodes").await;
    let member = app.user("bob").await;
    app.join(&owner, &workspace, &member, "member").await;
    let channels = app
        .get(&format!("/api/v1/workspaces/{workspace}/channels"), &owner)
        .await;
    let general = channels.body["channels"][0]["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (owner, member, workspace, general)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(confab_postgres, confab_redis)),
    ignore = "set CONFAB_TEST_POSTGRES_URL and CONFAB_TEST_REDIS_URL to run"
)]
async fn two_nodes_on_postgres_and_redis_act_as_one() {
    let db = PgTestDb::create().await;
    let prefix = test_prefix();
    let probe = RedisProbe::connect(&redis_url(), &prefix).await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node_a = node(dir_a.path(), &db, &redis_url(), &prefix);
    let node_b = node(dir_b.path(), &db, &redis_url(), &prefix);
    let stores = stores_of(&db).await;
    let a = TestApp::attach(node_a.base.clone(), stores.clone());
    let b = TestApp::attach(node_b.base.clone(), stores.clone());

    let (owner, member, workspace, general) = team(&a).await;
    // A session made on one node works on the other.
    assert_eq!(b.get("/api/v1/me", &owner).await.status, 200);
    let mut on_b = WsClient::connect(&b.base, &member).await;

    let posted = a
        .post(
            &format!("/api/v1/channels/{general}/messages"),
            Some(&owner),
            json!({"content": "from node A"}),
        )
        .await;
    assert_eq!(posted.status, 201, "{posted:?}");
    let id = posted.body["id"].as_str().unwrap().to_owned();
    let created = on_b.expect("message_created").await;
    assert_eq!(created["message"]["content"], "from node A");

    let edited = a
        .call(
            Method::PATCH,
            &format!("/api/v1/messages/{id}"),
            Some(&owner),
            Some(json!({"content": "edited on A"})),
        )
        .await;
    assert_eq!(edited.status, 200);
    assert_eq!(
        on_b.expect("message_edited").await["message"]["content"],
        "edited on A"
    );

    let typing = a
        .post(
            &format!("/api/v1/channels/{general}/typing"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(typing.status, 204);
    on_b.expect("typing").await;
    let typers = b
        .get(&format!("/api/v1/channels/{general}/typing"), &member)
        .await;
    assert_eq!(typers.body["user_ids"].as_array().unwrap().len(), 1);

    let away = a
        .call(
            Method::PUT,
            &format!("/api/v1/workspaces/{workspace}/presence"),
            Some(&owner),
            Some(json!({"status": "away"})),
        )
        .await;
    assert_eq!(away.status, 200, "{away:?}");
    let presence = on_b
        .expect_where("presence", |e| e["presence"]["status"] == "away")
        .await;
    assert_eq!(presence["user_id"], away.body["user_id"]);

    // The history page cached by one node is right on the other.
    let page_b = b
        .get(&format!("/api/v1/channels/{general}/messages"), &member)
        .await;
    let posted_again = a
        .post(
            &format!("/api/v1/channels/{general}/messages"),
            Some(&owner),
            json!({"content": "second"}),
        )
        .await;
    assert_eq!(posted_again.status, 201);
    let page_b_again = b
        .get(&format!("/api/v1/channels/{general}/messages"), &member)
        .await;
    assert_eq!(
        page_b.body["messages"].as_array().unwrap().len() + 1,
        page_b_again.body["messages"].as_array().unwrap().len()
    );
    assert!(probe
        .keys()
        .await
        .iter()
        .any(|k| k.starts_with("recent_messages:")));

    on_b.close().await;
    assert!(node_a.stop().success());
    assert!(node_b.stop().success());
    stores.admin.close().await;
    probe.clean().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(confab_postgres, confab_redis)),
    ignore = "set CONFAB_TEST_POSTGRES_URL and CONFAB_TEST_REDIS_URL to run"
)]
async fn posts_through_two_nodes_are_all_paged_back() {
    let db = PgTestDb::create().await;
    let prefix = test_prefix();
    let probe = RedisProbe::connect(&redis_url(), &prefix).await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let busy_node = |dir: &std::path::Path| {
        let mut cmd = node_command(dir, &db, &redis_url(), &prefix);
        cmd.env("CONFAB_LIMITS__MESSAGES_PER_MINUTE", "100000");
        Server::start(cmd)
    };
    let (node_a, node_b) = (busy_node(dir_a.path()), busy_node(dir_b.path()));
    let stores = stores_of(&db).await;
    let a = TestApp::attach(node_a.base.clone(), stores.clone());
    let b = TestApp::attach(node_b.base.clone(), stores.clone());
    let (owner, member, _, general) = team(&a).await;

    // Posters alternate between the nodes; the reader is on node B.
    let posters: Vec<Poster> = (0..16)
        .map(|i| Poster {
            app: if i % 2 == 0 { &a } else { &b },
            token: if i % 4 < 2 { &owner } else { &member },
        })
        .collect();
    let reader = Poster {
        app: &b,
        token: &member,
    };
    let run = LedgerRun {
        posts_each: 40,
        page_size: 37,
    };
    posts_are_all_paged_back(&posters, reader, &general, run).await;

    assert!(node_a.stop().success());
    assert!(node_b.stop().success());
    stores.admin.close().await;
    probe.clean().await;
    db.drop_database().await;
}

/// A `redis-server` of the test's own, on a free port, with nothing on disk.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on the PATH");
        let redis = Self { child, port };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(mut self) {
        terminate(&mut self.child);
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(confab_postgres, confab_redis)),
    ignore = "set CONFAB_TEST_POSTGRES_URL and CONFAB_TEST_REDIS_URL to run"
)]
async fn a_node_keeps_serving_through_a_redis_outage_and_recovers() {
    let db = PgTestDb::create().await;
    let redis = OwnRedis::start(free_port());
    let dir = tempfile::tempdir().unwrap();
    let server = node(dir.path(), &db, &redis.url(), "");
    let stores = stores_of(&db).await;
    let app = TestApp::attach(server.base.clone(), stores.clone());
    let (owner, member, workspace, general) = team(&app).await;
    let messages = format!("/api/v1/channels/{general}/messages");
    let mut socket = WsClient::connect(&app.base, &member).await;
    app.post(&messages, Some(&owner), json!({"content": "before"}))
        .await;
    socket.expect("message_created").await;
    let member_id = app.user_id(&member).await;
    let secret = app
        .post(
            &format!("/api/v1/workspaces/{workspace}/channels"),
            Some(&owner),
            json!({"name": "secret", "private": true}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.add_to_channel(&owner, &secret, &member_id).await;
    socket
        .expect_where("member_joined", |e| e["channel_id"] == json!(secret))
        .await;

    let port = redis.port;
    redis.stop();
    // The member is removed while no event can tell the socket.
    let removed = app
        .call(
            Method::DELETE,
            &format!("/api/v1/channels/{secret}/members/{member_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(removed.status, 204, "{removed:?}");
    let hidden = app
        .post(
            &format!("/api/v1/channels/{secret}/messages"),
            Some(&owner),
            json!({"content": "after the removal"}),
        )
        .await;
    assert_eq!(hidden.status, 201, "{hidden:?}");
    // Posting, reading, counting and logging in keep working.
    for i in 0..3 {
        let posted = app
            .post(
                &messages,
                Some(&owner),
                json!({"content": format!("during {i}")}),
            )
            .await;
        assert_eq!(posted.status, 201, "{posted:?}");
    }
    let page = app.get(&messages, &member).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.body["messages"][0]["content"], "during 2");
    let unread = app
        .get(&format!("/api/v1/workspaces/{workspace}/unread"), &member)
        .await;
    assert_eq!(unread.status, 200, "{unread:?}");
    assert_eq!(unread.body["channels"][0]["unread"], 4);
    assert_eq!(app.log_in("bob").await.len(), 43);
    let typing = app
        .post(
            &format!("/api/v1/channels/{general}/typing"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(typing.status, 204, "typing degrades quietly: {typing:?}");
    let ready = app.get("/readyz", &owner).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["realtime"]["reachable"], false);
    assert_eq!(ready.body["realtime"]["sockets"], 1);

    // Redis comes back (empty): the socket catches up from the database,
    // in what the member may see now, then live events flow again.
    let redis = OwnRedis::start(port);
    let caught_up = socket
        .until("message_created", |e| e["message"]["content"] == "during 2")
        .await;
    assert_eq!(
        caught_up.last().unwrap()["message"]["channel_id"],
        json!(general)
    );
    assert!(
        caught_up
            .iter()
            .all(|e| e["message"]["content"] != "after the removal"),
        "{caught_up:?}"
    );
    let mut live = false;
    for attempt in 0..20 {
        let text = format!("after {attempt}");
        app.post(&messages, Some(&owner), json!({"content": text}))
            .await;
        let reached = tokio::time::timeout(
            Duration::from_millis(500),
            socket.expect_where("message_created", |e| {
                e["message"]["content"] == text.as_str()
            }),
        )
        .await;
        if reached.is_ok() {
            live = true;
            break;
        }
    }
    assert!(live, "live events did not resume after Redis came back");
    let page = app.get(&messages, &member).await;
    let contents: Vec<&str> = page.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    let outage = contents.iter().position(|c| *c == "during 2").unwrap();
    assert!(contents[..outage].iter().all(|c| c.starts_with("after")));
    assert_eq!(
        contents[outage..outage + 4],
        ["during 2", "during 1", "during 0", "before"]
    );

    socket.close().await;
    assert!(server.stop().success());
    redis.stop();
    stores.admin.close().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(confab_postgres, confab_redis)),
    ignore = "set CONFAB_TEST_POSTGRES_URL and CONFAB_TEST_REDIS_URL to run"
)]
async fn sockets_are_counted_across_nodes_and_a_dead_nodes_users_go_offline() {
    let db = PgTestDb::create().await;
    let prefix = test_prefix();
    let probe = RedisProbe::connect(&redis_url(), &prefix).await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node_a = node(dir_a.path(), &db, &redis_url(), &prefix);
    let mut node_b = node(dir_b.path(), &db, &redis_url(), &prefix);
    let stores = stores_of(&db).await;
    let a = TestApp::attach(node_a.base.clone(), stores.clone());
    let b = TestApp::attach(node_b.base.clone(), stores.clone());
    let (owner, member, workspace, general) = team(&a).await;
    let member_id = a.user_id(&member).await;

    // The per-user limit counts the sockets on every node.
    let mut on_a = Vec::new();
    for _ in 1..MAX_SOCKETS_PER_USER {
        on_a.push(WsClient::connect(&a.base, &member).await);
    }
    let last = WsClient::connect(&b.base, &member).await;
    let bearer = [("authorization", format!("Bearer {member}"))];
    for base in [&a.base, &b.base] {
        let refused = WsClient::try_connect(&gateway_url(base, ""), &bearer).await;
        assert_eq!(refused.err().map(|s| s.as_u16()), Some(429));
    }

    // The owner watches from A while the member's sockets on A close: the
    // one on B keeps the member online.
    let mut watcher = WsClient::connect(&a.base, &owner).await;
    for socket in on_a {
        socket.close().await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while a.get("/readyz", &owner).await.body["realtime"]["sockets"] != 1 {
        assert!(std::time::Instant::now() < deadline, "A kept the sockets");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let messages = format!("/api/v1/channels/{general}/messages");
    a.post(&messages, Some(&owner), json!({"content": "marker"}))
        .await;
    let before = watcher
        .until("message_created", |e| e["message"]["content"] == "marker")
        .await;
    assert!(
        !before.iter().any(|e| e["type"] == "presence"
            && e["user_id"] == json!(member_id)
            && e["presence"]["status"] == "offline"),
        "offline while a socket on B was open: {before:?}"
    );

    // B dies without closing its socket: once its liveness lapses, A
    // forgets B's sockets and the member goes offline.
    node_b.child.kill().unwrap();
    node_b.child.wait().unwrap();
    let offline = watcher
        .expect_within(Duration::from_secs(40), "presence", |e| {
            e["user_id"] == json!(member_id) && e["presence"]["status"] == "offline"
        })
        .await;
    // In the workspace the member was online in, with when they were last seen.
    assert_eq!(offline["workspace_id"], json!(workspace));
    assert!(offline["presence"]["last_seen"].is_string(), "{offline}");
    // Only the watcher's connection is left registered.
    let connections: Vec<String> = probe
        .keys()
        .await
        .into_iter()
        .filter(|k| k.starts_with("connection:"))
        .collect();
    let watching = watcher.hello["connection_id"].as_str().unwrap();
    assert_eq!(connections, [format!("connection:{watching}")]);
    drop(last);

    watcher.close().await;
    assert!(node_a.stop().success());
    stores.admin.close().await;
    probe.clean().await;
    db.drop_database().await;
}

/// Posting through two nodes while their Redis is stopped and comes back
/// empty: every post is acknowledged and kept, sessions revoked before and
/// during the outage stay revoked on both nodes, and a socket on the other
/// node receives every message, those of the outage included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(confab_postgres, confab_redis)),
    ignore = "set CONFAB_TEST_POSTGRES_URL and CONFAB_TEST_REDIS_URL to run"
)]
async fn a_redis_restart_that_loses_everything_loses_nothing() {
    let db = PgTestDb::create().await;
    let redis = OwnRedis::start(free_port());
    let port = redis.port;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let busy_node = |dir: &std::path::Path| {
        let mut cmd = node_command(dir, &db, &redis.url(), "");
        cmd.env("CONFAB_LIMITS__MESSAGES_PER_MINUTE", "100000");
        Server::start(cmd)
    };
    let (node_a, node_b) = (busy_node(dir_a.path()), busy_node(dir_b.path()));
    let stores = stores_of(&db).await;
    let a = TestApp::attach(node_a.base.clone(), stores.clone());
    let b = TestApp::attach(node_b.base.clone(), stores.clone());
    let (owner, member, _, general) = team(&a).await;
    let revoked_before = a.log_in("alice").await;
    let revoked_during = a.log_in("alice").await;
    // Both nodes have seen (and cached) both sessions.
    for (node, token) in [
        (&a, &revoked_before),
        (&b, &revoked_before),
        (&a, &revoked_during),
        (&b, &revoked_during),
    ] {
        assert_eq!(node.get("/api/v1/me", token).await.status, 200);
    }
    assert_eq!(
        a.post("/api/v1/auth/logout", Some(&revoked_before), json!({}))
            .await
            .status,
        204
    );
    let mut socket = WsClient::connect(&b.base, &member).await;

    let messages = format!("/api/v1/channels/{general}/messages");
    let posting = async {
        let mut acknowledged = Vec::new();
        for i in 0..60 {
            let node = if i % 2 == 0 { &a } else { &b };
            let posted = node
                .post(
                    &messages,
                    Some(&owner),
                    json!({"content": format!("load {i}")}),
                )
                .await;
            assert_eq!(posted.status, 201, "{posted:?}");
            acknowledged.push(posted.body["id"].as_str().unwrap().to_owned());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        acknowledged
    };
    let outage = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        redis.stop();
        let during = b
            .post("/api/v1/auth/logout", Some(&revoked_during), json!({}))
            .await;
        assert_eq!(during.status, 204, "{during:?}");
        tokio::time::sleep(Duration::from_millis(800)).await;
        OwnRedis::start(port)
    };
    let (acknowledged, redis) = tokio::join!(posting, outage);

    for node in [&a, &b] {
        for token in [&revoked_before, &revoked_during] {
            assert_eq!(node.get("/api/v1/me", token).await.status, 401);
        }
        assert_eq!(node.get("/api/v1/me", &owner).await.status, 200);
    }
    // The socket on node B gets every message, live or caught up.
    let mut unseen: std::collections::HashSet<String> = acknowledged.iter().cloned().collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !unseen.is_empty() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Ok(text) = tokio::time::timeout(left, socket.next_json()).await else {
            let mut missing: Vec<usize> = unseen
                .iter()
                .map(|id| acknowledged.iter().position(|a| a == id).unwrap())
                .collect();
            missing.sort();
            panic!("the socket never got posts {missing:?}");
        };
        if text["type"] == "message_created" {
            unseen.remove(text["message"]["id"].as_str().unwrap());
        }
    }
    // And the channel holds each exactly once.
    let page = b.get(&format!("{messages}?limit=200"), &member).await;
    let mut kept: Vec<String> = page.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["content"].as_str().unwrap().starts_with("load "))
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    kept.sort();
    let mut expected = acknowledged.clone();
    expected.sort();
    assert_eq!(kept, expected);

    socket.close().await;
    assert!(node_a.stop().success());
    assert!(node_b.stop().success());
    redis.stop();
    stores.admin.close().await;
    db.drop_database().await;
}

/// One `client_msg_id` sent 50 times at once, half to each node: one
/// message, and every answer names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(confab_postgres, confab_redis)),
    ignore = "set CONFAB_TEST_POSTGRES_URL and CONFAB_TEST_REDIS_URL to run"
)]
async fn a_retry_storm_across_two_nodes_posts_once() {
    let db = PgTestDb::create().await;
    let prefix = test_prefix();
    let probe = RedisProbe::connect(&redis_url(), &prefix).await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node_a = node(dir_a.path(), &db, &redis_url(), &prefix);
    let node_b = node(dir_b.path(), &db, &redis_url(), &prefix);
    let stores = stores_of(&db).await;
    let a = TestApp::attach(node_a.base.clone(), stores.clone());
    let b = TestApp::attach(node_b.base.clone(), stores.clone());
    let (owner, member, _, general) = team(&a).await;
    let messages = format!("/api/v1/channels/{general}/messages");
    let body = json!({"content": "said once", "client_msg_id": "storm-1"});
    let answers = futures::future::join_all((0..50).map(|i| {
        let node = if i % 2 == 0 { &a } else { &b };
        node.post(&messages, Some(&owner), body.clone())
    }))
    .await;
    let created = answers.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1, "{answers:?}");
    assert!(
        answers.iter().all(|r| r.status == 200 || r.status == 201),
        "{answers:?}"
    );
    let ids: std::collections::HashSet<&str> = answers
        .iter()
        .map(|r| r.body["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let page = b.get(&messages, &member).await;
    let copies = page.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["content"] == "said once")
        .count();
    assert_eq!(copies, 1);

    assert!(node_a.stop().success());
    assert!(node_b.stop().success());
    stores.admin.close().await;
    probe.clean().await;
    db.drop_database().await;
}

/// What people see of their data: who they are, their channels with unread
/// counts and mentions, a channel's history with reactions and threads.
async fn what_people_see(
    app: &TestApp,
    people: &[&str],
    workspace: &str,
    general: &str,
) -> Vec<serde_json::Value> {
    let mut seen = Vec::new();
    for token in people {
        for path in [
            "/api/v1/me".to_owned(),
            format!("/api/v1/workspaces/{workspace}/channels"),
            format!("/api/v1/channels/{general}/messages"),
            format!("/api/v1/channels/{general}/read-state"),
            format!("/api/v1/workspaces/{workspace}/unread"),
        ] {
            let answer = app.get(&path, token).await;
            assert_eq!(answer.status, 200, "{path}: {answer:?}");
            seen.push(answer.body);
        }
    }
    seen
}

/// Confab keeps nothing only in Redis: with every key of the server gone
/// (while it runs, and again before a restart) everyone finds the same
/// sessions, messages, reactions, threads and unread counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(confab_postgres, confab_redis)),
    ignore = "set CONFAB_TEST_POSTGRES_URL and CONFAB_TEST_REDIS_URL to run"
)]
async fn losing_everything_in_redis_loses_no_data() {
    let db = PgTestDb::create().await;
    let prefix = test_prefix();
    let probe = RedisProbe::connect(&redis_url(), &prefix).await;
    let dir = tempfile::tempdir().unwrap();
    let server = node(dir.path(), &db, &redis_url(), &prefix);
    let stores = stores_of(&db).await;
    let app = TestApp::attach(server.base.clone(), stores.clone());
    let (owner, member, workspace, general) = team(&app).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let posted = app
            .post(
                &format!("/api/v1/channels/{general}/messages"),
                Some(&owner),
                json!({"content": format!("kept {n} <@bob>")}),
            )
            .await;
        assert_eq!(posted.status, 201, "{posted:?}");
        ids.push(posted.body["id"].as_str().unwrap().to_owned());
    }
    let reply = app
        .post(
            &format!("/api/v1/channels/{general}/messages"),
            Some(&member),
            json!({"content": "a reply", "thread_id": ids[0]}),
        )
        .await;
    assert_eq!(reply.status, 201);
    let reacted = app
        .post(
            &format!("/api/v1/messages/{}/reactions", ids[1]),
            Some(&member),
            json!({"emoji": "tada"}),
        )
        .await;
    assert_eq!(reacted.status, 200, "{reacted:?}");
    let read = app
        .post(
            &format!("/api/v1/channels/{general}/read"),
            Some(&member),
            json!({"message_id": ids[2]}),
        )
        .await;
    assert_eq!(read.status, 200, "{read:?}");

    let before = what_people_see(&app, &[&owner, &member], &workspace, &general).await;
    assert!(
        !probe.keys().await.is_empty(),
        "the server keeps state in Redis"
    );
    probe.clean().await;
    assert!(probe.keys().await.is_empty());
    let after = what_people_see(&app, &[&owner, &member], &workspace, &general).await;
    assert_eq!(after, before, "lost with Redis while running");

    assert!(server.stop().success());
    probe.clean().await;
    let server = node(dir.path(), &db, &redis_url(), &prefix);
    let app = TestApp::attach(server.base.clone(), stores.clone());
    let restarted = what_people_see(&app, &[&owner, &member], &workspace, &general).await;
    assert_eq!(restarted, before, "lost with Redis across a restart");
    // Bob read up to the third post: the last two are unread.
    assert_eq!(restarted[9]["total_unread"], 2, "{}", restarted[9]);

    assert!(server.stop().success());
    stores.admin.close().await;
    probe.clean().await;
    db.drop_database().await;
}
