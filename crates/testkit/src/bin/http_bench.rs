//! HTTP benchmark: N concurrent clients post into K channels and read
//! history pages, over real HTTP; prints posts/s and p50/p99 latencies.
//! `--via slack` does the same through the Slack-compatible Web API
//! (`chat.postMessage`, `conversations.history`) with personal tokens;
//! `--via both` runs REST then the Web API and prints the ratio.
//! `--events` subscribes a bot to the channels' messages at a receiver in
//! this process and prints the delivery rate and the delay from post to
//! delivery (an external server must allow 127.0.0.1 in
//! `integrations.allowed_networks`).
//!
//! ```text
//! cargo run --release -p confab-testkit --bin http-bench -- \
//!     [--backend sqlite|postgres | --url http://127.0.0.1:8080] \
//!     [--clients 32] [--channels 10] [--posts 50000] [--read-every 10] \
//!     [--via rest|slack|both]
//! ```
//! Without `--url` the server runs in this process over a temporary
//! database (PostgreSQL from `CONFAB_TEST_POSTGRES_URL`), with the message
//! rate limit lifted. Against an external server, raise
//! `limits.messages_per_minute` there first.

use confab_testkit::measure::{ms, percentile};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use confab_core::ports::Stores;
use confab_service::Policy;
use confab_store_postgres::{PostgresOptions, PostgresStore};
use confab_store_sqlite::{SqliteOptions, SqliteStore};
use confab_testkit::app::TestApp;
use confab_testkit::harness::{PgTestDb, POSTGRES_URL_VAR};
use serde_json::{json, Value};

#[derive(Clone, Copy)]
struct Params {
    clients: usize,
    channels: usize,
    posts: usize,
    read_every: usize,
    via: Via,
    events: bool,
}

/// Which API the clients call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Via {
    Rest,
    Slack,
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    /// A personal Web API token (`xoxp-`).
    slack_token: String,
}

impl Client {
    /// Call a Web API method with a JSON body; its answer, which must be ok.
    async fn slack(&self, method: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}/api/{method}", self.base))
            .bearer_auth(&self.slack_token)
            .json(&body)
            .send()
            .await?;
        let body: Value = response.json().await?;
        if body["ok"] != json!(true) {
            bail!("{method}: {body}");
        }
        Ok(body)
    }

    /// Post one message, through the API chosen.
    async fn post(
        &self,
        via: Via,
        channel: &str,
        content: String,
        key: String,
    ) -> anyhow::Result<()> {
        match via {
            Via::Rest => {
                self.send(
                    reqwest::Method::POST,
                    &format!("/api/v1/channels/{channel}/messages"),
                    Some(json!({"content": content, "client_msg_id": key})),
                )
                .await?;
            }
            Via::Slack => {
                let slack_channel = slack_id(channel)?;
                self.slack(
                    "chat.postMessage",
                    json!({"channel": slack_channel, "text": content, "client_msg_id": key}),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Read the latest page of 50, through the API chosen.
    async fn read(&self, via: Via, channel: &str) -> anyhow::Result<()> {
        match via {
            Via::Rest => {
                self.send(
                    reqwest::Method::GET,
                    &format!("/api/v1/channels/{channel}/messages?limit=50"),
                    None,
                )
                .await?;
            }
            Via::Slack => {
                self.slack(
                    "conversations.history",
                    json!({"channel": slack_id(channel)?, "limit": 50}),
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// The Web API's id of a channel.
fn slack_id(channel: &str) -> anyhow::Result<String> {
    let id: uuid::Uuid = channel.parse()?;
    Ok(confab_core::slack::encode(
        confab_core::slack::SlackKind::Channel,
        id,
    ))
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{path}: {status} {body}");
        }
        Ok(body)
    }
}

async fn anonymous(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let response = http
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{path}: {status} {body}");
    }
    Ok(body)
}

/// Sign up and log in the clients, create a workspace they all join and
/// the channels they all join; the clients and the channel ids.
async fn set_up(base: &str, params: &Params) -> anyhow::Result<(Vec<Client>, Vec<String>)> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(params.clients)
        .build()?;
    let run = uuid::Uuid::now_v7().simple().to_string();
    let mut clients = Vec::new();
    for i in 0..params.clients {
        let name = format!("b{}x{i}", &run[run.len() - 8..]);
        let email = format!("{name}@bench.test");
        anonymous(
            &http,
            base,
            "/api/v1/auth/signup",
            json!({
                "email": email, "username": name, "display_name": name, "password": "bench-password"
            }),
        )
        .await?;
        let login = anonymous(
            &http,
            base,
            "/api/v1/auth/login",
            json!({"email": email, "password": "bench-password"}),
        )
        .await?;
        let token = login["token"].as_str().context("login token")?.to_owned();
        clients.push(Client {
            http: http.clone(),
            base: base.to_owned(),
            token,
            slack_token: String::new(),
        });
    }
    let owner = &clients[0];
    let ws = owner
        .send(
            reqwest::Method::POST,
            "/api/v1/workspaces",
            Some(json!({"name": format!("bench {run}")})),
        )
        .await?;
    let ws = ws["workspace"]["id"]
        .as_str()
        .context("workspace id")?
        .to_owned();
    let invite = owner
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/workspaces/{ws}/invitations"),
            Some(json!({"max_uses": 10_000})),
        )
        .await?;
    let invite = invite["token"]
        .as_str()
        .context("invitation token")?
        .to_owned();
    for client in &clients[1..] {
        client
            .send(
                reqwest::Method::POST,
                "/api/v1/invitations/accept",
                Some(json!({"token": invite})),
            )
            .await?;
    }
    let mut channels = Vec::new();
    for k in 0..params.channels {
        let channel = owner
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/workspaces/{ws}/channels"),
                Some(json!({"name": format!("bench-{k}")})),
            )
            .await?;
        let id = channel["id"].as_str().context("channel id")?.to_owned();
        for client in &clients[1..] {
            client
                .send(
                    reqwest::Method::POST,
                    &format!("/api/v1/channels/{id}/join"),
                    None,
                )
                .await?;
        }
        channels.push(id);
    }
    for client in &mut clients {
        let made = client
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/workspaces/{ws}/tokens"),
                Some(json!({"label": "bench", "scopes": ["chat:write", "channels:history"]})),
            )
            .await?;
        client.slack_token = made["secret"].as_str().context("token")?.to_owned();
    }
    Ok((clients, channels))
}

/// Run the load as `params` says; with `Via` both, twice, and the ratio.
async fn drive(base: &str, params: &Params, both: bool) -> anyhow::Result<()> {
    if params.events {
        return drive_events(base, params).await;
    }
    if !both {
        return drive_one(base, params).await.map(drop);
    }
    let rest = drive_one(
        base,
        &Params {
            via: Via::Rest,
            ..*params
        },
    )
    .await?;
    let slack = drive_one(
        base,
        &Params {
            via: Via::Slack,
            ..*params
        },
    )
    .await?;
    println!(
        "Web API / REST: {:.2} of the posts per second ({:.0} vs {:.0})",
        slack / rest,
        slack,
        rest
    );
    Ok(())
}

/// One run; its posts per second.
async fn drive_one(base: &str, params: &Params) -> anyhow::Result<f64> {
    let (clients, channels) = set_up(base, params).await?;
    let channels = Arc::new(channels);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, client) in clients.into_iter().enumerate() {
        let channels = channels.clone();
        let next = next.clone();
        let total = params.posts;
        let read_every = params.read_every.max(1);
        let via = params.via;
        tasks.push(tokio::spawn(async move {
            let mut posts = Vec::new();
            let mut reads = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let channel = &channels[(c + n) % channels.len()];
                let t = Instant::now();
                client
                    .post(
                        via,
                        channel,
                        format!("message {n} from client {c}"),
                        format!("{c}-{n}"),
                    )
                    .await?;
                posts.push(t.elapsed());
                if n.is_multiple_of(read_every) {
                    let t = Instant::now();
                    client.read(via, channel).await?;
                    reads.push(t.elapsed());
                }
            }
            anyhow::Ok((posts, reads))
        }));
    }
    let mut posts = Vec::new();
    let mut reads = Vec::new();
    for task in tasks {
        let (p, r) = task.await??;
        posts.extend(p);
        reads.extend(r);
    }
    let elapsed = started.elapsed();
    posts.sort();
    reads.sort();
    let rate = posts.len() as f64 / elapsed.as_secs_f64();
    println!("via {:?}:", params.via);
    println!(
        "posts: {} in {:.1} s = {:.0} posts/s; post p50 {}, p99 {}",
        posts.len(),
        elapsed.as_secs_f64(),
        posts.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&posts, 50.0)),
        ms(percentile(&posts, 99.0)),
    );
    println!(
        "history pages of 50: {} reads; p50 {}, p99 {}",
        reads.len(),
        ms(percentile(&reads, 50.0)),
        ms(percentile(&reads, 99.0)),
    );
    Ok(rate)
}

fn unlimited() -> Policy {
    Policy {
        messages_per_minute: u64::MAX,
        login_attempts_per_ip: u64::MAX,
        signups_per_ip_per_hour: u64::MAX,
        signups_per_minute: u64::MAX,
        ..Policy::default()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut backend = "sqlite".to_owned();
    let mut url = None;
    let mut params = Params {
        clients: 32,
        channels: 10,
        posts: 50_000,
        read_every: 10,
        via: Via::Rest,
        events: false,
    };
    let mut both = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--backend" => backend = value()?,
            "--url" => url = Some(value()?),
            "--clients" => params.clients = value()?.parse()?,
            "--channels" => params.channels = value()?.parse()?,
            "--posts" => params.posts = value()?.parse()?,
            "--read-every" => params.read_every = value()?.parse()?,
            "--events" => params.events = true,
            "--via" => match value()?.as_str() {
                "rest" => params.via = Via::Rest,
                "slack" => params.via = Via::Slack,
                "both" => both = true,
                other => bail!("--via takes rest, slack or both, not {other}"),
            },
            other => bail!("unknown argument {other}"),
        }
    }
    if params.clients == 0 || params.channels == 0 {
        bail!("--clients and --channels must be positive");
    }
    println!(
        "http-bench: {} clients, {} channels, {} posts, a history page every {} posts",
        params.clients, params.channels, params.posts, params.read_every
    );
    if let Some(url) = url {
        println!("[external server {url}]");
        return drive(url.trim_end_matches('/'), &params, both).await;
    }
    match backend.as_str() {
        "sqlite" => {
            let dir = tempfile::tempdir()?;
            let db = format!("sqlite://{}", dir.path().join("bench.db").display());
            let store = SqliteStore::open(&SqliteOptions::new(db)).await?;
            let app = TestApp::start_with(Stores::new(Arc::new(store)), unlimited()).await;
            println!("[sqlite, in-process server]");
            drive(&app.base, &params, both).await?;
            app.stop().await;
        }
        "postgres" => {
            let admin = std::env::var(POSTGRES_URL_VAR)
                .with_context(|| format!("set {POSTGRES_URL_VAR}"))?;
            let db = PgTestDb::create_on(&admin).await;
            let mut options = PostgresOptions::new(db.url.clone());
            options.max_connections = 32;
            let outcome = async {
                let store = PostgresStore::open(&options).await?;
                let app = TestApp::start_with(Stores::new(Arc::new(store)), unlimited()).await;
                println!("[postgres, in-process server]");
                let result = drive(&app.base, &params, both).await;
                app.stop().await;
                result
            }
            .await;
            db.drop_database().await;
            outcome?;
        }
        other => bail!("unknown backend {other}"),
    }
    Ok(())
}

/// A bot subscribed to every bench channel's messages at a receiver here;
/// the clients post and the receiver times each event's arrival.
async fn drive_events(base: &str, params: &Params) -> anyhow::Result<()> {
    let (clients, channels) = set_up(base, params).await?;
    let owner = &clients[0];
    let workspaces = owner
        .send(reqwest::Method::GET, "/api/v1/workspaces", None)
        .await?;
    let ws = workspaces["workspaces"][0]["workspace"]["id"]
        .as_str()
        .context("workspace")?
        .to_owned();
    let installed = owner
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/workspaces/{ws}/integrations"),
            Some(json!({"type": "bot", "name": "bench bot", "scopes": ["channels:join"]})),
        )
        .await?;
    let bot = Client {
        http: owner.http.clone(),
        base: base.to_owned(),
        token: String::new(),
        slack_token: installed["token"].as_str().context("bot token")?.to_owned(),
    };
    for channel in channels.iter() {
        bot.slack("conversations.join", json!({"channel": slack_id(channel)?}))
            .await?;
    }
    let receiver = confab_testkit::receiver::Receiver::start(Vec::new()).await;
    let integration = installed["integration"]["id"].as_str().context("id")?;
    owner
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/integrations/{integration}/events"),
            Some(json!({"url": receiver.url, "events": ["message"]})),
        )
        .await?;
    let sent = Arc::new(std::sync::Mutex::new(vec![None; params.posts]));
    let next = Arc::new(AtomicUsize::new(0));
    let channels = Arc::new(channels);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, client) in clients.into_iter().enumerate() {
        let (channels, next, sent) = (channels.clone(), next.clone(), sent.clone());
        let total = params.posts;
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let channel = &channels[(c + n) % channels.len()];
                sent.lock().unwrap()[n] = Some(Instant::now());
                client
                    .post(Via::Rest, channel, format!("evt {n}"), format!("{c}-{n}"))
                    .await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let posted = started.elapsed();
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    while receiver.events().len() < params.posts {
        if Instant::now() > deadline {
            bail!(
                "only {} of {} events arrived",
                receiver.events().len(),
                params.posts
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let events = receiver.events();
    let sent = sent.lock().unwrap().clone();
    let mut delays = Vec::new();
    let mut last = started;
    for event in &events {
        let text = event.body["event"]["text"].as_str().unwrap_or_default();
        let n: usize = text.trim_start_matches("evt ").parse()?;
        let at = sent[n].context("sent")?;
        delays.push(event.at.saturating_duration_since(at));
        last = last.max(event.at);
    }
    delays.sort();
    let span = last.duration_since(started);
    println!(
        "events: {} posted in {:.1} s; {} delivered in {:.1} s = {:.0} events/s; delay from post to delivery p50 {}, p99 {}, max {}",
        params.posts,
        posted.as_secs_f64(),
        events.len(),
        span.as_secs_f64(),
        events.len() as f64 / span.as_secs_f64(),
        ms(percentile(&delays, 50.0)),
        ms(percentile(&delays, 99.0)),
        ms(*delays.last().context("no events")?),
    );
    Ok(())
}
