//! The search port itself: what every engine must do with the documents it
//! is given and the searches it is asked, whatever the service around it.
//! Run against each engine through [`search_index_conformance!`].

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use confab_core::id::{ChannelId, MessageId, UserId, WorkspaceId};
use confab_core::ports::SearchIndex;
use confab_core::search::{parse_query, MessageDocument, MessageSearch, SearchCursor, SearchSort};

/// The search port cases, one test each, run through `$harness`.
#[macro_export]
macro_rules! search_index_conformance {
    ($harness:path $(, #[$attr:meta])*) => {
        $crate::__conformance_cases!(search_index_suite, 2, $harness, [$(#[$attr])*],
            documents_are_replaced_and_removed_by_id,
            every_hit_is_paged_once_in_order,
            rights_and_filters_narrow_every_search,
            quotes_and_backslashes_are_only_text,
        );
    };
}

/// Where the documents of a case live.
struct Place {
    workspace: WorkspaceId,
    channel: ChannelId,
    author: UserId,
}

impl Place {
    fn new() -> Self {
        Self {
            workspace: WorkspaceId::new(),
            channel: ChannelId::new(),
            author: UserId::new(),
        }
    }

    fn document(&self, content: &str, at: DateTime<Utc>) -> MessageDocument {
        MessageDocument {
            id: MessageId::at(at),
            workspace_id: self.workspace,
            channel_id: self.channel,
            user_id: self.author,
            thread_id: None,
            content: content.to_owned(),
            created_at: at,
            has_link: confab_core::search::has_link(content),
            has_file: false,
            has_reaction: false,
            is_pinned: false,
            version: 1,
        }
    }

    /// A search of this place's channel.
    fn search(&self, text: &str) -> MessageSearch {
        MessageSearch {
            workspace_id: self.workspace,
            channels: vec![self.channel],
            authors: Vec::new(),
            query: parse_query(text),
            since: None,
            until: None,
            sort: SearchSort::Relevance,
            after: None,
            limit: 100,
        }
    }
}

fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap()
}

/// The ids found, in order.
async fn found(index: &Arc<dyn SearchIndex>, search: &MessageSearch) -> Vec<MessageId> {
    let hits = index.search_messages(search).await.unwrap();
    hits.hits.iter().map(|h| h.id).collect()
}

pub async fn documents_are_replaced_and_removed_by_id(index: Arc<dyn SearchIndex>) {
    let place = Place::new();
    let mut first = place.document("alpha original", day(1));
    index.index_messages(&[first.clone()], &[]).await.unwrap();
    assert_eq!(found(&index, &place.search("alpha")).await, [first.id]);

    // The same id again replaces the document; twice in one batch, the
    // last one counts.
    first.content = "beta edited".into();
    let mut last = first.clone();
    last.content = "gamma edited again".into();
    index
        .index_messages(&[first.clone(), last.clone()], &[])
        .await
        .unwrap();
    assert!(found(&index, &place.search("alpha")).await.is_empty());
    assert!(found(&index, &place.search("beta")).await.is_empty());
    assert_eq!(found(&index, &place.search("gamma")).await, [first.id]);
    let edited = index
        .search_messages(&place.search("edited"))
        .await
        .unwrap();
    assert_eq!((edited.total, edited.total_is_exact), (1, true));

    // Removed, and removing again (or what was never there) is no error.
    let never = MessageId::at(day(2));
    index.index_messages(&[], &[first.id, never]).await.unwrap();
    assert!(found(&index, &place.search("gamma")).await.is_empty());
    index.index_messages(&[], &[first.id]).await.unwrap();
    index.index_messages(&[], &[]).await.unwrap();
    let none = index
        .search_messages(&place.search("edited"))
        .await
        .unwrap();
    assert_eq!((none.total, none.hits.len()), (0, 0));
}

pub async fn every_hit_is_paged_once_in_order(index: Arc<dyn SearchIndex>) {
    let place = Place::new();
    // Scores that tie and scores that differ (one to four mentions), and
    // times that tie (three messages a minute).
    let documents: Vec<MessageDocument> = (0..45)
        .map(|i| {
            let words = vec!["paging"; 1 + i % 4].join(" ");
            let at = day(1) + Duration::minutes(i as i64 / 3);
            place.document(&format!("{words} item{i} filler text"), at)
        })
        .collect();
    index.index_messages(&documents, &[]).await.unwrap();
    for sort in [SearchSort::Relevance, SearchSort::Newest] {
        let mut search = place.search("paging");
        search.sort = sort;
        search.limit = 20;
        let mut seen: Vec<MessageId> = Vec::new();
        let mut keys: Vec<(f64, MessageId)> = Vec::new();
        let mut pages = Vec::new();
        loop {
            let page = index.search_messages(&search).await.unwrap();
            assert_eq!((page.total, page.total_is_exact), (45, true), "{sort:?}");
            pages.push(page.hits.len());
            keys.extend(page.hits.iter().map(|h| (h.key, h.id)));
            seen.extend(page.hits.iter().map(|h| h.id));
            let Some(last) = page.hits.last() else { break };
            if page.hits.len() < search.limit {
                break;
            }
            search.after = Some(SearchCursor {
                key: last.key,
                id: last.id,
            });
        }
        assert_eq!(pages, [20, 20, 5], "{sort:?}");
        let distinct: BTreeSet<MessageId> = seen.iter().copied().collect();
        assert_eq!(distinct.len(), 45, "{sort:?}");
        for pair in keys.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!(
                a.0 > b.0 || (a.0 == b.0 && a.1 > b.1),
                "{sort:?}: {a:?} before {b:?}"
            );
        }
        if sort == SearchSort::Newest {
            let ids = |docs: &[MessageDocument]| docs.iter().map(|d| d.id).collect::<BTreeSet<_>>();
            let first: BTreeSet<MessageId> = seen[..3].iter().copied().collect();
            let last: BTreeSet<MessageId> = seen[42..].iter().copied().collect();
            assert_eq!(first, ids(&documents[42..]));
            assert_eq!(last, ids(&documents[..3]));
        } else {
            // The most mentions first.
            let best: BTreeSet<MessageId> = seen[..11].iter().copied().collect();
            let four: BTreeSet<MessageId> =
                documents.iter().skip(3).step_by(4).map(|d| d.id).collect();
            assert_eq!(best, four);
        }
    }
}

pub async fn rights_and_filters_narrow_every_search(index: Arc<dyn SearchIndex>) {
    let place = Place::new();
    let elsewhere = Place {
        channel: ChannelId::new(),
        author: UserId::new(),
        ..Place::new()
    };
    let other_workspace = Place::new();
    let plain = place.document("needle plain", day(1));
    let mut linked = place.document("needle https://example.test/x", day(2));
    linked.is_pinned = true;
    let mut reply = place.document("needle in a thread", day(3));
    reply.thread_id = Some(plain.id);
    reply.has_reaction = true;
    reply.has_file = true;
    let mut far = place.document("needle far away", day(20));
    far.channel_id = elsewhere.channel;
    far.user_id = elsewhere.author;
    let foreign = other_workspace.document("needle foreign", day(4));
    index
        .index_messages(
            &[
                plain.clone(),
                linked.clone(),
                reply.clone(),
                far.clone(),
                foreign.clone(),
            ],
            &[],
        )
        .await
        .unwrap();
    let ids = |found: Vec<MessageId>| found.into_iter().collect::<BTreeSet<_>>();
    let set = |docs: &[&MessageDocument]| docs.iter().map(|d| d.id).collect::<BTreeSet<_>>();

    let mut search = place.search("needle");
    assert_eq!(
        ids(found(&index, &search).await),
        set(&[&plain, &linked, &reply])
    );
    // No channel allowed: nothing, whatever the query.
    search.channels.clear();
    assert!(found(&index, &search).await.is_empty());
    assert_eq!(index.search_messages(&search).await.unwrap().total, 0);
    // Another workspace's channel id given with this workspace: nothing.
    search.channels = vec![place.channel, elsewhere.channel, other_workspace.channel];
    assert_eq!(
        ids(found(&index, &search).await),
        set(&[&plain, &linked, &reply, &far])
    );
    search.authors = vec![elsewhere.author];
    assert_eq!(ids(found(&index, &search).await), set(&[&far]));
    search.authors.clear();
    search.since = Some(day(2));
    search.until = Some(day(4));
    assert_eq!(ids(found(&index, &search).await), set(&[&linked, &reply]));
    search.since = None;
    search.until = None;
    for (filters, expected) in [
        ("has:link has:pin", set(&[&linked])),
        ("has:reaction has:file is:thread", set(&[&reply])),
        ("has:link is:thread", BTreeSet::new()),
        ("-thread", set(&[&plain, &linked, &far])),
    ] {
        search.query = parse_query(&format!("needle {filters}"));
        assert_eq!(ids(found(&index, &search).await), expected, "{filters}");
    }
    // Filters alone: everything they allow, newest first.
    search.query = parse_query("has:pin");
    assert_eq!(found(&index, &search).await, [linked.id]);
    search.query = parse_query("before:2026-03-15");
    search.since = None;
    search.until = Some(day(15));
    assert_eq!(
        found(&index, &search).await,
        [reply.id, linked.id, plain.id]
    );
}

pub async fn quotes_and_backslashes_are_only_text(index: Arc<dyn SearchIndex>) {
    let place = Place::new();
    let quoted = place.document(r"don't touch C:\temp\it's or 'a' & !b | c:*", day(1));
    let plain = place.document("dont touch anything", day(2));
    // What the token would be with its backslashes lost.
    let unescaped = place.document(r"C:tempit's", day(3));
    index
        .index_messages(&[quoted.clone(), plain.clone(), unescaped.clone()], &[])
        .await
        .unwrap();
    for text in [r"don't", r"C:\temp\it's", "'a'", "!b", r#""touch C""#] {
        assert_eq!(
            found(&index, &place.search(text)).await,
            [quoted.id],
            "{text}"
        );
    }
    let prefixed: BTreeSet<MessageId> = found(&index, &place.search("c:*"))
        .await
        .into_iter()
        .collect();
    assert_eq!(prefixed, BTreeSet::from([quoted.id, unescaped.id]));
    assert_eq!(found(&index, &place.search("dont")).await, [plain.id]);
    assert_eq!(
        found(&index, &place.search(r"C:tempit's")).await,
        [unescaped.id]
    );
}
