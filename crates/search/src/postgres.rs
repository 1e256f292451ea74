//! PostgreSQL full-text search: the `message_search` table (monthly
//! partitions, a GIN index on its `words` tsvector) and the `file_search`
//! table, written by the indexer and read with a tsquery built from the
//! parsed query.
//!
//! Both vector and query are made by Confab's analyzer ([`crate::analysis`])
//! rather than by a text search configuration, so PostgreSQL finds exactly
//! what the embedded index finds. Exact tokens (`plt-3699`) are lexemes
//! starting with `=`, apart from the words (`plt`, `3699`).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::id::{FileId, MessageId, UserId};
use confab_core::ports::SearchIndex;
use confab_core::search::{
    FileDocument, FileHits, FileSearch, MessageDocument, MessageHits, MessageSearch, PeopleSearch,
    PersonDocument, SearchHit, SearchHits, SearchQuery, SearchTerm,
};
use confab_core::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use tantivy::tokenizer::TextAnalyzer;
use uuid::Uuid;

use crate::analysis::{self, terms, tokens};
use crate::flags;
use crate::scope::{typed, Documents, Scope};
use crate::snippet::Marker;
use crate::IndexKind;

/// Matches counted exactly; past this the total is "more than".
pub const COUNT_BOUND: u64 = 10_000;
/// Longest a search or an index batch may run.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// PostgreSQL keeps at most 256 positions of a lexeme, each below 16384.
const MAX_POSITIONS: usize = 256;
const MAX_POSITION: usize = 16_383;
/// Marks an exact token among the lexemes.
const EXACT_MARK: char = '=';

/// Messages searched with PostgreSQL's full-text machinery, in the database
/// that holds them.
pub struct PostgresSearch {
    pool: PgPool,
    count_bound: u64,
}

impl PostgresSearch {
    /// Connect to the (migrated) database at `url` with a pool of its own,
    /// so searches never take the connections posts need.
    pub async fn connect(url: &str, max_connections: u32, timeout: Duration) -> Result<Self> {
        let unreachable = |e: sqlx::Error| {
            Error::Unavailable(format!("cannot connect to PostgreSQL for search: {e}"))
        };
        let options = PgConnectOptions::from_str(url)
            .map_err(unreachable)?
            .options([(
                "statement_timeout",
                format!("{}ms", STATEMENT_TIMEOUT.as_millis()),
            )]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(timeout)
            .connect_with(options)
            .await
            .map_err(unreachable)?;
        let ready: bool = sqlx::query_scalar("SELECT to_regclass('message_search') IS NOT NULL")
            .fetch_one(&pool)
            .await
            .map_err(db_err)?;
        if !ready {
            return Err(Error::Unavailable(
                "the database has no message_search table: run `confab migrate`".into(),
            ));
        }
        Ok(Self {
            pool,
            count_bound: COUNT_BOUND,
        })
    }

    /// Count matches exactly up to `bound` (tests use a small one).
    pub fn with_count_bound(mut self, bound: u64) -> Self {
        self.count_bound = bound;
        self
    }

    /// The database's time as a rebuild starts (rows written from then on
    /// are the rebuild's).
    pub async fn rebuild_started(&self) -> Result<DateTime<Utc>> {
        sqlx::query_scalar("SELECT now()")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)
    }

    /// Write `documents` for a rebuild that started at `started`, leaving
    /// alone rows the indexer wrote since (they are newer than what the
    /// rebuild read).
    pub async fn rebuild_messages(
        &self,
        documents: &[MessageDocument],
        started: DateTime<Utc>,
    ) -> Result<()> {
        self.write(documents, &[], Some(started)).await
    }

    /// As [`Self::rebuild_messages`], for files.
    pub async fn rebuild_files(
        &self,
        documents: &[FileDocument],
        started: DateTime<Utc>,
    ) -> Result<()> {
        self.write_files(documents, &[], Some(started)).await
    }

    /// Remove the rows of messages (or files) deleted or gone: the end of a
    /// rebuild. One statement over the whole table: exempt from the
    /// statement limit.
    pub async fn remove_unsearchable(&self, kind: IndexKind) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let statement = match kind {
            IndexKind::Messages => {
                "DELETE FROM message_search s WHERE NOT EXISTS (SELECT 1 FROM messages m \
                 WHERE m.message_id = s.message_id AND m.created_at = s.created_at AND NOT m.is_deleted)"
            }
            IndexKind::Files => {
                "DELETE FROM file_search s WHERE NOT EXISTS (SELECT 1 FROM files f \
                 WHERE f.file_id = s.file_id AND f.deleted_at IS NULL)"
            }
            IndexKind::People => {
                "DELETE FROM person_search s WHERE NOT EXISTS (SELECT 1 FROM workspace_members m \
                 JOIN users u ON u.user_id = m.user_id WHERE m.workspace_id = s.workspace_id \
                 AND m.user_id = s.user_id AND m.status = 'active' AND u.status = 'active')"
            }
        };
        let done = sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(done.rows_affected())
    }

    /// The plan PostgreSQL makes for the page of `search`, as `EXPLAIN`
    /// prints it: which partitions and indexes a search reads.
    pub async fn explain(&self, search: &MessageSearch) -> Result<String> {
        let mut builder = QueryBuilder::new("EXPLAIN ");
        page_query(
            &mut builder,
            Documents::Messages,
            &Scope::from(search),
            tsquery(&search.query).as_deref(),
        );
        let lines: Vec<String> = builder
            .build_query_scalar()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(lines.join("\n"))
    }

    /// Close the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Take `deletes` out and put `upserts` in, in one transaction. A
    /// document of a message the database holds as deleted is not written
    /// (a slower indexer read it before the delete), nor one older than the
    /// row's version; with `unless_since` (a rebuild), versions are not
    /// compared but rows written since then are left as they are.
    async fn write(
        &self,
        upserts: &[MessageDocument],
        deletes: &[MessageId],
        unless_since: Option<DateTime<Utc>>,
    ) -> Result<()> {
        if upserts.is_empty() && deletes.is_empty() {
            return Ok(());
        }
        // One row per id: the last document given for it.
        let mut latest: BTreeMap<MessageId, &MessageDocument> = BTreeMap::new();
        for message in upserts {
            latest.insert(message.id, message);
        }
        let documents: Vec<&MessageDocument> = latest.into_values().collect();
        let vectors: Vec<String> = documents.iter().map(|m| vector_text(&m.content)).collect();
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if !deletes.is_empty() {
            let ids: Vec<Uuid> = deletes.iter().map(|id| id.0).collect();
            sqlx::query("DELETE FROM message_search WHERE message_id = ANY($1)")
                .bind(ids)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        if !documents.is_empty() {
            sqlx::query(
                "INSERT INTO message_search (message_id, created_at, workspace_id, channel_id, \
                     user_id, flags, words, version, indexed_at) \
                 SELECT d.id, d.at, d.ws, d.ch, d.author, d.flags, d.words::tsvector, d.version, now() \
                 FROM UNNEST($1::uuid[], $2::timestamptz[], $3::uuid[], $4::uuid[], $5::uuid[], \
                             $6::int2[], $7::text[], $9::int8[]) \
                      AS d(id, at, ws, ch, author, flags, words, version) \
                 WHERE NOT EXISTS (SELECT 1 FROM messages m \
                     WHERE m.message_id = d.id AND m.created_at = d.at AND m.is_deleted) \
                 ON CONFLICT (message_id, created_at) DO UPDATE SET \
                     workspace_id = EXCLUDED.workspace_id, channel_id = EXCLUDED.channel_id, \
                     user_id = EXCLUDED.user_id, flags = EXCLUDED.flags, words = EXCLUDED.words, \
                     version = GREATEST(message_search.version, EXCLUDED.version), \
                     indexed_at = EXCLUDED.indexed_at \
                 WHERE CASE WHEN $8::timestamptz IS NULL \
                     THEN message_search.version <= EXCLUDED.version \
                     ELSE message_search.indexed_at < $8 END",
            )
            .bind(documents.iter().map(|m| m.id.0).collect::<Vec<_>>())
            .bind(documents.iter().map(|m| m.created_at).collect::<Vec<_>>())
            .bind(documents.iter().map(|m| m.workspace_id.0).collect::<Vec<_>>())
            .bind(documents.iter().map(|m| m.channel_id.0).collect::<Vec<_>>())
            .bind(documents.iter().map(|m| m.user_id.0).collect::<Vec<_>>())
            .bind(documents.iter().map(|m| flags::bits(&flags::of_document(m))).collect::<Vec<_>>())
            .bind(vectors)
            .bind(unless_since)
            .bind(documents.iter().map(|m| m.version).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    /// As [`Self::write`], for files: a file the database holds as deleted
    /// is not written.
    async fn write_files(
        &self,
        upserts: &[FileDocument],
        deletes: &[FileId],
        unless_since: Option<DateTime<Utc>>,
    ) -> Result<()> {
        if upserts.is_empty() && deletes.is_empty() {
            return Ok(());
        }
        let mut latest: BTreeMap<FileId, &FileDocument> = BTreeMap::new();
        for file in upserts {
            latest.insert(file.id, file);
        }
        let documents: Vec<&FileDocument> = latest.into_values().collect();
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if !deletes.is_empty() {
            let ids: Vec<Uuid> = deletes.iter().map(|id| id.0).collect();
            sqlx::query("DELETE FROM file_search WHERE file_id = ANY($1)")
                .bind(ids)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        if !documents.is_empty() {
            let contents: Vec<String> = documents.iter().map(|f| f.content()).collect();
            let channels: Vec<String> = documents
                .iter()
                .map(|f| {
                    let ids: Vec<String> = f.channels.iter().map(|c| c.to_string()).collect();
                    ids.join(",")
                })
                .collect();
            sqlx::query(
                "INSERT INTO file_search (file_id, created_at, workspace_id, user_id, channel_ids, \
                     flags, words, content, version, indexed_at) \
                 SELECT d.id, d.at, d.ws, d.author, string_to_array(d.channels, ',')::uuid[], \
                     d.flags, d.words::tsvector, d.content, d.version, now() \
                 FROM UNNEST($1::uuid[], $2::timestamptz[], $3::uuid[], $4::uuid[], $5::text[], \
                             $6::int2[], $7::text[], $9::int8[], $10::text[]) \
                      AS d(id, at, ws, author, channels, flags, words, version, content) \
                 WHERE NOT EXISTS (SELECT 1 FROM files f \
                     WHERE f.file_id = d.id AND f.deleted_at IS NOT NULL) \
                 ON CONFLICT (file_id) DO UPDATE SET \
                     workspace_id = EXCLUDED.workspace_id, user_id = EXCLUDED.user_id, \
                     channel_ids = EXCLUDED.channel_ids, flags = EXCLUDED.flags, \
                     words = EXCLUDED.words, content = EXCLUDED.content, \
                     version = GREATEST(file_search.version, EXCLUDED.version), \
                     indexed_at = EXCLUDED.indexed_at \
                 WHERE CASE WHEN $8::timestamptz IS NULL \
                     THEN file_search.version <= EXCLUDED.version \
                     ELSE file_search.indexed_at < $8 END",
            )
            .bind(documents.iter().map(|f| f.id.0).collect::<Vec<_>>())
            .bind(documents.iter().map(|f| f.created_at).collect::<Vec<_>>())
            .bind(documents.iter().map(|f| f.workspace_id.0).collect::<Vec<_>>())
            .bind(documents.iter().map(|f| f.uploader_id.0).collect::<Vec<_>>())
            .bind(channels)
            .bind(documents.iter().map(|f| flags::bits(&flags::of_file(f))).collect::<Vec<_>>())
            .bind(contents.iter().map(|c| vector_text(c)).collect::<Vec<_>>())
            .bind(unless_since)
            .bind(documents.iter().map(|f| f.version).collect::<Vec<_>>())
            .bind(contents)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    /// Replace the rows of `users` by `documents`, in one transaction.
    pub async fn write_people(&self, users: &[UserId], documents: &[PersonDocument]) -> Result<()> {
        if users.is_empty() && documents.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let ids: Vec<Uuid> = users.iter().map(|id| id.0).collect();
        sqlx::query("DELETE FROM person_search WHERE user_id = ANY($1)")
            .bind(ids)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if !documents.is_empty() {
            sqlx::query(
                "INSERT INTO person_search (user_id, workspace_id, name_key, username, words, version) \
                 SELECT d.id, d.ws, d.name_key, d.username, d.words::tsvector, d.version \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int8[]) \
                      AS d(id, ws, name_key, username, words, version) \
                 ON CONFLICT (workspace_id, user_id) DO UPDATE SET name_key = EXCLUDED.name_key, \
                     username = EXCLUDED.username, words = EXCLUDED.words, version = EXCLUDED.version",
            )
            .bind(documents.iter().map(|p| p.user_id.0).collect::<Vec<_>>())
            .bind(documents.iter().map(|p| p.workspace_id.0).collect::<Vec<_>>())
            .bind(documents.iter().map(PersonDocument::name_key).collect::<Vec<_>>())
            .bind(documents.iter().map(|p| p.username.to_lowercase()).collect::<Vec<_>>())
            .bind(documents.iter().map(person_vector).collect::<Vec<_>>())
            .bind(documents.iter().map(|p| p.version).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    /// One page of `search` over the table of `kind`.
    async fn search(&self, kind: Documents, search: &Scope<'_>) -> Result<SearchHits<Uuid>> {
        let tsquery = tsquery(search.query);
        let mut builder = QueryBuilder::new("");
        page_query(&mut builder, kind, search, tsquery.as_deref());
        let rows = builder
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut marker = Marker::new(search.query);
        let mut hits = Vec::with_capacity(rows.len());
        let mut counted: Option<i64> = None;
        for row in rows {
            counted = row.try_get("total").map_err(db_err)?;
            let id: Uuid = row.try_get("id").map_err(db_err)?;
            let content: Option<String> = row.try_get("content").map_err(db_err)?;
            let snippet = match (&mut marker, content) {
                (Some(marker), Some(content)) => marker.snippet(&content),
                _ => None,
            };
            hits.push(SearchHit {
                id,
                key: row.try_get("key").map_err(db_err)?,
                snippet,
            });
        }
        let counted = match counted {
            Some(total) => total as u64,
            None if counts_inline(search, tsquery.as_deref()) => 0,
            None => self.count(kind, search, tsquery.as_deref()).await?,
        };
        Ok(SearchHits {
            hits,
            total: counted.min(self.count_bound),
            total_is_exact: counted <= self.count_bound,
        })
    }

    async fn count(
        &self,
        kind: Documents,
        search: &Scope<'_>,
        tsquery: Option<&str>,
    ) -> Result<u64> {
        let mut builder = QueryBuilder::new("SELECT count(*) FROM (SELECT 1");
        matching(&mut builder, kind, search, tsquery);
        builder
            .push(" LIMIT ")
            .push_bind(self.count_bound as i64 + 1)
            .push(") found");
        let count: i64 = builder
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(count as u64)
    }
}

fn db_err(err: sqlx::Error) -> Error {
    Error::Unavailable(format!("PostgreSQL search: {err}"))
}

/// The document's lexemes in tsvector syntax: words with their positions,
/// exact tokens marked.
pub fn vector_text(content: &str) -> String {
    let mut lexemes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut add = |analyzer: &mut TextAnalyzer, mark: &str| {
        for token in tokens(analyzer, content) {
            let positions = lexemes.entry(format!("{mark}{}", token.text)).or_default();
            let position = (token.position + 1).min(MAX_POSITION);
            if positions.len() < MAX_POSITIONS && positions.last() != Some(&position) {
                positions.push(position);
            }
        }
    };
    add(&mut analysis::words(), "");
    add(&mut analysis::exact(), &EXACT_MARK.to_string());
    let mut out = String::with_capacity(content.len() * 2);
    for (lexeme, positions) in lexemes {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&quoted(&lexeme));
        out.push(':');
        let positions: Vec<String> = positions.iter().map(usize::to_string).collect();
        out.push_str(&positions.join(","));
    }
    out
}

/// A lexeme quoted for tsvector and tsquery input.
fn quoted(lexeme: &str) -> String {
    format!("'{}'", lexeme.replace('\\', "\\\\").replace('\'', "''"))
}

/// A person's words as tsvector lexemes, the address marked.
fn person_vector(person: &PersonDocument) -> String {
    let mut lexemes: Vec<String> = person.words().iter().map(|w| quoted(w)).collect();
    lexemes.push(quoted(&format!("{EXACT_MARK}{}", person.email)));
    lexemes.join(" ")
}

/// A people search as a tsquery: each word starts a word (or the address).
fn people_tsquery(search: &PeopleSearch) -> String {
    let parts: Vec<String> = search
        .words
        .iter()
        .map(|word| {
            let start = format!("{}:*", quoted(word));
            if search.by_email {
                format!("({start} | {}:*)", quoted(&format!("{EXACT_MARK}{word}")))
            } else {
                start
            }
        })
        .collect();
    parts.join(" & ")
}

/// The words of `query` as a tsquery, or `None` when it has none.
pub fn tsquery(query: &SearchQuery) -> Option<String> {
    let mut words = analysis::words();
    let mut exact = analysis::exact();
    let mut parts: Vec<String> = Vec::new();
    for group in &query.must {
        let alternatives: Vec<String> = group
            .iter()
            .filter_map(|t| term_query(&mut words, &mut exact, t))
            .collect();
        if !alternatives.is_empty() {
            parts.push(format!("({})", alternatives.join(" | ")));
        }
    }
    for term in &query.must_not {
        if let Some(q) = term_query(&mut words, &mut exact, term) {
            parts.push(format!("!({q})"));
        }
    }
    (!parts.is_empty()).then(|| parts.join(" & "))
}

/// As the Tantivy query does: a word is its whole token or its words in a
/// row; a prefix starts a whole token; a phrase is words in a row.
fn term_query(
    words: &mut TextAnalyzer,
    exact: &mut TextAnalyzer,
    term: &SearchTerm,
) -> Option<String> {
    let in_a_row = |parts: Vec<String>| {
        let quoted: Vec<String> = parts.iter().map(|p| quoted(p)).collect();
        format!("({})", quoted.join(" <-> "))
    };
    match term {
        SearchTerm::Word(word) => {
            let whole = terms(exact, word).into_iter().next()?;
            let whole = quoted(&format!("{EXACT_MARK}{whole}"));
            let parts = terms(words, word);
            Some(if parts.is_empty() {
                whole
            } else {
                format!("{whole} | {}", in_a_row(parts))
            })
        }
        SearchTerm::Prefix(prefix) => {
            let whole = terms(exact, prefix).into_iter().next()?;
            Some(format!("{}:*", quoted(&format!("{EXACT_MARK}{whole}"))))
        }
        SearchTerm::Phrase(phrase) => {
            let parts = terms(words, phrase);
            (!parts.is_empty()).then(|| in_a_row(parts))
        }
    }
}

/// The table of `kind` and its id column.
fn table(kind: Documents) -> (&'static str, &'static str) {
    match kind {
        Documents::Messages => ("message_search", "message_id"),
        Documents::Files => ("file_search", "file_id"),
    }
}

/// Where a page's text comes from (for its snippets): what the inner
/// select adds, the join, and the text. A message's text is read from
/// `messages` by primary key after the page is chosen; a file's is kept
/// beside its words.
fn text_source(kind: Documents) -> (&'static str, &'static str, &'static str) {
    match kind {
        Documents::Messages => (
            "",
            "LEFT JOIN messages m ON m.message_id = p.id AND m.created_at = p.created_at",
            "m.content",
        ),
        Documents::Files => (", s.content", "", "p.content"),
    }
}

/// `FROM … WHERE …`: the caller's rights and the filters, each a condition
/// of its own, and the words when there are any.
fn matching(
    builder: &mut QueryBuilder<'_, Postgres>,
    kind: Documents,
    search: &Scope<'_>,
    tsquery: Option<&str>,
) {
    let channels: Vec<Uuid> = search.channels.iter().map(|c| c.0).collect();
    builder
        .push(format!(" FROM {} s WHERE s.workspace_id = ", table(kind).0))
        .push_bind(search.workspace.0);
    match kind {
        Documents::Messages => builder
            .push(" AND (s.channel_id = ANY(")
            .push_bind(channels)
            .push(")"),
        Documents::Files => builder.push(" AND (s.channel_ids && ").push_bind(channels),
    };
    if let Some(author) = search.or_author {
        builder.push(" OR s.user_id = ").push_bind(author.0);
    }
    builder.push(")");
    if !search.authors.is_empty() {
        let authors: Vec<Uuid> = search.authors.iter().map(|u| u.0).collect();
        builder
            .push(" AND s.user_id = ANY(")
            .push_bind(authors)
            .push(")");
    }
    if let Some(since) = search.since {
        builder.push(" AND s.created_at >= ").push_bind(since);
    }
    if let Some(until) = search.until {
        builder.push(" AND s.created_at < ").push_bind(until);
    }
    let all = flags::bits(&search.all_flags);
    if all != 0 {
        builder
            .push(" AND s.flags & ")
            .push_bind(all)
            .push(" = ")
            .push_bind(all);
    }
    let any = flags::bits(&search.any_flags);
    if any != 0 {
        builder.push(" AND s.flags & ").push_bind(any).push(" <> 0");
    }
    if let Some(tsquery) = tsquery {
        builder
            .push(" AND s.words @@ ")
            .push_bind(tsquery.to_owned())
            .push("::tsquery");
    }
}

/// Whether the page query counts the matches too: a first page ranked by
/// relevance (a page by date stops early; a later page sees only what
/// follows its cursor).
fn counts_inline(search: &Scope<'_>, tsquery: Option<&str>) -> bool {
    tsquery.is_some() && !search.by_date() && search.after.is_none()
}

/// The page: its ids and sort keys, and the text of each hit for its
/// snippet (read by primary key after the page is chosen).
fn page_query(
    builder: &mut QueryBuilder<'_, Postgres>,
    kind: Documents,
    search: &Scope<'_>,
    tsquery: Option<&str>,
) {
    let id = table(kind).1;
    let (column, join, text) = text_source(kind);
    // Ranking visits every match anyway: a first page counts them in the
    // same pass.
    let total = if counts_inline(search, tsquery) {
        "count(*) OVER ()"
    } else {
        "NULL::int8"
    };
    builder.push(format!(
        "SELECT p.id, p.key, p.total, {text} AS content FROM \
         (SELECT s.{id} AS id, s.created_at{column}, {total} AS total, "
    ));
    let rank = |builder: &mut QueryBuilder<'_, Postgres>, tsquery: &str| {
        builder
            .push("ts_rank(s.words, ")
            .push_bind(tsquery.to_owned())
            .push("::tsquery)::float8");
    };
    let ranked = tsquery.filter(|_| !search.by_date());
    match ranked {
        Some(q) => rank(builder, q),
        None => {
            builder.push("round(extract(epoch FROM s.created_at) * 1000000)::float8");
        }
    }
    builder.push(" AS key");
    matching(builder, kind, search, tsquery);
    if let Some((key, after)) = search.after {
        match ranked {
            Some(q) => {
                builder.push(" AND (");
                rank(builder, q);
                builder
                    .push(format!(", s.{id}) < ("))
                    .push_bind(key)
                    .push(", ")
                    .push_bind(after)
                    .push(")");
            }
            None => {
                let at = DateTime::from_timestamp_micros(key.round() as i64).unwrap_or_default();
                builder
                    .push(format!(" AND (s.created_at, s.{id}) < ("))
                    .push_bind(at)
                    .push(", ")
                    .push_bind(after)
                    .push(")");
            }
        }
    }
    builder.push(match ranked {
        Some(_) => format!(" ORDER BY key DESC, s.{id} DESC"),
        None => format!(" ORDER BY s.created_at DESC, s.{id} DESC"),
    });
    builder
        .push(" LIMIT ")
        .push_bind(search.limit as i64)
        .push(format!(") p {join} ORDER BY p.key DESC, p.id DESC"));
}

#[async_trait]
impl SearchIndex for PostgresSearch {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn index_messages(
        &self,
        upserts: &[MessageDocument],
        deletes: &[MessageId],
    ) -> Result<()> {
        self.write(upserts, deletes, None).await
    }

    async fn search_messages(&self, search: &MessageSearch) -> Result<MessageHits> {
        let hits = self
            .search(Documents::Messages, &Scope::from(search))
            .await?;
        Ok(typed(hits, MessageId))
    }

    async fn index_files(&self, upserts: &[FileDocument], deletes: &[FileId]) -> Result<()> {
        self.write_files(upserts, deletes, None).await
    }

    async fn search_files(&self, search: &FileSearch) -> Result<FileHits> {
        let hits = self.search(Documents::Files, &Scope::from(search)).await?;
        Ok(typed(hits, FileId))
    }

    async fn index_people(&self, users: &[UserId], documents: &[PersonDocument]) -> Result<()> {
        self.write_people(users, documents).await
    }

    async fn search_people(&self, search: &PeopleSearch) -> Result<Vec<UserId>> {
        if search.words.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT user_id FROM person_search WHERE workspace_id = $1 AND words @@ $2::tsquery \
             ORDER BY name_key, username LIMIT $3",
        )
        .bind(search.workspace_id.0)
        .bind(people_tsquery(search))
        .bind(search.limit.max(1) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(ids.into_iter().map(UserId).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_core::search::parse_query;

    #[test]
    fn vectors_hold_words_with_positions_and_marked_tokens() {
        assert_eq!(
            vector_text("Deploy PLT-3699, don't deploy"),
            r"'3699':3 '=deploy':1,4 '=don''t':3 '=plt-3699':2 'deploy':1,6 'don':4 'plt':2 't':5"
        );
    }

    #[test]
    fn queries_mirror_the_tantivy_ones() {
        assert_eq!(
            tsquery(&parse_query(
                r#"deploy "rolling restart" PLT-36* a\b OR it's -flaky"#
            ))
            .unwrap(),
            r"('=deploy' | ('deploy')) & (('roll' <-> 'restart')) & ('=plt-36':*) & ('=a\\b' | ('a' <-> 'b') | '=it''s' | ('it' <-> 's')) & !('=flaky' | ('flaki'))"
        );
        assert_eq!(tsquery(&parse_query("from:@ann has:link")), None);
    }
}
