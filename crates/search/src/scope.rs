//! What every engine filters and orders by, whatever it searches: a
//! [`MessageSearch`] or a [`FileSearch`] seen the same way, so each engine
//! builds its query once for both.

use chrono::{DateTime, Utc};
use confab_core::id::{ChannelId, UserId, WorkspaceId};
use confab_core::search::{
    FileSearch, MessageSearch, SearchHit, SearchHits, SearchQuery, SearchSort,
};
use uuid::Uuid;

use crate::flags;

/// What a [`Scope`] searches: messages or files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Documents {
    Messages,
    Files,
}

/// A search, with the caller's rights applied.
pub(crate) struct Scope<'a> {
    pub workspace: WorkspaceId,
    /// Documents in one of these channels…
    pub channels: &'a [ChannelId],
    /// …or by this author (a file's uploader).
    pub or_author: Option<UserId>,
    /// Only documents by one of these authors (when not empty).
    pub authors: &'a [UserId],
    pub query: &'a SearchQuery,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Flags every hit carries.
    pub all_flags: Vec<&'static str>,
    /// Flags of which every hit carries one (when not empty).
    pub any_flags: Vec<&'static str>,
    pub sort: SearchSort,
    /// The previous page's last sort key and id.
    pub after: Option<(f64, Uuid)>,
    pub limit: usize,
}

impl Scope<'_> {
    /// Whether hits come newest first (else best first).
    pub fn by_date(&self) -> bool {
        self.sort == SearchSort::Newest || !self.query.has_terms()
    }
}

impl<'a> From<&'a MessageSearch> for Scope<'a> {
    fn from(search: &'a MessageSearch) -> Self {
        Scope {
            workspace: search.workspace_id,
            channels: &search.channels,
            or_author: None,
            authors: &search.authors,
            query: &search.query,
            since: search.since,
            until: search.until,
            all_flags: flags::required(&search.query),
            any_flags: Vec::new(),
            sort: search.sort,
            after: search.after.map(|c| (c.key, c.id.0)),
            limit: search.limit.max(1),
        }
    }
}

impl<'a> From<&'a FileSearch> for Scope<'a> {
    fn from(search: &'a FileSearch) -> Self {
        Scope {
            workspace: search.workspace_id,
            channels: &search.channels,
            or_author: search.uploaded_by,
            authors: &search.uploaders,
            query: &search.query,
            since: search.since,
            until: search.until,
            all_flags: Vec::new(),
            any_flags: search.query.types.iter().map(|t| t.as_str()).collect(),
            sort: search.sort,
            after: search.after.map(|c| (c.key, c.id.0)),
            limit: search.limit.max(1),
        }
    }
}

/// Hits named by bare ids, named by `id` instead.
pub(crate) fn typed<I>(hits: SearchHits<Uuid>, id: impl Fn(Uuid) -> I) -> SearchHits<I> {
    SearchHits {
        hits: hits
            .hits
            .into_iter()
            .map(|h| SearchHit {
                id: id(h.id),
                key: h.key,
                snippet: h.snippet,
            })
            .collect(),
        total: hits.total,
        total_is_exact: hits.total_is_exact,
    }
}
