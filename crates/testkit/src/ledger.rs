//! Concurrent posters keep a ledger of every message the server
//! acknowledged; a reader then pages back through the whole channel and must
//! see each of them exactly once, newest first. Pages read while posting
//! must already be in order and without repeats.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::json;

use crate::app::TestApp;

/// One poster: the node it talks to and its session.
pub struct Poster<'a> {
    pub app: &'a TestApp,
    pub token: &'a str,
}

/// What the posters and the reader do.
pub struct LedgerRun {
    /// Messages each poster sends, one after another.
    pub posts_each: usize,
    /// Page size of the paging reader (not a divisor of the total, so the
    /// last page is short).
    pub page_size: u32,
}

/// The ids of one history page, newest first, and its `next_cursor`.
async fn page(
    app: &TestApp,
    token: &str,
    channel: &str,
    limit: u32,
    before: Option<&str>,
) -> (Vec<String>, Option<String>) {
    let mut path = format!("/api/v1/channels/{channel}/messages?limit={limit}");
    if let Some(before) = before {
        path.push_str(&format!("&before={before}"));
    }
    let reply = app.get(&path, token).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let ids = reply.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, reply.body["next_cursor"].as_str().map(str::to_owned))
}

/// Strictly newest first: canonical UUIDv7 text sorts as the ids do.
fn assert_newest_first(ids: &[String], what: &str) {
    for pair in ids.windows(2) {
        assert!(
            pair[0] > pair[1],
            "{what}: {} is listed before {}",
            pair[0],
            pair[1]
        );
    }
}

/// Post from every poster at once while `reader` reads the newest page over
/// and over; then page back through `channel` and compare with the ledger.
pub async fn posts_are_all_paged_back(
    posters: &[Poster<'_>],
    reader: Poster<'_>,
    channel: &str,
    run: LedgerRun,
) {
    let done = std::sync::atomic::AtomicBool::new(false);
    let posting =
        futures::future::join_all(posters.iter().enumerate().map(|(p, poster)| async move {
            let mut acknowledged = Vec::with_capacity(run.posts_each);
            for i in 0..run.posts_each {
                let reply = poster
                    .app
                    .post(
                        &format!("/api/v1/channels/{channel}/messages"),
                        Some(poster.token),
                        json!({"content": format!("poster {p} message {i}"),
                               "client_msg_id": format!("p{p}-{i}")}),
                    )
                    .await;
                assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
                acknowledged.push(reply.body["id"].as_str().unwrap().to_owned());
            }
            acknowledged
        }));
    let reading = async {
        let mut reads = 0;
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            let (ids, _) = page(reader.app, reader.token, channel, 30, None).await;
            assert_newest_first(&ids, "the newest page while posting");
            reads += 1;
            tokio::task::yield_now().await;
        }
        reads
    };
    let posting = async {
        let ledger = posting.await;
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        ledger
    };
    let (ledger, reads) = tokio::join!(posting, reading);
    assert!(reads > 0, "the reader never read while posting");
    let ledger: HashSet<String> = ledger.into_iter().flatten().collect();
    assert_eq!(ledger.len(), posters.len() * run.posts_each);

    let mut seen: Vec<String> = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let (ids, next) = page(
            reader.app,
            reader.token,
            channel,
            run.page_size,
            before.as_deref(),
        )
        .await;
        seen.extend(ids);
        match next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_newest_first(&seen, "the channel paged back");
    let shown: HashSet<String> = seen.iter().cloned().collect();
    let missing: Vec<&String> = ledger.difference(&shown).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged messages never shown: {missing:?}",
        missing.len(),
        ledger.len()
    );
    // Nothing but the ledger (the channel held nothing before).
    assert_eq!(shown, ledger);
}
