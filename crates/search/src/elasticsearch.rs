//! Elasticsearch / OpenSearch over HTTP, written to their documented REST
//! API (index creation with settings and mappings, `_bulk`, `_search` with
//! the query DSL, `_aliases`, `_delete_by_query`).
//!
//! Placement follows the design's sharding section: a workspace with more
//! than [`ElasticsearchOptions::dedicated_members`] members has an index of
//! its own (`{prefix}-messages-ws-{workspace}`), the others share one of
//! [`ElasticsearchOptions::shared_indexes`] indexes
//! (`{prefix}-messages-shared-{n}`, `n` from a hash of the workspace id),
//! optionally one per month (`…-{yyyy}.{mm}`). Every name is an alias of a
//! physical index, so a rebuild fills new indexes and swaps all aliases in
//! one call. Every search filters by workspace, since indexes are shared.
//!
//! As on PostgreSQL, the text is analyzed by Confab's own analyzer: the
//! `words` field holds its terms (indexed with the whitespace analyzer, so
//! phrases keep their positions) and `exact` the whole tokens, so every
//! engine finds the same messages. `content` keeps the text (the design's
//! field, standard analyzer) for snippets.
//!
//! Files are in the design's files index, behind one alias
//! (`{prefix}-files`), with the same `words`, `exact` and `flags` fields
//! made from their name and extracted text; people in its users index
//! (`{prefix}-users`), one document per active membership.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Utc};
use confab_core::id::{FileId, MessageId, UserId, WorkspaceId};
use confab_core::ports::{SearchIndex, WorkspaceStore};
use confab_core::search::{
    file_content, FileDocument, FileHits, FileSearch, MessageDocument, MessageHits, MessageSearch,
    PeopleSearch, PersonDocument, SearchHit, SearchHits, SearchTerm,
};
use confab_core::{Error, Result};
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};
use tantivy::tokenizer::TextAnalyzer;

use crate::analysis::{self, terms};
use crate::flags;
use crate::scope::{typed, Documents, Scope};
use crate::snippet::Marker;
use crate::IndexKind;

/// Matches counted exactly; past this the total is "more than".
const COUNT_BOUND: u64 = 10_000;
/// How long a workspace's size is trusted before it is counted again.
const SIZE_TTL: Duration = Duration::from_secs(600);

/// Where the cluster is and how its indexes are laid out.
#[derive(Clone, Debug)]
pub struct ElasticsearchOptions {
    /// `http://host:9200` (user and password in the URL are sent as basic
    /// authentication).
    pub url: String,
    /// Start of every index and alias name.
    pub prefix: String,
    pub shards: u32,
    pub replicas: u32,
    /// As Elasticsearch writes it: `5s`.
    pub refresh_interval: String,
    /// Shared indexes workspaces are spread over.
    pub shared_indexes: u32,
    /// A workspace with more members than this has its own index.
    pub dedicated_members: u64,
    /// One index per month within each placement.
    pub monthly: bool,
    pub timeout: Duration,
}

impl ElasticsearchOptions {
    /// The design's layout at `url`: 5 shards, 1 replica, 5 s refresh, 10
    /// shared indexes, a dedicated one past 10,000 members.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "confab".into(),
            shards: 5,
            replicas: 1,
            refresh_interval: "5s".into(),
            shared_indexes: 10,
            dedicated_members: 10_000,
            monthly: false,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Messages in an Elasticsearch or OpenSearch cluster.
pub struct ElasticsearchIndex {
    http: reqwest::Client,
    base: Url,
    credentials: Option<(String, String)>,
    options: ElasticsearchOptions,
    workspaces: Arc<dyn WorkspaceStore>,
    /// Aliases known to exist.
    known: Mutex<HashSet<String>>,
    /// Whether each workspace has its own index, and when that was counted.
    dedicated: Mutex<HashMap<WorkspaceId, (bool, Instant)>>,
}

impl ElasticsearchIndex {
    /// Connect, and check that the cluster answers.
    pub async fn connect(
        options: ElasticsearchOptions,
        workspaces: Arc<dyn WorkspaceStore>,
    ) -> Result<Self> {
        let mut base = Url::parse(&options.url)
            .map_err(|e| Error::Unavailable(format!("search.url is not a URL: {e}")))?;
        if base.scheme() != "http" {
            return Err(Error::Unavailable(
                "search.url must be http:// (this build has no TLS client; put the cluster behind a local proxy)"
                    .into(),
            ));
        }
        let decoded = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = (!base.username().is_empty()).then(|| {
            let user = decoded(base.username());
            (user, decoded(base.password().unwrap_or_default()))
        });
        let _ = base.set_username("");
        let _ = base.set_password(None);
        // Paths are joined to it: `http://proxy/es` must keep its `es`.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .build()
            .map_err(|e| Error::Unavailable(format!("search client: {e}")))?;
        let index = Self {
            http,
            base,
            credentials,
            options,
            workspaces,
            known: Mutex::new(HashSet::new()),
            dedicated: Mutex::new(HashMap::new()),
        };
        let about = index.call(Method::GET, "/", None).await?;
        if about["version"]["number"].as_str().is_none() {
            return Err(Error::Unavailable(
                "search.url does not answer as Elasticsearch or OpenSearch".into(),
            ));
        }
        Ok(index)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Body>,
    ) -> Result<(StatusCode, Value)> {
        let url = self
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::internal(format!("search path {path}: {e}")))?;
        let mut request = self.http.request(method, url);
        if let Some((user, password)) = &self.credentials {
            request = request.basic_auth(user, Some(password));
        }
        request = match body {
            Some(Body::Json(value)) => request.json(&value),
            Some(Body::Lines(text)) => request
                .header("content-type", "application/x-ndjson")
                .body(text),
            None => request,
        };
        let response = request.send().await.map_err(|e| {
            Error::Unavailable(format!(
                "cannot reach the search cluster at search.url: {e}"
            ))
        })?;
        let status = response.status();
        let value = response.json().await.unwrap_or(Value::Null);
        Ok((status, value))
    }

    /// A call that must succeed.
    async fn call(&self, method: Method, path: &str, body: Option<Body>) -> Result<Value> {
        let (status, value) = self.send(method, path, body).await?;
        if !status.is_success() {
            return Err(cluster_error(status, &value));
        }
        Ok(value)
    }

    /// Whether `workspace` has an index of its own.
    async fn is_dedicated(&self, workspace: WorkspaceId) -> Result<bool> {
        if let Some((dedicated, at)) = self.dedicated.lock().expect("sizes").get(&workspace) {
            if at.elapsed() < SIZE_TTL {
                return Ok(*dedicated);
            }
        }
        let members = self
            .workspaces
            .count_active_members(workspace, None)
            .await?;
        let dedicated = members as u64 > self.options.dedicated_members;
        self.dedicated
            .lock()
            .expect("sizes")
            .insert(workspace, (dedicated, Instant::now()));
        Ok(dedicated)
    }

    /// The alias a message is written to.
    async fn alias_of(&self, message: &MessageDocument) -> Result<String> {
        let dedicated = self.is_dedicated(message.workspace_id).await?;
        Ok(self
            .layout()
            .alias(message.workspace_id, dedicated, message.created_at))
    }

    fn layout(&self) -> Layout<'_> {
        Layout(&self.options)
    }

    /// Create `alias` (and the index behind it) unless it exists.
    async fn ensure_alias(&self, alias: &str) -> Result<()> {
        if self.known.lock().expect("aliases").contains(alias) {
            return Ok(());
        }
        let (status, _) = self
            .send(Method::HEAD, &format!("/_alias/{alias}"), None)
            .await?;
        if status == StatusCode::NOT_FOUND {
            let physical = self.layout().live_index(alias);
            let mut body = self.layout().index_body(alias);
            let mut aliases = serde_json::Map::new();
            aliases.insert(alias.to_owned(), json!({}));
            body["aliases"] = Value::Object(aliases);
            let (status, value) = self
                .send(Method::PUT, &format!("/{physical}"), Some(Body::Json(body)))
                .await?;
            // Another node may have made it first.
            let raced = value["error"]["type"] == "resource_already_exists_exception";
            if !status.is_success() && !raced {
                return Err(cluster_error(status, &value));
            }
        } else if !status.is_success() {
            return Err(Error::Unavailable(format!(
                "search cluster answered {status} for alias {alias}"
            )));
        }
        self.known.lock().expect("aliases").insert(alias.to_owned());
        Ok(())
    }

    /// Send `actions` in one `_bulk` request. A write older than the
    /// document held (a version conflict) is dropped as meant; a delete of
    /// what is absent is no error; any other refusal fails the call.
    async fn bulk(&self, actions: &[Action], refresh: Refresh) -> Result<()> {
        if actions.is_empty() {
            return Ok(());
        }
        let mut lines = String::new();
        for action in actions {
            action.write_to(&mut lines);
        }
        let answer = self
            .call(Method::POST, refresh.bulk_path(), Some(Body::Lines(lines)))
            .await?;
        if answer["errors"] != true {
            return Ok(());
        }
        let refused = answer["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| &item["index"]["error"])
            .filter(|error| error.is_object())
            .find(|error| error["type"] != "version_conflict_engine_exception");
        let Some(error) = refused else {
            return Ok(());
        };
        if error["type"] == "index_not_found_exception" {
            // An alias this node made was removed (a rebuild swapped them):
            // make it again on the next try.
            self.known.lock().expect("aliases").clear();
        }
        Err(Error::Unavailable(format!(
            "the search cluster refused documents: {error}"
        )))
    }

    /// Remove the documents of `ids` from every message index.
    async fn delete(&self, ids: &[MessageId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let values: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        let pattern = self.layout().all_aliases();
        self.call(
            Method::POST,
            &format!("/{pattern}/_delete_by_query?refresh=true&conflicts=proceed&allow_no_indices=true&ignore_unavailable=true"),
            Some(Body::Json(json!({"query": {"ids": {"values": values}}}))),
        )
        .await?;
        Ok(())
    }

    /// Write the current state of messages read after a rebuild's swap:
    /// documents through the aliases, deleted ones removed, each batch made
    /// searchable at once (so a delete by query right after sees it).
    pub async fn write_current(
        &self,
        upserts: &[MessageDocument],
        deletes: &[MessageId],
    ) -> Result<()> {
        self.write(upserts, deletes, Refresh::Now).await
    }

    /// Remove `deletes`, then write `upserts` through their aliases (made
    /// when missing).
    async fn write(
        &self,
        upserts: &[MessageDocument],
        deletes: &[MessageId],
        refresh: Refresh,
    ) -> Result<()> {
        let mut actions = Vec::with_capacity(upserts.len() * 2);
        for message in upserts {
            let dedicated = self.is_dedicated(message.workspace_id).await?;
            let layout = self.layout();
            let alias = layout.alias(message.workspace_id, dedicated, message.created_at);
            self.ensure_alias(&alias).await?;
            // A workspace that changed size: its copy in the other place goes.
            let other = layout.alias(message.workspace_id, !dedicated, message.created_at);
            actions.push(Action::Delete(other, message.id.to_string()));
            actions.push(Action::Index(alias, Indexed::message(message)));
        }
        self.delete(deletes).await?;
        self.bulk(&actions, refresh).await
    }

    /// Take `deletes` out of the files index and write `upserts` into it.
    pub async fn write_files(
        &self,
        upserts: &[FileDocument],
        deletes: &[FileId],
        refresh: bool,
    ) -> Result<()> {
        let alias = self.layout().files_alias();
        self.ensure_alias(&alias).await?;
        let mut actions: Vec<Action> = deletes
            .iter()
            .map(|id| Action::Delete(alias.clone(), id.to_string()))
            .collect();
        actions.extend(
            upserts
                .iter()
                .map(|file| Action::Index(alias.clone(), Indexed::file(file))),
        );
        let refresh = if refresh {
            Refresh::Now
        } else {
            Refresh::WaitFor
        };
        self.bulk(&actions, refresh).await
    }

    /// Replace every document of `users` in the users index by
    /// `documents`.
    pub async fn write_people(
        &self,
        users: &[UserId],
        documents: &[PersonDocument],
        refresh: bool,
    ) -> Result<()> {
        let alias = self.layout().users_alias();
        self.ensure_alias(&alias).await?;
        if !users.is_empty() {
            let ids: Vec<String> = users.iter().map(|id| id.to_string()).collect();
            self.call(
                Method::POST,
                &format!("/{alias}/_delete_by_query?refresh=true&conflicts=proceed"),
                Some(Body::Json(json!({"query": {"terms": {"user_id": ids}}}))),
            )
            .await?;
        }
        let actions: Vec<Action> = documents
            .iter()
            .map(|person| Action::Index(alias.clone(), Indexed::person(person)))
            .collect();
        let refresh = if refresh {
            Refresh::Now
        } else {
            Refresh::WaitFor
        };
        self.bulk(&actions, refresh).await
    }

    /// Start a rebuild of the `kind` indexes: new physical indexes are
    /// filled while the aliases keep pointing at the old ones.
    pub fn rebuild(&self, kind: IndexKind) -> Rebuild<'_> {
        Rebuild {
            index: self,
            kind,
            stamp: Utc::now().format("%Y%m%d%H%M%S").to_string(),
            made: HashMap::new(),
        }
    }

    /// One page of `search` over `targets`, with snippets made from each
    /// hit's text.
    async fn search(
        &self,
        kind: Documents,
        targets: &str,
        search: &Scope<'_>,
    ) -> Result<SearchHits<uuid::Uuid>> {
        let answer = self
            .call(
                Method::POST,
                &format!("/{targets}/_search?ignore_unavailable=true&allow_no_indices=true"),
                Some(Body::Json(search_body(kind, search))),
            )
            .await?;
        let mut marker = Marker::new(search.query);
        hits_of(kind, &answer, marker.as_mut())
    }
}

/// A rebuild under way.
pub struct Rebuild<'a> {
    index: &'a ElasticsearchIndex,
    kind: IndexKind,
    stamp: String,
    /// Alias → the new physical index made for it.
    made: HashMap<String, String>,
}

impl Rebuild<'_> {
    /// Write `documents` into the new indexes.
    pub async fn write(&mut self, documents: &[MessageDocument]) -> Result<()> {
        let mut actions = Vec::with_capacity(documents.len());
        for message in documents {
            let alias = self.index.alias_of(message).await?;
            let physical = self.physical(&alias).await?;
            actions.push(Action::Index(physical, Indexed::message(message)));
        }
        self.index.bulk(&actions, Refresh::No).await
    }

    /// Write person `documents` into the new users index.
    pub async fn write_people(&mut self, documents: &[PersonDocument]) -> Result<()> {
        let physical = self.physical(&self.index.layout().users_alias()).await?;
        let actions: Vec<Action> = documents
            .iter()
            .map(|person| Action::Index(physical.clone(), Indexed::person(person)))
            .collect();
        self.index.bulk(&actions, Refresh::No).await
    }

    /// Write file `documents` into the new files index.
    pub async fn write_files(&mut self, documents: &[FileDocument]) -> Result<()> {
        let physical = self.physical(&self.index.layout().files_alias()).await?;
        let actions: Vec<Action> = documents
            .iter()
            .map(|file| Action::Index(physical.clone(), Indexed::file(file)))
            .collect();
        self.index.bulk(&actions, Refresh::No).await
    }

    /// The new physical index of `alias`, made at first use.
    async fn physical(&mut self, alias: &str) -> Result<String> {
        if let Some(physical) = self.made.get(alias) {
            return Ok(physical.clone());
        }
        let physical = self.index.layout().rebuilt_index(alias, &self.stamp);
        let body = self.index.layout().index_body(alias);
        self.index
            .call(Method::PUT, &format!("/{physical}"), Some(Body::Json(body)))
            .await?;
        self.made.insert(alias.to_owned(), physical.clone());
        Ok(physical)
    }

    /// Point every alias at its new index in one call, and remove the old
    /// indexes (and aliases of placements that have no messages any more).
    /// Changes made by servers meanwhile went to the old indexes: write
    /// every message again afterwards ([`ElasticsearchIndex::write_current`]).
    pub async fn swap(self) -> Result<()> {
        let index = self.index;
        for physical in self.made.values() {
            index
                .call(Method::POST, &format!("/{physical}/_refresh"), None)
                .await?;
        }
        let pattern = index.layout().aliases_of(self.kind);
        let (status, current) = index
            .send(Method::GET, &format!("/_alias/{pattern}"), None)
            .await?;
        if !status.is_success() && status != StatusCode::NOT_FOUND {
            return Err(cluster_error(status, &current));
        }
        let mut old: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (physical, entry) in current.as_object().into_iter().flatten() {
            for alias in entry["aliases"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(a, _)| a)
            {
                old.entry(physical.clone()).or_default().push(alias.clone());
            }
        }
        let mut actions: Vec<Value> = Vec::new();
        for (physical, aliases) in &old {
            for alias in aliases {
                actions.push(json!({"remove": {"index": physical, "alias": alias}}));
            }
        }
        for (alias, physical) in &self.made {
            actions.push(json!({"add": {"index": physical, "alias": alias}}));
        }
        if !actions.is_empty() {
            index
                .call(
                    Method::POST,
                    "/_aliases",
                    Some(Body::Json(json!({"actions": actions}))),
                )
                .await?;
        }
        for physical in old.keys() {
            index
                .call(Method::DELETE, &format!("/{physical}"), None)
                .await?;
        }
        let mut known = index.known.lock().expect("aliases");
        known.clear();
        known.extend(self.made.into_keys());
        Ok(())
    }
}

enum Body {
    Json(Value),
    Lines(String),
}

/// A document to index: its id, version and JSON.
struct Indexed {
    id: String,
    version: i64,
    body: Value,
}

impl Indexed {
    fn message(message: &MessageDocument) -> Self {
        Self {
            id: message.id.to_string(),
            version: message.version,
            body: document(message),
        }
    }

    fn person(person: &PersonDocument) -> Self {
        Self {
            id: format!("{}:{}", person.user_id, person.workspace_id),
            version: person.version,
            body: person_document(person),
        }
    }

    fn file(file: &FileDocument) -> Self {
        Self {
            id: file.id.to_string(),
            version: file.version,
            body: file_document(file),
        }
    }
}

/// One line pair (or line) of a `_bulk` request.
enum Action {
    /// Write the document into this index or alias, unless the one there
    /// has a higher version.
    Index(String, Indexed),
    /// Remove the document of this id from this alias, if it is there.
    Delete(String, String),
}

impl Action {
    fn write_to(&self, lines: &mut String) {
        let head = match self {
            Action::Index(index, document) => json!({"index": {
                "_index": index,
                "_id": document.id,
                "version": document.version,
                "version_type": "external_gte",
                "require_alias": is_alias(index),
            }}),
            Action::Delete(alias, id) => {
                json!({"delete": {"_index": alias, "_id": id}})
            }
        };
        lines.push_str(&head.to_string());
        lines.push('\n');
        if let Action::Index(_, document) = self {
            lines.push_str(&document.body.to_string());
            lines.push('\n');
        }
    }
}

/// Alias names have `messages-…` or `files` right after the prefix;
/// physical ones a generation first ([`Layout::physical`]).
fn is_alias(index: &str) -> bool {
    index.split_once('-').is_some_and(|(_, rest)| {
        rest.starts_with("messages-") || rest == "files" || rest == "users"
    })
}

/// When the documents of a `_bulk` request become searchable.
#[derive(Clone, Copy)]
enum Refresh {
    /// At the next refresh.
    No,
    /// Before the request returns, at the next refresh.
    WaitFor,
    /// Before the request returns, by a refresh it forces.
    Now,
}

impl Refresh {
    fn bulk_path(self) -> &'static str {
        match self {
            Refresh::No => "/_bulk",
            Refresh::WaitFor => "/_bulk?refresh=wait_for",
            Refresh::Now => "/_bulk?refresh=true",
        }
    }
}

fn cluster_error(status: StatusCode, value: &Value) -> Error {
    let reason = value["error"]["reason"]
        .as_str()
        .or_else(|| value["error"].as_str())
        .unwrap_or("no reason given");
    Error::Unavailable(format!("the search cluster answered {status}: {reason}"))
}

/// Index and alias names, settings and mappings.
struct Layout<'a>(&'a ElasticsearchOptions);

impl Layout<'_> {
    /// The alias of a message in `workspace` sent at `at`.
    fn alias(&self, workspace: WorkspaceId, dedicated: bool, at: DateTime<Utc>) -> String {
        let mut alias = self.placement(workspace, dedicated);
        if self.0.monthly {
            alias.push_str(&format!("-{:04}.{:02}", at.year(), at.month()));
        }
        alias
    }

    fn placement(&self, workspace: WorkspaceId, dedicated: bool) -> String {
        let prefix = &self.0.prefix;
        if dedicated {
            format!("{prefix}-messages-ws-{}", workspace.0.simple())
        } else {
            let shard = shared_shard(workspace, self.0.shared_indexes);
            format!("{prefix}-messages-shared-{shard}")
        }
    }

    /// What a search of `workspace` reads: its shared index and its own
    /// (either may be absent), every month when monthly.
    fn search_targets(&self, workspace: WorkspaceId) -> String {
        let month = if self.0.monthly { "-*" } else { "" };
        [false, true]
            .map(|dedicated| format!("{}{month}", self.placement(workspace, dedicated)))
            .join(",")
    }

    fn all_aliases(&self) -> String {
        self.aliases_of(IndexKind::Messages)
    }

    /// The aliases of every index of `kind`, as a pattern.
    fn aliases_of(&self, kind: IndexKind) -> String {
        match kind {
            IndexKind::Messages => format!("{}-messages-*", self.0.prefix),
            IndexKind::Files => self.files_alias(),
            IndexKind::People => self.users_alias(),
        }
    }

    /// The alias of the users index.
    fn users_alias(&self) -> String {
        format!("{}-users", self.0.prefix)
    }

    /// The alias of the files index.
    fn files_alias(&self) -> String {
        format!("{}-files", self.0.prefix)
    }

    /// The settings and mappings of the index behind `alias`.
    fn index_body(&self, alias: &str) -> Value {
        if alias == self.files_alias() {
            self.files_index()
        } else if alias == self.users_alias() {
            self.users_index()
        } else {
            self.messages_index()
        }
    }

    /// The design's users index, with the words and order key Confab adds.
    fn users_index(&self) -> Value {
        json!({
            "settings": self.settings(),
            "mappings": {
                "properties": {
                    "user_id": {"type": "keyword"},
                    "workspace_id": {"type": "keyword"},
                    "username": {"type": "keyword"},
                    "display_name": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
                    "email": {"type": "keyword"},
                    "title": {"type": "text"},
                    "department": {"type": "keyword"},
                    "bio": {"type": "text"},
                    "status": {"type": "keyword"},
                    "last_active": {"type": "date"},
                    "words": {"type": "keyword"},
                    "name_key": {"type": "keyword"},
                }
            }
        })
    }

    fn settings(&self) -> Value {
        json!({
            "number_of_shards": self.0.shards,
            "number_of_replicas": self.0.replicas,
            "refresh_interval": self.0.refresh_interval,
        })
    }

    /// The design's files index, with the fields Confab's analyzer fills.
    fn files_index(&self) -> Value {
        json!({
            "settings": self.settings(),
            "mappings": {
                "properties": {
                    "file_id": {"type": "keyword"},
                    "workspace_id": {"type": "keyword"},
                    "filename": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
                    "file_size": {"type": "long"},
                    "mime_type": {"type": "keyword"},
                    "uploader_id": {"type": "keyword"},
                    "uploader_name": {"type": "text"},
                    "extracted_text": {"type": "text"},
                    "created_at": {"type": "date"},
                    "channel_ids": {"type": "keyword"},
                    "tags": {"type": "keyword"},
                    "words": {"type": "text", "analyzer": "whitespace"},
                    "exact": {"type": "keyword"},
                    "flags": {"type": "keyword"},
                    "created_micros": {"type": "long"},
                }
            }
        })
    }

    /// The physical index a live node creates behind `alias`.
    fn live_index(&self, alias: &str) -> String {
        self.physical(alias, "live")
    }

    /// The physical index a rebuild fills for `alias`.
    fn rebuilt_index(&self, alias: &str, stamp: &str) -> String {
        self.physical(alias, &format!("r{stamp}"))
    }

    /// Physical names never match [`Self::all_aliases`], so a search by
    /// pattern reads each document once.
    fn physical(&self, alias: &str, generation: &str) -> String {
        let rest = alias.strip_prefix(&self.0.prefix).unwrap_or(alias);
        format!("{}-{generation}{rest}", self.0.prefix)
    }

    /// The design's messages index (mappings and settings), with the fields
    /// Confab's analyzer fills.
    fn messages_index(&self) -> Value {
        json!({
            "settings": self.settings(),
            "mappings": {
                "properties": {
                    "message_id": {"type": "keyword"},
                    "workspace_id": {"type": "keyword"},
                    "channel_id": {"type": "keyword"},
                    "user_id": {"type": "keyword"},
                    "username": {"type": "keyword"},
                    "display_name": {"type": "text"},
                    "content": {"type": "text", "analyzer": "standard", "search_analyzer": "standard"},
                    "message_type": {"type": "keyword"},
                    "thread_id": {"type": "keyword"},
                    "created_at": {"type": "date"},
                    "updated_at": {"type": "date"},
                    "mentions": {"type": "keyword"},
                    "channel_name": {"type": "keyword"},
                    "has_files": {"type": "boolean"},
                    "reaction_count": {"type": "integer"},
                    "words": {"type": "text", "analyzer": "whitespace"},
                    "exact": {"type": "keyword"},
                    "flags": {"type": "keyword"},
                    "created_micros": {"type": "long"},
                }
            }
        })
    }
}

/// Which shared index a workspace's messages go to: FNV-1a of its id's
/// bytes, modulo `count`.
fn shared_shard(workspace: WorkspaceId, count: u32) -> u32 {
    let hash = workspace
        .0
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        });
    (hash % u64::from(count.max(1))) as u32
}

/// The analyzer's words (in order) and exact tokens (a set) of `text`.
fn analyzed(text: &str) -> (String, Vec<String>) {
    let words = terms(&mut analysis::words(), text).join(" ");
    let mut exact = terms(&mut analysis::exact(), text);
    exact.sort();
    exact.dedup();
    (words, exact)
}

/// The JSON document of a file.
fn file_document(file: &FileDocument) -> Value {
    let (words, exact) = analyzed(&file.content());
    json!({
        "file_id": file.id.to_string(),
        "workspace_id": file.workspace_id.to_string(),
        "filename": file.name,
        "uploader_id": file.uploader_id.to_string(),
        "extracted_text": file.text,
        "created_at": file.created_at.to_rfc3339(),
        "created_micros": file.created_at.timestamp_micros(),
        "channel_ids": file.channels.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "words": words,
        "exact": exact,
        "flags": flags::of_file(file),
    })
}

/// The JSON document of a person in a workspace.
fn person_document(person: &PersonDocument) -> Value {
    json!({
        "user_id": person.user_id.to_string(),
        "workspace_id": person.workspace_id.to_string(),
        "username": person.username.to_lowercase(),
        "display_name": person.display_name,
        "email": person.email,
        "title": person.title,
        "department": person.department,
        "status": "active",
        "words": person.words(),
        "name_key": person.name_key(),
    })
}

/// The query DSL of a people search: each word starts a word (or, for
/// admins, the address), within the workspace, by display name.
fn people_body(search: &PeopleSearch) -> Value {
    let must: Vec<Value> = search
        .words
        .iter()
        .map(|word| {
            let mut starts = vec![json!({"prefix": {"words": word}})];
            if search.by_email {
                starts.push(json!({"prefix": {"email": word}}));
            }
            json!({"bool": {"should": starts, "minimum_should_match": 1}})
        })
        .collect();
    json!({
        "size": search.limit.max(1),
        "query": {"bool": {
            "must": must,
            "filter": [{"term": {"workspace_id": search.workspace_id.to_string()}}],
        }},
        "sort": [{"name_key": "asc"}, {"username": "asc"}],
        "_source": ["user_id"],
    })
}

/// The JSON document of a message.
fn document(message: &MessageDocument) -> Value {
    let (words, exact) = analyzed(&message.content);
    json!({
        "message_id": message.id.to_string(),
        "workspace_id": message.workspace_id.to_string(),
        "channel_id": message.channel_id.to_string(),
        "user_id": message.user_id.to_string(),
        "thread_id": message.thread_id.map(|t| t.to_string()),
        "content": message.content,
        "created_at": message.created_at.to_rfc3339(),
        "created_micros": message.created_at.timestamp_micros(),
        "has_files": message.has_file,
        "words": words,
        "exact": exact,
        "flags": flags::of_document(message),
    })
}

/// The id, channel and author fields of the documents of `kind`.
fn field_names(kind: Documents) -> (&'static str, &'static str, &'static str) {
    match kind {
        Documents::Messages => ("message_id", "channel_id", "user_id"),
        Documents::Files => ("file_id", "channel_ids", "uploader_id"),
    }
}

/// The query DSL of a search: the words as scoring clauses, the rights and
/// filters as filter clauses of their own.
fn search_body(kind: Documents, search: &Scope<'_>) -> Value {
    let (id_field, channel_field, author_field) = field_names(kind);
    let mut words = analysis::words();
    let mut exact = analysis::exact();
    let must: Vec<Value> = search
        .query
        .must
        .iter()
        .filter_map(|group| {
            let alternatives: Vec<Value> = group
                .iter()
                .filter_map(|t| term_query(&mut words, &mut exact, t))
                .collect();
            (!alternatives.is_empty())
                .then(|| json!({"bool": {"should": alternatives, "minimum_should_match": 1}}))
        })
        .collect();
    let must_not: Vec<Value> = search
        .query
        .must_not
        .iter()
        .filter_map(|t| term_query(&mut words, &mut exact, t))
        .collect();
    let channels: Vec<String> = search.channels.iter().map(|c| c.to_string()).collect();
    let in_channels = json!({"terms": {channel_field: channels}});
    let readable = match search.or_author {
        Some(author) => json!({"bool": {"should": [
            in_channels,
            {"term": {author_field: author.to_string()}},
        ], "minimum_should_match": 1}}),
        None => in_channels,
    };
    let mut filter = vec![
        json!({"term": {"workspace_id": search.workspace.to_string()}}),
        readable,
    ];
    if !search.authors.is_empty() {
        let authors: Vec<String> = search.authors.iter().map(|u| u.to_string()).collect();
        filter.push(json!({"terms": {author_field: authors}}));
    }
    if search.since.is_some() || search.until.is_some() {
        let mut range = serde_json::Map::new();
        if let Some(since) = search.since {
            range.insert("gte".into(), json!(since.timestamp_micros()));
        }
        if let Some(until) = search.until {
            range.insert("lt".into(), json!(until.timestamp_micros()));
        }
        filter.push(json!({"range": {"created_micros": range}}));
    }
    for flag in &search.all_flags {
        filter.push(json!({"term": {"flags": flag}}));
    }
    if !search.any_flags.is_empty() {
        filter.push(json!({"terms": {"flags": search.any_flags}}));
    }
    let by_date = search.by_date();
    let sort = if by_date {
        json!([{"created_micros": "desc"}, {id_field: "desc"}])
    } else {
        json!([{"_score": "desc"}, {id_field: "desc"}])
    };
    let source = match kind {
        Documents::Messages => json!(["content"]),
        Documents::Files => json!(["filename", "extracted_text"]),
    };
    let mut body = json!({
        "size": search.limit,
        "track_total_hits": COUNT_BOUND,
        "query": {"bool": {"must": must, "must_not": must_not, "filter": filter}},
        "sort": sort,
        "_source": source,
    });
    if let Some((key, id)) = search.after {
        let key = if by_date {
            json!(key as i64)
        } else {
            json!(key)
        };
        body["search_after"] = json!([key, id.to_string()]);
    }
    body
}

/// As the other engines: a word is its whole token or its words in a row;
/// a prefix starts a whole token; a phrase is words in a row.
fn term_query(
    words: &mut TextAnalyzer,
    exact: &mut TextAnalyzer,
    term: &SearchTerm,
) -> Option<Value> {
    let in_a_row = |parts: Vec<String>| match parts.as_slice() {
        [one] => json!({"term": {"words": one}}),
        _ => {
            json!({"match_phrase": {"words": {"query": parts.join(" "), "analyzer": "whitespace"}}})
        }
    };
    match term {
        SearchTerm::Word(word) => {
            let whole = terms(exact, word).into_iter().next()?;
            let mut alternatives = vec![json!({"term": {"exact": whole}})];
            let parts = terms(words, word);
            if !parts.is_empty() {
                alternatives.push(in_a_row(parts));
            }
            Some(json!({"bool": {"should": alternatives, "minimum_should_match": 1}}))
        }
        SearchTerm::Prefix(prefix) => {
            let whole = terms(exact, prefix).into_iter().next()?;
            Some(json!({"prefix": {"exact": whole}}))
        }
        SearchTerm::Phrase(phrase) => {
            let parts = terms(words, phrase);
            (!parts.is_empty()).then(|| in_a_row(parts))
        }
    }
}

/// The hits of a search answer, with snippets made from their text.
fn hits_of(
    kind: Documents,
    answer: &Value,
    marker: Option<&mut Marker>,
) -> Result<SearchHits<uuid::Uuid>> {
    let mut marker = marker;
    let mut hits = Vec::new();
    for hit in answer["hits"]["hits"].as_array().into_iter().flatten() {
        let id: uuid::Uuid = hit["_id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| Error::Unavailable("a search hit without an id".into()))?;
        let key = hit["sort"][0].as_f64().unwrap_or(0.0);
        let source = &hit["_source"];
        let text = match kind {
            Documents::Messages => source["content"].as_str().map(str::to_owned),
            Documents::Files => source["filename"].as_str().map(|name| {
                file_content(name, source["extracted_text"].as_str().unwrap_or_default())
            }),
        };
        let snippet = match (&mut marker, text) {
            (Some(marker), Some(text)) => marker.snippet(&text),
            _ => None,
        };
        hits.push(SearchHit { id, key, snippet });
    }
    let total = &answer["hits"]["total"];
    Ok(SearchHits {
        hits,
        total: total["value"].as_u64().unwrap_or(0),
        total_is_exact: total["relation"] != "gte",
    })
}

#[async_trait]
impl SearchIndex for ElasticsearchIndex {
    fn backend(&self) -> &'static str {
        "elasticsearch"
    }

    async fn index_messages(
        &self,
        upserts: &[MessageDocument],
        deletes: &[MessageId],
    ) -> Result<()> {
        self.write(upserts, deletes, Refresh::WaitFor).await
    }

    async fn search_messages(&self, search: &MessageSearch) -> Result<MessageHits> {
        let targets = self.layout().search_targets(search.workspace_id);
        let hits = self
            .search(Documents::Messages, &targets, &Scope::from(search))
            .await?;
        Ok(typed(hits, MessageId))
    }

    async fn index_files(&self, upserts: &[FileDocument], deletes: &[FileId]) -> Result<()> {
        self.write_files(upserts, deletes, false).await
    }

    async fn search_files(&self, search: &FileSearch) -> Result<FileHits> {
        let targets = self.layout().files_alias();
        let hits = self
            .search(Documents::Files, &targets, &Scope::from(search))
            .await?;
        Ok(typed(hits, FileId))
    }

    async fn index_people(&self, users: &[UserId], documents: &[PersonDocument]) -> Result<()> {
        self.write_people(users, documents, false).await
    }

    async fn search_people(&self, search: &PeopleSearch) -> Result<Vec<UserId>> {
        let alias = self.layout().users_alias();
        let answer = self
            .call(
                Method::POST,
                &format!("/{alias}/_search?ignore_unavailable=true&allow_no_indices=true"),
                Some(Body::Json(people_body(search))),
            )
            .await?;
        answer["hits"]["hits"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|hit| {
                hit["_source"]["user_id"]
                    .as_str()
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(|| Error::Unavailable("a people hit without a user id".into()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use confab_core::id::{ChannelId, UserId};
    use confab_core::search::{parse_query, FileKind, SearchCursor, SearchSort};

    fn layout_options(monthly: bool) -> ElasticsearchOptions {
        ElasticsearchOptions {
            monthly,
            ..ElasticsearchOptions::new("http://127.0.0.1:9200")
        }
    }

    #[test]
    fn workspaces_spread_over_the_shared_indexes_or_have_their_own() {
        let options = layout_options(false);
        let layout = Layout(&options);
        let workspace: WorkspaceId = "0190f6b2-4c2a-7d6e-9a51-3f0c2b7d8e11".parse().unwrap();
        let at = Utc.with_ymd_and_hms(2026, 3, 9, 0, 0, 0).unwrap();
        let shard = shared_shard(workspace, 10);
        assert_eq!(shard, shared_shard(workspace, 10), "stable");
        assert_eq!(
            layout.alias(workspace, false, at),
            format!("confab-messages-shared-{shard}")
        );
        assert_eq!(
            layout.alias(workspace, true, at),
            "confab-messages-ws-0190f6b24c2a7d6e9a513f0c2b7d8e11"
        );
        let counts = (0..1000).fold([0u32; 10], |mut counts, _| {
            counts[shared_shard(WorkspaceId::new(), 10) as usize] += 1;
            counts
        });
        assert!(counts.iter().all(|c| (50..=150).contains(c)), "{counts:?}");

        let monthly_options = layout_options(true);
        let monthly = Layout(&monthly_options);
        assert_eq!(
            monthly.alias(workspace, false, at),
            format!("confab-messages-shared-{shard}-2026.03")
        );
        assert_eq!(
            monthly.search_targets(workspace),
            format!("confab-messages-shared-{shard}-*,confab-messages-ws-0190f6b24c2a7d6e9a513f0c2b7d8e11-*")
        );
        // Physical indexes never match the alias pattern.
        let physical = layout.rebuilt_index("confab-messages-shared-3", "20261202");
        assert_eq!(physical, "confab-r20261202-messages-shared-3");
        assert!(!physical.starts_with("confab-messages-"));
        assert_eq!(
            layout.live_index("confab-messages-shared-3"),
            "confab-live-messages-shared-3"
        );
    }

    /// A message of March 9th, 2026, 10:00, saying `content`.
    fn message(content: &str) -> MessageDocument {
        let at = Utc.with_ymd_and_hms(2026, 3, 9, 10, 0, 0).unwrap();
        MessageDocument {
            id: MessageId::at(at),
            workspace_id: WorkspaceId::new(),
            channel_id: ChannelId::new(),
            user_id: UserId::new(),
            thread_id: None,
            content: content.into(),
            created_at: at,
            has_link: confab_core::search::has_link(content),
            has_file: false,
            has_reaction: false,
            is_pinned: false,
            version: 42,
        }
    }

    #[test]
    fn bulk_writes_are_versioned_and_clear_the_other_place() {
        let message = message("hello");
        let mut lines = String::new();
        Action::Delete("confab-messages-ws-1".into(), message.id.to_string()).write_to(&mut lines);
        Action::Index(
            "confab-messages-shared-3".into(),
            Indexed::message(&message),
        )
        .write_to(&mut lines);
        Action::Index(
            "confab-r2026-messages-shared-3".into(),
            Indexed::message(&message),
        )
        .write_to(&mut lines);
        let parsed: Vec<Value> = lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(parsed.len(), 5, "{lines}");
        assert!(lines.ends_with('\n'));
        let id = message.id.to_string();
        assert_eq!(
            parsed[0],
            json!({"delete": {"_index": "confab-messages-ws-1", "_id": id}})
        );
        assert_eq!(
            parsed[1],
            json!({"index": {"_index": "confab-messages-shared-3", "_id": id, "version": 42,
                "version_type": "external_gte", "require_alias": true}})
        );
        assert_eq!(parsed[2]["content"], "hello");
        assert_eq!(parsed[3]["index"]["require_alias"], false);
    }

    #[test]
    fn the_index_has_the_design_settings_and_mappings() {
        let options = layout_options(false);
        let index = Layout(&options).messages_index();
        assert_eq!(index["settings"]["number_of_shards"], 5);
        assert_eq!(index["settings"]["number_of_replicas"], 1);
        assert_eq!(index["settings"]["refresh_interval"], "5s");
        let fields = index["mappings"]["properties"].as_object().unwrap();
        for (field, kind) in [
            ("message_id", "keyword"),
            ("workspace_id", "keyword"),
            ("content", "text"),
            ("created_at", "date"),
            ("has_files", "boolean"),
            ("reaction_count", "integer"),
            ("words", "text"),
            ("exact", "keyword"),
        ] {
            assert_eq!(fields[field]["type"], kind, "{field}");
        }
    }

    #[test]
    fn documents_carry_the_analyzer_terms() {
        let mut message = message("Deploying parserConfig, see PLT-3699 https://x.test");
        message.is_pinned = true;
        let doc = document(&message);
        assert_eq!(
            doc["words"],
            "deploy parser config see plt 3699 https x test"
        );
        assert_eq!(
            doc["exact"],
            json!([
                "deploying",
                "https://x.test",
                "parserconfig",
                "plt-3699",
                "see"
            ])
        );
        assert_eq!(doc["flags"], json!(["link", "pin"]));
        assert_eq!(doc["created_micros"], message.created_at.timestamp_micros());
    }

    #[test]
    fn rights_and_filters_are_filter_clauses_and_words_score() {
        let workspace = WorkspaceId::new();
        let channel = ChannelId::new();
        let search = MessageSearch {
            workspace_id: workspace,
            channels: vec![channel],
            authors: Vec::new(),
            query: parse_query(r#"deploy "rolling restart" PLT-36* -flaky has:link"#),
            since: Some(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()),
            until: None,
            sort: SearchSort::Relevance,
            after: Some(SearchCursor {
                key: 1.5,
                id: MessageId::new(),
            }),
            limit: 20,
        };
        let body = search_body(Documents::Messages, &Scope::from(&search));
        let query = &body["query"]["bool"];
        assert_eq!(query["must"].as_array().unwrap().len(), 3);
        assert_eq!(
            query["must"][1]["bool"]["should"][0],
            json!({"match_phrase": {"words": {"query": "roll restart", "analyzer": "whitespace"}}})
        );
        assert_eq!(
            query["must"][2]["bool"]["should"][0],
            json!({"prefix": {"exact": "plt-36"}})
        );
        assert_eq!(
            query["must_not"][0]["bool"]["should"][0],
            json!({"term": {"exact": "flaky"}})
        );
        let filters = query["filter"].as_array().unwrap();
        assert_eq!(
            filters[0],
            json!({"term": {"workspace_id": workspace.to_string()}})
        );
        assert_eq!(
            filters[1],
            json!({"terms": {"channel_id": [channel.to_string()]}})
        );
        assert!(filters.contains(&json!({"term": {"flags": "link"}})));
        assert_eq!(body["sort"][0], json!({"_score": "desc"}));
        assert_eq!(body["search_after"][0], json!(1.5));
        assert_eq!(body["track_total_hits"], 10_000);
    }

    #[test]
    fn files_are_found_in_their_channels_or_by_their_uploader() {
        let options = layout_options(false);
        let layout = Layout(&options);
        assert_eq!(layout.files_alias(), "confab-files");
        assert!(is_alias("confab-files"));
        assert!(!is_alias(&layout.live_index("confab-files")));
        assert_eq!(
            layout.index_body("confab-files")["mappings"]["properties"]["channel_ids"]["type"],
            "keyword"
        );
        let (workspace, channel, me) = (WorkspaceId::new(), ChannelId::new(), UserId::new());
        let search = FileSearch {
            workspace_id: workspace,
            channels: vec![channel],
            uploaded_by: Some(me),
            uploaders: Vec::new(),
            query: parse_query("budget type:pdf type:spreadsheet"),
            since: None,
            until: None,
            sort: SearchSort::Relevance,
            after: None,
            limit: 20,
        };
        let body = search_body(Documents::Files, &Scope::from(&search));
        let filters = body["query"]["bool"]["filter"].as_array().unwrap();
        assert_eq!(
            filters[1],
            json!({"bool": {"should": [
                {"terms": {"channel_ids": [channel.to_string()]}},
                {"term": {"uploader_id": me.to_string()}},
            ], "minimum_should_match": 1}})
        );
        assert_eq!(
            filters[2],
            json!({"terms": {"flags": ["pdf", "spreadsheet"]}})
        );
        assert_eq!(body["sort"][1], json!({"file_id": "desc"}));
        let file = FileDocument {
            id: FileId::new(),
            workspace_id: workspace,
            uploader_id: me,
            channels: vec![channel],
            name: "Budget-2027.pdf".into(),
            text: "Quarterly numbers".into(),
            kind: FileKind::Pdf,
            created_at: Utc::now(),
            version: 3,
        };
        let doc = file_document(&file);
        assert_eq!(doc["words"], "budget 2027 pdf quarter number");
        assert_eq!(doc["flags"], json!(["pdf"]));
        assert_eq!(doc["channel_ids"], json!([channel.to_string()]));
    }

    #[test]
    fn people_are_found_by_the_start_of_their_words_in_the_users_index() {
        let options = layout_options(false);
        let layout = Layout(&options);
        assert!(is_alias(&layout.users_alias()));
        let mapping = layout.index_body("confab-users");
        assert_eq!(
            mapping["mappings"]["properties"]["department"]["type"],
            "keyword"
        );
        let workspace = WorkspaceId::new();
        let body = people_body(&PeopleSearch {
            workspace_id: workspace,
            words: vec!["mar".into()],
            by_email: true,
            limit: 20,
        });
        assert_eq!(
            body["query"]["bool"]["must"][0]["bool"]["should"],
            json!([{"prefix": {"words": "mar"}}, {"prefix": {"email": "mar"}}])
        );
        assert_eq!(
            body["query"]["bool"]["filter"][0],
            json!({"term": {"workspace_id": workspace.to_string()}})
        );
        assert_eq!(body["sort"][0], json!({"name_key": "asc"}));
    }

    #[test]
    fn answers_become_hits_with_snippets_and_bounded_totals() {
        let id = MessageId::new();
        let answer = json!({"hits": {
            "total": {"value": 10000, "relation": "gte"},
            "hits": [{"_id": id.to_string(), "_source": {"content": "we deploy today"}, "sort": [2.5, id.to_string()]}]
        }});
        let mut marker = Marker::new(&parse_query("deploy"));
        let hits = hits_of(Documents::Messages, &answer, marker.as_mut()).unwrap();
        assert_eq!((hits.total, hits.total_is_exact), (10_000, false));
        assert_eq!(hits.hits[0].id, id.0);
        assert_eq!(hits.hits[0].key, 2.5);
        assert_eq!(hits.hits[0].snippet.as_ref().unwrap().highlights, [[3, 9]]);
    }
}
