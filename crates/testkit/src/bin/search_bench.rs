//! Search benchmark: the embedded Tantivy index, fed realistic messages
//! (short and long, code, URLs, ticket ids, some CJK) in batches as the
//! indexer feeds it, then asked 1,000 mixed queries the way the service
//! asks (rights as a channel filter, a page of 20).
//!
//! ```text
//! cargo run --release -p confab-testkit --bin search-bench -- [--messages 1000000] [--queries 1000] [--batch 5000]
//! ```
//! Prints indexing rate, index size per message, and query latency
//! p50/p99. Documents are made in memory; reading them from the database is
//! not part of this figure.

use std::time::{Duration, Instant};

use confab_core::id::{ChannelId, MessageId, UserId, WorkspaceId};
use confab_core::ports::SearchIndex;
use confab_core::search::{parse_query, MessageDocument, MessageSearch, SearchSort};
use confab_search::TantivyIndex;
use confab_testkit::measure::{ms, percentile};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .find(|w| w[0] == name)
        .map(|w| w[1].parse().expect("a number"))
        .unwrap_or(default)
}

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
    let messages = arg("--messages", 1_000_000);
    let queries = arg("--queries", 1_000);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(messages, queries));
}

async fn run(messages: usize, queries: usize) {
    let dir = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(dir.path()).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let workspace = WorkspaceId::new();
    let channels: Vec<ChannelId> = (0..200).map(|_| ChannelId::new()).collect();
    let users: Vec<UserId> = (0..500).map(|_| UserId::new()).collect();
    let start_time = chrono::Utc::now() - chrono::Duration::days(365);
    let batch = arg("--batch", 5_000);
    let started = Instant::now();
    let mut done = 0;
    while done < messages {
        let documents: Vec<MessageDocument> = (done..(done + batch).min(messages))
            .map(|i| {
                let content = sentence(&mut rng);
                let created_at = start_time + chrono::Duration::seconds(i as i64 * 30);
                MessageDocument {
                    id: MessageId::new(),
                    workspace_id: workspace,
                    channel_id: channels[rng.gen_range(0..channels.len())],
                    user_id: users[rng.gen_range(0..users.len())],
                    thread_id: None,
                    has_link: content.contains("https://"),
                    content,
                    created_at,
                    has_file: false,
                    has_reaction: rng.gen_range(0..5) == 0,
                    is_pinned: rng.gen_range(0..100) == 0,
                }
            })
            .collect();
        done += documents.len();
        index.index_messages(&documents, &[]).await.unwrap();
    }
    let took = started.elapsed();
    let size = dir_size(dir.path());
    println!(
        "indexed {messages} messages in {:.1} s: {:.0} messages/s (batches of {batch}, each committed); index {:.1} MiB, {:.0} bytes per message",
        took.as_secs_f64(),
        messages as f64 / took.as_secs_f64(),
        size as f64 / 1048576.0,
        size as f64 / messages as f64
    );

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
        "after:2026-06-01 alert",
    ];
    let mut latencies = Vec::with_capacity(queries);
    let mut by_kind: Vec<Vec<Duration>> = vec![Vec::new(); texts.len()];
    let mut hits = 0;
    for i in 0..queries {
        let query = parse_query(texts[i % texts.len()]);
        // A member of 50 of the 200 channels (plus the public ones).
        let offset = rng.gen_range(0..150);
        let search = MessageSearch {
            workspace_id: workspace,
            channels: channels[offset..offset + 50].to_vec(),
            authors: if query.is_mine {
                vec![users[0]]
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
        "{queries} queries ({} kinds, page of 20, rights over 50 channels): p50 {}, p99 {}, max {}; {hits} hits",
        texts.len(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(*latencies.last().unwrap_or(&Duration::ZERO)),
    );
    for (text, times) in texts.iter().zip(by_kind.iter_mut()) {
        times.sort();
        println!(
            "  {text:<24} p50 {:>9}  p99 {:>9}",
            ms(percentile(times, 50.0)),
            ms(percentile(times, 99.0))
        );
    }
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                dir_size(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}
