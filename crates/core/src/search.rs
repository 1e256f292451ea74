//! Search: the query language people type, parsed into terms and filters.
//!
//! Words, `"exact phrases"`, `-excluded`, `a OR b`, prefixes `word*`, and
//! filters `from:@username`, `in:#channel`, `in:@username` (a direct
//! conversation), `before:`, `after:`, `on:` (`YYYY-MM-DD`), `during:`
//! (`YYYY-MM` or `YYYY`), `has:link|file|reaction|pin`, `is:thread|mine`,
//! and `type:` (what kind of file: `image`, `pdf`, …; see [`FileKind`]).
//! Parsing never fails: an unknown filter, a bad date or an unbalanced
//! quote is read as words, and [`SearchQuery::echo`] says how the text was
//! understood.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{ChannelId, FileId, MessageId, UserId, WorkspaceId};
use crate::model::{File, MemberStatus, Message, User, UserStatus, WorkspaceMember};

/// Longest query text read; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 1_000;
/// Most terms and filters read from one query; the rest is ignored.
pub const MAX_QUERY_PARTS: usize = 32;

/// One thing to look for in a message's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum SearchTerm {
    /// A word (or an exact token such as `PLT-3699` or `config.toml`).
    Word(String),
    /// Words starting with this (`deplo*`).
    Prefix(String),
    /// These words, in this order (`"rolling restart"`).
    Phrase(String),
}

/// A `has:` filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HasFilter {
    Link,
    File,
    Reaction,
    Pin,
}

/// A search as typed, understood.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SearchQuery {
    /// Every group must match, by any one of its terms (`a OR b` is one
    /// group of two).
    pub must: Vec<Vec<SearchTerm>>,
    /// No message matching one of these is found.
    pub must_not: Vec<SearchTerm>,
    /// Usernames (without `@`), lowercase: written by one of them.
    pub from: Vec<String>,
    /// Channel names (without `#`): in one of them.
    pub in_channels: Vec<String>,
    /// Usernames: in the direct conversation with one of them.
    pub in_direct: Vec<String>,
    /// Sent on or after this day (UTC).
    pub since: Option<NaiveDate>,
    /// Sent before this day (UTC).
    pub until: Option<NaiveDate>,
    pub has: BTreeSet<HasFilter>,
    /// Only replies in threads.
    pub is_thread: bool,
    /// Only the caller's own messages.
    pub is_mine: bool,
    /// Only files of one of these kinds (messages sharing one, in a
    /// message search).
    pub types: Vec<FileKind>,
}

impl SearchQuery {
    /// Whether the query asks for nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == SearchQuery::default()
    }

    /// Whether it has words to rank by (else results come newest first).
    pub fn has_terms(&self) -> bool {
        !self.must.is_empty()
    }

    /// Whether the date filters leave no day at all.
    pub fn dates_exclude_everything(&self) -> bool {
        matches!((self.since, self.until), (Some(since), Some(until)) if since >= until)
    }

    /// The query as it was understood, in the language it was typed in.
    pub fn echo(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for group in &self.must {
            let terms: Vec<String> = group.iter().map(term_text).collect();
            parts.push(terms.join(" OR "));
        }
        parts.extend(self.must_not.iter().map(|t| format!("-{}", term_text(t))));
        parts.extend(self.from.iter().map(|u| format!("from:@{u}")));
        parts.extend(self.in_channels.iter().map(|c| format!("in:#{c}")));
        parts.extend(self.in_direct.iter().map(|u| format!("in:@{u}")));
        if let Some(day) = self.since {
            parts.push(format!("after:{}", day.pred_opt().unwrap_or(day)));
        }
        if let Some(day) = self.until {
            parts.push(format!("before:{day}"));
        }
        for has in &self.has {
            let name = match has {
                HasFilter::Link => "link",
                HasFilter::File => "file",
                HasFilter::Reaction => "reaction",
                HasFilter::Pin => "pin",
            };
            parts.push(format!("has:{name}"));
        }
        if self.is_thread {
            parts.push("is:thread".into());
        }
        if self.is_mine {
            parts.push("is:mine".into());
        }
        parts.extend(self.types.iter().map(|t| format!("type:{}", t.as_str())));
        parts.join(" ")
    }
}

fn term_text(term: &SearchTerm) -> String {
    match term {
        SearchTerm::Word(w) => w.clone(),
        SearchTerm::Prefix(p) => format!("{p}*"),
        SearchTerm::Phrase(p) => format!("\"{p}\""),
    }
}

/// One piece of the typed text: a phrase, or a run of other characters.
#[derive(Debug, PartialEq)]
enum Piece {
    Phrase { text: String, negated: bool },
    Bare(String),
}

/// Split on whitespace, keeping quoted phrases whole; a quote without its
/// pair is an ordinary character.
fn pieces(text: &str) -> Vec<Piece> {
    let chars: Vec<char> = text.chars().take(MAX_QUERY_CHARS).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let negated = chars[i] == '-' && chars.get(i + 1) == Some(&'"');
        let open = if negated { i + 1 } else { i };
        if chars[open] == '"' {
            if let Some(close) = chars[open + 1..].iter().position(|c| *c == '"') {
                let phrase: String = chars[open + 1..open + 1 + close].iter().collect();
                out.push(Piece::Phrase {
                    text: phrase.split_whitespace().collect::<Vec<_>>().join(" "),
                    negated,
                });
                i = open + close + 2;
                continue;
            }
        }
        let end = (i..chars.len())
            .find(|&j| chars[j].is_whitespace())
            .unwrap_or(chars.len());
        out.push(Piece::Bare(chars[i..end].iter().collect()));
        i = end;
    }
    out
}

/// Read the text people typed. Never fails.
pub fn parse_query(text: &str) -> SearchQuery {
    let mut query = SearchQuery::default();
    let mut pending_or = false;
    for piece in pieces(text).into_iter().take(MAX_QUERY_PARTS) {
        let (term, negated) = match piece {
            Piece::Phrase { text, .. } if text.is_empty() => continue,
            Piece::Phrase { text, negated } => (SearchTerm::Phrase(text), negated),
            Piece::Bare(word) if word == "OR" => {
                pending_or = !query.must.is_empty();
                continue;
            }
            Piece::Bare(word) => {
                if apply_filter(&mut query, &word) {
                    pending_or = false;
                    continue;
                }
                match bare_term(&word) {
                    Some(parsed) => parsed,
                    None => continue,
                }
            }
        };
        if negated {
            query.must_not.push(term);
        } else if pending_or {
            query.must.last_mut().expect("a group before OR").push(term);
        } else {
            query.must.push(vec![term]);
        }
        pending_or = false;
    }
    query
}

/// A word, `-word`, or `prefix*`; None for text with no letter or digit.
fn bare_term(word: &str) -> Option<(SearchTerm, bool)> {
    let (negated, word) = match word.strip_prefix('-') {
        Some(rest) if rest.chars().any(char::is_alphanumeric) => (true, rest),
        _ => (false, word),
    };
    if !word.chars().any(char::is_alphanumeric) {
        return None;
    }
    let term = match word.strip_suffix('*') {
        Some(stem) if stem.chars().any(char::is_alphanumeric) && !stem.ends_with('*') => {
            SearchTerm::Prefix(stem.to_owned())
        }
        _ => SearchTerm::Word(word.to_owned()),
    };
    Some((term, negated))
}

/// Apply `word` as a filter; false when it is not one (then it is a word).
fn apply_filter(query: &mut SearchQuery, word: &str) -> bool {
    let Some((name, value)) = word.split_once(':') else {
        return false;
    };
    if value.is_empty() {
        return false;
    }
    match name.to_ascii_lowercase().as_str() {
        "from" => push_name(&mut query.from, value.trim_start_matches('@')),
        "in" => match value.strip_prefix('@') {
            Some(user) => push_name(&mut query.in_direct, user),
            None => push_name(&mut query.in_channels, value.trim_start_matches('#')),
        },
        "before" => day(value).map(|d| narrow_until(query, d)).is_some(),
        "after" => day(value)
            .and_then(|d| d.succ_opt())
            .map(|d| narrow_since(query, d))
            .is_some(),
        "on" => day(value)
            .and_then(|d| Some((d, d.succ_opt()?)))
            .map(|(d, next)| {
                narrow_since(query, d);
                narrow_until(query, next);
            })
            .is_some(),
        "during" => period(value)
            .map(|(start, end)| {
                narrow_since(query, start);
                narrow_until(query, end);
            })
            .is_some(),
        "has" => {
            let has = match value.to_ascii_lowercase().as_str() {
                "link" | "links" => HasFilter::Link,
                "file" | "files" => HasFilter::File,
                "reaction" | "reactions" => HasFilter::Reaction,
                "pin" | "pins" | "pinned" => HasFilter::Pin,
                _ => return false,
            };
            query.has.insert(has);
            true
        }
        "is" => match value.to_ascii_lowercase().as_str() {
            "thread" | "reply" => {
                query.is_thread = true;
                true
            }
            "mine" => {
                query.is_mine = true;
                true
            }
            "pinned" => {
                query.has.insert(HasFilter::Pin);
                true
            }
            _ => false,
        },
        "type" => match FileKind::named(value) {
            Some(kind) => {
                if !query.types.contains(&kind) {
                    query.types.push(kind);
                }
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// Add a username or channel name (lowercase) unless it is not one.
fn push_name(list: &mut Vec<String>, name: &str) -> bool {
    let ok = !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        let name = name.to_lowercase();
        if !list.contains(&name) {
            list.push(name);
        }
    }
    ok
}

fn narrow_since(query: &mut SearchQuery, day: NaiveDate) {
    query.since = Some(query.since.map_or(day, |d| d.max(day)));
}

fn narrow_until(query: &mut SearchQuery, day: NaiveDate) {
    query.until = Some(query.until.map_or(day, |d| d.min(day)));
}

fn day(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()
}

/// `YYYY-MM` (a month) or `YYYY` (a year): its first day and the next
/// period's first day.
fn period(value: &str) -> Option<(NaiveDate, NaiveDate)> {
    if let Ok(year) = value.parse::<i32>() {
        if value.len() == 4 {
            return Some((
                NaiveDate::from_ymd_opt(year, 1, 1)?,
                NaiveDate::from_ymd_opt(year + 1, 1, 1)?,
            ));
        }
        return None;
    }
    let start = NaiveDate::parse_from_str(&format!("{value}-01"), "%Y-%m-%d").ok()?;
    let next = if start.month() == 12 {
        NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)?
    };
    Some((start, next))
}

/// A message as the index holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageDocument {
    pub id: MessageId,
    pub workspace_id: WorkspaceId,
    pub channel_id: ChannelId,
    pub user_id: UserId,
    pub thread_id: Option<MessageId>,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub has_link: bool,
    pub has_file: bool,
    pub has_reaction: bool,
    pub is_pinned: bool,
    /// Orders the writes of one message between indexers: the highest
    /// search outbox entry the document was read for (entries of one
    /// message are numbered in the order of its changes). An engine shared
    /// by several nodes drops a write older than the one it holds; `0`
    /// (a rebuild) is older than any.
    pub version: i64,
}

impl MessageDocument {
    /// The document of `message` read for outbox entry `version`, or
    /// `None` when it should not be found (deleted, or a notice Confab
    /// wrote such as a join).
    pub fn of(message: &Message, has_file: bool, version: i64) -> Option<Self> {
        if message.is_deleted || message.message_type == crate::model::MessageType::System {
            return None;
        }
        Some(Self {
            id: message.id,
            workspace_id: message.workspace_id,
            channel_id: message.channel_id,
            user_id: message.user_id,
            thread_id: message.thread_id,
            content: message.content.clone(),
            created_at: message.created_at,
            has_link: has_link(&message.content),
            has_file,
            has_reaction: !message.reactions.0.is_empty(),
            is_pinned: message.is_pinned,
            version,
        })
    }
}

/// Whether `text` holds a web link.
pub fn has_link(text: &str) -> bool {
    text.contains("http://") || text.contains("https://")
}

crate::model::text_enum!(
    /// What kind of file a file is, as `type:` filters name it.
    FileKind {
        Image = "image",
        Video = "video",
        Audio = "audio",
        Pdf = "pdf",
        Document = "document",
        Spreadsheet = "spreadsheet",
        Presentation = "presentation",
        Text = "text",
        Archive = "archive",
        Other = "other",
    }
);

impl FileKind {
    /// The kind of a file of (sniffed) type `mime`.
    pub fn of(mime: &str) -> Self {
        let mime = mime.to_ascii_lowercase();
        let (family, subtype) = mime.split_once('/').unwrap_or((mime.as_str(), ""));
        let subtype = subtype.split(';').next().unwrap_or_default().trim();
        let has = |words: &[&str]| words.iter().any(|w| subtype.contains(w));
        match family {
            "image" => Self::Image,
            "video" => Self::Video,
            "audio" => Self::Audio,
            _ if subtype == "pdf" => Self::Pdf,
            _ if subtype == "csv" || has(&["spreadsheet", "excel"]) => Self::Spreadsheet,
            _ if has(&["presentation", "powerpoint"]) => Self::Presentation,
            _ if subtype == "msword"
                || subtype == "rtf"
                || has(&["wordprocessing", "opendocument.text"]) =>
            {
                Self::Document
            }
            _ if has(&[
                "zip",
                "gzip",
                "tar",
                "7z",
                "rar",
                "bzip",
                "xz",
                "zstd",
                "compressed",
            ]) =>
            {
                Self::Archive
            }
            "text" => Self::Text,
            _ if has(&["json", "xml", "javascript", "yaml", "toml", "x-sh"]) => Self::Text,
            _ => Self::Other,
        }
    }

    /// The kind a `type:` filter names (`image`, `images`, `doc`, `zip`…).
    pub fn named(text: &str) -> Option<Self> {
        let text = text.to_ascii_lowercase();
        let text = text
            .strip_suffix('s')
            .filter(|t| t.len() > 2)
            .unwrap_or(&text);
        Some(match text {
            "image" | "photo" | "picture" | "png" | "jpg" | "jpeg" | "gif" => Self::Image,
            "video" | "movie" => Self::Video,
            "audio" | "sound" => Self::Audio,
            "pdf" => Self::Pdf,
            "document" | "doc" | "docx" => Self::Document,
            "spreadsheet" | "sheet" | "csv" | "xlsx" => Self::Spreadsheet,
            "presentation" | "slide" | "pptx" => Self::Presentation,
            "text" | "txt" | "code" | "snippet" => Self::Text,
            "archive" | "zip" => Self::Archive,
            "other" => Self::Other,
            _ => return None,
        })
    }
}

/// Most characters of a file's extracted text the index holds.
pub const MAX_INDEXED_FILE_TEXT: usize = 100_000;

/// A file as the index holds it: found by its name and its text, by those
/// who uploaded it or can read a channel it is shared in.
#[derive(Clone, Debug, PartialEq)]
pub struct FileDocument {
    pub id: FileId,
    pub workspace_id: WorkspaceId,
    pub uploader_id: UserId,
    /// The channels it is shared in (by a live message).
    pub channels: Vec<ChannelId>,
    pub name: String,
    /// Its extracted text, at most [`MAX_INDEXED_FILE_TEXT`] characters.
    pub text: String,
    pub kind: FileKind,
    pub created_at: DateTime<Utc>,
    /// As [`MessageDocument::version`].
    pub version: i64,
}

impl FileDocument {
    /// The document of `file`, shared in `channels`, read for outbox entry
    /// `version`; `None` when it should not be found (deleted).
    pub fn of(file: &File, channels: Vec<ChannelId>, version: i64) -> Option<Self> {
        if file.deleted_at.is_some() {
            return None;
        }
        let text = file.extracted_text.as_deref().unwrap_or_default();
        let text = match text.char_indices().nth(MAX_INDEXED_FILE_TEXT) {
            Some((end, _)) => &text[..end],
            None => text,
        };
        Some(Self {
            id: file.id,
            workspace_id: file.workspace_id,
            uploader_id: file.uploader_id,
            channels,
            name: file.original_filename.clone(),
            text: text.to_owned(),
            kind: FileKind::of(&file.mime_type),
            created_at: file.created_at,
            version,
        })
    }

    /// What words are looked for in: the name, then the text.
    pub fn content(&self) -> String {
        file_content(&self.name, &self.text)
    }
}

/// The searched text of a file named `name` with text `text`.
pub fn file_content(name: &str, text: &str) -> String {
    if text.is_empty() {
        name.to_owned()
    } else {
        format!("{name}\n{text}")
    }
}

/// A member of a workspace as the index holds them: found by the start of
/// a word of their display name, username, title or department, and (by
/// admins) of their address.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonDocument {
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
    pub username: String,
    pub display_name: String,
    /// The workspace's title for them, else their own.
    pub title: Option<String>,
    pub department: Option<String>,
    pub email: String,
    /// As [`MessageDocument::version`].
    pub version: i64,
}

impl PersonDocument {
    /// The document of `user` as `member`, read for outbox entry
    /// `version`; `None` unless both the account and the membership are
    /// active.
    pub fn of(user: &User, member: &WorkspaceMember, version: i64) -> Option<Self> {
        let active = user.status == UserStatus::Active && member.status == MemberStatus::Active;
        if !active || member.user_id != user.id {
            return None;
        }
        Some(Self {
            user_id: user.id,
            workspace_id: member.workspace_id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            title: member.title.clone().or_else(|| user.title.clone()),
            department: member.department.clone(),
            email: user.email.to_lowercase(),
            version,
        })
    }

    /// The words the person is found by (not the address), lowercased.
    pub fn words(&self) -> Vec<String> {
        let mut words = person_words(&self.display_name);
        words.extend(person_words(&self.username));
        for text in [&self.title, &self.department].into_iter().flatten() {
            words.extend(person_words(text));
        }
        words.sort();
        words.dedup();
        words
    }

    /// What people are ordered by: the display name, lowercased.
    pub fn name_key(&self) -> String {
        self.display_name.to_lowercase()
    }
}

/// The documents of `users` as members (`memberships`, theirs), each
/// written with `version`: one per active membership of an active account.
pub fn person_documents(
    users: &[User],
    memberships: &[WorkspaceMember],
    version: impl Fn(UserId) -> i64,
) -> Vec<PersonDocument> {
    let users: std::collections::HashMap<UserId, &User> = users.iter().map(|u| (u.id, u)).collect();
    memberships
        .iter()
        .filter_map(|member| {
            let user = users.get(&member.user_id)?;
            PersonDocument::of(user, member, version(user.id))
        })
        .collect()
}

/// The whitespace-separated words of `text`, lowercased: people are found
/// by the start of one (`100%_done` is one word, `%` a plain character).
pub fn person_words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_lowercase).collect()
}

/// A search of the active members of a workspace.
#[derive(Clone, Debug)]
pub struct PeopleSearch {
    pub workspace_id: WorkspaceId,
    /// Each is the start of one of a person's words (or address).
    pub words: Vec<String>,
    /// Whether a word may also start the address (admins only).
    pub by_email: bool,
    pub limit: usize,
}

/// How results are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SearchSort {
    /// Best matches first (newest first for a query of filters alone).
    #[default]
    Relevance,
    /// Newest first.
    Newest,
}

/// Where the previous page stopped: its last hit's sort key.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchCursor<I = MessageId> {
    /// The relevance score (relevance order) or the time in microseconds
    /// (date order) of the last hit.
    pub key: f64,
    pub id: I,
}

/// A search of messages, with the caller's rights already applied.
#[derive(Clone, Debug)]
pub struct MessageSearch {
    pub workspace_id: WorkspaceId,
    /// Only messages of these channels: what the caller may read, narrowed
    /// by `in:` filters. Never empty (an empty set is answered without a
    /// search).
    pub channels: Vec<ChannelId>,
    /// Only messages by these users (when not empty).
    pub authors: Vec<UserId>,
    pub query: SearchQuery,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub sort: SearchSort,
    pub after: Option<SearchCursor>,
    pub limit: usize,
}

/// A part of a message's text around what matched, with the matches'
/// character offsets (Unicode scalar values, end exclusive).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Snippet {
    pub text: String,
    pub highlights: Vec<[usize; 2]>,
}

/// A search of files, with the caller's rights already applied.
#[derive(Clone, Debug)]
pub struct FileSearch {
    pub workspace_id: WorkspaceId,
    /// Files shared in one of these channels (what the caller may read,
    /// narrowed by `in:` filters)…
    pub channels: Vec<ChannelId>,
    /// …or uploaded by this user (the caller, unless `in:` narrows).
    pub uploaded_by: Option<UserId>,
    /// Only files uploaded by these users (when not empty).
    pub uploaders: Vec<UserId>,
    pub query: SearchQuery,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub sort: SearchSort,
    pub after: Option<SearchCursor<FileId>>,
    pub limit: usize,
}

/// One thing found: a message or a file.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchHit<I = MessageId> {
    pub id: I,
    /// The sort key (see [`SearchCursor::key`]).
    pub key: f64,
    pub snippet: Option<Snippet>,
}

/// A page of things found.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchHits<I = MessageId> {
    pub hits: Vec<SearchHit<I>>,
    /// Matches in all (every page).
    pub total: u64,
    /// Whether `total` is exact (else it is a lower bound).
    pub total_is_exact: bool,
}

/// One message found.
pub type MessageHit = SearchHit<MessageId>;
/// A page of messages found.
pub type MessageHits = SearchHits<MessageId>;
/// A page of files found.
pub type FileHits = SearchHits<FileId>;

#[cfg(test)]
mod tests {
    use super::*;

    fn word(w: &str) -> SearchTerm {
        SearchTerm::Word(w.into())
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn words_phrases_exclusions_alternatives_and_prefixes() {
        let q = parse_query(r#"deploy "rolling  restart" -flaky red OR blue deplo* -"not this""#);
        assert_eq!(
            q.must,
            vec![
                vec![word("deploy")],
                vec![SearchTerm::Phrase("rolling restart".into())],
                vec![word("red"), word("blue")],
                vec![SearchTerm::Prefix("deplo".into())],
            ]
        );
        assert_eq!(
            q.must_not,
            vec![word("flaky"), SearchTerm::Phrase("not this".into())]
        );
        assert_eq!(
            q.echo(),
            r#"deploy "rolling restart" red OR blue deplo* -flaky -"not this""#
        );
    }

    #[test]
    fn filters_are_read_and_echoed() {
        let q = parse_query(
            "from:@Ann in:#ops in:@bob after:2026-11-30 before:2026-12-10 has:link has:pin is:thread is:mine",
        );
        assert_eq!(q.from, vec!["ann"]);
        assert_eq!(q.in_channels, vec!["ops"]);
        assert_eq!(q.in_direct, vec!["bob"]);
        assert_eq!(q.since, Some(date(2026, 12, 1)));
        assert_eq!(q.until, Some(date(2026, 12, 10)));
        assert_eq!(q.has, BTreeSet::from([HasFilter::Link, HasFilter::Pin]));
        assert!(q.is_thread && q.is_mine && !q.has_terms());
        assert_eq!(
            q.echo(),
            "from:@ann in:#ops in:@bob after:2026-11-30 before:2026-12-10 has:link has:pin is:thread is:mine"
        );
    }

    #[test]
    fn file_types_are_read_from_names_and_mime_types() {
        let q = parse_query("report type:PDF type:images type:pdf type:banana");
        assert_eq!(q.types, vec![FileKind::Pdf, FileKind::Image]);
        assert_eq!(
            q.must,
            vec![vec![word("report")], vec![word("type:banana")]]
        );
        assert_eq!(q.echo(), "report type:banana type:pdf type:image");
        for (mime, kind) in [
            ("image/png", FileKind::Image),
            ("application/pdf", FileKind::Pdf),
            ("text/csv", FileKind::Spreadsheet),
            ("text/plain; charset=utf-8", FileKind::Text),
            ("application/json", FileKind::Text),
            ("application/zip", FileKind::Archive),
            ("application/gzip", FileKind::Archive),
            (
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                FileKind::Document,
            ),
            (
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                FileKind::Presentation,
            ),
            ("application/octet-stream", FileKind::Other),
        ] {
            assert_eq!(FileKind::of(mime), kind, "{mime}");
        }
    }

    #[test]
    fn on_and_during_are_ranges_and_dates_narrow() {
        let on = parse_query("on:2026-02-28");
        assert_eq!(
            (on.since, on.until),
            (Some(date(2026, 2, 28)), Some(date(2026, 3, 1)))
        );
        let month = parse_query("during:2026-12");
        assert_eq!(
            (month.since, month.until),
            (Some(date(2026, 12, 1)), Some(date(2027, 1, 1)))
        );
        let year = parse_query("during:2025 after:2025-06-30");
        assert_eq!(
            (year.since, year.until),
            (Some(date(2025, 7, 1)), Some(date(2026, 1, 1)))
        );
        assert!(parse_query("after:2026-05-01 before:2026-05-02").dates_exclude_everything());
    }

    #[test]
    fn what_is_not_a_filter_is_a_word() {
        let q = parse_query(
            r#"colour:red before:yesterday has:cake is:happy from: "unclosed PLT-3699"#,
        );
        assert_eq!(
            q.must,
            vec![
                vec![word("colour:red")],
                vec![word("before:yesterday")],
                vec![word("has:cake")],
                vec![word("is:happy")],
                vec![word("from:")],
                vec![word("\"unclosed")],
                vec![word("PLT-3699")],
            ]
        );
        assert!(q.from.is_empty() && q.since.is_none() && q.has.is_empty());
    }

    #[test]
    fn odd_input_is_harmless() {
        for text in [
            "", "   ", "OR", "OR OR a", "-", "*", "\"\"", "-\"\"", "a OR", "@", "#", "***",
        ] {
            let q = parse_query(text);
            for group in &q.must {
                assert!(!group.is_empty(), "{text:?}: {q:?}");
            }
        }
        assert!(parse_query("OR *").is_empty());
        assert_eq!(parse_query("OR OR a").must, vec![vec![word("a")]]);
        assert_eq!(parse_query("a OR").must, vec![vec![word("a")]]);
        let long = "word ".repeat(1_000);
        assert_eq!(parse_query(&long).must.len(), MAX_QUERY_PARTS);
    }
}
