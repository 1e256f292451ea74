//! Real-time benchmark, over real WebSockets against `confab serve` processes:
//!
//! 1. fan-out: one post reaches every subscriber of a channel; latency from
//!    just before the POST to receipt, p50/p99 over every (post, socket);
//! 2. resident memory per idle connection, from the server's RSS before and
//!    after opening many sockets;
//! 3. the same fan-out across two nodes sharing PostgreSQL and Redis (posts
//!    to node A, sockets on node B), when `CONFAB_TEST_POSTGRES_URL` and
//!    `CONFAB_TEST_REDIS_URL` are set.
//!
//! ```text
//! cargo build --release -p confab
//! cargo run --release -p confab-testkit --bin realtime-bench -- \
//!     [--subscribers 1000] [--posts 50] [--idle 10000] [--server target/release/confab]
//! ```

use confab_testkit::measure::{ms, percentile};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use confab_core::model::*;
use confab_core::ports::Stores;
use confab_core::time;
use confab_store_postgres::{PostgresOptions, PostgresStore};
use confab_store_sqlite::{SqliteOptions, SqliteStore};
use confab_testkit::fixtures::{create_workspace, new_channel_member, new_member, new_user};
use confab_testkit::harness::PgTestDb;
use confab_testkit::process::Server;
use confab_testkit::realtime_harness::{test_prefix, RedisProbe, REDIS_URL_VAR};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

struct Params {
    subscribers: usize,
    posts: usize,
    idle: usize,
    server: PathBuf,
}

fn params() -> anyhow::Result<Params> {
    let mut params = Params {
        subscribers: 1_000,
        posts: 50,
        idle: 10_000,
        server: std::env::current_exe()?
            .parent()
            .context("the bench's folder")?
            .join("confab"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--subscribers" => params.subscribers = value.parse()?,
            "--posts" => params.posts = value.parse()?,
            "--idle" => params.idle = value.parse()?,
            "--server" => params.server = value.into(),
            other => bail!("unknown flag {other}"),
        }
    }
    if !params.server.is_file() {
        bail!(
            "no confab binary at {}; run `cargo build --release -p confab` or pass --server",
            params.server.display()
        );
    }
    Ok(params)
}

/// People of one workspace, each with a session, all in its general channel.
struct Seeded {
    tokens: Vec<String>,
    general: String,
}

fn token_for(i: usize) -> (String, String) {
    let token = format!("{:0>43}", format!("bench{i}"));
    let hash = confab_service::hash_token(&token);
    (token, hash)
}

async fn seed(stores: &Stores, people: usize) -> anyhow::Result<Seeded> {
    let mut tokens = Vec::with_capacity(people);
    let mut general = None;
    for i in 0..people {
        let user = stores
            .users
            .create_user(&new_user(&format!("bench{i}")))
            .await?;
        match &general {
            None => {
                let (_, channel) = create_workspace(stores, &user, "Bench").await;
                general = Some(channel);
            }
            Some(channel) => {
                stores
                    .workspaces
                    .add_member(&new_member(
                        channel.workspace_id,
                        user.id,
                        WorkspaceRole::Member,
                    ))
                    .await?;
                stores
                    .channels
                    .add_channel_member(&new_channel_member(channel.id, user.id))
                    .await?;
            }
        }
        let (token, id) = token_for(i);
        let now = time::now();
        stores
            .auth
            .create_session(&Session {
                id,
                user_id: user.id,
                workspace_id: None,
                device_type: "bench".into(),
                ip_address: None,
                user_agent: None,
                permissions: vec!["read".into(), "write".into()],
                created_at: now,
                last_activity_at: now,
                expires_at: now + chrono::Duration::days(1),
                revoked_at: None,
            })
            .await?;
        tokens.push(token);
    }
    Ok(Seeded {
        tokens,
        general: general.context("at least one person")?.id.to_string(),
    })
}

fn serve_command(server: &Path, data: &Path, env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(server);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CONFAB_DATA_DIR", data)
        .env("CONFAB_SERVER__LISTEN", "127.0.0.1:0")
        .env("CONFAB_LOG__LEVEL", "error")
        .env("CONFAB_LIMITS__MESSAGES_PER_MINUTE", "1000000");
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_socket(base: &str, token: &str) -> anyhow::Result<Socket> {
    let url = format!("{}/api/v1/ws", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    // Wait for hello: the socket is subscribed once it arrives.
    while let Some(message) = socket.next().await {
        if let WsMessage::Text(text) = message? {
            if text.contains("\"hello\"") {
                return Ok(socket);
            }
        }
    }
    bail!("socket closed before hello")
}

/// Open one socket per token, `parallel` at a time.
async fn open_sockets(
    base: &str,
    tokens: &[String],
    parallel: usize,
) -> anyhow::Result<Vec<Socket>> {
    let base = base.to_owned();
    let opened: Vec<anyhow::Result<Socket>> = futures::stream::iter(tokens.iter().cloned())
        .map(|token| {
            let base = base.clone();
            async move { open_socket(&base, &token).await }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    opened.into_iter().collect()
}

/// Post `posts` messages through `post_base` and time their arrival on every
/// socket; returns the sorted latencies.
async fn fan_out(
    post_base: &str,
    sockets: Vec<Socket>,
    poster: &str,
    general: &str,
    posts: usize,
) -> anyhow::Result<Vec<Duration>> {
    let (arrived_tx, mut arrived_rx) = mpsc::unbounded_channel::<(usize, Instant)>();
    let mut readers = Vec::new();
    for mut socket in sockets {
        let arrived = arrived_tx.clone();
        readers.push(tokio::spawn(async move {
            let mut seen = 0;
            while let Some(Ok(message)) = socket.next().await {
                if let WsMessage::Text(text) = message {
                    let now = Instant::now();
                    let Ok(event) = serde_json::from_str::<Value>(&text) else {
                        continue;
                    };
                    if event["type"] != "message_created" {
                        continue;
                    }
                    if let Some(i) = event["message"]["content"]
                        .as_str()
                        .and_then(|c| c.strip_prefix("fan-out "))
                        .and_then(|n| n.parse::<usize>().ok())
                    {
                        let _ = arrived.send((i, now));
                        seen += 1;
                        if seen == posts {
                            break;
                        }
                    }
                }
            }
            let _ = socket.close(None).await;
        }));
    }
    drop(arrived_tx);
    let http = reqwest::Client::new();
    // One post first, not measured: it fills the caches a cold server lacks.
    let warm_up = http
        .post(format!("{post_base}/api/v1/channels/{general}/messages"))
        .bearer_auth(poster)
        .json(&json!({ "content": "warm-up" }))
        .send()
        .await?;
    if !warm_up.status().is_success() {
        bail!("posting failed: {}", warm_up.status());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut sent_at = Vec::with_capacity(posts);
    for i in 0..posts {
        sent_at.push(Instant::now());
        let response = http
            .post(format!("{post_base}/api/v1/channels/{general}/messages"))
            .bearer_auth(poster)
            .json(&json!({ "content": format!("fan-out {i}") }))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("posting failed: {}", response.status());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut latencies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Ok(Some((i, at))) = tokio::time::timeout_at(deadline.into(), arrived_rx.recv()).await
    {
        latencies.push(at.saturating_duration_since(sent_at[i]));
    }
    for reader in readers {
        reader.abort();
    }
    latencies.sort();
    Ok(latencies)
}

/// Open a socket for every seeded person but the first on `socket_base`,
/// have the first post through `post_base`, and print the latencies.
async fn measure_fan_out(
    title: &str,
    post_base: &str,
    socket_base: &str,
    seeded: &Seeded,
    params: &Params,
) -> anyhow::Result<()> {
    let sockets = open_sockets(socket_base, &seeded.tokens[1..], 64).await?;
    let (poster, general) = (&seeded.tokens[0], &seeded.general);
    let latencies = fan_out(post_base, sockets, poster, general, params.posts).await?;
    let expected = params.subscribers * params.posts;
    println!(
        "{title}, {} subscribers: {} of {expected} deliveries, p50 {}, p99 {}, max {}",
        params.subscribers,
        latencies.len(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    Ok(())
}

async fn sqlite_stores(dir: &Path) -> anyhow::Result<Stores> {
    let url = format!("sqlite://{}", dir.join("confab.db").display());
    Ok(Stores::new(Arc::new(
        SqliteStore::open(&SqliteOptions::new(url)).await?,
    )))
}

async fn embedded_fan_out(params: &Params) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let stores = sqlite_stores(dir.path()).await?;
    let seeded = seed(&stores, params.subscribers + 1).await?;
    stores.admin.close().await;
    let server = Server::start(serve_command(&params.server, dir.path(), &[]));
    let title = "fan-out, one node (SQLite, in process)";
    measure_fan_out(title, &server.base, &server.base, &seeded, params).await?;
    server.stop();
    Ok(())
}

async fn idle_memory(params: &Params) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let stores = sqlite_stores(dir.path()).await?;
    let people = params.idle.min(1_000);
    let seeded = seed(&stores, people).await?;
    stores.admin.close().await;
    let server = Server::start(serve_command(&params.server, dir.path(), &[]));
    // Warm up: one socket per person (their presence goes online once).
    let warm = open_sockets(&server.base, &seeded.tokens, 64).await?;
    let drain = |sockets: Vec<Socket>| {
        sockets
            .into_iter()
            .map(|mut socket| {
                tokio::spawn(async move { while let Some(Ok(_)) = socket.next().await {} })
            })
            .collect::<Vec<_>>()
    };
    let mut readers = drain(warm);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = server.resident_kib().context("reading the server's RSS")?;
    let rest: Vec<String> = (people..params.idle)
        .map(|i| seeded.tokens[i % people].clone())
        .collect();
    let started = Instant::now();
    let more = open_sockets(&server.base, &rest, 64).await?;
    let opened_in = started.elapsed();
    readers.extend(drain(more));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = server.resident_kib().context("reading the server's RSS")?;
    let added = rest.len().max(1);
    println!(
        "idle sockets: {} open; server RSS {} MiB with {people}, {} MiB with {}; {:.1} KiB per added socket; {} sockets opened in {:.1} s",
        params.idle,
        before / 1024,
        after / 1024,
        params.idle,
        (after.saturating_sub(before)) as f64 / added as f64,
        rest.len(),
        opened_in.as_secs_f64(),
    );
    for reader in readers {
        reader.abort();
    }
    server.stop();
    Ok(())
}

async fn two_node_fan_out(params: &Params) -> anyhow::Result<()> {
    let (Ok(_), Ok(redis)) = (
        std::env::var(confab_testkit::harness::POSTGRES_URL_VAR),
        std::env::var(REDIS_URL_VAR),
    ) else {
        println!("fan-out, two nodes: skipped (set CONFAB_TEST_POSTGRES_URL and {REDIS_URL_VAR})");
        return Ok(());
    };
    let db = PgTestDb::create().await;
    let store = PostgresStore::open(&PostgresOptions::new(db.url.clone())).await?;
    let stores = Stores::new(Arc::new(store));
    let seeded = seed(&stores, params.subscribers + 1).await?;
    stores.admin.close().await;
    let prefix = test_prefix();
    let env = [
        ("CONFAB_DATABASE__URL", db.url.clone()),
        ("CONFAB_REDIS__URL", redis.clone()),
        ("CONFAB_REDIS__KEY_PREFIX", prefix.clone()),
    ];
    let (dir_a, dir_b) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let node_a = Server::start(serve_command(&params.server, dir_a.path(), &env));
    let node_b = Server::start(serve_command(&params.server, dir_b.path(), &env));
    let title = "fan-out, two nodes (PostgreSQL + Redis, post on A, sockets on B)";
    measure_fan_out(title, &node_a.base, &node_b.base, &seeded, params).await?;
    node_a.stop();
    node_b.stop();
    RedisProbe::connect(&redis, &prefix).await.clean().await;
    db.drop_database().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let params = params()?;
    embedded_fan_out(&params).await?;
    idle_memory(&params).await?;
    two_node_fan_out(&params).await?;
    Ok(())
}
