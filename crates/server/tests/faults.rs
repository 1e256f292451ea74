//! Faults under load, on real processes over loopback, bounded in time:
//! `kill -9` of `confab serve` while people post (20 cycles, on SQLite and
//! on PostgreSQL), and PostgreSQL going away and coming back. Every
//! acknowledged message is there exactly once afterwards; nothing that was
//! not acknowledged is half-written; requests during an outage answer 503.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::Duration;

use common::confab;
use confab_testkit::process::Server;
use confab_testkit::proxy::TcpProxy;
use serde_json::{json, Value};

/// Crash cycles per database.
const CYCLES: usize = 20;
/// People posting at once.
const POSTERS: usize = 4;

fn content_of(client_id: &str) -> String {
    format!("message {client_id}")
}

/// The text of one post as the server answered it, or `None` when no
/// answer came (the connection broke).
async fn post(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    channel: &str,
    client_id: &str,
) -> Option<(u16, Value)> {
    let sent = http
        .post(format!("{base}/api/v1/channels/{channel}/messages"))
        .bearer_auth(token)
        .json(&json!({"content": content_of(client_id), "client_msg_id": client_id}))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .ok()?;
    let status = sent.status().as_u16();
    let body = sent.json().await.ok()?;
    Some((status, body))
}

/// What posting learned: acknowledged posts (client id to message id) and
/// posts whose outcome is unknown, to retry.
#[derive(Default)]
struct Ledger {
    acknowledged: HashMap<String, String>,
    /// Each with the poster who sent it, to retry as them.
    unknown: Vec<(usize, String)>,
}

impl Ledger {
    /// One ledger of several posters'.
    fn merged(ledgers: Vec<Ledger>) -> Ledger {
        let mut all = Ledger::default();
        for ledger in ledgers {
            all.absorb(ledger);
        }
        all
    }

    fn absorb(&mut self, other: Ledger) {
        self.acknowledged.extend(other.acknowledged);
        self.unknown.extend(other.unknown);
    }

    fn acknowledge(&mut self, client_id: &str, body: &Value) {
        let id = body["id"].as_str().expect("a message id").to_owned();
        if let Some(earlier) = self.acknowledged.insert(client_id.to_owned(), id.clone()) {
            assert_eq!(earlier, id, "{client_id} was acknowledged as two messages");
        }
    }
}

/// One person's session, workspace channel and the people posting.
struct Scene {
    tokens: Vec<String>,
    workspace: String,
    channel: String,
}

async fn call(http: &reqwest::Client, base: &str, token: &str, path: &str, body: Value) -> Value {
    let answer = http
        .post(format!("{base}/api/v1{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
    answer.json().await.unwrap()
}

/// A workspace with a channel everyone posting is in.
async fn set_scene(http: &reqwest::Client, base: &str) -> Scene {
    let owner = common::sign_up(base, "owner").await;
    let workspace = call(
        http,
        base,
        &owner,
        "/workspaces",
        json!({"name": "Crashes"}),
    )
    .await;
    let workspace = workspace["workspace"]["id"].as_str().unwrap().to_owned();
    let channel = call(
        http,
        base,
        &owner,
        &format!("/workspaces/{workspace}/channels"),
        json!({"name": "load"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tokens = vec![owner.clone()];
    for p in 1..POSTERS {
        let token = common::sign_up(base, &format!("poster{p}")).await;
        let invitation = call(
            http,
            base,
            &owner,
            &format!("/workspaces/{workspace}/invitations"),
            json!({"role": "member"}),
        )
        .await;
        call(
            http,
            base,
            &token,
            "/invitations/accept",
            json!({"token": invitation["token"]}),
        )
        .await;
        call(
            http,
            base,
            &token,
            &format!("/channels/{channel}/join"),
            json!({}),
        )
        .await;
        tokens.push(token);
    }
    Scene {
        tokens,
        workspace,
        channel,
    }
}

/// Every poster posts until its connection breaks.
async fn post_until_broken(
    http: &reqwest::Client,
    base: &str,
    scene: &Scene,
    round: &str,
    first_acknowledged: &tokio::sync::Notify,
) -> Ledger {
    let posters = scene
        .tokens
        .iter()
        .enumerate()
        .map(|(p, token)| async move {
            let mut ledger = Ledger::default();
            for i in 0.. {
                let client_id = format!("{round}-p{p}-{i}");
                match post(http, base, token, &scene.channel, &client_id).await {
                    Some((201, body)) => {
                        ledger.acknowledge(&client_id, &body);
                        first_acknowledged.notify_one();
                    }
                    Some((status, body)) if status >= 500 => {
                        // Refused, not acknowledged: retried later like a lost answer.
                        assert_eq!(status, 503, "{body}");
                        ledger.unknown.push((p, client_id));
                    }
                    Some((status, body)) => panic!("{client_id}: {status} {body}"),
                    None => {
                        ledger.unknown.push((p, client_id));
                        break;
                    }
                }
            }
            ledger
        });
    Ledger::merged(futures::future::join_all(posters).await)
}

/// Retry every post whose outcome is unknown: each must now be acknowledged,
/// as the message first saved or as a new one.
async fn settle(http: &reqwest::Client, base: &str, scene: &Scene, ledger: &mut Ledger) {
    for (poster, client_id) in std::mem::take(&mut ledger.unknown) {
        let (status, body) = post(
            http,
            base,
            &scene.tokens[poster],
            &scene.channel,
            &client_id,
        )
        .await
        .expect("the restarted server answers");
        assert!(
            status == 200 || status == 201,
            "{client_id}: {status} {body}"
        );
        ledger.acknowledge(&client_id, &body);
    }
}

/// Page back through the channel: client id to (message id, content).
async fn channel_contents(
    http: &reqwest::Client,
    base: &str,
    scene: &Scene,
) -> BTreeMap<String, Vec<(String, String)>> {
    let mut found: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut before: Option<String> = None;
    loop {
        let mut url = format!(
            "{base}/api/v1/channels/{}/messages?limit=200",
            scene.channel
        );
        if let Some(before) = &before {
            url.push_str(&format!("&before={before}"));
        }
        let page: Value = http
            .get(url)
            .bearer_auth(&scene.tokens[0])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // The posts, not the notices of who joined.
        let posts = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["message_type"] != "system");
        for message in posts {
            let client_id = message["client_msg_id"].as_str().unwrap_or("").to_owned();
            found.entry(client_id).or_default().push((
                message["id"].as_str().unwrap().to_owned(),
                message["content"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => before = Some(next.to_owned()),
            None => return found,
        }
    }
}

/// Each acknowledged post exactly once, with its content, and nothing else.
fn assert_matches_ledger(found: &BTreeMap<String, Vec<(String, String)>>, ledger: &Ledger) {
    assert!(ledger.unknown.is_empty());
    for (client_id, id) in &ledger.acknowledged {
        let copies = found.get(client_id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            copies,
            [(id.clone(), content_of(client_id))],
            "{client_id} is not there exactly once as acknowledged"
        );
    }
    let unexpected: Vec<&String> = found
        .keys()
        .filter(|client_id| !ledger.acknowledged.contains_key(*client_id))
        .collect();
    assert!(unexpected.is_empty(), "never acknowledged: {unexpected:?}");
}

/// Start, post, `kill -9`, for [`CYCLES`] cycles; then check the channel.
async fn survive_crashes(command: impl Fn() -> Command) -> Ledger {
    let http = reqwest::Client::new();
    let server = Server::start(command());
    let scene = set_scene(&http, &server.base).await;
    drop(server);
    let mut ledger = Ledger::default();
    let mut cut_off = 0;
    for cycle in 0..CYCLES {
        let mut server = Server::start(command());
        settle(&http, &server.base, &scene, &mut ledger).await;
        // Posting runs for a while that differs from cycle to cycle.
        let runs_for = Duration::from_millis(150 + (cycle as u64 * 97) % 450);
        let base = server.base.clone();
        let round_name = format!("c{cycle}");
        let first_acknowledged = tokio::sync::Notify::new();
        let posting = post_until_broken(&http, &base, &scene, &round_name, &first_acknowledged);
        let killing = async {
            // Counted from the first acknowledged post, so that a slow
            // start on a busy machine does not leave a cycle with none.
            tokio::time::timeout(Duration::from_secs(30), first_acknowledged.notified())
                .await
                .expect("a post acknowledged within 30 s");
            tokio::time::sleep(runs_for).await;
            server.child.kill().expect("kill -9");
            server.child.wait().unwrap();
        };
        let (round, ()) = tokio::join!(posting, killing);
        assert!(
            !round.acknowledged.is_empty(),
            "cycle {cycle} acknowledged nothing"
        );
        cut_off += round.unknown.len();
        ledger.absorb(round);
    }
    let server = Server::start(command());
    settle(&http, &server.base, &scene, &mut ledger).await;
    let found = channel_contents(&http, &server.base, &scene).await;
    eprintln!(
        "{CYCLES} kill -9 cycles: {} posts acknowledged, {cut_off} cut off and retried",
        ledger.acknowledged.len()
    );
    assert_matches_ledger(&found, &ledger);
    assert_search_matches_ledger(&http, &server.base, &scene, &ledger).await;
    assert!(server.stop().success());
    ledger
}

/// Every message of the channel as search finds it (the word every
/// message holds), newest first, page after page, with the total the first
/// page gave.
async fn searched(http: &reqwest::Client, base: &str, scene: &Scene) -> (u64, Vec<String>) {
    let mut cursor = String::new();
    let mut client_ids = Vec::new();
    let mut first_total = None;
    loop {
        let page: Value = http
            .get(format!(
                "{base}/api/v1/workspaces/{}/search/messages?q=message&sort=newest&limit=100{cursor}",
                scene.workspace
            ))
            .bearer_auth(&scene.tokens[0])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // The total as the first page saw it: later pages may see more,
        // indexed meanwhile.
        first_total.get_or_insert(page["total"].as_u64().unwrap());
        for result in page["results"].as_array().expect("results") {
            let content = result["message"]["content"].as_str().unwrap();
            client_ids.push(content.trim_start_matches("message ").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return (first_total.unwrap_or(0), client_ids),
        }
    }
}

/// The search index, caught up after the crashes, holds each acknowledged
/// message once, and nothing else.
async fn assert_search_matches_ledger(
    http: &reqwest::Client,
    base: &str,
    scene: &Scene,
    ledger: &Ledger,
) {
    let expected = ledger.acknowledged.len() as u64;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (total, mut client_ids) = loop {
        let (total, client_ids) = searched(http, base, scene).await;
        if total == expected || std::time::Instant::now() > deadline {
            break (total, client_ids);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(total, expected, "the index never caught up");
    client_ids.sort();
    let mut twice = client_ids.clone();
    twice.dedup();
    let found: std::collections::BTreeSet<&String> = client_ids.iter().collect();
    let missing: Vec<&String> = ledger
        .acknowledged
        .keys()
        .filter(|id| !found.contains(id))
        .collect();
    let unknown: Vec<&&String> = found
        .iter()
        .filter(|id| !ledger.acknowledged.contains_key(**id))
        .collect();
    assert!(
        missing.is_empty() && unknown.is_empty() && twice.len() == client_ids.len(),
        "{} found more than once; {} never acknowledged; {} missing from the index: {missing:?}",
        client_ids.len() - twice.len(),
        unknown.len(),
        missing.len()
    );
}

fn loaded(mut cmd: Command) -> Command {
    cmd.env("CONFAB_LIMITS__MESSAGES_PER_MINUTE", "1000000");
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_posts_survive_kill_9_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = survive_crashes(|| loaded(confab(dir.path()))).await;
    // The idempotency keys were written with their messages, and only them.
    let url = format!(
        "sqlite://{}?mode=ro",
        dir.path().join("confab.db").display()
    );
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM message_client_ids")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(keys as usize, ledger.acknowledged.len());
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
async fn acknowledged_posts_survive_kill_9_on_postgres() {
    let db = confab_testkit::harness::PgTestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    // Searching with PostgreSQL too: its index is the other one to catch up.
    let ledger = survive_crashes(|| {
        let mut cmd = loaded(confab(dir.path()));
        cmd.env("CONFAB_DATABASE__URL", &db.url)
            .env("CONFAB_SEARCH__BACKEND", "postgres");
        cmd
    })
    .await;
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM message_client_ids")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys as usize, ledger.acknowledged.len());
    drop(conn);
    db.drop_database().await;
}

/// PostgreSQL goes away under load (every connection cut, new ones refused)
/// and comes back: requests meanwhile answer 503, and the same process
/// serves again once the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
async fn a_postgres_outage_answers_503_and_the_server_recovers() {
    let db = confab_testkit::harness::PgTestDb::create().await;
    let host = upstream_of(&db.url);
    let proxy = TcpProxy::start(&host).await;
    let proxied = db
        .url
        .replacen(&host, &format!("127.0.0.1:{}", proxy.port), 1);
    assert_ne!(proxied, db.url);
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = loaded(confab(dir.path()));
    cmd.env("CONFAB_DATABASE__URL", &proxied)
        .env("CONFAB_DATABASE__CONNECT_TIMEOUT_SECS", "1");
    let server = Server::start(cmd);
    let http = reqwest::Client::new();
    let scene = set_scene(&http, &server.base).await;

    let mut ledger = post_for(
        &http,
        &server.base,
        &scene,
        "before",
        Duration::from_millis(500),
    )
    .await;
    assert!(ledger.unknown.is_empty());
    proxy.cut();
    let cut_at = std::time::Instant::now();
    let during = post_for(
        &http,
        &server.base,
        &scene,
        "during",
        Duration::from_secs(3),
    )
    .await;
    assert!(
        !during.unknown.is_empty(),
        "nothing was refused while the database was away"
    );
    eprintln!(
        "outage: {} refused while away, {:?} since the cut",
        during.unknown.len(),
        cut_at.elapsed()
    );
    ledger.absorb(during);
    let ready: reqwest::Response = http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    proxy.restore();
    let back = std::time::Instant::now();

    // Back without a restart: the first posts may still meet a dead
    // connection, then every one goes through.
    let mut recovered = false;
    for _ in 0..50 {
        let after = post_for(
            &http,
            &server.base,
            &scene,
            "after",
            Duration::from_millis(200),
        )
        .await;
        let clean = after.unknown.is_empty() && !after.acknowledged.is_empty();
        ledger.absorb(after);
        if clean {
            recovered = true;
            break;
        }
    }
    assert!(
        recovered,
        "the server did not recover after the database came back"
    );
    eprintln!(
        "outage: {} posts refused with 503 and retried, recovered {:?} after the database came back",
        ledger.unknown.len(),
        back.elapsed()
    );
    settle(&http, &server.base, &scene, &mut ledger).await;
    let found = channel_contents(&http, &server.base, &scene).await;
    assert_matches_ledger(&found, &ledger);
    assert!(server.stop().success());
    drop(proxy);
    db.drop_database().await;
}

/// Post from everyone for `span`; every answer is a 201 or a 503 (which
/// goes to `unknown`), never another error and never a broken connection.
async fn post_for(
    http: &reqwest::Client,
    base: &str,
    scene: &Scene,
    round: &str,
    span: Duration,
) -> Ledger {
    let until = tokio::time::Instant::now() + span;
    let posters = scene
        .tokens
        .iter()
        .enumerate()
        .map(|(p, token)| async move {
            let mut ledger = Ledger::default();
            let mut i = 0;
            while tokio::time::Instant::now() < until {
                let client_id = format!("{round}{}-p{p}-{i}", next_run());
                i += 1;
                match post(http, base, token, &scene.channel, &client_id).await {
                    Some((201, body)) => ledger.acknowledge(&client_id, &body),
                    Some((503, _)) => {
                        // As a client would: wait a little before the next try.
                        ledger.unknown.push((p, client_id));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    other => panic!("{client_id}: {other:?}"),
                }
            }
            ledger
        });
    Ledger::merged(futures::future::join_all(posters).await)
}

/// A number of its own for each run of a round, so rounds of the same
/// name never reuse a client id.
fn next_run() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

/// `host:port` of a PostgreSQL URL, as written in it.
fn upstream_of(url: &str) -> String {
    let after_scheme = url.split_once("://").unwrap().1;
    let authority = after_scheme.split('/').next().unwrap();
    let host = authority.rsplit('@').next().unwrap();
    assert!(host.contains(':'), "the test URL names its port: {url}");
    host.to_owned()
}

/// Files under `dir`, staging files included.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// `kill -9` in the middle of an upload: after a restart, past the
/// upload's time limit, the cleanup job finds the upload again and removes
/// what it left on disk.
#[tokio::test]
async fn an_upload_cut_by_kill_9_leaves_nothing_after_a_restart() {
    use tokio::io::AsyncWriteExt;
    let data = tempfile::tempdir().unwrap();
    let start = || {
        let mut cmd = confab(data.path());
        cmd.env("CONFAB_FILES__UPLOAD_TTL_SECS", "2");
        Server::start(cmd)
    };
    let mut server = start();
    let http = reqwest::Client::new();
    let token = common::sign_up(&server.base, "uploader").await;
    let workspace = call(
        &http,
        &server.base,
        &token,
        "/workspaces",
        json!({"name": "Cut"}),
    )
    .await;
    let workspace = workspace["workspace"]["id"].as_str().unwrap().to_owned();

    let boundary = "cut-boundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n"
    );
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let request = format!(
        "POST /api/v1/workspaces/{workspace}/files HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\n\r\n{head}",
        head.len() + (8 << 20)
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    socket.write_all(&vec![b'z'; 6 << 20]).await.unwrap();
    socket.flush().await.unwrap();
    let files = data.path().join("files");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while files_under(&files).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never reached the disk"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.child.kill().expect("kill -9");
    server.child.wait().unwrap();
    drop(socket);
    let left = files_under(&files);
    assert!(!left.is_empty(), "the crash left the upload's bytes behind");

    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let server = start();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = files_under(&files);
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still on disk: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop();
}
