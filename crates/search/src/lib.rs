//! Search engines behind Confab's search port: [`TantivyIndex`], the
//! embedded one, an index on local disk; [`PostgresSearch`], full-text
//! search in the PostgreSQL database; and [`ElasticsearchIndex`], a cluster
//! over HTTP. Both read text with one analyzer
//! ([`analysis`]) and mark snippets with one [`snippet::Marker`].
#![forbid(unsafe_code)]

pub mod analysis;
mod elasticsearch;
mod flags;
mod postgres;
mod query;
pub mod snippet;

pub use elasticsearch::{ElasticsearchIndex, ElasticsearchOptions, Rebuild};
pub use postgres::{PostgresSearch, COUNT_BOUND};

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use confab_core::id::MessageId;
use confab_core::ports::SearchIndex;
use confab_core::search::{MessageDocument, MessageHit, MessageHits, MessageSearch, SearchSort};
use confab_core::{Error, Result};
use snippet::Marker;
use tantivy::collector::{Count, TopDocs};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::{
    doc, DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentReader,
    TantivyDocument, Term,
};

/// The fields of the messages index.
#[derive(Clone, Copy)]
pub(crate) struct Fields {
    pub id: Field,
    pub workspace: Field,
    pub channel: Field,
    pub author: Field,
    /// `link`, `file`, `reaction`, `pin`, `thread`.
    pub flags: Field,
    /// Microseconds since the epoch.
    pub created: Field,
    pub id_hi: Field,
    pub id_lo: Field,
    pub content: Field,
    pub exact: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let words = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(analysis::WORDS)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let exact = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(analysis::EXACT)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        workspace: builder.add_text_field("workspace", STRING),
        channel: builder.add_text_field("channel", STRING),
        author: builder.add_text_field("author", STRING),
        flags: builder.add_text_field("flags", STRING),
        created: builder.add_i64_field("created", INDEXED | FAST),
        id_hi: builder.add_u64_field("id_hi", FAST),
        id_lo: builder.add_u64_field("id_lo", FAST),
        content: builder.add_text_field("content", words),
        exact: builder.add_text_field("content_exact", exact),
    };
    (builder.build(), fields)
}

/// Memory the writer may use before it flushes a segment.
const WRITER_MEMORY: usize = 64 * 1024 * 1024;

/// Messages in a Tantivy index on local disk. One process writes it (the
/// embedded shape); searches run while it writes.
pub struct TantivyIndex {
    inner: Arc<Inner>,
}

struct Inner {
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
}

impl TantivyIndex {
    /// Open the index in `dir`, creating it (and the directory) when absent.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::Unavailable(format!(
                "cannot create the search index at {}: {e}",
                dir.display()
            ))
        })?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir).map_err(index_err)?;
        let index = Index::open_or_create(directory, schema).map_err(|e| {
            Error::Unavailable(format!(
                "cannot open the search index at {} ({e}); `confab reindex` rebuilds it",
                dir.display()
            ))
        })?;
        index
            .tokenizers()
            .register(analysis::WORDS, analysis::words());
        index
            .tokenizers()
            .register(analysis::EXACT, analysis::exact());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(index_err)?;
        let writer = index.writer(WRITER_MEMORY).map_err(index_err)?;
        Ok(Self {
            inner: Arc::new(Inner {
                fields,
                reader,
                writer: Mutex::new(writer),
            }),
        })
    }

    /// Run blocking index work off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(Error::internal)?
    }
}

fn index_err(err: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("search index: {err}"))
}

fn id_term(fields: &Fields, id: MessageId) -> Term {
    Term::from_field_text(fields.id, &id.to_string())
}

fn document(fields: &Fields, message: &MessageDocument) -> TantivyDocument {
    let (hi, lo) = message.id.0.as_u64_pair();
    let mut document = doc!(
        fields.id => message.id.to_string(),
        fields.workspace => message.workspace_id.to_string(),
        fields.channel => message.channel_id.to_string(),
        fields.author => message.user_id.to_string(),
        fields.created => message.created_at.timestamp_micros(),
        fields.id_hi => hi,
        fields.id_lo => lo,
        fields.content => message.content.clone(),
        fields.exact => message.content.clone(),
    );
    for flag in flags::of_document(message) {
        document.add_text(fields.flags, flag);
    }
    document
}

impl Inner {
    fn apply(&self, upserts: &[MessageDocument], deletes: &[MessageId]) -> Result<()> {
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| index_err("writer lock poisoned"))?;
        for id in deletes {
            writer.delete_term(id_term(&self.fields, *id));
        }
        for message in upserts {
            writer.delete_term(id_term(&self.fields, message.id));
            writer
                .add_document(document(&self.fields, message))
                .map_err(index_err)?;
        }
        writer.commit().map_err(index_err)?;
        drop(writer);
        self.reader.reload().map_err(index_err)
    }

    fn search(&self, search: &MessageSearch) -> Result<MessageHits> {
        let searcher = self.reader.searcher();
        let query = query::build(&self.fields, search);
        let after = search.after.map(|c| {
            let (hi, lo) = c.id.0.as_u64_pair();
            (c.key, hi, lo)
        });
        let by_date = search.sort == SearchSort::Newest || !search.query.has_terms();
        let collector =
            TopDocs::with_limit(search.limit.max(1)).tweak_score(move |segment: &SegmentReader| {
                let columns = segment.fast_fields();
                let hi = columns.u64("id_hi").map(|c| c.first_or_default_col(0));
                let lo = columns.u64("id_lo").map(|c| c.first_or_default_col(0));
                let created = columns.i64("created").map(|c| c.first_or_default_col(0));
                move |doc: DocId, score: Score| -> SortKey {
                    let (Ok(hi), Ok(lo), Ok(created)) = (&hi, &lo, &created) else {
                        return SortKey::EXCLUDED;
                    };
                    let primary = if by_date {
                        created.get_val(doc) as f64
                    } else {
                        f64::from(score)
                    };
                    let key = SortKey(primary, hi.get_val(doc), lo.get_val(doc));
                    match after {
                        Some(cursor) if (key.0, key.1, key.2) >= cursor => SortKey::EXCLUDED,
                        _ => key,
                    }
                }
            });
        // One pass over the matches: the page and the count together.
        let (top, total) = searcher
            .search(&query, &(collector, Count))
            .map_err(index_err)?;
        let total = total as u64;
        // Snippets only mark words: a search of filters alone has none.
        let mut marker = Marker::new(&search.query);
        let mut hits = Vec::with_capacity(top.len());
        for (key, address) in top {
            if key == SortKey::EXCLUDED {
                continue;
            }
            let stored: TantivyDocument = searcher.doc(address).map_err(index_err)?;
            let text = |field| stored.get_first(field).and_then(|v| v.as_str());
            let id = text(self.fields.id)
                .ok_or_else(|| index_err("a document without its id"))?
                .parse()
                .map_err(Error::internal)?;
            let snippet = match (&mut marker, text(self.fields.content)) {
                (Some(marker), Some(content)) => marker.snippet(content),
                _ => None,
            };
            hits.push(MessageHit {
                id,
                key: key.0,
                snippet,
            });
        }
        Ok(MessageHits {
            hits,
            total,
            total_is_exact: true,
        })
    }
}

/// Where a hit sorts: its score or time, then its id (both descending).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
struct SortKey(f64, u64, u64);

impl SortKey {
    /// Below every hit: what is not to be shown (before the cursor).
    const EXCLUDED: SortKey = SortKey(f64::NEG_INFINITY, 0, 0);
}

#[async_trait]
impl SearchIndex for TantivyIndex {
    fn backend(&self) -> &'static str {
        "tantivy"
    }

    async fn index_messages(
        &self,
        upserts: &[MessageDocument],
        deletes: &[MessageId],
    ) -> Result<()> {
        if upserts.is_empty() && deletes.is_empty() {
            return Ok(());
        }
        let (upserts, deletes) = (upserts.to_vec(), deletes.to_vec());
        self.blocking(move |inner| inner.apply(&upserts, &deletes))
            .await
    }

    async fn search_messages(&self, search: &MessageSearch) -> Result<MessageHits> {
        let search = search.clone();
        self.blocking(move |inner| inner.search(&search)).await
    }
}
