//! The search port itself: what every engine must do with the documents it
//! is given and the searches it is asked, whatever the service around it.
//! Run against each engine through [`search_index_conformance!`].

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use confab_core::id::{ChannelId, FileId, MessageId, UserId, WorkspaceId};
use confab_core::ports::SearchIndex;
use confab_core::search::{
    parse_query, person_words, FileDocument, FileKind, FileSearch, MessageDocument, MessageSearch,
    PeopleSearch, PersonDocument, SearchCursor, SearchSort,
};

/// The search port cases, one test each, run through `$harness`.
#[macro_export]
macro_rules! search_index_conformance {
    ($harness:path $(, #[$attr:meta])*) => {
        $crate::__conformance_cases!(search_index_suite, 2, $harness, [$(#[$attr])*],
            documents_are_replaced_and_removed_by_id,
            every_hit_is_paged_once_in_order,
            rights_and_filters_narrow_every_search,
            quotes_and_backslashes_are_only_text,
            files_are_found_in_their_channels_or_by_their_uploader,
            files_are_found_by_name_and_text_and_kind,
            people_are_found_by_the_start_of_their_words,
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

/// A file of `place`'s workspace, uploaded by `uploader`, shared in
/// `channels`.
fn file(
    place: &Place,
    uploader: UserId,
    channels: &[ChannelId],
    name: &str,
    text: &str,
    kind: FileKind,
    at: DateTime<Utc>,
) -> FileDocument {
    FileDocument {
        id: FileId::new(),
        workspace_id: place.workspace,
        uploader_id: uploader,
        channels: channels.to_vec(),
        name: name.to_owned(),
        text: text.to_owned(),
        kind,
        created_at: at,
        version: 1,
    }
}

/// A search of files in `channels` of `place`'s workspace, or uploaded by
/// `uploaded_by`.
fn file_search(
    place: &Place,
    channels: &[ChannelId],
    uploaded_by: Option<UserId>,
    text: &str,
) -> FileSearch {
    FileSearch {
        workspace_id: place.workspace,
        channels: channels.to_vec(),
        uploaded_by,
        uploaders: Vec::new(),
        query: parse_query(text),
        since: None,
        until: None,
        sort: SearchSort::Relevance,
        after: None,
        limit: 100,
    }
}

async fn files_found(index: &Arc<dyn SearchIndex>, search: &FileSearch) -> BTreeSet<FileId> {
    let hits = index.search_files(search).await.unwrap();
    assert_eq!(hits.total, hits.hits.len() as u64);
    hits.hits.iter().map(|h| h.id).collect()
}

pub async fn files_are_found_in_their_channels_or_by_their_uploader(index: Arc<dyn SearchIndex>) {
    let place = Place::new();
    let (me, someone) = (UserId::new(), UserId::new());
    let (general, private) = (ChannelId::new(), ChannelId::new());
    let shared = file(
        &place,
        someone,
        &[general, private],
        "budget shared.txt",
        "",
        FileKind::Text,
        day(1),
    );
    let private_only = file(
        &place,
        someone,
        &[private],
        "budget private.txt",
        "",
        FileKind::Text,
        day(2),
    );
    let mine = file(
        &place,
        me,
        &[],
        "budget mine.txt",
        "",
        FileKind::Text,
        day(3),
    );
    let theirs = file(
        &place,
        someone,
        &[],
        "budget theirs.txt",
        "",
        FileKind::Text,
        day(4),
    );
    let foreign_place = Place::new();
    let foreign = file(
        &foreign_place,
        me,
        &[general],
        "budget foreign.txt",
        "",
        FileKind::Text,
        day(5),
    );
    index
        .index_files(
            &[
                shared.clone(),
                private_only.clone(),
                mine.clone(),
                theirs.clone(),
                foreign.clone(),
            ],
            &[],
        )
        .await
        .unwrap();
    let set = |files: &[&FileDocument]| files.iter().map(|f| f.id).collect::<BTreeSet<_>>();

    // A member of `general` who uploaded `mine`: never `theirs`, the
    // private channel's file, or another workspace's.
    let search = file_search(&place, &[general], Some(me), "budget");
    assert_eq!(files_found(&index, &search).await, set(&[&shared, &mine]));
    // Narrowed to channels (`in:`): uploads alone no longer count.
    let search = file_search(&place, &[general, private], None, "budget");
    assert_eq!(
        files_found(&index, &search).await,
        set(&[&shared, &private_only])
    );
    // No channel, nothing uploaded: nothing.
    let search = file_search(&place, &[], Some(UserId::new()), "budget");
    assert!(files_found(&index, &search).await.is_empty());
    // By uploader.
    let mut search = file_search(&place, &[general, private], Some(me), "budget");
    search.uploaders = vec![someone];
    assert_eq!(
        files_found(&index, &search).await,
        set(&[&shared, &private_only])
    );

    // Unshared from `general` and deleted: gone from those searches.
    let mut unshared = shared.clone();
    unshared.channels = vec![private];
    unshared.version = 2;
    index.index_files(&[unshared], &[mine.id]).await.unwrap();
    let search = file_search(&place, &[general], Some(me), "budget");
    assert!(files_found(&index, &search).await.is_empty());
    index
        .index_files(&[], &[mine.id, FileId::new()])
        .await
        .unwrap();
}

pub async fn files_are_found_by_name_and_text_and_kind(index: Arc<dyn SearchIndex>) {
    let place = Place::new();
    let channel = place.channel;
    let sheet = file(
        &place,
        place.author,
        &[channel],
        "Quarterly-Budget_2027.xlsx",
        "Revenue forecast for the northern region",
        FileKind::Spreadsheet,
        day(1),
    );
    let photo = file(
        &place,
        place.author,
        &[channel],
        "team photo.png",
        "",
        FileKind::Image,
        day(2),
    );
    let report = file(
        &place,
        place.author,
        &[channel],
        "report.pdf",
        "The forecasts were revised; see PLT-3699.",
        FileKind::Pdf,
        day(3),
    );
    index
        .index_files(&[sheet.clone(), photo.clone(), report.clone()], &[])
        .await
        .unwrap();
    let set = |files: &[&FileDocument]| files.iter().map(|f| f.id).collect::<BTreeSet<_>>();
    let search = |text: &str| file_search(&place, &[channel], None, text);
    for (text, expected) in [
        ("budget", set(&[&sheet])),
        ("quarterly-budget_2027.xlsx", set(&[&sheet])),
        ("forecast", set(&[&sheet, &report])),
        ("\"northern region\"", set(&[&sheet])),
        ("PLT-3699", set(&[&report])),
        ("photo", set(&[&photo])),
        ("forecast type:pdf", set(&[&report])),
        ("type:image", set(&[&photo])),
        ("type:image type:spreadsheet", set(&[&sheet, &photo])),
        ("forecast -revenue", set(&[&report])),
        ("type:video", BTreeSet::new()),
    ] {
        assert_eq!(files_found(&index, &search(text)).await, expected, "{text}");
    }
    // Snippets mark what matched in the name and text.
    let hits = index.search_files(&search("northern")).await.unwrap();
    let snippet = hits.hits[0].snippet.clone().expect("a snippet");
    let [start, end] = snippet.highlights[0];
    let marked: String = snippet.text.chars().skip(start).take(end - start).collect();
    assert_eq!(marked, "northern");
    // Newest first, a page at a time.
    let mut by_date = search("type:image type:spreadsheet type:pdf");
    by_date.sort = SearchSort::Newest;
    by_date.limit = 2;
    let first = index.search_files(&by_date).await.unwrap();
    assert_eq!(
        first.hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        [report.id, photo.id]
    );
    let last = first.hits.last().unwrap();
    by_date.after = Some(SearchCursor {
        key: last.key,
        id: last.id,
    });
    let second = index.search_files(&by_date).await.unwrap();
    assert_eq!(
        second.hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        [sheet.id]
    );
}

fn person(
    workspace: WorkspaceId,
    user: UserId,
    username: &str,
    display_name: &str,
    title: Option<&str>,
) -> PersonDocument {
    PersonDocument {
        user_id: user,
        workspace_id: workspace,
        username: username.to_owned(),
        display_name: display_name.to_owned(),
        title: title.map(str::to_owned),
        department: Some("Platform Team".into()),
        email: format!("{username}@example.test"),
        version: 1,
    }
}

pub async fn people_are_found_by_the_start_of_their_words(index: Arc<dyn SearchIndex>) {
    let (here, elsewhere) = (WorkspaceId::new(), WorkspaceId::new());
    let (maria, marco, zed, lopez) = (UserId::new(), UserId::new(), UserId::new(), UserId::new());
    let documents = vec![
        person(
            here,
            maria,
            "maria",
            "Maria López",
            Some("Platform engineer"),
        ),
        person(elsewhere, maria, "maria", "Maria López", None),
        person(here, marco, "marco", "Marco Polo", Some("Sales")),
        person(here, zed, "zed", "Zed 100%_done", None),
        person(here, lopez, "lopez_fan", "Fan of López", None),
        person(elsewhere, UserId::new(), "mario", "Mario Elsewhere", None),
    ];
    index
        .index_people(&[maria, marco, zed, lopez], &documents)
        .await
        .unwrap();
    let search = |text: &str, by_email: bool| PeopleSearch {
        workspace_id: here,
        words: person_words(text),
        by_email,
        limit: 20,
    };
    for (text, by_email, expected) in [
        ("mar", false, vec![marco, maria]),
        ("MAR", false, vec![marco, maria]),
        ("lóp", false, vec![lopez, maria]),
        ("engineer", false, vec![maria]),
        ("platform team", false, vec![lopez, marco, maria, zed]),
        ("maria plat", false, vec![maria]),
        ("100%_", false, vec![zed]),
        ("%", false, vec![]),
        ("maria@", false, vec![]),
        ("maria@", true, vec![maria]),
        ("mario", false, vec![]),
    ] {
        assert_eq!(
            index.search_people(&search(text, by_email)).await.unwrap(),
            expected,
            "{text} (by address: {by_email})"
        );
    }
    let mut limited = search("platform", false);
    limited.limit = 2;
    assert_eq!(index.search_people(&limited).await.unwrap(), [lopez, marco]);

    // Renamed in one place, gone from the other: a user's documents are
    // replaced whole.
    let renamed = person(here, maria, "maria", "Mariana Lopez", None);
    index.index_people(&[maria], &[renamed]).await.unwrap();
    assert_eq!(
        index
            .search_people(&search("mariana", false))
            .await
            .unwrap(),
        [maria]
    );
    let mut other_place = search("maria", false);
    other_place.workspace_id = elsewhere;
    assert!(index.search_people(&other_place).await.unwrap().is_empty());
    index
        .index_people(&[maria, UserId::new()], &[])
        .await
        .unwrap();
    assert!(index
        .search_people(&search("mariana", false))
        .await
        .unwrap()
        .is_empty());
}
