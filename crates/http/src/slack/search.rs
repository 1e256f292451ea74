//! Search through the Web API: `search.messages`, `search.files` and
//! `search.all`, over the same search as REST v1 and with Slack's paging
//! by page number (walked through the search's cursors).

use confab_core::search::SearchSort;
use confab_core::slack::format_ts;
use confab_service::SearchRequest;
use serde_json::{json, Value};

use super::files::file_object;
use super::methods::Call;
use super::objects::{channel_id, user_id};
use super::{Answer, SlackError};

/// Most results Slack pages through (`count` × `page`).
const MAX_RESULTS: u32 = 1_000;

/// `count`, `page` and `sort` of a search, as Slack takes them.
struct Paging {
    count: u32,
    page: u32,
    sort: SearchSort,
}

impl Call<'_> {
    fn paging(&self) -> Result<Paging, SlackError> {
        let count = self.args.number("count")?.unwrap_or(20).clamp(1, 100) as u32;
        let page = self.args.number("page")?.unwrap_or(1).max(1) as u32;
        if count * page > MAX_RESULTS {
            return Err(SlackError::invalid_arguments(format!(
                "count × page goes past the first {MAX_RESULTS} results"
            )));
        }
        let sort = match self.args.text("sort").as_deref() {
            Some("timestamp") => SearchSort::Newest,
            _ => SearchSort::Relevance,
        };
        Ok(Paging { count, page, sort })
    }

    /// Searching acts as a person: bot tokens are refused, as Slack's.
    fn searcher(&self) -> Result<String, SlackError> {
        if self.caller.user.is_bot {
            return Err(SlackError::new("not_allowed_token_type"));
        }
        self.args
            .text("query")
            .ok_or_else(|| SlackError::new("no_query"))
    }

    async fn found_messages(&self, text: &str, paging: &Paging) -> Result<Value, SlackError> {
        let (shown, total) = nth_page(paging, |after| async move {
            let request = SearchRequest {
                text: text.to_owned(),
                sort: paging.sort,
                after,
                limit: paging.count,
            };
            let found = self
                .app
                .search_messages(self.caller, self.workspace(), request)
                .await?;
            Ok((found.results, found.total, found.next))
        })
        .await?;
        let matches: Vec<Value> = shown
            .iter()
            .map(|hit| {
                let m = &hit.message;
                json!({
                    "type": "message",
                    "iid": m.id.to_string(),
                    "user": user_id(m.user_id),
                    "username": hit.author.as_ref().map(|u| u.username.clone()).unwrap_or_default(),
                    "ts": format_ts(m.ts),
                    "text": m.content,
                    "team": super::objects::team_id(m.workspace_id),
                    "channel": {"id": channel_id(&hit.channel), "name": hit.channel.name},
                    "permalink": format!("{}/w/{}/c/{}/m/{}", self.base, m.workspace_id, m.channel_id, m.id),
                })
            })
            .collect();
        Ok(with_paging(matches, total, paging))
    }

    async fn found_files(&self, text: &str, paging: &Paging) -> Result<Value, SlackError> {
        let (shown, total) = nth_page(paging, |after| async move {
            let request = SearchRequest {
                text: text.to_owned(),
                sort: paging.sort,
                after,
                limit: paging.count,
            };
            let found = self
                .app
                .search_files(self.caller, self.workspace(), request)
                .await?;
            Ok((found.results, found.total, found.next))
        })
        .await?;
        let matches: Vec<Value> = shown
            .iter()
            .map(|hit| file_object(&hit.file, self.base))
            .collect();
        Ok(with_paging(matches, total, paging))
    }

    pub(super) async fn search(&self, messages: bool, files: bool) -> Answer {
        let text = self.searcher()?;
        let paging = self.paging()?;
        let mut answer = super::methods::answer(json!({"query": text}));
        if messages {
            answer.insert(
                "messages".into(),
                self.found_messages(&text, &paging).await?,
            );
        }
        if files {
            answer.insert("files".into(), self.found_files(&text, &paging).await?);
        }
        Ok(answer)
    }
}

/// The hits of page `paging.page` (and the total), walking the search's
/// cursors from the first page; past the last page, none.
async fn nth_page<T, C, F, Fut>(paging: &Paging, mut fetch: F) -> Result<(Vec<T>, u64), SlackError>
where
    F: FnMut(Option<C>) -> Fut,
    Fut: std::future::Future<Output = confab_core::Result<(Vec<T>, u64, Option<C>)>>,
{
    let mut after = None;
    for page in 1..=paging.page {
        let (hits, total, next) = fetch(after.take()).await?;
        if page == paging.page {
            return Ok((hits, total));
        }
        match next {
            Some(cursor) => after = Some(cursor),
            None => return Ok((Vec::new(), total)),
        }
    }
    Ok((Vec::new(), 0))
}

/// Matches with Slack's `paging` and `pagination` blocks.
fn with_paging(matches: Vec<Value>, total: u64, paging: &Paging) -> Value {
    let pages = total.div_ceil(u64::from(paging.count)).max(1);
    let first = u64::from((paging.page - 1) * paging.count) + 1;
    json!({
        "total": total,
        "matches": matches,
        "paging": {"count": paging.count, "total": total, "page": paging.page, "pages": pages},
        "pagination": {
            "total_count": total,
            "page": paging.page,
            "per_page": paging.count,
            "page_count": pages,
            "first": first,
            "last": (first + matches.len() as u64).saturating_sub(1),
        },
    })
}
