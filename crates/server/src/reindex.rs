//! `confab reindex`: rebuild a search index from the database into a new
//! index that replaces the old one only once complete.

use std::time::Instant;

use anyhow::{anyhow, Context};
use confab_core::config::Config;
use confab_core::ports::SearchIndex;
use confab_core::search::MessageDocument;
use confab_search::TantivyIndex;
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
    let live = backends::search_dir(&config);
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
    let total = stores.messages.count_messages().await?;
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{bar:40} {human_pos}/{human_len} messages, {per_sec}, ETA {eta}",
        )
        .expect("a progress template"),
    );
    let started = Instant::now();
    let mut after = None;
    let mut indexed = 0u64;
    loop {
        let page = stores.messages.scan_messages(after, BATCH).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let documents: Vec<MessageDocument> = page
            .iter()
            .filter_map(|m| MessageDocument::of(m, false))
            .collect();
        index.index_messages(&documents, &[]).await?;
        indexed += documents.len() as u64;
        bar.inc(page.len() as u64);
    }
    bar.finish();
    drop(index);
    swap(&live, &fresh)?;
    // The rebuild read every message: what the outbox held is in it.
    drain_outbox(&stores).await?;
    stores.admin.close().await;
    println!(
        "Reindexed {indexed} messages in {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
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

async fn drain_outbox(stores: &confab_core::ports::Stores) -> anyhow::Result<()> {
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
