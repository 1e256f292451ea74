//! Storage benchmark: inserts messages with concurrent writers, then reads
//! random history pages, on SQLite and (when a server is given) PostgreSQL.
//!
//! ```text
//! cargo run --release -p confab-testkit --bin store-bench -- [--backend sqlite|postgres|all]
//!     [--messages 200000] [--channels 100] [--writers 8] [--pages 1000] [--page-size 50]
//! ```
//! PostgreSQL uses a temporary database on the server named by
//! `CONFAB_TEST_POSTGRES_URL` (or `--postgres-url`), dropped afterwards.

use confab_testkit::measure::{ms, percentile};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use confab_core::id::MessageId;
use confab_core::model::{Channel, HistoryRange, NewChannelMember};
use confab_core::ports::Stores;
use confab_store_postgres::{PostgresOptions, PostgresStore};
use confab_store_sqlite::{SqliteOptions, SqliteStore};
use confab_testkit::fixtures::{new_channel, new_channel_member, text, world};
use confab_testkit::harness::{PgTestDb, POSTGRES_URL_VAR};
use rand::Rng;

#[derive(Clone, Debug)]
struct Params {
    messages: usize,
    channels: usize,
    writers: usize,
    pages: usize,
    page_size: u32,
}

struct Figures {
    insert_elapsed: Duration,
    insert_latencies: Vec<Duration>,
    page_latencies: Vec<Duration>,
}

fn parse_args() -> anyhow::Result<(String, Option<String>, Params)> {
    let mut backend = None;
    let mut postgres_url = std::env::var(POSTGRES_URL_VAR).ok();
    let mut params = Params {
        messages: 200_000,
        channels: 100,
        writers: 8,
        pages: 1_000,
        page_size: 50,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--backend" => backend = Some(value()?),
            "--postgres-url" => postgres_url = Some(value()?),
            "--messages" => params.messages = value()?.parse()?,
            "--channels" => params.channels = value()?.parse()?,
            "--writers" => params.writers = value()?.parse()?,
            "--pages" => params.pages = value()?.parse()?,
            "--page-size" => params.page_size = value()?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    if params.channels == 0 || params.writers == 0 || params.messages == 0 {
        bail!("--messages, --channels and --writers must be positive");
    }
    let backend = backend.unwrap_or_else(|| {
        if postgres_url.is_some() {
            "all"
        } else {
            "sqlite"
        }
        .to_owned()
    });
    Ok((backend, postgres_url, params))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (backend, postgres_url, params) = parse_args()?;
    println!(
        "store-bench: {} messages over {} channels with {} writers, then {} random pages of {}",
        params.messages, params.channels, params.writers, params.pages, params.page_size
    );
    if matches!(backend.as_str(), "sqlite" | "all") {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let store = SqliteStore::open(&SqliteOptions::new(url)).await?;
        let figures = run(Stores::new(Arc::new(store)), &params).await?;
        report("sqlite", &params, &figures);
    }
    if matches!(backend.as_str(), "postgres" | "all") {
        if postgres_url.is_none() {
            bail!("PostgreSQL needs {POSTGRES_URL_VAR} or --postgres-url");
        }
        let db = PgTestDb::create_on(&postgres_url.unwrap()).await;
        let mut options = PostgresOptions::new(db.url.clone());
        options.max_connections = (params.writers as u32 + 2).max(10);
        let outcome = async {
            let store = PostgresStore::open(&options).await?;
            let stores = Stores::new(Arc::new(store));
            let figures = run(stores.clone(), &params).await;
            stores.admin.close().await;
            figures
        }
        .await;
        db.drop_database().await;
        report("postgres", &params, &outcome?);
    }
    Ok(())
}

async fn run(stores: Stores, params: &Params) -> anyhow::Result<Figures> {
    let w = world(stores.clone()).await;
    let mut channels: Vec<Channel> = Vec::with_capacity(params.channels);
    for i in 0..params.channels {
        let new = new_channel(w.workspace.id, &format!("bench-{i}"), w.owner.id);
        let member: NewChannelMember = new_channel_member(new.id, w.owner.id);
        channels.push(stores.channels.create_channel(&new, &[member]).await?);
    }
    let channels = Arc::new(channels);

    let started = Instant::now();
    let per_writer = params.messages.div_ceil(params.writers);
    let mut writers = Vec::new();
    for writer in 0..params.writers {
        let stores = stores.clone();
        let channels = channels.clone();
        let owner = w.owner.id;
        let count = per_writer.min(params.messages.saturating_sub(writer * per_writer));
        writers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(count);
            let mut ids = Vec::with_capacity(count);
            for n in 0..count {
                let channel = &channels[(writer * per_writer + n) % channels.len()];
                let mut message = text(
                    channel,
                    owner,
                    &format!("writer {writer} message {n}: some words to store"),
                );
                message.client_msg_id = Some(format!("w{writer}-{n}"));
                let t = Instant::now();
                let inserted = stores.messages.insert_message(&message).await?;
                latencies.push(t.elapsed());
                ids.push((channel.id, inserted.message.id));
            }
            anyhow::Ok((latencies, ids))
        }));
    }
    let mut insert_latencies = Vec::with_capacity(params.messages);
    let mut by_channel: std::collections::HashMap<_, Vec<MessageId>> = Default::default();
    for writer in writers {
        let (latencies, ids) = writer.await??;
        insert_latencies.extend(latencies);
        for (channel, id) in ids {
            by_channel.entry(channel).or_default().push(id);
        }
    }
    let insert_elapsed = started.elapsed();

    let mut rng = rand::thread_rng();
    let mut page_latencies = Vec::with_capacity(params.pages);
    for _ in 0..params.pages {
        let channel = &channels[rng.gen_range(0..channels.len())];
        let ids = &by_channel[&channel.id];
        let range = if rng.gen_bool(0.2) {
            HistoryRange::Latest
        } else {
            HistoryRange::Before(ids[rng.gen_range(0..ids.len())])
        };
        let t = Instant::now();
        let page = stores
            .messages
            .history(channel.id, range, params.page_size)
            .await?;
        page_latencies.push(t.elapsed());
        std::hint::black_box(page);
    }
    Ok(Figures {
        insert_elapsed,
        insert_latencies,
        page_latencies,
    })
}

fn report(backend: &str, params: &Params, figures: &Figures) {
    let mut inserts = figures.insert_latencies.clone();
    inserts.sort();
    let mut pages = figures.page_latencies.clone();
    pages.sort();
    let rate = params.messages as f64 / figures.insert_elapsed.as_secs_f64();
    println!(
        "[{backend}] inserts: {} in {:.1} s = {rate:.0} inserts/s (insert p50 {}, p99 {})",
        params.messages,
        figures.insert_elapsed.as_secs_f64(),
        ms(percentile(&inserts, 50.0)),
        ms(percentile(&inserts, 99.0)),
    );
    println!(
        "[{backend}] history pages of {}: p50 {}, p99 {} over {} reads",
        params.page_size,
        ms(percentile(&pages, 50.0)),
        ms(percentile(&pages, 99.0)),
        pages.len()
    );
}
