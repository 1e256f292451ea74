//! `/metrics`: Prometheus's text format on an address of its own, or on the
//! main listener behind a token, and nowhere when neither is configured.

mod common;

use std::collections::HashMap;
use std::net::TcpListener;

use common::{confab, Server};
use confab_testkit::ws_client::WsClient;
use serde_json::json;

const TOKEN: &str = "metrics-token-0123456789";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Each series of a scrape and its value.
fn series(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').expect("a series and its value");
            (name.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

async fn post(url: String, token: Option<&str>, body: serde_json::Value) -> serde_json::Value {
    let mut request = reqwest::Client::new().post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    assert!(answer.status().is_success(), "{answer:?}");
    answer.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_sockets_events_and_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut command = confab(dir.path());
    command
        .env("CONFAB_METRICS__LISTEN", format!("127.0.0.1:{port}"))
        .env("CONFAB_METRICS__TOKEN", TOKEN);
    let server = Server::start(command);
    let base = server.base.clone();

    let token = common::sign_up(&base, "mo").await;
    let created = post(
        format!("{base}/api/v1/workspaces"),
        Some(&token),
        json!({"name": "Watched"}),
    )
    .await;
    let channel = created["general_channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut socket = WsClient::connect(&base, &token).await;
    post(
        format!("{base}/api/v1/channels/{channel}/messages"),
        Some(&token),
        json!({"content": "counted"}),
    )
    .await;
    socket.expect("message_created").await;
    let (status, _) = get(
        &format!("{base}/api/v1/channels/nope/messages"),
        Some(&token),
    )
    .await;
    assert_eq!(status, 404);

    // On the main listener, only with the token.
    let (status, _) = get(&format!("{base}/metrics"), None).await;
    assert_eq!(status, 401);
    let (status, _) = get(
        &format!("{base}/metrics"),
        Some("metrics-token-wrong-guess"),
    )
    .await;
    assert_eq!(status, 401);
    let (status, text) = get(&format!("{base}/metrics"), Some(TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("# HELP confab_http_requests_total HTTP requests answered"));
    let found = series(&text);
    let value = |name: &str| {
        *found
            .get(name)
            .unwrap_or_else(|| panic!("no series {name} in\n{text}"))
    };
    assert_eq!(
        value(
            r#"confab_http_requests_total{method="POST",route="/api/v1/auth/login",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            r#"confab_http_requests_total{method="GET",route="/api/v1/channels/{channel}/messages",status="404"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            r#"confab_http_request_duration_seconds_count{method="POST",route="/api/v1/channels/{channel}/messages"}"#
        ),
        1.0
    );
    assert_eq!(value("confab_websocket_connections"), 1.0);
    assert!(value("confab_events_fanned_out_total") >= 1.0);
    assert!(value("confab_bus_lag_seconds_count") >= 1.0);
    assert_eq!(value("confab_database_up"), 1.0);
    assert_eq!(value("confab_realtime_up"), 1.0);
    assert!(value(r#"confab_database_connections_max"#) >= 2.0);
    assert!(value(r#"confab_job_runs_total{job="search_indexing"}"#) >= 1.0);
    assert_eq!(
        value(r#"confab_job_failures_total{job="search_indexing"}"#),
        0.0
    );
    assert!(value(r#"confab_db_group_commit_batch_size_bucket{le="+Inf"}"#) >= 4.0);
    assert!(found.contains_key("confab_search_backlog"));

    // Every series the example dashboard charts is one the server writes.
    let dashboard = include_str!("../../../docs/grafana-dashboard.json");
    for name in dashboard.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if name.starts_with("confab_") && name != "confab_" {
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name);
            assert!(
                text.contains(&format!("# TYPE {base} ")),
                "the dashboard charts {name}, which the server does not write"
            );
        }
    }

    // On its own address, open to whoever reaches it, and nothing else there.
    let own = format!("http://127.0.0.1:{port}");
    let (status, text) = get(&format!("{own}/metrics"), None).await;
    assert_eq!(status, 200);
    assert!(series(&text).contains_key("confab_websocket_connections"));
    let (status, _) = get(&format!("{own}/api/v1/me"), Some(&token)).await;
    assert_eq!(status, 404);
    socket.close().await;
    assert!(server.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_off_unless_configured() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(confab(dir.path()));
    let (status, _) = get(&format!("{}/metrics", server.base), Some(TOKEN)).await;
    assert_eq!(status, 404);
    assert!(server.stop().success());

    let short = common::run(
        confab(dir.path())
            .env("CONFAB_METRICS__TOKEN", "short")
            .arg("serve"),
    );
    assert!(!short.status.success());
    assert!(common::stderr_of(&short).contains("metrics.token must be at least 16 characters"));
}
