//! `confab reindex`: rebuild a search index from the database. The embedded
//! index is built anew beside the old one, which it replaces only once
//! complete; PostgreSQL search is rewritten row by row while servers keep
//! answering from it; Elasticsearch indexes are filled anew and swapped in
//! behind their aliases.

use std::time::Instant;

use anyhow::{anyhow, Context};
use chrono::{DateTime, Utc};
use confab_core::config::Config;
use confab_core::id::MessageId;
use confab_core::ports::{SearchIndex, Stores};
use confab_core::search::MessageDocument;
use confab_search::{ElasticsearchIndex, PostgresSearch, Rebuild, TantivyIndex};
use indicatif::{ProgressBar, ProgressStyle};

use crate::backends;

/// Messages read and indexed at a time.
const BATCH: u32 = 5_000;

/// What `confab reindex` rebuilds.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Target {
    Messages,
    Files,
    Users,
    All,
}

pub async fn reindex(config: Config, target: Target) -> anyhow::Result<()> {
    if matches!(target, Target::Files | Target::Users) {
        println!("Files and people are not searchable yet: there is no index of them to rebuild.");
        return Ok(());
    }
    let stores = backends::open_stores(&config).await?;
    let started = Instant::now();
    let indexed = match config.search.backend.as_str() {
        "postgres" => rebuild_in_place(&config, &stores).await?,
        "elasticsearch" => rebuild_elasticsearch(&config, &stores).await?,
        _ => {
            let indexed = rebuild_tantivy(&config, &stores).await?;
            // No server ran meanwhile: what the outbox held is in the index.
            drain_outbox(&stores).await?;
            indexed
        }
    };
    stores.admin.close().await;
    println!(
        "Reindexed {indexed} messages in {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Build a new embedded index beside the live one and put it in its place.
async fn rebuild_tantivy(config: &Config, stores: &Stores) -> anyhow::Result<u64> {
    let live = backends::search_dir(config);
    // The embedded index has one writer: a running server holds it.
    drop(TantivyIndex::open(&live).map_err(|e| {
        anyhow!("the search index is in use or unreadable ({e}); stop `confab serve` first")
    })?);
    let fresh = live.with_extension("new");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh)
            .with_context(|| format!("cannot remove {}", fresh.display()))?;
    }
    let index = TantivyIndex::open(&fresh).map_err(anyhow::Error::msg)?;
    let indexed = index_everything(stores, &mut Writer::Tantivy(&index)).await?;
    drop(index);
    swap(&live, &fresh)?;
    Ok(indexed)
}

/// Rewrite every row of PostgreSQL search while servers go on answering
/// from it (and indexing what changes meanwhile, which the rebuild leaves
/// alone), then remove the rows of messages deleted or gone. The outbox is
/// left to the servers' indexers.
async fn rebuild_in_place(config: &Config, stores: &Stores) -> anyhow::Result<u64> {
    let index = backends::open_postgres_search(config).await?;
    let started = index.rebuild_started().await?;
    let indexed = index_everything(stores, &mut Writer::Postgres(&index, started)).await?;
    let removed = index.remove_unsearchable().await?;
    if removed > 0 {
        println!("Removed {removed} rows of messages no longer searchable.");
    }
    index.close().await;
    Ok(indexed)
}

/// Fill new Elasticsearch indexes while servers answer from the old ones,
/// swap every alias at once, then write every message again through the
/// aliases: what servers indexed meanwhile went to the old indexes.
async fn rebuild_elasticsearch(config: &Config, stores: &Stores) -> anyhow::Result<u64> {
    let index = backends::open_elasticsearch(config, stores).await?;
    let mut rebuild = Writer::Rebuild(index.rebuild());
    let indexed = index_everything(stores, &mut rebuild).await?;
    if let Writer::Rebuild(rebuild) = rebuild {
        rebuild.swap().await?;
    }
    println!("Swapped the aliases; catching up with changes made meanwhile.");
    index_everything(stores, &mut Writer::Current(&index)).await?;
    Ok(indexed)
}

/// Where a rebuild writes.
enum Writer<'a> {
    Tantivy(&'a TantivyIndex),
    /// PostgreSQL search, and when the rebuild started.
    Postgres(&'a PostgresSearch, DateTime<Utc>),
    /// New Elasticsearch indexes, not yet behind the aliases.
    Rebuild(Rebuild<'a>),
    /// Elasticsearch through the aliases, deleted messages removed.
    Current(&'a ElasticsearchIndex),
}

impl Writer<'_> {
    async fn write(
        &mut self,
        documents: &[MessageDocument],
        deleted: &[MessageId],
    ) -> confab_core::Result<()> {
        match self {
            Writer::Tantivy(index) => index.index_messages(documents, &[]).await,
            Writer::Postgres(index, started) => index.rebuild_messages(documents, *started).await,
            Writer::Rebuild(rebuild) => rebuild.write(documents).await,
            Writer::Current(index) => index.write_current(documents, deleted).await,
        }
    }
}

/// Index every searchable message, with a progress bar; how many.
async fn index_everything(stores: &Stores, index: &mut Writer<'_>) -> anyhow::Result<u64> {
    let total = stores.messages.count_messages().await?;
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{bar:40} {human_pos}/{human_len} messages, {per_sec}, ETA {eta}",
        )
        .expect("a progress template"),
    );
    let mut after = None;
    let mut indexed = 0u64;
    loop {
        let page = stores.messages.scan_messages(after, BATCH).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let ids: Vec<MessageId> = page.iter().map(|m| m.id).collect();
        let attached = stores.files.files_for_messages(&ids).await?;
        let with_files: std::collections::HashSet<MessageId> = attached
            .into_iter()
            .map(|(link, _)| link.message_id)
            .collect();
        let documents: Vec<MessageDocument> = page
            .iter()
            .filter_map(|m| MessageDocument::of(m, with_files.contains(&m.id), 0))
            .collect();
        let deleted: Vec<MessageId> = page.iter().filter(|m| m.is_deleted).map(|m| m.id).collect();
        index.write(&documents, &deleted).await?;
        indexed += documents.len() as u64;
        bar.inc(page.len() as u64);
    }
    bar.finish();
    Ok(indexed)
}

/// Put `fresh` in the place of `live` (kept aside until then).
fn swap(live: &std::path::Path, fresh: &std::path::Path) -> anyhow::Result<()> {
    let old = live.with_extension("old");
    if old.exists() {
        std::fs::remove_dir_all(&old)
            .with_context(|| format!("cannot remove {}", old.display()))?;
    }
    if live.exists() {
        std::fs::rename(live, &old).with_context(|| format!("cannot move {}", live.display()))?;
    }
    std::fs::rename(fresh, live).with_context(|| format!("cannot move {}", fresh.display()))?;
    if old.exists() {
        std::fs::remove_dir_all(&old)
            .with_context(|| format!("cannot remove {}", old.display()))?;
    }
    Ok(())
}

async fn drain_outbox(stores: &Stores) -> anyhow::Result<()> {
    loop {
        let now = confab_core::time::now();
        let work = stores
            .search_queue
            .claim_search_work(10_000, now, now + chrono::Duration::seconds(60))
            .await?;
        if work.is_empty() {
            return Ok(());
        }
        let seqs: Vec<i64> = work.iter().map(|w| w.seq).collect();
        stores.search_queue.finish_search_work(&seqs).await?;
    }
}
