//! `confab reindex`: rebuild search indexes from the database. An embedded
//! index is built anew beside the old one, which it replaces only once
//! complete (a running server keeps answering from the old one); PostgreSQL search is rewritten row by row while servers keep
//! answering from it; Elasticsearch indexes are filled anew and swapped in
//! behind their aliases.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use confab_core::config::Config;
use confab_core::id::{FileId, MessageId, UserId};
use confab_core::ports::{SearchIndex, Stores};
use confab_core::search::{person_documents, FileDocument, MessageDocument, PersonDocument};
use confab_search::handover::{self, Handover, Step};
use confab_search::{ElasticsearchIndex, IndexKind, PostgresSearch, Rebuild, TantivyIndex};

use crate::{backends, progress};

/// Rows read and indexed at a time.
const BATCH: u32 = 5_000;

/// What `confab reindex` rebuilds.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Target {
    Messages,
    Files,
    Users,
    All,
}

impl Target {
    /// The indexes it rebuilds.
    fn kinds(self) -> Vec<IndexKind> {
        match self {
            Target::Messages => vec![IndexKind::Messages],
            Target::Files => vec![IndexKind::Files],
            Target::Users => vec![IndexKind::People],
            Target::All => vec![IndexKind::Messages, IndexKind::Files, IndexKind::People],
        }
    }
}

pub async fn reindex(config: Config, target: Target) -> anyhow::Result<()> {
    let stores = backends::open_stores(&config).await?;
    for kind in target.kinds() {
        let started = Instant::now();
        let indexed = match config.search.backend.as_str() {
            "postgres" => rebuild_in_place(&config, &stores, kind).await?,
            "elasticsearch" => rebuild_elasticsearch(&config, &stores, kind).await?,
            _ => rebuild_tantivy(&config, &stores, kind).await?,
        };
        let what = match kind {
            IndexKind::People => "memberships of people",
            other => other.dir_name(),
        };
        println!(
            "Reindexed {indexed} {what} in {:.1} s.",
            started.elapsed().as_secs_f64()
        );
    }
    stores.admin.close().await;
    Ok(())
}

/// Build a new embedded index of `kind` beside the live one and put it in
/// its place. With a server holding the index, it pauses writes to it for
/// the rebuild (changes wait in the outbox), answers searches from the old
/// index meanwhile and takes the new one up at the end.
async fn rebuild_tantivy(config: &Config, stores: &Stores, kind: IndexKind) -> anyhow::Result<u64> {
    let live_root = backends::search_dir(config);
    let fresh_root = handover::rebuild_root(&live_root);
    // The embedded index has one writer: a running server holds it.
    let served = match TantivyIndex::open(&live_root) {
        Ok(index) => {
            drop(index);
            None
        }
        Err(err) => Some((Handover::new(&live_root, kind), err)),
    };
    let fresh = fresh_root.join(kind.dir_name());
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh)
            .with_context(|| format!("cannot remove {}", fresh.display()))?;
    }
    let keep_alive = match &served {
        Some((handover, err)) => Some(start_handover(handover, err).await?),
        None => None,
    };
    let index = TantivyIndex::open(&fresh_root).map_err(anyhow::Error::msg)?;
    let indexed = index_everything(stores, kind, &mut Writer::Tantivy(&index)).await;
    drop(index);
    if let Some(task) = keep_alive {
        task.abort();
    }
    match served {
        Some((handover, _)) => {
            let indexed = indexed.inspect_err(|_| handover.clear())?;
            handover.mark(Step::Ready)?;
            // The server takes `.ready` away once it has looked.
            let answered = handover.wait_for_gone(Step::Ready, ANSWER_TIME).await;
            let adopted = handover.has(Step::Adopted);
            handover.clear();
            if !answered || !adopted {
                bail!("the running server did not take up the rebuilt index (see its log); the old one stays in use");
            }
            println!("The running server answers from the rebuilt index; changes made meanwhile follow within 30 s.");
            remove_if_there(&fresh_root)?;
            Ok(indexed)
        }
        None => {
            let indexed = indexed?;
            swap(&live_root.join(kind.dir_name()), &fresh)?;
            remove_if_there(&fresh_root)?;
            Ok(indexed)
        }
    }
}

/// How long a running server may take to answer a step of the hand-over.
const ANSWER_TIME: Duration = Duration::from_secs(30);

/// Ask the server holding the index to pause writes to it; a task that
/// keeps the request alive until aborted.
async fn start_handover(
    handover: &Handover,
    opening: &confab_core::Error,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    handover.clear();
    handover.mark(Step::Building)?;
    if !handover.wait_for(Step::Paused, ANSWER_TIME).await {
        handover.clear();
        bail!("the search index is in use or unreadable ({opening}) and no running server answered; stop `confab serve` and try again");
    }
    println!(
        "A running server holds the index: it answers from the old one until the rebuild is done."
    );
    let alive = handover.clone();
    Ok(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let _ = alive.mark(Step::Building);
        }
    }))
}

/// Remove the directory `root` if it exists.
fn remove_if_there(root: &std::path::Path) -> anyhow::Result<()> {
    if root.exists() {
        std::fs::remove_dir_all(root)
            .with_context(|| format!("cannot remove {}", root.display()))?;
    }
    Ok(())
}

/// Rewrite every row of PostgreSQL search while servers go on answering
/// from it (and indexing what changes meanwhile, which the rebuild leaves
/// alone), then remove the rows of what is deleted or gone. The outbox is
/// left to the servers' indexers.
async fn rebuild_in_place(
    config: &Config,
    stores: &Stores,
    kind: IndexKind,
) -> anyhow::Result<u64> {
    let index = backends::open_postgres_search(config).await?;
    let started = index.rebuild_started().await?;
    let indexed = index_everything(stores, kind, &mut Writer::Postgres(&index, started)).await?;
    let removed = index.remove_unsearchable(kind).await?;
    if removed > 0 {
        println!("Removed {removed} rows no longer searchable.");
    }
    index.close().await;
    Ok(indexed)
}

/// Fill new Elasticsearch indexes while servers answer from the old ones,
/// swap every alias at once, then write everything again through the
/// aliases: what servers indexed meanwhile went to the old indexes.
async fn rebuild_elasticsearch(
    config: &Config,
    stores: &Stores,
    kind: IndexKind,
) -> anyhow::Result<u64> {
    let index = backends::open_elasticsearch(config, stores).await?;
    let mut rebuild = Writer::Rebuild(index.rebuild(kind));
    let indexed = index_everything(stores, kind, &mut rebuild).await?;
    if let Writer::Rebuild(rebuild) = rebuild {
        rebuild.swap().await?;
    }
    println!("Swapped the aliases; catching up with changes made meanwhile.");
    index_everything(stores, kind, &mut Writer::Current(&index)).await?;
    Ok(indexed)
}

/// Where a rebuild writes.
enum Writer<'a> {
    Tantivy(&'a TantivyIndex),
    /// PostgreSQL search, and when the rebuild started.
    Postgres(&'a PostgresSearch, DateTime<Utc>),
    /// New Elasticsearch indexes, not yet behind the aliases.
    Rebuild(Rebuild<'a>),
    /// Elasticsearch through the aliases, deleted ones removed.
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

    /// Replace the documents of `users` by `documents`.
    async fn write_people(
        &mut self,
        users: &[UserId],
        documents: &[PersonDocument],
    ) -> confab_core::Result<()> {
        match self {
            Writer::Tantivy(index) => index.index_people(users, documents).await,
            Writer::Postgres(index, _) => index.write_people(users, documents).await,
            Writer::Rebuild(rebuild) => rebuild.write_people(documents).await,
            Writer::Current(index) => index.write_people(users, documents, true).await,
        }
    }

    async fn write_files(
        &mut self,
        documents: &[FileDocument],
        deleted: &[FileId],
    ) -> confab_core::Result<()> {
        match self {
            Writer::Tantivy(index) => index.index_files(documents, &[]).await,
            Writer::Postgres(index, started) => index.rebuild_files(documents, *started).await,
            Writer::Rebuild(rebuild) => rebuild.write_files(documents).await,
            Writer::Current(index) => index.write_files(documents, deleted, true).await,
        }
    }
}

/// Index everything of `kind`, with a progress bar; how many.
async fn index_everything(
    stores: &Stores,
    kind: IndexKind,
    index: &mut Writer<'_>,
) -> anyhow::Result<u64> {
    match kind {
        IndexKind::Messages => index_every_message(stores, index).await,
        IndexKind::Files => index_every_file(stores, index).await,
        IndexKind::People => index_every_person(stores, index).await,
    }
}

/// Every account's documents (one per active membership); how many.
async fn index_every_person(stores: &Stores, index: &mut Writer<'_>) -> anyhow::Result<u64> {
    let bar = progress::items(stores.users.count_users().await?, "accounts");
    let mut after = None;
    let mut indexed = 0u64;
    loop {
        let page = stores.users.scan_users(after, BATCH).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let ids: Vec<UserId> = page.iter().map(|u| u.id).collect();
        let memberships = stores.workspaces.memberships_of(&ids).await?;
        let documents = person_documents(&page, &memberships, |_| 0);
        index.write_people(&ids, &documents).await?;
        indexed += documents.len() as u64;
        bar.inc(page.len() as u64);
    }
    bar.finish();
    Ok(indexed)
}

async fn index_every_message(stores: &Stores, index: &mut Writer<'_>) -> anyhow::Result<u64> {
    let bar = progress::items(stores.messages.count_messages().await?, "messages");
    let mut after = None;
    let mut indexed = 0u64;
    loop {
        let page = stores.messages.scan_messages(after, BATCH).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let ids: Vec<MessageId> = page.iter().map(|m| m.id).collect();
        let attached = stores.files.files_for_messages(&ids).await?;
        let with_files: HashSet<MessageId> = attached
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

async fn index_every_file(stores: &Stores, index: &mut Writer<'_>) -> anyhow::Result<u64> {
    let bar = progress::items(stores.files.count_files().await?, "files");
    let mut after = None;
    let mut indexed = 0u64;
    loop {
        let page = stores.files.scan_files(after, BATCH).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.id);
        let deleted: Vec<FileId> = page
            .iter()
            .filter(|(f, _)| f.deleted_at.is_some())
            .map(|(f, _)| f.id)
            .collect();
        let documents: Vec<FileDocument> = page
            .into_iter()
            .filter_map(|(file, channels)| FileDocument::of(&file, channels, 0))
            .collect();
        index.write_files(&documents, &deleted).await?;
        indexed += documents.len() as u64;
        bar.inc(documents.len() as u64);
    }
    bar.finish();
    Ok(indexed)
}

/// Put `fresh` in the place of `live` (kept aside until then).
fn swap(live: &std::path::Path, fresh: &std::path::Path) -> anyhow::Result<()> {
    let old = handover::put_in_place(live, fresh).with_context(|| {
        format!(
            "cannot put {} in the place of {}",
            fresh.display(),
            live.display()
        )
    })?;
    remove_if_there(&old)
}
