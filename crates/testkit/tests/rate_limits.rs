//! Rate limits that need a policy of their own: login attempts per client
//! address, and messages per user and channel.

use confab_service::Policy;
use std::time::Duration;

use confab_testkit::app::TestApp;
use confab_testkit::fixtures::within_one_minute_window;
use confab_testkit::harness::with_sqlite;
use reqwest::StatusCode;
use serde_json::json;

/// The general channel of `ws`, as `token` lists it.
async fn general_channel(app: &TestApp, token: &str, ws: &str) -> String {
    let channels = app
        .get(&format!("/api/v1/workspaces/{ws}/channels"), token)
        .await;
    channels.body["channels"][0]["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn one_address_trying_many_accounts_is_limited() {
    with_sqlite(|stores| async move {
        let policy = Policy {
            login_attempts_per_ip: 3,
            ..Policy::default()
        };
        let app = TestApp::start_with(stores, policy).await;
        let mut statuses = Vec::new();
        within_one_minute_window(Duration::from_secs(15)).await;
        for i in 0..5 {
            let reply = app
                .post(
                    "/api/v1/auth/login",
                    None,
                    json!({"email": format!("user{i}@example.test"), "password": "whatever-1"}),
                )
                .await;
            statuses.push(reply.status);
        }
        assert_eq!(
            statuses,
            [
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                StatusCode::TOO_MANY_REQUESTS,
                StatusCode::TOO_MANY_REQUESTS,
            ]
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn posting_is_limited_per_user_and_channel() {
    with_sqlite(|stores| async move {
        let policy = Policy {
            messages_per_minute: 3,
            ..Policy::default()
        };
        let app = TestApp::start_with(stores, policy).await;
        let owner = app.user("pat").await;
        let ws = app.workspace(&owner, "Chatty").await;
        let general = general_channel(&app, &owner, &ws).await;
        let other = app
            .post(
                &format!("/api/v1/workspaces/{ws}/channels"),
                Some(&owner),
                json!({"name": "other"}),
            )
            .await
            .body["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let post = |channel: String| {
            let app = &app;
            let owner = owner.clone();
            async move {
                app.post(
                    &format!("/api/v1/channels/{channel}/messages"),
                    Some(&owner),
                    json!({"content": "hi"}),
                )
                .await
            }
        };
        within_one_minute_window(Duration::from_secs(15)).await;
        for _ in 0..3 {
            assert_eq!(post(general.clone()).await.status, StatusCode::CREATED);
        }
        let limited = post(general.clone()).await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = limited.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry));
        assert_eq!(
            post(other).await.status,
            StatusCode::CREATED,
            "another channel has its own window"
        );
        let history = app
            .get(&format!("/api/v1/channels/{general}/messages"), &owner)
            .await;
        assert_eq!(
            history.body["messages"].as_array().unwrap().len(),
            3,
            "the refused post was not stored"
        );
        app.stop().await;
    })
    .await;
}

/// A cookie session slides its expiry on use; the cookie follows, so a
/// browser is not logged out after the first lifetime despite being active.
#[tokio::test]
async fn a_renewed_session_renews_its_cookie() {
    with_sqlite(|stores| async move {
        let policy = Policy {
            session_touch_interval: Duration::ZERO,
            ..Policy::default()
        };
        let app = TestApp::start_with(stores, policy).await;
        let token = app.user("cora").await;
        let cookie = format!("confab_session={token}");
        let by_cookie = app
            .http
            .get(format!("{}/api/v1/me", app.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(by_cookie.status(), StatusCode::OK);
        let renewed = by_cookie.headers()["set-cookie"].to_str().unwrap();
        assert!(renewed.starts_with(&format!("{cookie};")), "{renewed}");
        let max_age: i64 = renewed.split("Max-Age=").nth(1).unwrap().parse().unwrap();
        assert!((86_390..=86_400).contains(&max_age), "{renewed}");
        assert!(renewed.contains("HttpOnly") && renewed.contains("SameSite=Strict"));
        // A bearer request has no cookie to renew.
        let by_bearer = app
            .http
            .get(format!("{}/api/v1/me", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert!(!by_bearer.headers().contains_key("set-cookie"));
        app.stop().await;
    })
    .await;
}

/// Retrying a post with its `client_msg_id` returns the first message and
/// is not counted: a client that retries does not use up its limit.
#[tokio::test]
async fn retries_of_one_post_are_not_counted_against_the_limit() {
    with_sqlite(|stores| async move {
        let policy = Policy {
            messages_per_minute: 3,
            ..Policy::default()
        };
        let app = TestApp::start_with(stores, policy).await;
        let owner = app.user("rex").await;
        let ws = app.workspace(&owner, "Retries").await;
        let general = general_channel(&app, &owner, &ws).await;
        let path = format!("/api/v1/channels/{general}/messages");
        let post = |client: String| {
            let (app, owner, path) = (&app, owner.clone(), path.clone());
            async move {
                let body = json!({"content": "hi", "client_msg_id": client});
                app.post(&path, Some(&owner), body).await
            }
        };
        within_one_minute_window(Duration::from_secs(15)).await;
        let first = post("a".into()).await;
        assert_eq!(first.status, StatusCode::CREATED);
        for _ in 0..10 {
            let retry = post("a".into()).await;
            assert_eq!(retry.status, StatusCode::OK, "{retry:?}");
            assert_eq!(retry.body["id"], first.body["id"]);
        }
        for client in ["b", "c"] {
            assert_eq!(post(client.into()).await.status, StatusCode::CREATED);
        }
        // Three posts made; the fourth new one is refused.
        let limited = post("d".into()).await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{limited:?}");
        app.stop().await;
    })
    .await;
}

/// Behind a trusted proxy each client has its own per-address count, keyed
/// by the rightmost address the proxies did not write themselves; without
/// trust, forwarding headers change nothing.
#[tokio::test]
async fn per_address_limits_see_through_trusted_proxies_only() {
    with_sqlite(|stores| async move {
        let policy = Policy {
            login_attempts_per_ip: 2,
            ..Policy::default()
        };
        let options = confab_http::HttpOptions {
            trusted_proxies: confab_http::parse_trusted_proxies(&["127.0.0.1".into()]).unwrap(),
            ..confab_testkit::app::test_options()
        };
        let realtime = confab_testkit::app::memory_realtime();
        let behind_proxy = TestApp::start_configured(
            stores.clone(),
            realtime,
            policy.clone(),
            options,
            confab_http::ServeOptions::default(),
        )
        .await;
        let direct = TestApp::start_with(stores, policy).await;
        let login = |app: &TestApp, forwarded_for: &'static str| {
            let request = app
                .http
                .post(format!("{}/api/v1/auth/login", app.base))
                .header("x-forwarded-for", forwarded_for)
                .json(&json!({"email": "nobody@example.test", "password": "whatever-1"}));
            async move { request.send().await.unwrap().status() }
        };
        within_one_minute_window(Duration::from_secs(15)).await;
        let mut seen = Vec::new();
        for forwarded_for in [
            "198.51.100.1",
            "198.51.100.1",
            // A forged address in front of the real one changes nothing.
            "203.0.113.50, 198.51.100.1",
            // Another client behind the same proxy has its own count.
            "198.51.100.2",
        ] {
            seen.push(login(&behind_proxy, forwarded_for).await);
        }
        assert_eq!(
            seen,
            [
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                StatusCode::TOO_MANY_REQUESTS,
                StatusCode::UNAUTHORIZED,
            ]
        );
        // Not trusted: every claimed address is the one peer, 127.0.0.1.
        let mut seen = Vec::new();
        for forwarded_for in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
            seen.push(login(&direct, forwarded_for).await);
        }
        assert_eq!(
            seen,
            [
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                StatusCode::TOO_MANY_REQUESTS,
            ]
        );
        behind_proxy.stop().await;
        direct.stop().await;
    })
    .await;
}

/// Workspace creation is bounded per person and hour.
#[tokio::test]
async fn workspace_creation_is_bounded() {
    with_sqlite(|stores| async move {
        let policy = Policy {
            workspaces_per_hour: 3,
            ..Policy::default()
        };
        let app = TestApp::start_with(stores, policy).await;
        let maker = app.user("wendy").await;
        confab_testkit::fixtures::within_window(Duration::from_secs(3600), Duration::from_secs(60))
            .await;
        for i in 0..3 {
            app.workspace(&maker, &format!("Team {i}")).await;
        }
        let refused = app
            .post(
                "/api/v1/workspaces",
                Some(&maker),
                json!({"name": "One too many"}),
            )
            .await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{refused:?}");
        // Someone else is not held back by it.
        let other = app.user("walt").await;
        app.workspace(&other, "Walt's").await;
    })
    .await;
}

/// Creating channels is limited per person and hour; a person keeps a
/// bounded number of live sessions, a new login ending the oldest.
#[tokio::test]
async fn channel_creation_and_live_sessions_are_bounded() {
    with_sqlite(|stores| async move {
        let policy = Policy {
            max_sessions_per_user: 3,
            ..Policy::default()
        };
        let app = TestApp::start_with(stores, policy).await;
        let oldest = app.user("cleo").await;
        let ws = app.workspace(&oldest, "Many").await;
        confab_testkit::fixtures::within_window(Duration::from_secs(3600), Duration::from_secs(60))
            .await;
        let limit = Policy::default().channels_per_hour;
        let path = format!("/api/v1/workspaces/{ws}/channels");
        for i in 0..limit {
            let created = app
                .post(&path, Some(&oldest), json!({"name": format!("room-{i}")}))
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
        }
        let refused = app
            .post(&path, Some(&oldest), json!({"name": "one-too-many"}))
            .await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{refused:?}");

        let mut newer = Vec::new();
        for _ in 0..3 {
            newer.push(app.log_in("cleo").await);
        }
        assert_eq!(
            app.get("/api/v1/me", &oldest).await.status,
            StatusCode::UNAUTHORIZED
        );
        for token in &newer {
            assert_eq!(app.get("/api/v1/me", token).await.status, StatusCode::OK);
        }
        app.stop().await;
    })
    .await;
}
