//! Search benchmark: 1,000,000 realistic messages (short and long, code,
//! URLs, ticket ids, some CJK) loaded into a PostgreSQL database, then, for
//! each engine (the embedded Tantivy index and PostgreSQL full-text search)
//! in the same run:
//!
//! - indexing from the database, in batches as `confab reindex` does it:
//!   rate and size on disk per message;
//! - 1,000 mixed queries the way the service asks them (rights as a filter
//!   over 50 channels, a page of 20): p50/p99, overall and per kind;
//! - indexing lag: posts over HTTP at a steady rate to a server running the
//!   real outbox indexer on top of the full index, each timed from its
//!   acknowledgement until a search finds it (searches every 10 ms).
//!
//! ```text
//! CONFAB_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo run --release -p confab-testkit --bin search-bench -- \
//!   [--messages 1000000] [--queries 1000] [--batch 5000] [--rate 1000] [--lag-seconds 10] [--keep]
//! ```
//! `--keep` leaves the database in place (its name is printed) for a look
//! at the plans.
//! Everything runs on one machine: the server, the posting clients and
//! PostgreSQL share its cores.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Datelike;
use confab_core::id::{ChannelId, UserId};
use confab_core::model::Channel;
use confab_core::model::WorkspaceRole;
use confab_core::ports::{SearchIndex, Stores};
use confab_core::search::{parse_query, MessageDocument, MessageSearch, SearchSort};
use confab_search::TantivyIndex;
use confab_store_postgres::{PostgresOptions, PostgresStore};
use confab_testkit::app::{busy_policy, TestApp};
use confab_testkit::fixtures::{self, World};
use confab_testkit::harness::{postgres_search, PgTestDb};
use confab_testkit::measure::{arg, dir_size, ms, percentile};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

const WORDS: &[&str] = &[
    "deploy",
    "staging",
    "production",
    "rollback",
    "incident",
    "review",
    "meeting",
    "lunch",
    "customer",
    "invoice",
    "release",
    "branch",
    "merge",
    "pipeline",
    "flaky",
    "test",
    "database",
    "migration",
    "latency",
    "dashboard",
    "alert",
    "on-call",
    "design",
    "mockup",
    "feedback",
    "roadmap",
    "sprint",
    "ticket",
    "bug",
    "fix",
    "crash",
    "memory",
    "cache",
    "redis",
    "postgres",
    "kubernetes",
    "cluster",
    "node",
    "upgrade",
    "security",
    "token",
    "password",
    "login",
    "the",
    "a",
    "is",
    "to",
    "and",
    "we",
    "should",
    "can",
    "please",
    "thanks",
    "today",
    "tomorrow",
    "yesterday",
    "after",
    "before",
    "why",
    "how",
    "works",
    "broken",
    "again",
];
const CJK: &[&str] = &[
    "会議は明日です",
    "デプロイが完了しました",
    "数据库迁移",
    "배포가 끝났습니다",
];
const EXTRAS: &[&str] = &[
    "see https://example.com/docs/setup",
    "PLT-3699",
    "config.toml",
    "`cargo test --workspace`",
    "ann@example.com",
    "v2.10.1",
    "parserConfig",
    "snake_case_name",
];

fn sentence(rng: &mut StdRng) -> String {
    let length = match rng.gen_range(0..10) {
        0..=5 => rng.gen_range(3..12),
        6..=8 => rng.gen_range(12..40),
        _ => rng.gen_range(40..120),
    };
    let mut words: Vec<&str> = (0..length)
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect();
    if rng.gen_range(0..10) == 0 {
        words.push(CJK[rng.gen_range(0..CJK.len())]);
    }
    if rng.gen_range(0..4) == 0 {
        words.push(EXTRAS[rng.gen_range(0..EXTRAS.len())]);
    }
    words.join(" ")
}

fn main() {
    let Ok(url) = std::env::var("CONFAB_TEST_POSTGRES_URL") else {
        eprintln!("search-bench reads its messages from PostgreSQL: set CONFAB_TEST_POSTGRES_URL");
        std::process::exit(2);
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(url));
}

/// The bench's settings, from the command line.
struct Settings {
    messages: usize,
    queries: usize,
    batch: u32,
    rate: usize,
    lag_seconds: u64,
}

/// The loaded database: its stores, workspace, channels and authors.
struct Loaded {
    db: PgTestDb,
    stores: Stores,
    world: World,
    channels: Vec<Channel>,
    users: Vec<UserId>,
}

async fn run(url: String) {
    let settings = Settings {
        messages: arg("--messages", 1_000_000),
        queries: arg("--queries", 1_000),
        batch: arg("--batch", 5_000) as u32,
        rate: arg("--rate", 1_000),
        lag_seconds: arg("--lag-seconds", 10) as u64,
    };
    let loaded = load(&url, settings.messages).await;
    let dir = tempfile::tempdir().unwrap();
    let tantivy = Arc::new(TantivyIndex::open(dir.path()).unwrap());
    let postgres = Arc::new(postgres_search(&loaded.db.url).await);
    let engines: [(&str, Arc<dyn SearchIndex>); 2] =
        [("tantivy", tantivy), ("postgres", postgres.clone())];
    for (name, index) in engines {
        println!("== {name}");
        index_from_database(&loaded, index.as_ref(), settings.batch).await;
        let size = match name {
            "tantivy" => dir_size(dir.path()),
            _ => postgres_size(&loaded.db.url).await,
        };
        println!(
            "   size {:.1} MiB, {:.0} bytes per message",
            size as f64 / 1048576.0,
            size as f64 / settings.messages as f64
        );
        ask(&loaded, index.as_ref(), settings.queries).await;
        lag(&loaded, index, &settings).await;
    }
    postgres.close().await;
    loaded.stores.admin.close().await;
    if std::env::args().any(|a| a == "--keep") {
        println!("kept the database {} for a look", loaded.db.name);
    } else {
        loaded.db.drop_database().await;
    }
}

/// A database holding `count` messages over the last year in 200 channels
/// by 50 people, written straight into the table in large batches.
async fn load(url: &str, count: usize) -> Loaded {
    let db = PgTestDb::create_on(url).await;
    let store = PostgresStore::open(&PostgresOptions::new(db.url.clone()))
        .await
        .unwrap();
    let stores = Stores::new(Arc::new(store));
    let world = fixtures::world(stores.clone()).await;
    let mut channels = Vec::new();
    for i in 0..200 {
        channels.push(world.channel(&format!("channel-{i}")).await);
    }
    let mut users = vec![world.owner.id];
    for i in 0..49 {
        users.push(
            world
                .member(&format!("person{i}"), WorkspaceRole::Member)
                .await
                .id,
        );
    }
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let now = chrono::Utc::now();
    // Whole milliseconds, as a message id holds its time.
    let start = chrono::DateTime::from_timestamp_millis(
        (now - chrono::Duration::days(365)).timestamp_millis(),
    )
    .unwrap();
    // A partition for each month, as the maintenance job would have made.
    let first_month = start.date_naive().with_day(1).unwrap();
    for month in 0..=13 {
        let day = first_month + chrono::Months::new(month);
        sqlx::query("SELECT confab_create_month_partition('messages', $1)")
            .bind(day)
            .execute(&pool)
            .await
            .unwrap();
    }
    stores.admin.maintain(now).await.unwrap();
    let step = chrono::Duration::milliseconds(365 * 24 * 3600 * 1000 / count.max(1) as i64);
    let mut rng = StdRng::seed_from_u64(7);
    let started = Instant::now();
    let mut done = 0;
    while done < count {
        let rows = (count - done).min(10_000);
        let mut ids = Vec::with_capacity(rows);
        let mut channel_ids = Vec::with_capacity(rows);
        let mut authors = Vec::with_capacity(rows);
        let mut contents = Vec::with_capacity(rows);
        let mut times = Vec::with_capacity(rows);
        let mut pinned = Vec::with_capacity(rows);
        for i in done..done + rows {
            let at = start + step * i as i32;
            ids.push(confab_core::id::MessageId::at(at).0);
            channel_ids.push(channels[rng.gen_range(0..channels.len())].id.0);
            authors.push(users[rng.gen_range(0..users.len())].0);
            contents.push(sentence(&mut rng));
            times.push(at);
            pinned.push(rng.gen_range(0..100) == 0);
        }
        sqlx::query(
            "INSERT INTO messages (message_id, workspace_id, channel_id, user_id, content, created_at, updated_at, is_pinned) \
             SELECT id, $1, channel, author, content, at, at, pinned \
             FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::timestamptz[], $7::bool[]) \
                  AS m(id, channel, author, content, at, pinned)",
        )
        .bind(world.workspace.id.0)
        .bind(ids)
        .bind(channel_ids)
        .bind(authors)
        .bind(contents)
        .bind(times)
        .bind(pinned)
        .execute(&pool)
        .await
        .unwrap();
        done += rows;
    }
    sqlx::query("ANALYZE messages")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    println!(
        "loaded {count} messages into PostgreSQL in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Loaded {
        db,
        stores,
        world,
        channels,
        users,
    }
}

/// Index every message read from the database, `batch` at a time.
async fn index_from_database(loaded: &Loaded, index: &dyn SearchIndex, batch: u32) {
    let started = Instant::now();
    let mut after = None;
    let mut indexed = 0;
    loop {
        let page = loaded
            .stores
            .messages
            .scan_messages(after, batch)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let documents: Vec<MessageDocument> = page
            .iter()
            .filter_map(|m| MessageDocument::of(m, false, 0))
            .collect();
        index.index_messages(&documents, &[]).await.unwrap();
        indexed += documents.len();
    }
    let took = started.elapsed();
    println!(
        "   indexed {indexed} messages from the database in {:.1} s: {:.0} messages/s (batches of {batch}, each committed)",
        took.as_secs_f64(),
        indexed as f64 / took.as_secs_f64(),
    );
}

async fn postgres_size(url: &str) -> u64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    sqlx::query("ANALYZE message_search")
        .execute(&pool)
        .await
        .unwrap();
    let size: i64 = sqlx::query_scalar(
        "SELECT sum(pg_total_relation_size(inhrelid))::bigint FROM pg_inherits \
         WHERE inhparent = 'message_search'::regclass",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    size as u64
}

/// Mixed queries as the service asks them; latency overall and per kind.
async fn ask(loaded: &Loaded, index: &dyn SearchIndex, queries: usize) {
    let texts = [
        "deploy staging",
        "\"rolling restart\"",
        "incident -flaky",
        "PLT-3699",
        "config.toml",
        "deplo*",
        "release OR rollback",
        "会議",
        "has:link customer",
        "is:mine review",
        "memory leak cache",
        "after:{recent} alert",
    ];
    let recent = (chrono::Utc::now() - chrono::Duration::days(60)).date_naive();
    let channels: Vec<ChannelId> = loaded.channels.iter().map(|c| c.id).collect();
    let mut rng = StdRng::seed_from_u64(11);
    let mut latencies = Vec::with_capacity(queries);
    let mut by_kind: Vec<Vec<Duration>> = vec![Vec::new(); texts.len()];
    let mut hits = 0;
    for i in 0..queries {
        let query = parse_query(&texts[i % texts.len()].replace("{recent}", &recent.to_string()));
        // A member of 50 of the 200 channels.
        let offset = rng.gen_range(0..150);
        let search = MessageSearch {
            workspace_id: loaded.world.workspace.id,
            channels: channels[offset..offset + 50].to_vec(),
            authors: if query.is_mine {
                vec![loaded.users[0]]
            } else {
                Vec::new()
            },
            since: query
                .since
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap().and_utc()),
            until: query
                .until
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap().and_utc()),
            query,
            sort: if i % 3 == 0 {
                SearchSort::Newest
            } else {
                SearchSort::Relevance
            },
            after: None,
            limit: 20,
        };
        let asked = Instant::now();
        hits += index.search_messages(&search).await.unwrap().hits.len();
        latencies.push(asked.elapsed());
        by_kind[i % texts.len()].push(asked.elapsed());
    }
    latencies.sort();
    println!(
        "   {queries} queries ({} kinds, page of 20, rights over 50 channels): p50 {}, p99 {}, max {}; {hits} hits",
        texts.len(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(*latencies.last().unwrap_or(&Duration::ZERO)),
    );
    for (text, times) in texts.iter().zip(by_kind.iter_mut()) {
        times.sort();
        println!(
            "     {text:<24} p50 {:>9}  p99 {:>9}",
            ms(percentile(times, 50.0)),
            ms(percentile(times, 99.0))
        );
    }
}

/// Post at `settings.rate` per second over HTTP for `settings.lag_seconds`
/// to a server indexing with `index`; how long each post took to be found.
async fn lag(loaded: &Loaded, index: Arc<dyn SearchIndex>, settings: &Settings) {
    let app = TestApp::start_searching(loaded.stores.clone(), busy_policy(), index).await;
    let name = format!("lag{}", &Uuid::now_v7().simple().to_string()[20..]);
    let token = app.user(&name).await;
    let ws = app.workspace(&token, "Lag").await;
    let channel = app.general_channel(&token, &ws).await;
    let acknowledged: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let found: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (base, token, ws) = (app.base.clone(), token.clone(), ws.clone());
        let (found, stop) = (found.clone(), stop.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let url = format!(
                "{base}/api/v1/workspaces/{ws}/search/messages?q=lagprobe&sort=newest&limit=100"
            );
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // Newest first, page after page, until a page brings
                // nothing new: a burst of more than a page is not missed,
                // nor a post that commits after newer ones were seen.
                let mut cursor = String::new();
                loop {
                    let page =
                        json_of(http.get(format!("{url}{cursor}")).bearer_auth(&token)).await;
                    let now = Instant::now();
                    let mut found = found.lock().unwrap();
                    let mut new = false;
                    for hit in page["results"].as_array().unwrap() {
                        let id = hit["message"]["id"].as_str().unwrap().to_owned();
                        new |= !found.contains_key(&id);
                        found.entry(id).or_insert(now);
                    }
                    drop(found);
                    match page["next_cursor"].as_str() {
                        Some(next) if new => cursor = format!("&cursor={next}"),
                        _ => break,
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    // Sixteen clients, each posting its share of the rate on a schedule.
    let clients = 16;
    let interval = Duration::from_secs_f64(clients as f64 / settings.rate as f64);
    let posts_each = settings.rate * settings.lag_seconds as usize / clients;
    let started = Instant::now();
    let mut posters = Vec::new();
    for client in 0..clients {
        let (base, token, channel) = (app.base.clone(), token.clone(), channel.clone());
        let acknowledged = acknowledged.clone();
        posters.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for i in 0..posts_each {
                ticks.tick().await;
                let reply = json_of(
                    http.post(format!("{base}/api/v1/channels/{channel}/messages"))
                        .bearer_auth(&token)
                        .json(&json!({ "content": format!("lagprobe {client} {i}") })),
                )
                .await;
                let id = reply["id"].as_str().expect("a posted message").to_owned();
                acknowledged.lock().unwrap().insert(id, Instant::now());
            }
        }));
    }
    for poster in posters {
        poster.await.unwrap();
    }
    let posting = started.elapsed();
    let posted = acknowledged.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while found.lock().unwrap().len() < posted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    watcher.await.unwrap();
    let mut lags: Vec<Duration> = {
        let found = found.lock().unwrap();
        acknowledged
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(id, at)| Some(found.get(id)?.saturating_duration_since(*at)))
            .collect()
    };
    lags.sort();
    println!(
        "   lag while posting {posted} messages at {:.0}/s over HTTP: p50 {}, p99 {}, max {}; {} never found",
        posted as f64 / posting.as_secs_f64(),
        ms(percentile(&lags, 50.0)),
        ms(percentile(&lags, 99.0)),
        ms(*lags.last().unwrap_or(&Duration::ZERO)),
        posted - lags.len()
    );
    app.stop().await;
}

/// The JSON answer to `request`.
async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}
