//! End-to-end cases of real time over real WebSockets: every event kind,
//! who may see what, membership changes on open sockets, the handshake,
//! resuming from a cursor, presence and typing, slow consumers, and the
//! caches in front of the database. Run on the embedded shape (SQLite, in
//! process) and on PostgreSQL + Redis.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api_suite::{enroll_mfa, general_of, new_channel, say, set_presence, team};
use crate::app::{TestApp, PUBLIC_URL};
use crate::fixtures::within_one_minute_window;
use crate::ledger::{posts_are_all_paged_back, LedgerRun, Poster};
use crate::ws_client::{gateway_url, Ended, WsClient};

/// Expands to one `#[tokio::test]` per case, each run through `$harness` (a
/// function taking a closure over a [`TestApp`]).
#[macro_export]
macro_rules! gateway_conformance {
    ($harness:path $(, #[$attr:meta])*) => {
        $crate::__conformance_cases!(gateway_suite, 2, $harness, [$(#[$attr])*],
            sockets_receive_every_kind_of_event,
            sockets_never_see_what_their_user_cannot_read,
            removal_and_joining_take_effect_on_open_sockets,
            two_factor_rules_take_effect_on_open_sockets,
            handshakes_need_a_live_session_and_a_trusted_origin,
            ending_a_session_closes_its_sockets,
            a_reconnecting_socket_gets_what_it_missed,
            presence_and_typing_work_over_rest_and_the_socket,
            a_slow_consumer_is_disconnected,
            cached_pages_and_counts_match_the_database,
            concurrent_posts_are_all_paged_back,
            guests_hear_presence_only_of_people_they_share_a_channel_with,
        );
    };
}

fn id_of(reply: &crate::app::Reply) -> String {
    reply.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {reply:?}"))
        .to_owned()
}

async fn post(app: &TestApp, token: &str, channel: &str, content: &str) -> String {
    let reply = say(app, token, channel, json!({ "content": content })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    id_of(&reply)
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> crate::app::Reply {
    app.call(method, path, Some(token), body).await
}

fn content_is(text: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["message"]["content"] == text
}

pub async fn sockets_receive_every_kind_of_event(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    let owner_id = app.user_id(&t.owner).await;
    let mut ws = WsClient::connect(&app.base, &t.member).await;
    assert!(ws.hello["channels"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == &json!(general)));
    assert!(ws.hello["cursor"].as_str().unwrap().parse::<i64>().is_ok());

    let parent = post(&app, &t.owner, &general, "hello team").await;
    let created = ws.expect("message_created").await;
    assert_eq!(created["message"]["id"], json!(parent));
    assert_eq!(created["message"]["content"], "hello team");
    assert!(created["cursor"].as_str().unwrap().parse::<i64>().is_ok());

    let edit = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/messages/{parent}"),
        &t.owner,
        Some(json!({"content": "hello, team"})),
    )
    .await;
    assert_eq!(edit.status, StatusCode::OK, "{edit:?}");
    let edited = ws.expect("message_edited").await;
    assert_eq!(edited["message"]["content"], "hello, team");
    assert_eq!(edited["message"]["edit_count"], 1);

    let reply = say(
        &app,
        &t.owner,
        &general,
        json!({"content": "in the thread", "thread_id": parent}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let threaded = ws.expect("thread_reply").await;
    assert_eq!(threaded["parent_id"], json!(parent));
    assert_eq!(threaded["reply_count"], 1);
    assert_eq!(threaded["message"]["thread_id"], json!(parent));

    let react = app
        .post(
            &format!("/api/v1/messages/{parent}/reactions"),
            Some(&t.owner),
            json!({"emoji": "tada"}),
        )
        .await;
    assert_eq!(react.status, StatusCode::OK);
    let added = ws.expect("reaction_added").await;
    assert_eq!(
        (added["emoji"].as_str(), added["user_id"].as_str()),
        (Some("tada"), Some(owner_id.as_str()))
    );
    send(
        &app,
        Method::DELETE,
        &format!("/api/v1/messages/{parent}/reactions/tada"),
        &t.owner,
        None,
    )
    .await;
    assert_eq!(
        ws.expect("reaction_removed").await["message_id"],
        json!(parent)
    );

    app.post(
        &format!("/api/v1/messages/{parent}/pin"),
        Some(&t.owner),
        json!({}),
    )
    .await;
    assert_eq!(
        ws.expect("message_pinned").await["message_id"],
        json!(parent)
    );
    send(
        &app,
        Method::DELETE,
        &format!("/api/v1/messages/{parent}/pin"),
        &t.owner,
        None,
    )
    .await;
    assert_eq!(
        ws.expect("message_unpinned").await["message_id"],
        json!(parent)
    );

    let typing = app
        .post(
            &format!("/api/v1/channels/{general}/typing"),
            Some(&t.owner),
            json!({}),
        )
        .await;
    assert_eq!(typing.status, StatusCode::NO_CONTENT, "{typing:?}");
    let typed = ws.expect("typing").await;
    assert_eq!(
        (typed["channel_id"].clone(), typed["user_id"].clone()),
        (json!(general), json!(owner_id))
    );

    let presence = send(
        &app,
        Method::PUT,
        &format!("/api/v1/workspaces/{}/presence", t.ws),
        &t.owner,
        Some(json!({"status": "away", "custom_status": "lunch"})),
    )
    .await;
    assert_eq!(presence.status, StatusCode::OK, "{presence:?}");
    let seen = ws
        .expect_where("presence", |e| e["user_id"] == json!(owner_id))
        .await;
    assert_eq!(seen["presence"]["status"], "away");
    assert_eq!(seen["presence"]["custom_status"], "lunch");

    let room = new_channel(&app, &t.owner, &t.ws, json!({"name": "announcements"})).await;
    let announced = ws.expect("channel_created").await;
    assert_eq!(announced["channel"]["id"], json!(room));
    assert_eq!(announced["channel"]["name"], "announcements");
    let joined = app
        .post(
            &format!("/api/v1/channels/{room}/join"),
            Some(&t.member),
            json!({}),
        )
        .await;
    assert_eq!(joined.status, StatusCode::OK, "{joined:?}");
    ws.expect_where("member_joined", |e| {
        e["channel_id"] == json!(room) && e["user_id"] == json!(t.member_id)
    })
    .await;
    let topic = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/channels/{room}"),
        &t.owner,
        Some(json!({"topic": "news only"})),
    )
    .await;
    assert_eq!(topic.status, StatusCode::OK, "{topic:?}");
    assert_eq!(
        ws.expect("channel_updated").await["channel"]["topic"],
        "news only"
    );
    app.post(
        &format!("/api/v1/channels/{room}/archive"),
        Some(&t.owner),
        json!({}),
    )
    .await;
    assert_eq!(
        ws.expect("channel_archived").await["channel"]["is_archived"],
        true
    );
    app.post(
        &format!("/api/v1/channels/{room}/unarchive"),
        Some(&t.owner),
        json!({}),
    )
    .await;
    ws.expect("channel_unarchived").await;
    app.post(
        &format!("/api/v1/channels/{room}/join"),
        Some(&t.owner),
        json!({}),
    )
    .await;
    app.post(
        &format!("/api/v1/channels/{room}/leave"),
        Some(&t.member),
        json!({}),
    )
    .await;
    ws.expect_where("member_left", |e| {
        e["channel_id"] == json!(room) && e["user_id"] == json!(t.member_id)
    })
    .await;

    // The read marker moves on another device of the same user.
    let other_device = app.log_in("mark").await;
    let read = app
        .post(
            &format!("/api/v1/channels/{general}/read"),
            Some(&other_device),
            json!({"message_id": parent}),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{read:?}");
    let marker = ws.expect("read_marker").await;
    assert_eq!(
        (marker["channel_id"].clone(), marker["message_id"].clone()),
        (json!(general), json!(parent))
    );

    send(
        &app,
        Method::DELETE,
        &format!("/api/v1/messages/{parent}"),
        &t.owner,
        None,
    )
    .await;
    let deleted = ws.expect("message_deleted").await;
    assert_eq!(deleted["message_id"], json!(parent));
    ws.close().await;
}

pub async fn sockets_never_see_what_their_user_cannot_read(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    let secret = new_channel(
        &app,
        &t.owner,
        &t.ws,
        json!({"name": "secret", "private": true}),
    )
    .await;
    let outsider = app.user("otto").await;
    let elsewhere_ws = app.workspace(&outsider, "Elsewhere").await;
    let elsewhere = general_of(&app, &outsider, &elsewhere_ws).await;

    // Guests are not in general: they get a channel of their own.
    let lobby = new_channel(
        &app,
        &t.owner,
        &t.ws,
        json!({"name": "lobby", "private": true}),
    )
    .await;
    app.add_to_channel(&t.owner, &lobby, &t.guest_id).await;
    let mut member = WsClient::connect(&app.base, &t.member).await;
    let mut guest = WsClient::connect(&app.base, &t.guest).await;
    let mut stranger = WsClient::connect(&app.base, &outsider).await;
    assert!(!member.hello["channels"]
        .as_array()
        .unwrap()
        .contains(&json!(secret)));
    assert_eq!(stranger.hello["workspaces"], json!([elsewhere_ws]));

    post(&app, &t.owner, &secret, "private words").await;
    let typing = app
        .post(
            &format!("/api/v1/channels/{secret}/typing"),
            Some(&t.owner),
            json!({}),
        )
        .await;
    assert_eq!(typing.status, StatusCode::NO_CONTENT, "{typing:?}");
    new_channel(&app, &t.owner, &t.ws, json!({"name": "public-news"})).await;
    post(&app, &outsider, &elsewhere, "other company").await;
    post(&app, &t.owner, &general, "sentinel").await;
    post(&app, &t.owner, &lobby, "guest sentinel").await;
    post(&app, &outsider, &elsewhere, "their sentinel").await;

    let seen = member
        .until("message_created", content_is("sentinel"))
        .await;
    assert!(
        seen.iter().all(
            |e| e["channel_id"] != json!(secret) && e["message"]["channel_id"] != json!(secret)
        ),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .all(|e| e["message"]["content"] != "other company"),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|e| e["type"] == "channel_created"),
        "members hear of new public channels"
    );

    let seen = guest
        .until("message_created", content_is("guest sentinel"))
        .await;
    assert!(
        seen.iter().all(|e| e["message"]["content"] != "sentinel"),
        "guests are not in general: {seen:?}"
    );
    assert!(
        seen.iter().all(|e| e["type"] != "channel_created"),
        "guests do not: {seen:?}"
    );
    assert!(seen
        .iter()
        .all(|e| e["message"]["content"] != "private words"));

    let seen = stranger
        .until("message_created", content_is("their sentinel"))
        .await;
    assert!(
        seen.iter()
            .all(|e| e["message"]["content"] != "sentinel"
                && e["message"]["content"] != "private words"),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .all(|e| e["type"] != "channel_created" && e["type"] != "typing"),
        "{seen:?}"
    );
}

pub async fn removal_and_joining_take_effect_on_open_sockets(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    let secret = new_channel(
        &app,
        &t.owner,
        &t.ws,
        json!({"name": "inner-circle", "private": true}),
    )
    .await;
    let mut ws = WsClient::connect(&app.base, &t.member).await;

    app.add_to_channel(&t.owner, &secret, &t.member_id).await;
    ws.expect_where("member_joined", |e| e["channel_id"] == json!(secret))
        .await;
    post(&app, &t.owner, &secret, "welcome in").await;
    ws.expect_where("message_created", content_is("welcome in"))
        .await;

    let removed = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/channels/{secret}/members/{}", t.member_id),
        &t.owner,
        None,
    )
    .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{removed:?}");
    ws.expect_where("member_left", |e| e["channel_id"] == json!(secret))
        .await;
    post(&app, &t.owner, &secret, "after you left").await;
    let typing = app
        .post(
            &format!("/api/v1/channels/{secret}/typing"),
            Some(&t.owner),
            json!({}),
        )
        .await;
    assert_eq!(typing.status, StatusCode::NO_CONTENT, "{typing:?}");
    post(&app, &t.owner, &general, "sentinel").await;
    let seen = ws.until("message_created", content_is("sentinel")).await;
    assert!(
        seen.iter().all(
            |e| e["message"]["content"] != "after you left" && e["channel_id"] != json!(secret)
        ),
        "{seen:?}"
    );

    // Losing the workspace ends every event of it.
    let owner_other = app.log_in("olga").await;
    let deactivated = app
        .post(
            &format!(
                "/api/v1/workspaces/{}/members/{}/deactivate",
                t.ws, t.member_id
            ),
            Some(&owner_other),
            json!({}),
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::OK, "{deactivated:?}");
    ws.expect("access_changed").await;
    post(&app, &t.owner, &general, "after deactivation").await;
    let outsider = app.user("ollie").await;
    let own_ws = app.workspace(&outsider, "Mine").await;
    app.join(&outsider, &own_ws, &t.member, "member").await;
    let joined = ws.expect("access_changed").await;
    assert_eq!(joined["workspace_id"], json!(own_ws));
    let own_general = general_of(&app, &outsider, &own_ws).await;
    post(&app, &outsider, &own_general, "new home").await;
    let seen = ws.until("message_created", content_is("new home")).await;
    assert!(
        seen.iter()
            .all(|e| e["message"]["content"] != "after deactivation"),
        "{seen:?}"
    );
}

pub async fn two_factor_rules_take_effect_on_open_sockets(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    // A second workspace of the member's gives a sentinel channel.
    let other = app.user("odile").await;
    let other_ws = app.workspace(&other, "Elsewhere").await;
    app.join(&other, &other_ws, &t.member, "member").await;
    let sentinel_channel = general_of(&app, &other, &other_ws).await;
    let mut ws = WsClient::connect(&app.base, &t.member).await;

    // The workspace starts requiring 2FA: the member without it loses it.
    enroll_mfa(&app, &t.owner).await;
    let on = app
        .patch(
            &format!("/api/v1/workspaces/{}", t.ws),
            &t.owner,
            json!({"require_2fa": true}),
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{on:?}");
    let changed = ws.expect("access_changed").await;
    assert_eq!(changed["workspace_id"], json!(t.ws));
    post(&app, &t.owner, &general, "for enrolled eyes").await;
    post(&app, &other, &sentinel_channel, "sentinel 1").await;
    let seen = ws.until("message_created", content_is("sentinel 1")).await;
    assert!(
        !seen.iter().any(content_is("for enrolled eyes")),
        "{seen:?}"
    );

    // Enrolling brings it back at once.
    let (secret, _) = enroll_mfa(&app, &t.member).await;
    ws.expect_where("access_changed", |e| e["workspace_id"] == json!(t.ws))
        .await;
    post(&app, &t.owner, &general, "welcome back").await;
    ws.expect_where("message_created", content_is("welcome back"))
        .await;

    // Turning MFA off loses it again.
    let off = app
        .post(
            "/api/v1/me/mfa/disable",
            Some(&t.member),
            json!({"code": crate::app::totp_code(&secret, 1)}),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{off:?}");
    ws.expect_where("access_changed", |e| e["workspace_id"] == json!(t.ws))
        .await;
    post(&app, &t.owner, &general, "enrolled only, again").await;
    post(&app, &other, &sentinel_channel, "sentinel 2").await;
    let seen = ws.until("message_created", content_is("sentinel 2")).await;
    assert!(
        !seen.iter().any(content_is("enrolled only, again")),
        "{seen:?}"
    );

    // The workspace stops requiring 2FA: the member sees it again at once.
    let off = app
        .patch(
            &format!("/api/v1/workspaces/{}", t.ws),
            &t.owner,
            json!({"require_2fa": false}),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{off:?}");
    ws.expect_where("access_changed", |e| e["workspace_id"] == json!(t.ws))
        .await;
    post(&app, &t.owner, &general, "open to all").await;
    ws.expect_where("message_created", content_is("open to all"))
        .await;
}

pub async fn handshakes_need_a_live_session_and_a_trusted_origin(app: TestApp) {
    let t = team(&app).await;
    let url = gateway_url(&app.base, "");
    let bearer = |token: &str| ("authorization", format!("Bearer {token}"));
    assert_eq!(
        WsClient::try_connect(&url, &[]).await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    let forged = "A".repeat(43);
    assert_eq!(
        WsClient::try_connect(&url, &[bearer(&forged)]).await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    let ended = app.log_in("mark").await;
    app.post("/api/v1/auth/logout", Some(&ended), json!({}))
        .await;
    assert_eq!(
        WsClient::try_connect(&url, &[bearer(&ended)]).await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );

    let evil = [
        bearer(&t.member),
        ("origin", "https://evil.example".to_owned()),
    ];
    assert_eq!(
        WsClient::try_connect(&url, &evil).await.err(),
        Some(StatusCode::FORBIDDEN)
    );
    let cookie_from_evil = [
        ("cookie", format!("confab_session={}", t.member)),
        ("origin", "http://evil.example".to_owned()),
    ];
    assert_eq!(
        WsClient::try_connect(&url, &cookie_from_evil).await.err(),
        Some(StatusCode::FORBIDDEN)
    );
    let public = [bearer(&t.member), ("origin", PUBLIC_URL.to_owned())];
    assert!(WsClient::try_connect(&url, &public).await.is_ok());
    let same_host = app.base.clone();
    let cookie = [
        ("cookie", format!("confab_session={}", t.member)),
        ("origin", same_host),
    ];
    assert!(WsClient::try_connect(&url, &cookie).await.is_ok());
    let by_query = gateway_url(&app.base, &format!("access_token={}", t.member));
    assert!(WsClient::try_connect(&by_query, &[]).await.is_ok());
    // One user holds a bounded number of sockets.
    let mut held = Vec::new();
    for _ in 0..confab_service::MAX_SOCKETS_PER_USER {
        held.push(WsClient::connect(&app.base, &t.guest).await);
    }
    assert_eq!(
        WsClient::try_connect(&url, &[bearer(&t.guest)]).await.err(),
        Some(StatusCode::TOO_MANY_REQUESTS)
    );
    held.pop().unwrap().close().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while WsClient::try_connect(&url, &[bearer(&t.guest)])
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a closed socket frees its place"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A client message over the 16 KiB limit ends the socket.
    let mut oversized = WsClient::connect(&app.base, &t.member).await;
    oversized
        .send(json!({"type": "ping", "padding": "x".repeat(20 * 1024)}))
        .await;
    assert_eq!(
        oversized.ended().await,
        Ended::Closed(1009),
        "message too big"
    );
    // A plain HTTP request with a session is told to use a WebSocket.
    let plain = app.get("/api/v1/ws", &t.member).await;
    assert_eq!(plain.status, StatusCode::BAD_REQUEST, "{plain:?}");
    assert_eq!(plain.body["error"]["field"], "upgrade");
    let bad_cursor = gateway_url(&app.base, "cursor=yesterday");
    assert_eq!(
        WsClient::try_connect(&bad_cursor, &[bearer(&t.member)])
            .await
            .err(),
        Some(StatusCode::BAD_REQUEST)
    );
}

pub async fn ending_a_session_closes_its_sockets(app: TestApp) {
    let t = team(&app).await;
    let second = app.log_in("mark").await;
    let mut first_ws = WsClient::connect(&app.base, &t.member).await;
    let mut second_ws = WsClient::connect(&app.base, &second).await;
    let out = app
        .post("/api/v1/auth/logout", Some(&t.member), json!({}))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(first_ws.ended().await, Ended::Closed(4001));
    // The other session's socket stays open and keeps working.
    let general = general_of(&app, &second, &t.ws).await;
    post(&app, &t.owner, &general, "still here?").await;
    second_ws
        .expect_where("message_created", content_is("still here?"))
        .await;
    app.post("/api/v1/auth/logout-all", Some(&second), json!({}))
        .await;
    assert_eq!(second_ws.ended().await, Ended::Closed(4001));
}

pub async fn a_reconnecting_socket_gets_what_it_missed(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    let mut ws = WsClient::connect(&app.base, &t.member).await;
    let first = post(&app, &t.owner, &general, "before the drop").await;
    let cursor = ws.expect("message_created").await["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    ws.close().await;

    // Past the replay overlap, so only what follows counts as missed.
    tokio::time::sleep(
        confab_service::REPLAY_OVERLAP.to_std().unwrap() + Duration::from_millis(200),
    )
    .await;
    let missed = post(&app, &t.owner, &general, "while you were away").await;
    let edit = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/messages/{first}"),
        &t.owner,
        Some(json!({"content": "before the drop (edited)"})),
    )
    .await;
    assert_eq!(edit.status, StatusCode::OK);
    let reply = say(
        &app,
        &t.owner,
        &general,
        json!({"content": "a reply while away", "thread_id": first}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let gone = post(&app, &t.owner, &general, "posted then deleted").await;
    send(
        &app,
        Method::DELETE,
        &format!("/api/v1/messages/{gone}"),
        &t.owner,
        None,
    )
    .await;

    let mut back = WsClient::connect_query(&app.base, &t.member, &format!("cursor={cursor}")).await;
    let created = back
        .expect_where("message_created", |e| e["message"]["id"] == json!(missed))
        .await;
    assert_eq!(created["message"]["content"], "while you were away");
    let updated = back
        .expect_where("message_updated", |e| e["message"]["id"] == json!(first))
        .await;
    assert_eq!(updated["message"]["content"], "before the drop (edited)");
    assert_eq!(updated["message"]["reply_count"], 1);
    // A reply comes as a reply, with its parent's count, as it would live.
    let replied = back.expect("thread_reply").await;
    assert_eq!(replied["message"]["content"], "a reply while away");
    assert_eq!(replied["parent_id"], json!(first));
    assert_eq!(replied["reply_count"], 1);
    let deleted = back
        .expect_where("message_created", |e| e["message"]["id"] == json!(gone))
        .await;
    assert_eq!(deleted["message"]["is_deleted"], true);
    assert_eq!(deleted["message"]["content"], "");
    // Then live events follow on the same socket.
    post(&app, &t.owner, &general, "live again").await;
    back.expect_where("message_created", content_is("live again"))
        .await;
}

pub async fn presence_and_typing_work_over_rest_and_the_socket(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    let owner_id = app.user_id(&t.owner).await;
    let path = format!(
        "/api/v1/workspaces/{}/presence?user_ids={},{}",
        t.ws, t.member_id, owner_id
    );
    let before = app.get(&path, &t.owner).await;
    assert_eq!(before.status, StatusCode::OK, "{before:?}");
    assert_eq!(before.body["presence"][0]["status"], "offline");
    assert!(before.body["presence"][0]["last_seen"].is_null());

    let mut watcher = WsClient::connect(&app.base, &t.owner).await;
    let mut ws = WsClient::connect(&app.base, &t.member).await;
    let online = watcher
        .expect_where("presence", |e| e["user_id"] == json!(t.member_id))
        .await;
    assert_eq!(online["presence"]["status"], "online");
    let now = app.get(&path, &t.owner).await;
    assert_eq!(now.body["presence"][0]["status"], "online");
    assert_eq!(now.body["presence"][0]["timezone"], "UTC");
    assert!(now.body["presence"][0]["last_seen"].is_string());

    ws.send(json!({"type": "presence", "workspace_id": t.ws, "status": "away", "custom_status": "In a meeting"})).await;
    let away = watcher
        .expect_where("presence", |e| {
            e["user_id"] == json!(t.member_id) && e["presence"]["status"] == "away"
        })
        .await;
    assert_eq!(away["presence"]["custom_status"], "In a meeting");
    ws.send(json!({"type": "typing", "channel_id": general}))
        .await;
    let typing = watcher
        .expect_where("typing", |e| e["user_id"] == json!(t.member_id))
        .await;
    assert_eq!(typing["channel_id"], json!(general));
    let typers = app
        .get(&format!("/api/v1/channels/{general}/typing"), &t.owner)
        .await;
    assert_eq!(typers.body["user_ids"], json!([t.member_id]));

    ws.send(json!({"type": "ping"})).await;
    ws.expect("pong").await;
    ws.send(json!({"type": "typing", "channel_id": "not-an-id"}))
        .await;
    assert_eq!(ws.expect("error").await["error"]["code"], "invalid");
    ws.send(json!({"type": "presence", "workspace_id": t.ws, "status": "offline"}))
        .await;
    assert_eq!(ws.expect("error").await["error"]["field"], "status");
    let too_long = "x".repeat(101);
    let refused = send(
        &app,
        Method::PUT,
        &format!("/api/v1/workspaces/{}/presence", t.ws),
        &t.member,
        Some(json!({"custom_status": too_long})),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let outsider = app.user("otto").await;
    assert_eq!(
        app.get(&path, &outsider).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/channels/{general}/typing"),
            Some(&outsider),
            json!({})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Typing signals are limited per user, not fanned out without end.
    let typing_path = format!("/api/v1/channels/{general}/typing");
    within_one_minute_window(Duration::from_secs(15)).await;
    for _ in 0..confab_service::MAX_TYPING_SIGNALS_PER_MINUTE {
        let reply = app.post(&typing_path, Some(&t.owner), json!({})).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    }
    let flooded = app.post(&typing_path, Some(&t.owner), json!({})).await;
    assert_eq!(flooded.status, StatusCode::TOO_MANY_REQUESTS, "{flooded:?}");

    // So are presence changes, each of which reaches the whole workspace.
    let presence_path = format!("/api/v1/workspaces/{}/presence", t.ws);
    within_one_minute_window(Duration::from_secs(15)).await;
    for i in 0..confab_service::MAX_PRESENCE_CHANGES_PER_MINUTE {
        let status = if i % 2 == 0 { "away" } else { "online" };
        let reply = app
            .call(
                Method::PUT,
                &presence_path,
                Some(&t.guest),
                Some(json!({ "status": status })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    }
    let flooded = app
        .call(
            Method::PUT,
            &presence_path,
            Some(&t.guest),
            Some(json!({"status": "away"})),
        )
        .await;
    assert_eq!(flooded.status, StatusCode::TOO_MANY_REQUESTS, "{flooded:?}");

    ws.close().await;
    let offline = watcher
        .expect_where("presence", |e| {
            e["user_id"] == json!(t.member_id) && e["presence"]["status"] == "offline"
        })
        .await;
    assert_eq!(offline["presence"]["custom_status"], "In a meeting");
}

pub async fn a_slow_consumer_is_disconnected(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    let presence = format!(
        "/api/v1/workspaces/{}/presence?user_ids={}",
        t.ws, t.member_id
    );
    let status = |reply: crate::app::Reply| reply.body["presence"][0]["status"].clone();
    let mut slow = WsClient::connect(&app.base, &t.member).await;
    assert_eq!(status(app.get(&presence, &t.owner).await), "online");
    // The slow client reads nothing while about 16 MB of events pile up.
    let big = "x".repeat(39_000);
    for _ in 0..400 {
        let reply = say(&app, &t.owner, &general, json!({"content": big})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    }
    // The server gives up on it (and the user goes offline) on its own.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while status(app.get(&presence, &t.owner).await) != "offline" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slow socket is still open"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Its buffers are full, so no close frame can reach it: the server
    // drops the connection.
    assert_eq!(slow.ended().await, Ended::Dropped);
}

pub async fn cached_pages_and_counts_match_the_database(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    let page = |limit: u32| format!("/api/v1/channels/{general}/messages?limit={limit}");
    let ids = |reply: &crate::app::Reply| -> Vec<Value> {
        reply.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].clone())
            .collect()
    };
    // Fewer messages than the cache holds: the whole history.
    let mut posted = Vec::new();
    for i in 0..3 {
        posted.push(post(&app, &t.owner, &general, &format!("early {i}")).await);
    }
    for _ in 0..2 {
        let reply = app.get(&page(50), &t.member).await;
        assert_eq!(
            ids(&reply),
            posted.iter().rev().map(|p| json!(p)).collect::<Vec<_>>()
        );
        assert_eq!(reply.body["authors"].as_array().unwrap().len(), 1);
    }
    // The page came from the cache, which holds the whole short history.
    let state = app
        .state
        .as_ref()
        .expect("the suite's servers run in process");
    let general_id: confab_core::id::ChannelId = general.parse().unwrap();
    let cached = state.recent_messages(general_id, 100).await.unwrap();
    assert_eq!(cached.map(|c| c.len()), Some(3));
    for i in 0..60 {
        posted.push(post(&app, &t.member, &general, &format!("m{i} @olga")).await);
    }
    let truth = |posted: &[String], limit: usize| -> Vec<Value> {
        posted.iter().rev().take(limit).map(|p| json!(p)).collect()
    };
    assert_eq!(ids(&app.get(&page(50), &t.owner).await), truth(&posted, 50));
    assert_eq!(ids(&app.get(&page(10), &t.owner).await), truth(&posted, 10));
    // An edit, a reaction and a delete are seen at once.
    let edited = posted[posted.len() - 2].clone();
    send(
        &app,
        Method::PATCH,
        &format!("/api/v1/messages/{edited}"),
        &t.member,
        Some(json!({"content": "changed, @olga"})),
    )
    .await;
    let reply = app.get(&page(5), &t.owner).await;
    assert_eq!(reply.body["messages"][1]["content"], "changed, @olga");
    app.post(
        &format!("/api/v1/messages/{edited}/reactions"),
        Some(&t.owner),
        json!({"emoji": "eyes"}),
    )
    .await;
    assert_eq!(
        app.get(&page(5), &t.owner).await.body["messages"][1]["reactions"][0]["name"],
        "eyes"
    );
    let deleted = posted.pop().unwrap();
    send(
        &app,
        Method::DELETE,
        &format!("/api/v1/messages/{deleted}"),
        &t.member,
        None,
    )
    .await;
    assert_eq!(ids(&app.get(&page(50), &t.owner).await), truth(&posted, 50));

    // Unread counts: served from the cache, and equal to a rebuild.
    let unread = format!("/api/v1/workspaces/{}/unread", t.ws);
    let counts = |reply: &crate::app::Reply| -> Value {
        let general_state = reply.body["channels"]
            .as_array()
            .unwrap_or_else(|| panic!("{reply:?}"))
            .iter()
            .find(|s| s["channel_id"] == json!(general))
            .cloned()
            .unwrap();
        json!([general_state["unread"], general_state["mentions"]])
    };
    assert_eq!(counts(&app.get(&unread, &t.owner).await), json!([59, 59]));
    let owner_id = app.user_id(&t.owner).await.parse().unwrap();
    let cached = state
        .unread_counts(owner_id, t.ws.parse().unwrap())
        .await
        .unwrap()
        .expect("the counts were cached by the read above");
    let general_counts = cached.iter().find(|c| c.channel_id == general_id).unwrap();
    assert_eq!((general_counts.unread, general_counts.mentions), (59, 59));
    post(&app, &t.member, &general, "one more").await;
    post(&app, &t.member, &general, "and @channel").await;
    let reply = say(
        &app,
        &t.member,
        &general,
        json!({"content": "@olga in a thread", "thread_id": posted[5]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(counts(&app.get(&unread, &t.owner).await), json!([61, 61]));
    let read = app
        .post(
            &format!("/api/v1/channels/{general}/read"),
            Some(&t.owner),
            json!({"message_id": posted[10]}),
        )
        .await;
    assert!(read.body["moved"].as_bool().unwrap());
    let after_read = counts(&app.get(&unread, &t.owner).await);
    assert_eq!(after_read, json!([53, 53]));
    // The same as the database says, read directly.
    let owner_id: confab_core::id::UserId = app.user_id(&t.owner).await.parse().unwrap();
    let workspace: confab_core::id::WorkspaceId = t.ws.parse().unwrap();
    let stored = app
        .stores
        .channels
        .read_states(workspace, owner_id, None)
        .await
        .unwrap();
    let general_id: confab_core::id::ChannelId = general.parse().unwrap();
    let truth = stored.iter().find(|s| s.channel_id == general_id).unwrap();
    assert_eq!(after_read, json!([truth.unread, truth.mentions]));
    let state = app
        .get(&format!("/api/v1/channels/{general}/read-state"), &t.owner)
        .await;
    // An edit that adds a mention counts it (mentions are parsed again).
    let plain = post(&app, &t.member, &general, "no mention yet").await;
    assert_eq!(counts(&app.get(&unread, &t.owner).await), json!([54, 53]));
    let edited = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/messages/{plain}"),
        &t.member,
        Some(json!({"content": "now for @olga"})),
    )
    .await;
    assert_eq!(edited.status, StatusCode::OK, "{edited:?}");
    assert_eq!(counts(&app.get(&unread, &t.owner).await), json!([54, 54]));

    // Someone who joins the workspace (and so general) after its member list
    // was cached counts new posts at once.
    let newcomer = app.user("nina").await;
    app.join(&t.owner, &t.ws, &newcomer, "member").await;
    let newcomer_unread = |reply: crate::app::Reply| {
        reply.body["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["channel_id"] == json!(general))
            .map(|s| s["unread"].clone())
    };
    let before = newcomer_unread(app.get(&unread, &newcomer).await).unwrap();
    post(&app, &t.owner, &general, "welcome, nina").await;
    let after = newcomer_unread(app.get(&unread, &newcomer).await).unwrap();
    assert_eq!(after.as_i64().unwrap(), before.as_i64().unwrap() + 1);

    // A channel created after the counts were cached is counted too.
    let fresh = new_channel(&app, &t.owner, &t.ws, json!({"name": "fresh"})).await;
    let listed = app.get(&unread, &t.owner).await;
    assert!(
        listed.body["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["channel_id"] == json!(fresh)),
        "{listed:?}"
    );
    assert_eq!(
        after_read,
        json!([state.body["unread"], state.body["mentions"]])
    );
}

pub async fn concurrent_posts_are_all_paged_back(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    let posters: Vec<Poster> = (0..16)
        .map(|i| Poster {
            app: &app,
            token: if i % 2 == 0 { &t.owner } else { &t.member },
        })
        .collect();
    let reader = Poster {
        app: &app,
        token: &t.owner,
    };
    posts_are_all_paged_back(
        &posters,
        reader,
        &general,
        LedgerRun {
            posts_each: 40,
            page_size: 37,
        },
    )
    .await;
}

pub async fn guests_hear_presence_only_of_people_they_share_a_channel_with(app: TestApp) {
    let t = team(&app).await;
    let owner_id = app.user_id(&t.owner).await;
    let room = new_channel(
        &app,
        &t.owner,
        &t.ws,
        json!({"name": "room", "private": true}),
    )
    .await;
    app.add_to_channel(&t.owner, &room, &t.guest_id).await;
    let mut guest = WsClient::connect(&app.base, &t.guest).await;
    // The member shares no channel with the guest; the owner does. The
    // member's change comes first, so had it been delivered it would be
    // the first presence the guest hears.
    set_presence(&app, &t.member, &t.ws, "away").await;
    set_presence(&app, &t.owner, &t.ws, "away").await;
    let heard = guest
        .expect_where("presence", |e| e["presence"]["status"] == "away")
        .await;
    assert_eq!(heard["user_id"], json!(owner_id));
    // Once the member joins the guest's channel, their presence reaches it.
    app.add_to_channel(&t.owner, &room, &t.member_id).await;
    guest.expect("member_joined").await;
    set_presence(&app, &t.member, &t.ws, "online").await;
    let heard = guest
        .expect_where("presence", |e| e["presence"]["status"] == "online")
        .await;
    assert_eq!(heard["user_id"], json!(t.member_id));
    guest.close().await;
}

/// PostgreSQL only: a reply that waits for its parent's row lock (held here
/// by another connection) commits after a later message that a socket has
/// already seen, by more than the replay overlap. A socket resuming from
/// that later message's cursor still receives the reply, because changes
/// are stamped inside their transaction, after the wait.
pub async fn a_change_that_waited_for_a_lock_is_replayed(app: TestApp, database_url: String) {
    use sqlx::Connection;
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    let parent = post(&app, &t.owner, &general, "a thread").await;
    let mut blocker = sqlx::PgConnection::connect(&database_url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("SELECT 1 FROM messages WHERE message_id = $1::uuid FOR UPDATE")
        .bind(&parent)
        .execute(&mut blocker)
        .await
        .unwrap();
    let held_for = confab_service::REPLAY_OVERLAP.to_std().unwrap() + Duration::from_secs(1);

    let held_reply = say(
        &app,
        &t.owner,
        &general,
        json!({"content": "a reply that waited", "thread_id": parent}),
    );
    let meanwhile = async {
        let mut ws = WsClient::connect(&app.base, &t.member).await;
        tokio::time::sleep(held_for - Duration::from_millis(500)).await;
        let later = post(&app, &t.owner, &general, "posted while the reply waited").await;
        let cursor = ws
            .expect_where("message_created", |e| e["message"]["id"] == json!(later))
            .await["cursor"]
            .as_str()
            .unwrap()
            .to_owned();
        ws.close().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        sqlx::query("COMMIT").execute(&mut blocker).await.unwrap();
        cursor
    };
    let (reply, cursor) = tokio::join!(held_reply, meanwhile);
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let reply_id = id_of(&reply);

    let mut back = WsClient::connect_query(&app.base, &t.member, &format!("cursor={cursor}")).await;
    // Made before the cursor, committed after it: it comes as a change.
    let replayed = back
        .expect_where("message_updated", |e| e["message"]["id"] == json!(reply_id))
        .await;
    assert_eq!(replayed["message"]["content"], "a reply that waited");
    assert_eq!(replayed["message"]["thread_id"], json!(parent));
}
