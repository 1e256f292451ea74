//! Search: the indexer that drains the outbox into the search index, and
//! searching messages with the caller's rights applied twice (as a filter
//! of the index query, and again on the messages read back).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};
use confab_core::id::{ChannelId, FileId, MessageId, UserId, WorkspaceId};
use confab_core::model::{
    Channel, ChannelType, File, MemberStatus, Message, User, UserStatus, WorkspaceRole,
};
use confab_core::permissions::{allows, WorkspaceAction};
use confab_core::ports::{SearchIndex, SearchKind, SearchWork};
use confab_core::search::{
    parse_query, person_documents, person_words, FileDocument, FileSearch, MessageDocument,
    MessageSearch, PeopleSearch, SearchCursor, SearchHit, SearchQuery, SearchSort, Snippet,
    MAX_QUERY_CHARS,
};
use confab_core::{time, Error, Result};
use tokio::sync::{watch, Notify};

use crate::channels::conversation_name;
use crate::{Caller, Services};

/// Outbox entries taken at a time.
const BATCH: u32 = 500;
/// How long an indexer holds the entries it took; another takes them after
/// (so a crashed indexer's batch waits this long). Indexing twice is
/// harmless (the index takes the current state by id), so the hold is
/// short rather than safe against the slowest batch.
const HOLD: chrono::Duration = chrono::Duration::seconds(10);
/// The indexer looks at the outbox at least this often (wake-ups come
/// sooner, with each change made through this node).
const IDLE_PAUSE: Duration = Duration::from_secs(1);
/// Longest wait between attempts while the search engine is failing.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(30);
/// Most results on one page.
pub const MAX_SEARCH_RESULTS: u32 = 100;
/// Longest person search.
const MAX_PERSON_QUERY_CHARS: usize = 100;

/// The search engine of a node, and the bell that wakes its indexer.
#[derive(Clone)]
pub(crate) struct Search {
    index: Arc<dyn SearchIndex>,
    wake: Arc<Notify>,
}

/// A search as asked (of messages, or with `FileId` cursors of files).
#[derive(Clone, Debug)]
pub struct SearchRequest<I = MessageId> {
    pub text: String,
    pub sort: SearchSort,
    pub after: Option<SearchCursor<I>>,
    pub limit: u32,
}

/// A message found, with what a result shows around it.
#[derive(Clone, Debug)]
pub struct FoundMessage {
    pub message: Message,
    pub channel: Channel,
    pub author: Option<User>,
    /// The thread's first message, for a reply.
    pub parent: Option<Message>,
    pub snippet: Option<Snippet>,
}

/// A file found, with who uploaded it.
#[derive(Clone, Debug)]
pub struct FoundFile {
    pub file: File,
    /// Absent when the account is gone.
    pub uploader: Option<User>,
    pub snippet: Option<Snippet>,
}

/// One page of files found.
#[derive(Clone, Debug)]
pub struct FileResults {
    pub query: SearchQuery,
    pub results: Vec<FoundFile>,
    pub total: u64,
    pub total_is_exact: bool,
    pub next: Option<SearchCursor<FileId>>,
}

/// People found, and whether the caller may see their addresses.
#[derive(Clone, Debug)]
pub struct FoundPeople {
    pub people: Vec<User>,
    pub addresses_shown: bool,
}

/// One page of results.
#[derive(Clone, Debug)]
pub struct SearchResults {
    pub query: SearchQuery,
    pub results: Vec<FoundMessage>,
    pub total: u64,
    pub total_is_exact: bool,
    pub next: Option<SearchCursor>,
}

impl Services {
    /// Index messages with `index` (and run [`Self::run_indexer`]).
    pub fn with_search(mut self, index: Arc<dyn SearchIndex>) -> Self {
        self.search = Some(Search {
            index,
            wake: Arc::new(Notify::new()),
        });
        self
    }

    /// The search engine's name, when there is one.
    pub fn search_backend(&self) -> Option<&'static str> {
        self.search.as_ref().map(|s| s.index.backend())
    }

    /// Outbox entries not indexed yet.
    pub async fn search_backlog(&self) -> Result<u64> {
        self.stores.search_queue.search_backlog().await
    }

    /// Wake the indexer: something changed.
    pub(crate) fn changed_for_search(&self) {
        if let Some(search) = &self.search {
            search.wake.notify_one();
        }
    }

    /// Index one batch of the outbox; how many entries it took. The entries
    /// go only once the index has them, so a crash at any point leaves them
    /// to be taken again.
    pub async fn index_pending(&self) -> Result<usize> {
        let Some(search) = &self.search else {
            return Ok(0);
        };
        let now = time::now();
        let work = self
            .stores
            .search_queue
            .claim_search_work(BATCH, now, now + HOLD)
            .await?;
        if work.is_empty() {
            return Ok(0);
        }
        self.index_message_work(&search.index, &work).await?;
        self.index_file_work(&search.index, &work).await?;
        self.index_person_work(&search.index, &work).await?;
        let seqs: Vec<i64> = work.iter().map(|w| w.seq).collect();
        self.stores.search_queue.finish_search_work(&seqs).await?;
        Ok(work.len())
    }

    /// Index the current state of the files `work` names.
    async fn index_file_work(
        &self,
        index: &Arc<dyn SearchIndex>,
        work: &[SearchWork],
    ) -> Result<()> {
        let versions = latest_versions(work, SearchKind::File);
        if versions.is_empty() {
            return Ok(());
        }
        let ids: Vec<FileId> = versions.keys().map(|id| FileId(*id)).collect();
        let mut found: HashMap<FileId, (File, Vec<ChannelId>)> = self
            .stores
            .files
            .files_for_search(&ids)
            .await?
            .into_iter()
            .map(|(file, channels)| (file.id, (file, channels)))
            .collect();
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for id in ids {
            let version = versions[&id.0];
            match found
                .remove(&id)
                .and_then(|(file, channels)| FileDocument::of(&file, channels, version))
            {
                Some(document) => upserts.push(document),
                None => deletes.push(id),
            }
        }
        index.index_files(&upserts, &deletes).await
    }

    /// Index the current state of the people `work` names: a document per
    /// active membership of an active account, none for the others.
    async fn index_person_work(
        &self,
        index: &Arc<dyn SearchIndex>,
        work: &[SearchWork],
    ) -> Result<()> {
        let versions = latest_versions(work, SearchKind::User);
        if versions.is_empty() {
            return Ok(());
        }
        let ids: Vec<UserId> = versions.keys().map(|id| UserId(*id)).collect();
        let accounts = self.stores.users.get_users(&ids).await?;
        let memberships = self.stores.workspaces.memberships_of(&ids).await?;
        let documents = person_documents(&accounts, &memberships, |id| versions[&id.0]);
        index.index_people(&ids, &documents).await
    }

    /// Index the current state of the messages `work` names.
    async fn index_message_work(
        &self,
        index: &Arc<dyn SearchIndex>,
        work: &[SearchWork],
    ) -> Result<()> {
        let versions = latest_versions(work, SearchKind::Message);
        if versions.is_empty() {
            return Ok(());
        }
        let ids: Vec<MessageId> = versions.keys().map(|id| MessageId(*id)).collect();
        let messages: HashMap<MessageId, Message> = self
            .stores
            .messages
            .get_messages(&ids)
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        let with_files = self.messages_with_files(&ids).await?;
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for id in ids {
            let version = versions[&id.0];
            match messages
                .get(&id)
                .and_then(|m| MessageDocument::of(m, with_files.contains(&id), version))
            {
                Some(document) => upserts.push(document),
                None => deletes.push(id),
            }
        }
        index.index_messages(&upserts, &deletes).await
    }

    /// Which of `ids` share a live file (`has:file`).
    pub async fn messages_with_files(
        &self,
        ids: &[MessageId],
    ) -> Result<std::collections::HashSet<MessageId>> {
        let attached = self.stores.files.files_for_messages(ids).await?;
        Ok(attached
            .into_iter()
            .map(|(link, _)| link.message_id)
            .collect())
    }

    /// Keep the index up to date until `stop` turns true: drain the outbox,
    /// then wait for a change (or a short pause). While the search engine
    /// fails, try again less and less often; posting is not affected.
    pub async fn run_indexer(&self, mut stop: watch::Receiver<bool>) {
        let Some(search) = self.search.clone() else {
            return;
        };
        let mut failures = 0u32;
        // Woken by a change (or at the start): there is work. After a
        // quiet pause, a read first: claiming takes a write transaction.
        let mut woken = true;
        loop {
            let waiting = woken || self.search_backlog().await.map_or(true, |n| n > 0);
            let outcome = if waiting {
                let indexed = self.index_pending().await;
                crate::count_job_run("search_indexing", &indexed);
                indexed
            } else {
                Ok(0)
            };
            let pause = match outcome {
                Ok(n) => {
                    failures = 0;
                    // A full batch: more may wait.
                    if n as u32 >= BATCH {
                        Duration::ZERO
                    } else {
                        IDLE_PAUSE
                    }
                }
                Err(err) => {
                    failures += 1;
                    tracing::warn!(error = %err, "indexing for search failed; retrying");
                    (IDLE_PAUSE * 2u32.saturating_pow(failures.min(5))).min(MAX_RETRY_PAUSE)
                }
            };
            if pause.is_zero() {
                continue;
            }
            woken = tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => return,
                () = search.wake.notified(), if failures == 0 => true,
                () = tokio::time::sleep(pause) => false,
            };
        }
    }

    /// Messages matching `request` that the caller may read now.
    pub async fn search_messages(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        request: SearchRequest,
    ) -> Result<SearchResults> {
        let (search, query, role) = self
            .prepare_search(caller, workspace, &request.text)
            .await?;
        let empty = |query: SearchQuery| SearchResults {
            query,
            results: Vec::new(),
            total: 0,
            total_is_exact: true,
            next: None,
        };
        let Some(rights) = self.rights(caller, workspace, role, &query).await? else {
            return Ok(empty(query));
        };
        // Messages are only in channels (an upload alone is no message).
        if rights.channels.is_empty() {
            return Ok(empty(query));
        }
        let limit = request.limit.clamp(1, MAX_SEARCH_RESULTS) as usize;
        let mut hits = search
            .index
            .search_messages(&MessageSearch {
                workspace_id: workspace,
                channels: rights.channels.clone(),
                authors: rights.authors.clone(),
                since: query.since.map(midnight),
                until: query.until.map(midnight),
                query: query.clone(),
                sort: request.sort,
                after: request.after,
                // One more: whether another page follows.
                limit: limit + 1,
            })
            .await?;
        let next = take_page(&mut hits.hits, limit);
        let allowed: HashSet<ChannelId> = rights.channels.into_iter().collect();
        let results = self
            .hydrate(
                workspace,
                &rights.readable,
                &allowed,
                &rights.authors,
                hits.hits,
            )
            .await?;
        Ok(SearchResults {
            query,
            results,
            total: hits.total,
            total_is_exact: hits.total_is_exact,
            next,
        })
    }

    /// Files matching `request` that the caller may read now: those they
    /// uploaded and those shared in a channel they may read (`in:` keeps
    /// only the latter, in the channels it names; `from:` narrows by
    /// uploader; `type:` by kind).
    pub async fn search_files(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        request: SearchRequest<FileId>,
    ) -> Result<FileResults> {
        let (search, query, role) = self
            .prepare_search(caller, workspace, &request.text)
            .await?;
        let empty = |query: SearchQuery| FileResults {
            query,
            results: Vec::new(),
            total: 0,
            total_is_exact: true,
            next: None,
        };
        let Some(rights) = self.rights(caller, workspace, role, &query).await? else {
            return Ok(empty(query));
        };
        let limit = request.limit.clamp(1, MAX_SEARCH_RESULTS) as usize;
        let mut hits = search
            .index
            .search_files(&FileSearch {
                workspace_id: workspace,
                channels: rights.channels.clone(),
                uploaded_by: (!rights.narrowed).then_some(caller.user.id),
                uploaders: rights.authors.clone(),
                since: query.since.map(midnight),
                until: query.until.map(midnight),
                query: query.clone(),
                sort: request.sort,
                after: request.after,
                // One more: whether another page follows.
                limit: limit + 1,
            })
            .await?;
        let next = take_page(&mut hits.hits, limit);
        let results = self
            .hydrate_files(caller, workspace, &rights, hits.hits)
            .await?;
        Ok(FileResults {
            query,
            results,
            total: hits.total,
            total_is_exact: hits.total_is_exact,
            next,
        })
    }

    /// The files of `hits`, read from the database and checked again: live,
    /// of this workspace, by an allowed uploader, and uploaded by the
    /// caller or shared now in a channel the search covers.
    async fn hydrate_files(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        rights: &Rights,
        hits: Vec<SearchHit<FileId>>,
    ) -> Result<Vec<FoundFile>> {
        let ids: Vec<FileId> = hits.iter().map(|h| h.id).collect();
        let allowed: HashSet<ChannelId> = rights.channels.iter().copied().collect();
        let mut files: HashMap<FileId, File> = self
            .stores
            .files
            .files_for_search(&ids)
            .await?
            .into_iter()
            .filter(|(f, channels)| {
                f.workspace_id == workspace
                    && f.deleted_at.is_none()
                    && (rights.authors.is_empty() || rights.authors.contains(&f.uploader_id))
                    && ((!rights.narrowed && f.uploader_id == caller.user.id)
                        || channels.iter().any(|c| allowed.contains(c)))
            })
            .map(|(f, _)| (f.id, f))
            .collect();
        let uploader_ids: Vec<UserId> = files.values().map(|f| f.uploader_id).collect();
        let users = self.users_by_id(&uploader_ids).await?;
        Ok(hits
            .into_iter()
            .filter_map(|hit| {
                let file = files.remove(&hit.id)?;
                Some(FoundFile {
                    uploader: users.get(&file.uploader_id).cloned(),
                    snippet: hit.snippet,
                    file,
                })
            })
            .collect())
    }

    /// Active members of `workspace` each word of whose `text` starts a
    /// word of their display name, username, title or department (or, for
    /// admins, their address), by display name. With no search engine, the
    /// database is searched instead (the whole `text` starting the name,
    /// a word of it or the username, or within the title or department).
    /// Guests may not search people.
    pub async fn search_people(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        text: &str,
        limit: u32,
    ) -> Result<FoundPeople> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::invalid("q", "type something to search for"));
        }
        if text.chars().count() > MAX_PERSON_QUERY_CHARS {
            return Err(Error::invalid(
                "q",
                format!("is longer than {MAX_PERSON_QUERY_CHARS} characters"),
            ));
        }
        let (_, me) = self.workspace_for(caller, workspace).await?;
        if !allows(me.role, WorkspaceAction::ListMembers) {
            return Err(Error::Forbidden("guests cannot search people".into()));
        }
        let by_email = matches!(me.role, WorkspaceRole::Owner | WorkspaceRole::Admin);
        let limit = limit.clamp(1, MAX_SEARCH_RESULTS);
        let people = match &self.search {
            Some(search) => {
                let found = search
                    .index
                    .search_people(&PeopleSearch {
                        workspace_id: workspace,
                        words: person_words(text),
                        by_email,
                        limit: limit as usize,
                    })
                    .await?;
                self.still_members(workspace, found).await?
            }
            // Without an engine, the database is searched directly.
            None => {
                let ids = self
                    .stores
                    .workspaces
                    .search_members(workspace, text, by_email, limit)
                    .await?;
                let mut users = self.users_by_id(&ids).await?;
                ids.iter().filter_map(|id| users.remove(id)).collect()
            }
        };
        Ok(FoundPeople {
            people,
            addresses_shown: by_email,
        })
    }

    /// The engine, and the query of `text` if it is one to search for.
    async fn prepare_search(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        text: &str,
    ) -> Result<(&Search, SearchQuery, WorkspaceRole)> {
        let search = self
            .search
            .as_ref()
            .ok_or_else(|| Error::Unavailable("search is not configured on this server".into()))?;
        if text.trim().is_empty() {
            return Err(Error::invalid("q", "type something to search for"));
        }
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::invalid(
                "q",
                format!("is longer than {MAX_QUERY_CHARS} characters"),
            ));
        }
        let query = parse_query(text);
        let (_, me) = self.workspace_for(caller, workspace).await?;
        Ok((search, query, me.role))
    }

    /// What the caller may search with `query`: the readable channels (all
    /// of them, and those `in:` keeps) and the authors `from:` and
    /// `is:mine` allow; `None` when the query leaves nothing to find.
    async fn rights(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        role: WorkspaceRole,
        query: &SearchQuery,
    ) -> Result<Option<Rights>> {
        if query.is_empty() || query.dates_exclude_everything() {
            return Ok(None);
        }
        let readable = self.readable_channels(caller, workspace, role).await?;
        let narrowed = !query.in_channels.is_empty() || !query.in_direct.is_empty();
        let channels = match self.narrow_channels(caller, &readable, query).await? {
            Some(channels) => channels,
            // `in:` that names nothing readable leaves nothing.
            None if narrowed => return Ok(None),
            None => Vec::new(),
        };
        let Some(authors) = self.authors(caller, query).await? else {
            return Ok(None);
        };
        Ok(Some(Rights {
            readable,
            channels,
            authors,
            narrowed,
        }))
    }

    /// Of `found` (people the index found in `workspace`), those who are
    /// active members with active accounts now, by display name: a lagging
    /// index never shows someone who left.
    async fn still_members(&self, workspace: WorkspaceId, found: Vec<UserId>) -> Result<Vec<User>> {
        let mut accounts = self.users_by_id(&found).await?;
        let members: HashSet<UserId> = self
            .stores
            .workspaces
            .memberships_of(&found)
            .await?
            .into_iter()
            .filter(|m| m.workspace_id == workspace && m.status == MemberStatus::Active)
            .map(|m| m.user_id)
            .collect();
        let mut people: Vec<User> = found
            .iter()
            .filter(|id| members.contains(id))
            .filter_map(|id| accounts.remove(id))
            .filter(|u| u.status == UserStatus::Active)
            .collect();
        people.sort_by_key(|u| (u.display_name.to_lowercase(), u.username.to_lowercase()));
        Ok(people)
    }

    /// The channels of `workspace` the caller may read: those they are in,
    /// and (but for guests) every public one.
    pub(crate) async fn readable_channels(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        role: WorkspaceRole,
    ) -> Result<HashMap<ChannelId, Channel>> {
        let mut readable: HashMap<ChannelId, Channel> = self
            .stores
            .channels
            .list_channels_for_user(workspace, caller.user.id)
            .await?
            .into_iter()
            .map(|(c, _)| (c.id, c))
            .collect();
        if role != WorkspaceRole::Guest {
            let mut after: Option<String> = None;
            loop {
                let page = self
                    .stores
                    .channels
                    .list_public_channels(workspace, after.as_deref(), 200)
                    .await?;
                readable.extend(page.items.into_iter().map(|c| (c.id, c)));
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        Ok(readable)
    }

    /// The readable channels `in:` names (all of them without `in:`);
    /// `None` when the filters leave none.
    async fn narrow_channels(
        &self,
        caller: &Caller,
        readable: &HashMap<ChannelId, Channel>,
        query: &SearchQuery,
    ) -> Result<Option<Vec<ChannelId>>> {
        if query.in_channels.is_empty() && query.in_direct.is_empty() {
            return Ok((!readable.is_empty()).then(|| readable.keys().copied().collect()));
        }
        let channel_names: HashSet<&String> = query.in_channels.iter().collect();
        let mut direct_names: HashSet<String> = HashSet::new();
        if !query.in_direct.is_empty() {
            for user in self
                .stores
                .users
                .find_users_by_usernames(&query.in_direct)
                .await?
            {
                direct_names.insert(conversation_name(&[caller.user.id, user.id]));
            }
        }
        // `in:#x` names channels, `in:@x` the direct conversation with x.
        let chosen: Vec<ChannelId> = readable
            .values()
            .filter(|c| match c.channel_type {
                ChannelType::Public | ChannelType::Private => {
                    channel_names.contains(&c.name.to_lowercase())
                }
                ChannelType::Direct => direct_names.contains(&c.name),
                ChannelType::Group => false,
            })
            .map(|c| c.id)
            .collect();
        Ok((!chosen.is_empty()).then_some(chosen))
    }

    /// The authors `from:` and `is:mine` allow (empty: anyone); `None` when
    /// they allow no one.
    async fn authors(&self, caller: &Caller, query: &SearchQuery) -> Result<Option<Vec<UserId>>> {
        let mut authors: Vec<UserId> = if query.from.is_empty() {
            Vec::new()
        } else {
            let found: Vec<UserId> = self
                .stores
                .users
                .find_users_by_usernames(&query.from)
                .await?
                .into_iter()
                .map(|u| u.id)
                .collect();
            if found.is_empty() {
                return Ok(None);
            }
            found
        };
        if query.is_mine {
            if !authors.is_empty() && !authors.contains(&caller.user.id) {
                return Ok(None);
            }
            authors = vec![caller.user.id];
        }
        Ok(Some(authors))
    }

    /// The messages of `hits`, read from the database and checked again:
    /// an index that lags behind never shows what the caller may not read
    /// now, nor a message deleted since.
    async fn hydrate(
        &self,
        workspace: WorkspaceId,
        readable: &HashMap<ChannelId, Channel>,
        allowed: &HashSet<ChannelId>,
        authors: &[UserId],
        hits: Vec<confab_core::search::MessageHit>,
    ) -> Result<Vec<FoundMessage>> {
        let ids: Vec<MessageId> = hits.iter().map(|h| h.id).collect();
        let mut messages: HashMap<MessageId, Message> = self
            .stores
            .messages
            .get_messages(&ids)
            .await?
            .into_iter()
            .filter(|m| {
                m.workspace_id == workspace
                    && !m.is_deleted
                    && allowed.contains(&m.channel_id)
                    && (authors.is_empty() || authors.contains(&m.user_id))
            })
            .map(|m| (m.id, m))
            .collect();
        let parent_ids: Vec<MessageId> = messages.values().filter_map(|m| m.thread_id).collect();
        let parents = self.live_messages(&parent_ids).await?;
        let user_ids: Vec<UserId> = messages.values().map(|m| m.user_id).collect();
        let users = self.users_by_id(&user_ids).await?;
        Ok(hits
            .into_iter()
            .filter_map(|hit| {
                let message = messages.remove(&hit.id)?;
                Some(FoundMessage {
                    channel: readable.get(&message.channel_id)?.clone(),
                    author: users.get(&message.user_id).cloned(),
                    parent: message.thread_id.and_then(|p| parents.get(&p).cloned()),
                    snippet: hit.snippet,
                    message,
                })
            })
            .collect())
    }
}

/// What a search may find, from the caller's rights and the query.
struct Rights {
    readable: HashMap<ChannelId, Channel>,
    /// Readable channels the query covers.
    channels: Vec<ChannelId>,
    /// Allowed authors (empty: anyone).
    authors: Vec<UserId>,
    /// Whether `in:` named the places (then only they count).
    narrowed: bool,
}

/// For each entity of `kind` in `work`, the highest entry naming it: the
/// version its document is written with. The current state decides what
/// is written, so a delete wins over any earlier edit whatever the order
/// of the entries.
fn latest_versions(
    work: &[SearchWork],
    kind: SearchKind,
) -> std::collections::BTreeMap<uuid::Uuid, i64> {
    let mut versions = std::collections::BTreeMap::new();
    for entry in work.iter().filter(|w| w.kind == kind) {
        let version = versions.entry(entry.entity_id).or_insert(entry.seq);
        *version = (*version).max(entry.seq);
    }
    versions
}

/// Cut `hits` (asked for one more than `limit`) to a page; the cursor
/// after its last hit when more follow.
fn take_page<I: Copy>(hits: &mut Vec<SearchHit<I>>, limit: usize) -> Option<SearchCursor<I>> {
    if hits.len() <= limit {
        return None;
    }
    hits.truncate(limit);
    hits.last().map(|h| SearchCursor {
        key: h.key,
        id: h.id,
    })
}

fn midnight(day: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}
