//! Search over REST: messages and files the caller may read, with the
//! query echoed back as it was understood, and people.

use axum::extract::{Path, State};
use axum::Json;
use confab_core::id::{FileId, WorkspaceId};
use confab_core::search::{SearchCursor, SearchQuery, SearchSort, Snippet};
use confab_core::Error;
use confab_service::{FoundFile, FoundMessage, SearchRequest};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::parse_id;
use crate::extract::{ApiQuery, Authed};
use crate::wire::{cursor, ChannelBrief, ErrorBody, FileView, MessageView, PersonView};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_messages))
        .routes(routes!(search_files))
        .routes(routes!(search_people))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SearchParams {
    /// What to look for: words, `"phrases"`, `-excluded`, `a OR b`,
    /// `prefix*`, and filters `from:@user` (for files, the uploader),
    /// `in:#channel`, `in:@user`, `before:`/`after:`/`on:` `YYYY-MM-DD`,
    /// `during:` `YYYY-MM` or `YYYY`, `has:link|file|reaction|pin`,
    /// `is:thread|mine`, `type:image|video|audio|pdf|document|spreadsheet|
    /// presentation|text|archive|other`. Anything else is read as words.
    #[param(min_length = 1, max_length = 1000)]
    q: String,
    /// `relevance` (default; newest first when the query has no words) or
    /// `newest`.
    sort: Option<SearchSort>,
    /// Results per page (default 20); values outside 1 to 100 are taken as
    /// the nearest of the two.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page (with the same `q` and `sort`).
    cursor: Option<String>,
}

/// The query as the server understood it.
#[derive(Serialize, ToSchema)]
struct UnderstoodQuery {
    /// The query in normal form: what was searched.
    text: String,
    /// Its parts: `must` (groups of alternatives), `must_not`, and filters.
    #[schema(value_type = Object)]
    parts: Value,
}

/// A message found.
#[derive(Serialize, ToSchema)]
struct SearchResult {
    message: MessageView,
    channel: ChannelBrief,
    /// Absent when the account is gone.
    author: Option<PersonView>,
    /// The thread's first message, when the message is a reply.
    parent: Option<MessageView>,
    /// The text around what matched, with the matches' character offsets
    /// (`[start, end)` in Unicode scalar values; never HTML).
    snippet: Option<Snippet>,
}

/// A page of messages found.
#[derive(Serialize, ToSchema)]
struct SearchAnswer {
    query: UnderstoodQuery,
    results: Vec<SearchResult>,
    /// Messages matching in all.
    total: u64,
    /// Whether `total` is exact (else at least that many).
    total_is_exact: bool,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
}

impl UnderstoodQuery {
    fn of(query: &SearchQuery) -> Result<Self, ApiError> {
        Ok(Self {
            text: query.echo(),
            parts: serde_json::to_value(query).map_err(Error::internal)?,
        })
    }
}

fn encode_cursor<I: std::fmt::Display>(at: SearchCursor<I>) -> String {
    cursor::encode(&format!("{}_{}", at.key, at.id))
}

fn decode_cursor<I: std::str::FromStr>(text: &str) -> Result<SearchCursor<I>, ApiError> {
    let raw: String = cursor::decode(text)?;
    let bad = || {
        ApiError(Error::invalid(
            "cursor",
            "is not a cursor this search handed out",
        ))
    };
    let (key, id) = raw.rsplit_once('_').ok_or_else(bad)?;
    let key: f64 = key.parse().map_err(|_| bad())?;
    // Every engine hands out finite keys; `NaN` and `inf` are forged.
    if !key.is_finite() {
        return Err(bad());
    }
    Ok(SearchCursor {
        key,
        id: id.parse().map_err(|_| bad())?,
    })
}

impl From<FoundMessage> for SearchResult {
    fn from(found: FoundMessage) -> Self {
        Self {
            message: found.message.into(),
            channel: found.channel.into(),
            author: found.author.map(PersonView::from),
            parent: found.parent.map(MessageView::from),
            snippet: found.snippet,
        }
    }
}

/// Search the messages of a workspace that the caller may read now: their
/// channels and conversations, and public channels (not for guests).
#[utoipa::path(get, path = "/workspaces/{workspace}/search/messages", tag = "search",
    params(("workspace" = String, Path, description = "Workspace id"), SearchParams),
    responses((status = 200, body = SearchAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, description = "No search engine, or it is unreachable", body = ErrorBody)))]
async fn search_messages(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchAnswer>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
    let found = app
        .search_messages(
            &caller,
            id,
            SearchRequest {
                text: params.q,
                sort: params.sort.unwrap_or_default(),
                after,
                limit: params.limit.unwrap_or(20),
            },
        )
        .await?;
    Ok(Json(SearchAnswer {
        query: UnderstoodQuery::of(&found.query)?,
        results: found.results.into_iter().map(SearchResult::from).collect(),
        total: found.total,
        total_is_exact: found.total_is_exact,
        next_cursor: found.next.map(encode_cursor),
    }))
}

/// A file found.
#[derive(Serialize, ToSchema)]
struct FileResult {
    file: FileView,
    /// Absent when the account is gone.
    uploader: Option<PersonView>,
    /// The part of the name and text around what matched, with the
    /// matches' character offsets (never HTML).
    snippet: Option<Snippet>,
}

/// A page of files found.
#[derive(Serialize, ToSchema)]
struct FileSearchAnswer {
    query: UnderstoodQuery,
    results: Vec<FileResult>,
    /// Files matching in all.
    total: u64,
    /// Whether `total` is exact (else at least that many).
    total_is_exact: bool,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
}

impl From<FoundFile> for FileResult {
    fn from(found: FoundFile) -> Self {
        Self {
            file: found.file.into(),
            uploader: found.uploader.map(PersonView::from),
            snippet: found.snippet,
        }
    }
}

/// Search the files of a workspace that the caller may read now, by name
/// and extracted text: those they uploaded, and those shared in channels
/// they may read.
#[utoipa::path(get, path = "/workspaces/{workspace}/search/files", tag = "search",
    params(("workspace" = String, Path, description = "Workspace id"), SearchParams),
    responses((status = 200, body = FileSearchAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, description = "No search engine, or it is unreachable", body = ErrorBody)))]
async fn search_files(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<FileSearchAnswer>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let after = params
        .cursor
        .as_deref()
        .map(decode_cursor::<FileId>)
        .transpose()?;
    let found = app
        .search_files(
            &caller,
            id,
            SearchRequest {
                text: params.q,
                sort: params.sort.unwrap_or_default(),
                after,
                limit: params.limit.unwrap_or(20),
            },
        )
        .await?;
    Ok(Json(FileSearchAnswer {
        query: UnderstoodQuery::of(&found.query)?,
        results: found.results.into_iter().map(FileResult::from).collect(),
        total: found.total,
        total_is_exact: found.total_is_exact,
        next_cursor: found.next.map(encode_cursor),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PeopleParams {
    /// The start of a display name (or of one of its words) or username,
    /// or part of a title or department; for admins, the start of an
    /// address too.
    #[param(min_length = 1, max_length = 100)]
    q: String,
    /// At most this many (default 20); values outside 1 to 100 are taken
    /// as the nearest of the two.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    limit: Option<u32>,
}

/// A person found.
#[derive(Serialize, ToSchema)]
struct PersonFound {
    #[schema(value_type = String, format = Uuid)]
    user_id: confab_core::id::UserId,
    #[serde(flatten)]
    person: PersonView,
    title: Option<String>,
    /// Shown to workspace admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

/// People found.
#[derive(Serialize, ToSchema)]
struct PeopleAnswer {
    people: Vec<PersonFound>,
}

/// Search the active members of a workspace (not for guests), by display
/// name, ordered by it.
#[utoipa::path(get, path = "/workspaces/{workspace}/search/people", tag = "search",
    params(("workspace" = String, Path, description = "Workspace id"), PeopleParams),
    responses((status = 200, body = PeopleAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn search_people(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiQuery(params): ApiQuery<PeopleParams>,
) -> Result<Json<PeopleAnswer>, ApiError> {
    let id: WorkspaceId = parse_id(&workspace, "workspace")?;
    let found = app
        .search_people(&caller, id, &params.q, params.limit.unwrap_or(20))
        .await?;
    let shown = found.addresses_shown;
    let people = found
        .people
        .into_iter()
        .map(|user| PersonFound {
            user_id: user.id,
            title: user.title.clone(),
            email: shown.then(|| user.email.clone()),
            person: user.into(),
        })
        .collect();
    Ok(Json(PeopleAnswer { people }))
}
