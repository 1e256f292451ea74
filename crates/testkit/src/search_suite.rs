//! Searching messages over HTTP: the query language, the analyzers, the
//! index following every change, paging, and above all that nobody finds
//! what they may not read. Run for every database through
//! [`api_conformance!`](crate::api_conformance) (on the embedded index), and
//! for every search engine through [`search_conformance!`].

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::app::{Reply, TestApp};

/// The search cases, one test each, run through `$harness`.
#[macro_export]
macro_rules! search_conformance {
    ($harness:path $(, #[$attr:meta])*) => {
        $crate::__conformance_cases!(search_suite, 2, $harness, [$(#[$attr])*],
            search_finds_words_phrases_and_exact_tokens,
            search_filters_by_person_place_time_and_kind,
            search_shows_only_what_the_caller_may_read,
            search_follows_edits_deletes_and_pages,
            people_are_found_by_name_title_and_address_for_admins,
            files_are_found_only_by_those_who_may_read_them,
            files_are_found_by_name_and_text_as_they_change,
        );
    };
}

/// `GET /workspaces/{ws}/search/messages` with `q` and more parameters.
pub async fn search(app: &TestApp, token: &str, ws: &str, q: &str, more: &str) -> Reply {
    let q: String = url_encode(q);
    app.get(
        &format!("/api/v1/workspaces/{ws}/search/messages?q={q}{more}"),
        token,
    )
    .await
}

/// `text` as a query-string value.
fn url_encode(text: &str) -> String {
    let url = reqwest::Url::parse_with_params("http://query.test/", &[("v", text)]).unwrap();
    url.query().unwrap()["v=".len()..].to_owned()
}

/// The contents of the messages found, in order.
async fn found(app: &TestApp, token: &str, ws: &str, q: &str) -> Vec<String> {
    found_in(&search(app, token, ws, q, "").await)
}

fn found_in(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"]["content"].as_str().unwrap().to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Post `content` to `channel`; the message.
async fn post(app: &TestApp, token: &str, channel: &str, content: &str) -> Value {
    let reply = app
        .post(
            &format!("/api/v1/channels/{channel}/messages"),
            Some(token),
            json!({ "content": content }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body
}

async fn new_channel(app: &TestApp, token: &str, ws: &str, name: &str, private: bool) -> String {
    crate::api_suite::new_channel(app, token, ws, json!({ "name": name, "private": private })).await
}

async fn conversation(app: &TestApp, token: &str, ws: &str, users: &[&str]) -> String {
    let reply = app
        .post(
            &format!("/api/v1/workspaces/{ws}/conversations"),
            Some(token),
            json!({ "users": users }),
        )
        .await;
    assert!(reply.status.is_success(), "{reply:?}");
    reply.body["id"].as_str().unwrap().to_owned()
}

pub async fn search_finds_words_phrases_and_exact_tokens(app: TestApp) {
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Words").await;
    let general = app.general_channel(&ann, &ws).await;
    for text in [
        "Deploying the new parserConfig to staging",
        "rolling restart of PLT-3699 done, see config.toml",
        "mail ann@example.com about https://example.com/docs/setup",
        "会議は明日です",
        "restart rolling later",
        "Café opening at v2.10.1",
    ] {
        post(&app, &ann, &general, text).await;
    }
    app.indexed().await;
    let one = |text: &str| vec![text.to_owned()];
    let deploy = "Deploying the new parserConfig to staging";
    let plt = "rolling restart of PLT-3699 done, see config.toml";
    let mail = "mail ann@example.com about https://example.com/docs/setup";
    let cafe = "Café opening at v2.10.1";
    assert_eq!(found(&app, &ann, &ws, "deploy").await, one(deploy));
    assert_eq!(
        found(&app, &ann, &ws, "\"rolling restart\"").await,
        one(plt)
    );
    for token in ["PLT-3699", "plt-3699", "3699", "config.toml", "PLT-36*"] {
        assert_eq!(found(&app, &ann, &ws, token).await, one(plt), "{token}");
    }
    for token in ["ann@example.com", "https://example.com/docs/setup", "docs"] {
        assert_eq!(found(&app, &ann, &ws, token).await, one(mail), "{token}");
    }
    for token in ["parser", "parserConfig", "PARSERCONFIG", "deplo*"] {
        assert_eq!(found(&app, &ann, &ws, token).await, one(deploy), "{token}");
    }
    assert_eq!(found(&app, &ann, &ws, "会議").await, one("会議は明日です"));
    for token in ["cafe", "CAFÉ", "v2.10.1"] {
        assert_eq!(found(&app, &ann, &ws, token).await, one(cafe), "{token}");
    }
    assert_eq!(
        found(&app, &ann, &ws, "restart -PLT-3699").await,
        one("restart rolling later")
    );
    let either: BTreeSet<String> = found(&app, &ann, &ws, "deploy OR cafe")
        .await
        .into_iter()
        .collect();
    assert_eq!(either, set(&[deploy, cafe]));
    assert_eq!(
        found_in(&search(&app, &ann, &ws, "restart", "&sort=newest").await),
        ["restart rolling later", plt]
    );
    assert!(found(&app, &ann, &ws, "nothing-like-this").await.is_empty());

    // The snippet marks what matched, by character offsets.
    let reply = search(&app, &ann, &ws, "deploy", "").await;
    let snippet = &reply.body["results"][0]["snippet"];
    let text: Vec<char> = snippet["text"].as_str().unwrap().chars().collect();
    let [start, end] = [&snippet["highlights"][0][0], &snippet["highlights"][0][1]]
        .map(|v| v.as_u64().unwrap() as usize);
    assert_eq!(text[start..end].iter().collect::<String>(), "Deploying");
    // The query comes back as understood; odd input is read as words.
    let odd = search(&app, &ann, &ws, "unmatched \"quote colour:red", "").await;
    assert_eq!(odd.status, StatusCode::OK, "{odd:?}");
    assert_eq!(odd.body["query"]["text"], "unmatched \"quote colour:red");
}

pub async fn search_filters_by_person_place_time_and_kind(app: TestApp) {
    let ann = app.user("ann").await;
    let bob = app.user("bob").await;
    let ws = app.workspace(&ann, "Filters").await;
    app.join(&ann, &ws, &bob, "member").await;
    let bob_id = app.user_id(&bob).await;
    let general = app.general_channel(&ann, &ws).await;
    let ops = new_channel(&app, &ann, &ws, "ops", false).await;
    app.add_to_channel(&ann, &ops, &bob_id).await;
    let one = post(&app, &ann, &general, "alpha one").await;
    let two = post(&app, &bob, &general, "alpha two").await;
    let three = post(&app, &ann, &ops, "alpha three https://x.test/a").await;
    let dm = conversation(&app, &ann, &ws, &[&bob_id]).await;
    post(&app, &bob, &dm, "alpha four").await;
    let five = app
        .post(
            &format!("/api/v1/channels/{general}/messages"),
            Some(&bob),
            json!({"content": "alpha five", "thread_id": one["id"]}),
        )
        .await;
    assert_eq!(five.status, StatusCode::CREATED, "{five:?}");
    let pin = app
        .post(
            &format!("/api/v1/messages/{}/pin", two["id"].as_str().unwrap()),
            Some(&ann),
            json!({}),
        )
        .await;
    assert!(pin.status.is_success(), "{pin:?}");
    let react = app
        .post(
            &format!(
                "/api/v1/messages/{}/reactions",
                three["id"].as_str().unwrap()
            ),
            Some(&bob),
            json!({"emoji": "tada"}),
        )
        .await;
    assert!(react.status.is_success(), "{react:?}");
    app.indexed().await;

    let as_set = |v: Vec<String>| v.into_iter().collect::<BTreeSet<_>>();
    let check = |who: &'static str, q: &'static str, expected: &'static [&'static str]| {
        let token = if who == "ann" {
            ann.clone()
        } else {
            bob.clone()
        };
        let (app, ws) = (&app, ws.clone());
        async move {
            assert_eq!(
                as_set(found(app, &token, &ws, q).await),
                set(expected),
                "{who}: {q}"
            );
        }
    };
    check(
        "ann",
        "alpha",
        &[
            "alpha one",
            "alpha two",
            "alpha three https://x.test/a",
            "alpha four",
            "alpha five",
        ],
    )
    .await;
    check(
        "ann",
        "from:@bob alpha",
        &["alpha two", "alpha four", "alpha five"],
    )
    .await;
    check("ann", "from:@nobody alpha", &[]).await;
    check("ann", "in:#ops alpha", &["alpha three https://x.test/a"]).await;
    check("ann", "in:@bob", &["alpha four"]).await;
    check("bob", "in:@ann", &["alpha four"]).await;
    check("ann", "has:link", &["alpha three https://x.test/a"]).await;
    check("ann", "has:pin", &["alpha two"]).await;
    check(
        "ann",
        "has:reaction alpha",
        &["alpha three https://x.test/a"],
    )
    .await;
    check("ann", "is:thread", &["alpha five"]).await;
    check(
        "bob",
        "is:mine alpha",
        &["alpha two", "alpha four", "alpha five"],
    )
    .await;
    check("ann", "from:@bob is:mine", &[]).await;
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap();
    let tomorrow = today.succ_opt().unwrap();
    for (q, all) in [
        (format!("alpha after:{yesterday}"), true),
        (format!("alpha before:{today}"), false),
        (format!("alpha on:{today}"), true),
        (format!("alpha before:{tomorrow} after:{yesterday}"), true),
        (format!("alpha during:{}", today.format("%Y-%m")), true),
    ] {
        let hits = found(&app, &ann, &ws, &q).await;
        assert_eq!(hits.len(), if all { 5 } else { 0 }, "{q}: {hits:?}");
    }
    // A reply comes with its thread's first message.
    let reply = search(&app, &ann, &ws, "five", "").await;
    assert_eq!(reply.body["results"][0]["parent"]["content"], "alpha one");
    assert_eq!(reply.body["results"][0]["channel"]["name"], "general");
    assert_eq!(reply.body["results"][0]["author"]["username"], "bob");
    // Filters alone list the newest first.
    assert_eq!(
        found(&app, &ann, &ws, "from:@bob").await,
        ["alpha five", "alpha four", "alpha two"]
    );
}

/// Who may read what, each searching for the word every message holds.
pub async fn search_shows_only_what_the_caller_may_read(app: TestApp) {
    let owner = app.user("owner").await;
    let ws = app.workspace(&owner, "Rights").await;
    let general = app.general_channel(&owner, &ws).await;
    let mut tokens = Vec::new();
    for (name, role) in [
        ("admin", "admin"),
        ("member", "member"),
        ("guest", "guest"),
        ("leaver", "member"),
        ("gone", "member"),
    ] {
        let token = app.user(name).await;
        app.join(&owner, &ws, &token, role).await;
        tokens.push((name, token));
    }
    let token = |name: &str| tokens.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    let id = |name: &str| {
        let token = token(name);
        let app = &app;
        async move { app.user_id(&token).await }
    };
    let (member_id, admin_id, guest_id, leaver_id) = (
        id("member").await,
        id("admin").await,
        id("guest").await,
        id("leaver").await,
    );
    let open = new_channel(&app, &owner, &ws, "open", false).await;
    let secret = new_channel(&app, &owner, &ws, "secret", true).await;
    app.add_to_channel(&owner, &secret, &member_id).await;
    app.add_to_channel(&owner, &secret, &leaver_id).await;
    let old = new_channel(&app, &owner, &ws, "old", false).await;
    let dm = conversation(&app, &owner, &ws, &[&member_id]).await;
    let group = conversation(&app, &owner, &ws, &[&member_id, &admin_id]).await;
    // Guests see only where they were added.
    let guest_room = new_channel(&app, &owner, &ws, "guest-room", false).await;
    app.add_to_channel(&owner, &guest_room, &guest_id).await;
    for (channel, tag) in [
        (&general, "general"),
        (&open, "open"),
        (&secret, "secret"),
        (&old, "old"),
        (&dm, "dm"),
        (&group, "group"),
        (&guest_room, "guestroom"),
    ] {
        post(&app, &owner, channel, &format!("needle {tag}")).await;
    }
    let archived = app
        .post(
            &format!("/api/v1/channels/{old}/archive"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert!(archived.status.is_success(), "{archived:?}");
    let left = app
        .post(
            &format!("/api/v1/channels/{secret}/leave"),
            Some(&token("leaver")),
            json!({}),
        )
        .await;
    assert!(left.status.is_success(), "{left:?}");
    let gone_id = id("gone").await;
    let deactivated = app
        .post(
            &format!("/api/v1/workspaces/{ws}/members/{gone_id}/deactivate"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert!(deactivated.status.is_success(), "{deactivated:?}");
    // Another workspace with the same word.
    let outsider = app.user("outsider").await;
    let other = app.workspace(&outsider, "Elsewhere").await;
    let elsewhere = app.general_channel(&outsider, &other).await;
    post(&app, &outsider, &elsewhere, "needle elsewhere").await;
    app.indexed().await;

    let public = [
        "needle general",
        "needle open",
        "needle old",
        "needle guestroom",
    ];
    let with = |extra: &[&'static str]| {
        let mut all: Vec<&'static str> = public.to_vec();
        all.extend_from_slice(extra);
        set(&all)
    };
    let expected = [
        (
            "owner",
            owner.clone(),
            with(&["needle secret", "needle dm", "needle group"]),
        ),
        ("admin", token("admin"), with(&["needle group"])),
        (
            "member",
            token("member"),
            with(&["needle secret", "needle dm", "needle group"]),
        ),
        ("guest", token("guest"), set(&["needle guestroom"])),
        ("leaver", token("leaver"), with(&[])),
    ];
    for (who, token, expected) in expected {
        let hits: BTreeSet<String> = found(&app, &token, &ws, "needle")
            .await
            .into_iter()
            .collect();
        assert_eq!(hits, expected, "{who}");
        // Not even by naming the place.
        for q in ["needle in:#secret", "in:@owner", "in:#guest-room"] {
            for hit in found(&app, &token, &ws, q).await {
                assert!(expected.contains(&hit), "{who} found {hit} with {q}");
            }
        }
    }
    for (who, token) in [
        ("deactivated", token("gone")),
        ("outsider", outsider.clone()),
    ] {
        let refused = search(&app, &token, &ws, "needle", "").await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{who}: {refused:?}");
    }
    assert_eq!(
        found(&app, &outsider, &other, "needle").await,
        ["needle elsewhere"]
    );
    let foreign = search(&app, &owner, &other, "needle", "").await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{foreign:?}");
}

pub async fn search_follows_edits_deletes_and_pages(app: TestApp) {
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Changes").await;
    let general = app.general_channel(&ann, &ws).await;
    let kiwi = post(&app, &ann, &general, "kiwi original").await;
    let id = kiwi["id"].as_str().unwrap();
    app.indexed().await;
    assert_eq!(found(&app, &ann, &ws, "kiwi").await, ["kiwi original"]);
    let edited = app
        .patch(
            &format!("/api/v1/messages/{id}"),
            &ann,
            json!({"content": "mango fresh"}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{edited:?}");
    app.indexed().await;
    assert!(found(&app, &ann, &ws, "kiwi").await.is_empty());
    assert_eq!(found(&app, &ann, &ws, "mango").await, ["mango fresh"]);
    let deleted = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/messages/{id}"),
            Some(&ann),
            None,
        )
        .await;
    assert!(deleted.status.is_success(), "{deleted:?}");
    app.indexed().await;
    assert!(found(&app, &ann, &ws, "mango").await.is_empty());

    for i in 0..45 {
        post(&app, &ann, &general, &format!("paging number {i}")).await;
    }
    app.indexed().await;
    for sort in ["relevance", "newest"] {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        let mut pages = Vec::new();
        loop {
            let more = format!("&sort={sort}&limit=20{cursor}");
            let reply = search(&app, &ann, &ws, "paging", &more).await;
            assert_eq!(reply.body["total"], 45, "{reply:?}");
            assert_eq!(reply.body["total_is_exact"], true);
            let page = found_in(&reply);
            pages.push(page.len());
            seen.extend(page);
            match reply.body["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        assert_eq!(pages, [20, 20, 5], "{sort}");
        let distinct: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(distinct.len(), 45, "{sort}: {seen:?}");
        if sort == "newest" {
            assert_eq!(seen[0], "paging number 44");
            assert_eq!(seen[44], "paging number 0");
        }
    }
    // Clear errors for what cannot be read.
    for (more, field) in [
        ("&cursor=not-a-cursor", "cursor"),
        // `NaN_0190f6b2-4c2a-7d6e-9a51-3f0c2b7d8e11`, in the cursor encoding.
        (
            "&cursor=TmFOXzAxOTBmNmIyLTRjMmEtN2Q2ZS05YTUxLTNmMGMyYjdkOGUxMQ",
            "cursor",
        ),
        ("&sort=sideways", "sort"),
    ] {
        let bad = search(&app, &ann, &ws, "paging", more).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{more}: {bad:?}");
        assert!(bad.body.to_string().contains(field), "{bad:?}");
    }
    let long = search(&app, &ann, &ws, &"x".repeat(1_001), "").await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST, "{long:?}");
    let blank = search(&app, &ann, &ws, "   ", "").await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST, "{blank:?}");
    let missing = app
        .get(&format!("/api/v1/workspaces/{ws}/search/messages"), &ann)
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{missing:?}");
}

pub async fn people_are_found_by_name_title_and_address_for_admins(app: TestApp) {
    let owner = app.user("owner").await;
    let ws = app.workspace(&owner, "People").await;
    let mut tokens = Vec::new();
    for (name, role, display, title) in [
        ("maria", "member", "Maria Lopez", "Platform engineer"),
        ("marco", "member", "Marco Polo", "Sales"),
        ("lopez_fan", "guest", "Fan of Lopez", "Visitor"),
        ("zed", "member", "Zed 100%_done", "Support"),
    ] {
        let token = app.user(name).await;
        app.join(&owner, &ws, &token, role).await;
        let set = app
            .patch(
                "/api/v1/me",
                &token,
                json!({"display_name": display, "title": title}),
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{set:?}");
        tokens.push((name, token));
    }
    let member = tokens[0].1.clone();
    let guest = tokens[2].1.clone();
    // People are found through the search engine: once indexed.
    app.indexed().await;
    let people = |token: String, q: &'static str| {
        let (app, ws) = (&app, ws.clone());
        async move {
            let reply = app
                .get(
                    &format!("/api/v1/workspaces/{ws}/search/people?q={}", url_encode(q)),
                    &token,
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{q}: {reply:?}");
            reply.body["people"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["username"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(people(member.clone(), "mar").await, ["marco", "maria"]);
    assert_eq!(people(member.clone(), "lop").await, ["lopez_fan", "maria"]);
    assert_eq!(people(member.clone(), "engineer").await, ["maria"]);
    assert_eq!(people(member.clone(), "MARIA").await, ["maria"]);
    // Wildcards are plain characters.
    assert_eq!(people(member.clone(), "100%_").await, ["zed"]);
    assert!(people(member.clone(), "%").await.is_empty());
    // Addresses: found and shown for admins only.
    assert!(people(member.clone(), "maria@").await.is_empty());
    assert_eq!(people(owner.clone(), "maria@").await, ["maria"]);
    let as_member = app
        .get(
            &format!("/api/v1/workspaces/{ws}/search/people?q=maria"),
            &member,
        )
        .await;
    assert!(
        as_member.body["people"][0].get("email").is_none(),
        "{as_member:?}"
    );
    let as_owner = app
        .get(
            &format!("/api/v1/workspaces/{ws}/search/people?q=maria"),
            &owner,
        )
        .await;
    assert_eq!(as_owner.body["people"][0]["email"], "maria@example.test");
    // A new name is found once indexed, the old one no longer; a member
    // deactivated is found no more.
    let renamed = app
        .patch(
            "/api/v1/me",
            &tokens[1].1,
            json!({"display_name": "Marcel Proust"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{renamed:?}");
    let deactivated = app
        .post(
            &format!(
                "/api/v1/workspaces/{ws}/members/{}/deactivate",
                app.user_id(&tokens[0].1).await
            ),
            Some(&owner),
            json!({}),
        )
        .await;
    assert!(deactivated.status.is_success(), "{deactivated:?}");
    app.indexed().await;
    assert_eq!(people(owner.clone(), "proust").await, ["marco"]);
    assert_eq!(people(owner.clone(), "mar").await, ["marco"]);
    assert_eq!(people(owner.clone(), "lopez").await, ["lopez_fan"]);
    // Guests may not look people up; outsiders do not see the workspace.
    let refused = app
        .get(
            &format!("/api/v1/workspaces/{ws}/search/people?q=mar"),
            &guest,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    let outsider = app.user("outsider").await;
    let hidden = app
        .get(
            &format!("/api/v1/workspaces/{ws}/search/people?q=mar"),
            &outsider,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{hidden:?}");
}

/// `GET /workspaces/{ws}/search/files` with `q` and more parameters.
pub async fn search_files(app: &TestApp, token: &str, ws: &str, q: &str, more: &str) -> Reply {
    let q: String = url_encode(q);
    app.get(
        &format!("/api/v1/workspaces/{ws}/search/files?q={q}{more}"),
        token,
    )
    .await
}

/// The names of the files found, in order.
fn file_names_in(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"]["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn files_found(app: &TestApp, token: &str, ws: &str, q: &str) -> BTreeSet<String> {
    file_names_in(&search_files(app, token, ws, q, "").await)
        .into_iter()
        .collect()
}

/// Upload a text file `name` saying `text`; its id.
async fn upload_text(app: &TestApp, token: &str, ws: &str, name: &str, text: &str) -> String {
    upload_bytes(app, token, ws, name, text.as_bytes()).await
}

async fn upload_bytes(app: &TestApp, token: &str, ws: &str, name: &str, bytes: &[u8]) -> String {
    let reply = crate::files_suite::upload(app, token, ws, name, "text/plain", bytes).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body["id"].as_str().unwrap().to_owned()
}

/// Post `files` to `channel`; the message.
async fn share(app: &TestApp, token: &str, channel: &str, files: &[&str]) -> Value {
    let reply = app
        .post(
            &format!("/api/v1/channels/{channel}/messages"),
            Some(token),
            json!({ "content": "", "file_ids": files }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body
}

pub async fn files_are_found_only_by_those_who_may_read_them(app: TestApp) {
    let owner = app.user("owner").await;
    let ws = app.workspace(&owner, "File rights").await;
    let general = app.general_channel(&owner, &ws).await;
    let mut tokens = Vec::new();
    for (name, role) in [
        ("admin", "admin"),
        ("member", "member"),
        ("guest", "guest"),
        ("leaver", "member"),
        ("gone", "member"),
    ] {
        let token = app.user(name).await;
        app.join(&owner, &ws, &token, role).await;
        tokens.push((name, token));
    }
    let token = |name: &str| tokens.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    let mut ids = std::collections::HashMap::new();
    for (name, t) in &tokens {
        ids.insert(*name, app.user_id(t).await);
    }
    let open = new_channel(&app, &owner, &ws, "open", false).await;
    let secret = new_channel(&app, &owner, &ws, "secret", true).await;
    app.add_to_channel(&owner, &secret, &ids["member"]).await;
    app.add_to_channel(&owner, &secret, &ids["leaver"]).await;
    let old = new_channel(&app, &owner, &ws, "old", false).await;
    let dm = conversation(&app, &owner, &ws, &[&ids["member"]]).await;
    let group = conversation(&app, &owner, &ws, &[&ids["member"], &ids["admin"]]).await;
    let guest_room = new_channel(&app, &owner, &ws, "guest-room", false).await;
    app.add_to_channel(&owner, &guest_room, &ids["guest"]).await;
    for (channel, tag) in [
        (&general, "general"),
        (&open, "open"),
        (&secret, "secret"),
        (&old, "old"),
        (&dm, "dm"),
        (&group, "group"),
        (&guest_room, "guestroom"),
    ] {
        let file = upload_text(&app, &owner, &ws, &format!("needle-{tag}.txt"), tag).await;
        share(&app, &owner, channel, &[&file]).await;
    }
    // Uploaded and never shared: its uploader's alone.
    upload_text(&app, &token("member"), &ws, "needle-unshared.txt", "mine").await;
    upload_text(&app, &token("guest"), &ws, "needle-guestown.txt", "mine").await;
    // Shared, then the message deleted: no longer in `open`.
    let withdrawn = upload_text(&app, &owner, &ws, "needle-withdrawn.txt", "oops").await;
    let message = share(&app, &owner, &open, &[&withdrawn]).await;
    let deleted = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/messages/{}", message["id"].as_str().unwrap()),
            Some(&owner),
            None,
        )
        .await;
    assert!(deleted.status.is_success(), "{deleted:?}");
    let archived = app
        .post(
            &format!("/api/v1/channels/{old}/archive"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert!(archived.status.is_success(), "{archived:?}");
    let left = app
        .post(
            &format!("/api/v1/channels/{secret}/leave"),
            Some(&token("leaver")),
            json!({}),
        )
        .await;
    assert!(left.status.is_success(), "{left:?}");
    let deactivated = app
        .post(
            &format!("/api/v1/workspaces/{ws}/members/{}/deactivate", ids["gone"]),
            Some(&owner),
            json!({}),
        )
        .await;
    assert!(deactivated.status.is_success(), "{deactivated:?}");
    let outsider = app.user("outsider").await;
    let other = app.workspace(&outsider, "Elsewhere").await;
    let elsewhere = app.general_channel(&outsider, &other).await;
    let foreign = upload_text(&app, &outsider, &other, "needle-elsewhere.txt", "x").await;
    share(&app, &outsider, &elsewhere, &[&foreign]).await;
    app.indexed().await;

    let with = |extra: &[&str]| {
        let mut all = vec![
            "needle-general.txt",
            "needle-open.txt",
            "needle-old.txt",
            "needle-guestroom.txt",
        ];
        all.extend_from_slice(extra);
        set(&all)
    };
    for (who, token, expected) in [
        (
            "owner",
            owner.clone(),
            with(&[
                "needle-secret.txt",
                "needle-dm.txt",
                "needle-group.txt",
                "needle-withdrawn.txt",
            ]),
        ),
        ("admin", token("admin"), with(&["needle-group.txt"])),
        (
            "member",
            token("member"),
            with(&[
                "needle-secret.txt",
                "needle-dm.txt",
                "needle-group.txt",
                "needle-unshared.txt",
            ]),
        ),
        (
            "guest",
            token("guest"),
            set(&["needle-guestroom.txt", "needle-guestown.txt"]),
        ),
        ("leaver", token("leaver"), with(&[])),
    ] {
        assert_eq!(
            files_found(&app, &token, &ws, "needle").await,
            expected,
            "{who}"
        );
        let reply = search_files(&app, &token, &ws, "needle", "").await;
        assert_eq!(reply.body["total"], expected.len(), "{who}: {reply:?}");
        // Naming a place never widens what is found.
        for q in [
            "needle in:#secret",
            "in:@owner",
            "needle in:#guest-room",
            "type:text",
        ] {
            for hit in files_found(&app, &token, &ws, q).await {
                assert!(expected.contains(&hit), "{who} found {hit} with {q}");
            }
        }
    }
    // `in:` keeps the files shared there, not the caller's other uploads.
    assert_eq!(
        files_found(&app, &token("member"), &ws, "needle in:#secret").await,
        set(&["needle-secret.txt"])
    );
    for (who, token) in [
        ("deactivated", token("gone")),
        ("outsider", outsider.clone()),
    ] {
        let refused = search_files(&app, &token, &ws, "needle", "").await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{who}: {refused:?}");
    }
    assert_eq!(
        files_found(&app, &outsider, &other, "needle").await,
        set(&["needle-elsewhere.txt"])
    );
}

pub async fn files_are_found_by_name_and_text_as_they_change(app: TestApp) {
    let ann = app.user("ann").await;
    let bob = app.user("bob").await;
    let ws = app.workspace(&ann, "File text").await;
    app.join(&ann, &ws, &bob, "member").await;
    let general = app.general_channel(&ann, &ws).await;
    let notes = upload_text(
        &app,
        &ann,
        &ws,
        "Quarterly_Notes.md",
        "The kumquat harvest forecast for PLT-3699.",
    )
    .await;
    let pdf = upload_bytes(
        &app,
        &ann,
        &ws,
        "summary.pdf",
        &crate::files_suite::pdf_with_text("Persimmon shipments doubled"),
    )
    .await;
    crate::files_suite::processed(&app, &ann, &notes).await;
    crate::files_suite::processed(&app, &ann, &pdf).await;
    app.indexed().await;
    let one = |name: &str| set(&[name]);
    // By the words of the name and of the text, its exact tokens, its kind.
    for (q, expected) in [
        ("quarterly", one("Quarterly_Notes.md")),
        ("kumquat", one("Quarterly_Notes.md")),
        ("PLT-3699", one("Quarterly_Notes.md")),
        ("\"harvest forecast\"", one("Quarterly_Notes.md")),
        ("persimmon", one("summary.pdf")),
        ("type:pdf", one("summary.pdf")),
        ("kumquat type:pdf", set(&[])),
        ("from:@ann type:text", one("Quarterly_Notes.md")),
        ("from:@bob", set(&[])),
    ] {
        assert_eq!(files_found(&app, &ann, &ws, q).await, expected, "{q}");
    }
    let reply = search_files(&app, &ann, &ws, "kumquat", "").await;
    let result = &reply.body["results"][0];
    assert_eq!(result["uploader"]["username"], "ann", "{reply:?}");
    let snippet = &result["snippet"];
    let text: Vec<char> = snippet["text"].as_str().unwrap().chars().collect();
    let [start, end] = [0, 1].map(|i| snippet["highlights"][0][i].as_u64().unwrap() as usize);
    assert_eq!(text[start..end].iter().collect::<String>(), "kumquat");
    assert_eq!(reply.body["query"]["text"], "kumquat");

    // Bob finds them once they are shared where he can read, and not after.
    assert!(files_found(&app, &bob, &ws, "kumquat").await.is_empty());
    let message = share(&app, &ann, &general, &[&notes, &pdf]).await;
    app.indexed().await;
    assert_eq!(
        files_found(&app, &bob, &ws, "kumquat").await,
        one("Quarterly_Notes.md")
    );
    // Newest first, a page at a time.
    let first = search_files(&app, &bob, &ws, "type:text type:pdf", "&limit=1").await;
    assert_eq!(file_names_in(&first), ["summary.pdf"]);
    assert_eq!(first.body["total"], 2);
    let next = first.body["next_cursor"].as_str().unwrap();
    let second = search_files(
        &app,
        &bob,
        &ws,
        "type:text type:pdf",
        &format!("&limit=1&cursor={next}"),
    )
    .await;
    assert_eq!(file_names_in(&second), ["Quarterly_Notes.md"]);
    assert!(second.body["next_cursor"].is_null(), "{second:?}");
    let bad = search_files(&app, &bob, &ws, "x", "&cursor=not-a-cursor").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{bad:?}");

    let removed = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/messages/{}", message["id"].as_str().unwrap()),
            Some(&ann),
            None,
        )
        .await;
    assert!(removed.status.is_success(), "{removed:?}");
    app.indexed().await;
    assert!(files_found(&app, &bob, &ws, "kumquat").await.is_empty());
    assert_eq!(
        files_found(&app, &ann, &ws, "kumquat").await,
        one("Quarterly_Notes.md")
    );
    // Deleted: found by nobody.
    let gone = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/files/{notes}"),
            Some(&ann),
            None,
        )
        .await;
    assert!(gone.status.is_success(), "{gone:?}");
    app.indexed().await;
    assert!(files_found(&app, &ann, &ws, "kumquat").await.is_empty());
    assert_eq!(
        files_found(&app, &ann, &ws, "persimmon").await,
        one("summary.pdf")
    );
}
