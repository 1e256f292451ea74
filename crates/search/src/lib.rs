//! Search engines behind Confab's search port, each holding messages and
//! files: [`TantivyIndex`], the embedded one, indexes on local disk; [`PostgresSearch`], full-text
//! search in the PostgreSQL database; and [`ElasticsearchIndex`], a cluster
//! over HTTP. Both read text with one analyzer
//! ([`analysis`]) and mark snippets with one [`snippet::Marker`].
#![forbid(unsafe_code)]

pub mod analysis;
mod elasticsearch;
mod flags;
pub mod handover;
mod people;
mod postgres;
mod query;
mod scope;
mod slot;
pub mod snippet;

pub use elasticsearch::{ElasticsearchIndex, ElasticsearchOptions, Rebuild};
pub use postgres::{PostgresSearch, COUNT_BOUND};

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use confab_core::id::{FileId, MessageId, UserId};
use confab_core::ports::SearchIndex;
use confab_core::search::{
    FileDocument, FileHits, FileSearch, MessageDocument, MessageHits, MessageSearch, PeopleSearch,
    PersonDocument, SearchHit, SearchHits,
};
use confab_core::{Error, Result};
use scope::{typed, Scope};
use slot::Slot;
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

/// The fields of an index: of messages, or of files (whose `channel` holds
/// every channel a file is shared in, `author` its uploader, `content` its
/// name and text, and `flags` its kind).
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

/// Messages and files in Tantivy indexes on local disk, one directory
/// each. One process writes them (the embedded shape); searches run while
/// it writes.
pub struct TantivyIndex {
    root: std::path::PathBuf,
    messages: Arc<Slot<Inner>>,
    files: Arc<Slot<Inner>>,
    people: Arc<Slot<people::PeopleIndex>>,
}

/// What a [`TantivyIndex`] holds, each in a directory of that name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKind {
    Messages,
    Files,
    People,
}

impl IndexKind {
    /// Every kind.
    pub const ALL: [IndexKind; 3] = [IndexKind::Messages, IndexKind::Files, IndexKind::People];

    /// The name of its directory.
    pub fn dir_name(self) -> &'static str {
        match self {
            IndexKind::Messages => "messages",
            IndexKind::Files => "files",
            IndexKind::People => "people",
        }
    }
}

struct Inner {
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
}

impl TantivyIndex {
    /// Open the indexes under `root` (`messages/`, `files/`, `people/`),
    /// creating them when absent.
    pub fn open(root: &Path) -> Result<Self> {
        let dir = |kind: IndexKind| root.join(kind.dir_name());
        Ok(Self {
            root: root.to_owned(),
            messages: Arc::new(Slot::open(&dir(IndexKind::Messages))?),
            files: Arc::new(Slot::open(&dir(IndexKind::Files))?),
            people: Arc::new(Slot::open(&dir(IndexKind::People))?),
        })
    }

    /// Run blocking index work off the async threads.
    async fn blocking<I: slot::Opened, T: Send + 'static>(
        slot: &Arc<Slot<I>>,
        work: impl FnOnce(&Slot<I>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let slot = slot.clone();
        tokio::task::spawn_blocking(move || work(&slot))
            .await
            .map_err(Error::internal)?
    }

    /// Refuse writes to the index of `kind` (their outbox entries wait)
    /// while a rebuild reads the database; returns once no write is under
    /// way. Blocks.
    pub fn pause(&self, kind: IndexKind) {
        match kind {
            IndexKind::Messages => self.messages.pause(),
            IndexKind::Files => self.files.pause(),
            IndexKind::People => self.people.pause(),
        }
    }

    /// Take writes to the index of `kind` again (a rebuild given up).
    pub fn resume(&self, kind: IndexKind) {
        match kind {
            IndexKind::Messages => self.messages.resume(),
            IndexKind::Files => self.files.resume(),
            IndexKind::People => self.people.resume(),
        }
    }

    /// Whether writes to the index of `kind` are paused.
    pub fn is_paused(&self, kind: IndexKind) -> bool {
        match kind {
            IndexKind::Messages => self.messages.is_paused(),
            IndexKind::Files => self.files.is_paused(),
            IndexKind::People => self.people.is_paused(),
        }
    }

    /// Put the index of `kind` rebuilt under [`handover::rebuild_root`] in
    /// the place of the one in use, and take writes again. Blocks.
    pub fn adopt(&self, kind: IndexKind) -> Result<()> {
        let live = self.root.join(kind.dir_name());
        let fresh = handover::rebuild_root(&self.root).join(kind.dir_name());
        match kind {
            IndexKind::Messages => self.messages.replace(&live, &fresh),
            IndexKind::Files => self.files.replace(&live, &fresh),
            IndexKind::People => self.people.replace(&live, &fresh),
        }
    }
}

impl slot::Opened for Inner {
    /// Open the index in `dir`, creating it (and the directory) when absent.
    fn open(dir: &Path) -> Result<Self> {
        let (schema, fields) = schema();
        let (reader, writer) = open_index(dir, schema)?;
        Ok(Self {
            fields,
            reader,
            writer: Mutex::new(writer),
        })
    }

    fn writer(&self) -> &Mutex<IndexWriter> {
        &self.writer
    }
}

/// Open the index of `schema` in `dir`, creating it (and the directory)
/// when absent, with Confab's analyzers: its reader (reloaded by hand,
/// after each commit) and its one writer.
pub(crate) fn open_index(dir: &Path, schema: Schema) -> Result<(IndexReader, IndexWriter)> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::Unavailable(format!(
            "cannot create the search index at {}: {e}",
            dir.display()
        ))
    })?;
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
    Ok((reader, writer))
}

pub(crate) fn index_err(err: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("search index: {err}"))
}

fn id_term(fields: &Fields, id: uuid::Uuid) -> Term {
    Term::from_field_text(fields.id, &id.to_string())
}

/// A document of one id, written in the fields every index has.
struct Entry<'a> {
    id: uuid::Uuid,
    workspace: String,
    channels: Vec<String>,
    author: String,
    created_micros: i64,
    content: std::borrow::Cow<'a, str>,
    flags: Vec<&'static str>,
}

impl<'a> From<&'a MessageDocument> for Entry<'a> {
    fn from(message: &'a MessageDocument) -> Self {
        Entry {
            id: message.id.0,
            workspace: message.workspace_id.to_string(),
            channels: vec![message.channel_id.to_string()],
            author: message.user_id.to_string(),
            created_micros: message.created_at.timestamp_micros(),
            content: message.content.as_str().into(),
            flags: flags::of_document(message),
        }
    }
}

impl From<&FileDocument> for Entry<'static> {
    fn from(file: &FileDocument) -> Self {
        Entry {
            id: file.id.0,
            workspace: file.workspace_id.to_string(),
            channels: file.channels.iter().map(|c| c.to_string()).collect(),
            author: file.uploader_id.to_string(),
            created_micros: file.created_at.timestamp_micros(),
            content: file.content().into(),
            flags: flags::of_file(file),
        }
    }
}

fn document(fields: &Fields, entry: &Entry<'_>) -> TantivyDocument {
    let (hi, lo) = entry.id.as_u64_pair();
    let mut document = doc!(
        fields.id => entry.id.to_string(),
        fields.workspace => entry.workspace.clone(),
        fields.author => entry.author.clone(),
        fields.created => entry.created_micros,
        fields.id_hi => hi,
        fields.id_lo => lo,
        fields.content => entry.content.to_string(),
        fields.exact => entry.content.to_string(),
    );
    for channel in &entry.channels {
        document.add_text(fields.channel, channel);
    }
    for flag in &entry.flags {
        document.add_text(fields.flags, flag);
    }
    document
}

impl Inner {
    fn apply(
        &self,
        writer: &mut IndexWriter,
        upserts: &[Entry<'_>],
        deletes: &[uuid::Uuid],
    ) -> Result<()> {
        for id in deletes {
            writer.delete_term(id_term(&self.fields, *id));
        }
        for entry in upserts {
            writer.delete_term(id_term(&self.fields, entry.id));
            writer
                .add_document(document(&self.fields, entry))
                .map_err(index_err)?;
        }
        writer.commit().map_err(index_err)?;
        self.reader.reload().map_err(index_err)
    }

    fn search(&self, search: &Scope<'_>) -> Result<SearchHits<uuid::Uuid>> {
        let searcher = self.reader.searcher();
        let query = query::build(&self.fields, search);
        let after = search.after.map(|(key, id)| {
            let (hi, lo) = id.as_u64_pair();
            (key, hi, lo)
        });
        let by_date = search.by_date();
        let collector =
            TopDocs::with_limit(search.limit).tweak_score(move |segment: &SegmentReader| {
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
        let mut marker = Marker::new(search.query);
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
            hits.push(SearchHit {
                id,
                key: key.0,
                snippet,
            });
        }
        Ok(SearchHits {
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
        let (upserts, deletes) = (upserts.to_vec(), ids(deletes, |id| id.0));
        Self::blocking(&self.messages, move |slot| {
            let entries: Vec<Entry<'_>> = upserts.iter().map(Entry::from).collect();
            slot.write(|inner, writer| inner.apply(writer, &entries, &deletes))
        })
        .await
    }

    async fn search_messages(&self, search: &MessageSearch) -> Result<MessageHits> {
        let search = search.clone();
        let hits = Self::blocking(&self.messages, move |slot| {
            slot.get().search(&Scope::from(&search))
        })
        .await?;
        Ok(typed(hits, MessageId))
    }

    async fn index_files(&self, upserts: &[FileDocument], deletes: &[FileId]) -> Result<()> {
        if upserts.is_empty() && deletes.is_empty() {
            return Ok(());
        }
        let entries: Vec<Entry<'static>> = upserts.iter().map(Entry::from).collect();
        let deletes = ids(deletes, |id| id.0);
        Self::blocking(&self.files, move |slot| {
            slot.write(|inner, writer| inner.apply(writer, &entries, &deletes))
        })
        .await
    }

    async fn search_files(&self, search: &FileSearch) -> Result<FileHits> {
        let search = search.clone();
        let hits = Self::blocking(&self.files, move |slot| {
            slot.get().search(&Scope::from(&search))
        })
        .await?;
        Ok(typed(hits, FileId))
    }

    async fn index_people(&self, users: &[UserId], documents: &[PersonDocument]) -> Result<()> {
        if users.is_empty() && documents.is_empty() {
            return Ok(());
        }
        let (users, documents) = (users.to_vec(), documents.to_vec());
        Self::blocking(&self.people, move |slot| {
            slot.write(|people, writer| people.apply(writer, &users, &documents))
        })
        .await
    }

    async fn search_people(&self, search: &PeopleSearch) -> Result<Vec<UserId>> {
        let search = search.clone();
        Self::blocking(&self.people, move |slot| slot.get().search(&search)).await
    }
}

fn ids<I: Copy>(ids: &[I], uuid: impl Fn(I) -> uuid::Uuid) -> Vec<uuid::Uuid> {
    ids.iter().map(|id| uuid(*id)).collect()
}
